"""Inside User-Mode Linux: a network lab for the P-CSCF IPsec end-to-end test.

Two network namespaces joined by a veth pair (docs/kernel-tests.md):

* the *core* namespace holds ``v-pc`` with the P-CSCF's address
  :data:`PCSCF` and ``lo``; the whole core (``ims-cli run``: HSS, I-CSCF,
  S-CSCF on 127.0.0.1, P-CSCF on :data:`PCSCF`) runs there, its workdir and
  SQLite store on the guest's ``/tmp`` tmpfs;
* the *UE* namespace holds ``v-ue`` with :data:`UE1`, :data:`UE2` (a second
  UE) and :data:`PROBE` (a bare-socket client that never gets SAs installed
  on its side).

No ARP (static neighbours) and, by default, no IPv6 (disabled before the link
exists), so every packet on the veth belongs to a test exchange. A lab with
``ipv6=True`` keeps IPv6 and adds :data:`UE1_V6` and the P-CSCF's
``ipv6_host`` :data:`PCSCF_V6` (``nodad``: usable at once; static neighbours
too). Processes inside a namespace are started with ``ip netns exec``;
everything reaching the core's loopback-only services (REST API, management
endpoints) runs there too. Every wait has an upper bound.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ims.ipsec.xfrm import NetlinkXfrm, PolicySpec, SaState

REPO = Path(__file__).resolve().parents[3]
PYTHON = str(REPO / ".venv" / "bin" / "python")
IMS_CLI = str(REPO / ".venv" / "bin" / "ims-cli")
AGENT = str(Path(__file__).resolve().parent / "ipsec_ue_agent.py")

UE1, PCSCF, UE2, PROBE = "10.99.0.1", "10.99.0.2", "10.99.0.3", "10.99.0.4"
UE_ADDRESSES = (UE1, UE2, PROBE)
UE1_V6, PCSCF_V6 = "fd00:99::1", "fd00:99::2"
SIP_PORT = 5060
PORT_S, PORT_C, POOL_SIZE = 5100, 6100, 2  # [pcscf] ipsec_port_s, ipsec_port_c, ipsec_pool_size
REST_PORT = 8080
#: A UE source port used for the unprotected datagram (excluded from the capture check).
CLEAR_PORT = 40999
ESP = 50
TOKEN = "ims-lab-token-change-me"
DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
#: TS 35.208 test set 1.
K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"
#: Upper bounds (seconds).
START_WAIT = 120.0
STOP_WAIT = 30.0
STEP_WAIT = 60.0


def sh(*args: str, timeout: float = STEP_WAIT) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n"
                             f"{done.stderr}")
    return done.stdout


def in_ns(netns: str, *args: str, timeout: float = STEP_WAIT, cwd: Path | None = None
          ) -> subprocess.CompletedProcess[str]:
    """``ip netns exec netns args...`` (never raises on a non-zero exit)."""
    return subprocess.run(["ip", "netns", "exec", netns, *args], capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=cwd or REPO)


def wait_until(predicate: Callable[[], bool], bound: float, what: str) -> None:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {bound} s")


# -- namespaces -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Lab:
    """The two namespaces and their veth ends."""

    ue: str
    core: str
    ue_dev: str = "vi-ue"
    core_dev: str = "vi-core"
    ipv6: bool = False
    """Keep IPv6 in both namespaces and add :data:`UE1_V6` and :data:`PCSCF_V6`."""

    def create(self) -> None:
        modules = ("esp4", "xfrm_user", "veth") + (("ipv6", "esp6") if self.ipv6 else ())
        for module in modules:
            sh("modprobe", module)
        for ns in (self.ue, self.core):
            sh("ip", "netns", "add", ns)
            if os.path.exists("/proc/sys/net/ipv6") and not self.ipv6:
                sh("ip", "netns", "exec", ns, "sysctl", "-qw",
                   "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", self.ue_dev, "netns", self.ue, "type", "veth", "peer", "name",
           self.core_dev, "netns", self.core)
        for ns, dev, addrs, addrs_v6 in ((self.ue, self.ue_dev, UE_ADDRESSES, (UE1_V6,)),
                                         (self.core, self.core_dev, (PCSCF,), (PCSCF_V6,))):
            for addr in addrs:
                sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            for addr in addrs_v6 if self.ipv6 else ():
                sh("ip", "-n", ns, "-6", "addr", "add", f"{addr}/64", "dev", dev, "nodad")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        self._static_neighbours()

    def _static_neighbours(self) -> None:
        macs = {ns: json.loads(sh("ip", "-n", ns, "-j", "link", "show", dev))[0]["address"]
                for ns, dev in ((self.ue, self.ue_dev), (self.core, self.core_dev))}
        ue_addresses = UE_ADDRESSES + ((UE1_V6,) if self.ipv6 else ())
        for addr in ue_addresses:
            sh("ip", "-n", self.core, "neigh", "replace", addr, "lladdr", macs[self.ue], "dev",
               self.core_dev, "nud", "permanent")
        for addr in (PCSCF, PCSCF_V6) if self.ipv6 else (PCSCF,):
            sh("ip", "-n", self.ue, "neigh", "replace", addr, "lladdr", macs[self.core], "dev",
               self.ue_dev, "nud", "permanent")

    def destroy(self) -> None:
        for ns in (self.ue, self.core):
            subprocess.run(["ip", "netns", "del", ns], check=False, timeout=STOP_WAIT)

    def sas(self, netns: str) -> list[SaState]:
        """The SAs of ``netns`` read over netlink (``XFRM_MSG_GETSA`` dump, with counters)."""
        return NetlinkXfrm(netns).list_sas()

    def policies(self, netns: str) -> list[PolicySpec]:
        return NetlinkXfrm(netns).list_policies()


# -- the core ---------------------------------------------------------------------------------
def core_config(workdir: Path, ipv6_host: str | None = None) -> str:
    """ims-cli's overlay: P-CSCF on the veth with IPsec required, the rest on loopback.

    With ``ipv6_host`` the P-CSCF listens there too, protected ports included.
    """
    v6 = [f'ipv6_host = "{ipv6_host}"'] if ipv6_host else []
    return "\n".join([
        "[logging]", 'level = "info"', "",
        "[pcscf]", f'host = "{PCSCF}"', *v6, f"port = {SIP_PORT}", 'ipsec = "required"',
        f"ipsec_port_s = {PORT_S}", f"ipsec_port_c = {PORT_C}", f"ipsec_pool_size = {POOL_SIZE}",
        f'esp_keys_file = "{workdir / "esp_sa"}"', "",
        "[hss]", f"rest_port = {REST_PORT}", 'store_url = "sqlite:///var/hss.sqlite"', "",
    ])


class Core:
    """``ims-cli run`` in the core namespace, output in its workdir."""

    def __init__(self, lab: Lab, workdir: Path) -> None:
        self.lab = lab
        self.workdir = workdir
        self.config = workdir / "ims.toml"
        self.out = workdir / "run.out"
        self.err = workdir / "run.err"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "var").mkdir(exist_ok=True)
        self.config.write_text(core_config(self.workdir, PCSCF_V6 if self.lab.ipv6 else None))
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                ["ip", "netns", "exec", self.lab.core, IMS_CLI, "run", "--config",
                 str(self.config)], cwd=self.workdir, stdout=out, stderr=err,
                stdin=subprocess.DEVNULL, start_new_session=True)

    def log(self) -> str:
        text = ""
        for path in (self.out, self.err):
            if path.exists():
                text += path.read_text(errors="replace")
        return text

    def wait_up(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline:
            if "all 4 functions up" in self.log():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"ims-cli run did not come up (exit {self.process.poll()}):\n"
                             f"{self.log()[-6000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_WAIT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_WAIT)

    def cli(self, *args: str) -> dict[str, Any]:
        """``ims-cli ARGS --json --config FILE`` in the core namespace (JSON output)."""
        done = in_ns(self.lab.core, IMS_CLI, *args, "--json", "--config", str(self.config),
                     cwd=self.workdir)
        try:
            document: dict[str, Any] = json.loads(done.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"ims-cli {' '.join(args)}: {done.stdout}\n{done.stderr}") \
                from exc
        document["exit"] = done.returncode
        return document

    def process_status(self, name: str) -> dict[str, Any]:
        entries: dict[str, dict[str, Any]] = {
            entry["name"]: entry for entry in self.cli("status")["processes"]}
        return entries[name]

    def rest(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """One HSS REST call, made from inside the core namespace."""
        code = ("import json, sys, urllib.request, urllib.error\n"
                "m, url, body, token = sys.argv[1:5]\n"
                "req = urllib.request.Request(url, data=body.encode() or None, method=m,\n"
                "    headers={'Authorization': 'Bearer ' + token,\n"
                "             'Content-Type': 'application/json'})\n"
                "try:\n"
                "    with urllib.request.urlopen(req, timeout=30) as r:\n"
                "        print(json.dumps([r.status, (r.read() or b'null').decode()]))\n"
                "except urllib.error.HTTPError as e:\n"
                "    print(json.dumps([e.code, e.read().decode() or 'null']))\n")
        done = in_ns(self.lab.core, PYTHON, "-c", code, method,
                     f"http://127.0.0.1:{REST_PORT}/api/v1{path}",
                     "" if body is None else json.dumps(body), TOKEN)
        if done.returncode != 0:
            raise AssertionError(f"REST {method} {path}: {done.stderr}")
        status, text = json.loads(done.stdout)
        return int(status), json.loads(text)


@contextmanager
def lab_up(ue_ns: str, core_ns: str, *, ipv6: bool = False) -> Iterator[Lab]:
    """The two namespaces and their veth for a module of tests; gone afterwards."""
    lab = Lab(ue_ns, core_ns, ipv6=ipv6)
    try:
        lab.create()
        yield lab
    finally:
        lab.destroy()


@contextmanager
def core_up(lab: Lab, folder: Path) -> Iterator[Core]:
    """``ims-cli run`` in the lab's core namespace until the block ends (its log tail printed)."""
    process = Core(lab, folder)
    process.start()
    try:
        process.wait_up()
        yield process
    finally:
        process.stop()
        print(f"--- core log (tail) ---\n{process.log()[-8000:]}")


def workdir_for(name: str) -> Path:
    """A fresh working folder on the guest's tmpfs."""
    folder = Path(f"/tmp/{name}-{os.getpid()}")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class Subscriber:
    imsi: str
    msisdn: str

    @property
    def impi(self) -> str:
        return f"{self.imsi}@{DOMAIN}"

    @property
    def impu(self) -> str:
        return f"sip:{self.imsi}@{DOMAIN}"


def provision(core: Core, index: int) -> Subscriber:
    """A subscriber with K/OPc of TS 35.208 test set 1, through ``POST /subscribers``."""
    imsi = f"0010199{index:08d}"
    subscriber = Subscriber(imsi, f"4915{index:08d}")
    status, body = core.rest("POST", "/subscribers", {
        "imsi": imsi, "msisdn": subscriber.msisdn, "k": K, "opc": OPC})
    assert status == 201, (status, body)
    return subscriber


def esp_keys(path: Path) -> dict[int, tuple[str, bytes]]:
    """The ``esp_keys_file`` (Wireshark ``esp_sa`` records): SPI -> (authentication, key)."""
    keys: dict[int, tuple[str, bytes]] = {}
    for record in csv.reader(line for line in path.read_text().splitlines()
                             if line and not line.startswith("#")):
        _family, _src, _dst, spi, _enc, _enc_key, auth, auth_key = record
        keys[int(spi, 16)] = (auth, bytes.fromhex(auth_key.removeprefix("0x")))
    return keys


def icv_valid(esp: bytes, auth: str, key: bytes) -> bool:
    """RFC 4303 §2.8 / RFC 2403, RFC 2404: the 96-bit ICV over ESP header and payload."""
    digest = hashlib.md5 if auth.startswith("HMAC-MD5") else hashlib.sha1
    return hmac.compare_digest(hmac.new(key, esp[:-12], digest).digest()[:12], esp[-12:])


def msisdn_impu(sub: Subscriber) -> str:
    return f"sip:+{sub.msisdn}@{DOMAIN}"


# -- reading both ends -------------------------------------------------------------------------
def sas_of(lab: Lab, netns: str, host: str) -> list[SaState]:
    """The SAs of ``netns`` with ``host`` at either end."""
    return [sa for sa in lab.sas(netns) if host in (sa.src, sa.dst)]


def settled(lab: Lab, host: str) -> tuple[list[SaState], list[SaState]]:
    """Both ends' SAs of ``host`` once their packet counters agree (bounded)."""
    deadline = time.monotonic() + 5
    while True:
        ue_side, core_side = sas_of(lab, lab.ue, host), sas_of(lab, lab.core, host)
        counts = ({sa.spi: sa.cur_packets for sa in ue_side},
                  {sa.spi: sa.cur_packets for sa in core_side})
        if counts[0] == counts[1] or time.monotonic() > deadline:
            return ue_side, core_side
        time.sleep(0.2)


def ue_status(core: Core, host: str) -> list[dict[str, Any]]:
    """The P-CSCF's ``/status`` SA rows of one UE address."""
    ues: list[dict[str, Any]] = core.process_status("pcscf")["ipsec"]["ues"]
    return [row for entry in ues if entry["ue"] == host for row in entry["sas"]]


def clear_text(rows: list[dict[str, Any]], ue: str, pcscf: str = PCSCF) -> list[dict[str, Any]]:
    """UDP/TCP packets between ``ue`` and ``pcscf`` after their first ESP packet.

    The datagram sent on purpose without ESP (from :data:`CLEAR_PORT`) is left out.
    """
    between = [row for row in rows if {row.get("src"), row.get("dst")} == {ue, pcscf}]
    first_esp = next((i for i, row in enumerate(between) if row["proto"] == ESP), None)
    assert first_esp is not None, f"no ESP packet between {ue} and {pcscf}: {between}"
    return [row for row in between[first_esp:] if row["proto"] != ESP
            and CLEAR_PORT not in (row.get("sport"), row.get("dport"))]


def timeline(rows: list[dict[str, Any]], host: str) -> str:
    """The packets between ``host`` and the P-CSCF, one a line (ESP bytes left out)."""
    return "\n".join(str({key: value for key, value in row.items() if key != "esp"})
                     for row in rows if host in (row.get("src"), row.get("dst")))


# -- capture ----------------------------------------------------------------------------------
CAPTURE = r"""
import json, os, socket, struct, sys, time
dev, out, stop, bound = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind((dev, 0)); s.settimeout(0.2)
open(out + ".ready", "w").close()
rows = []
deadline = time.monotonic() + bound
while time.monotonic() < deadline and not os.path.exists(stop):
    try:
        frame, addr = s.recvfrom(65535)
    except TimeoutError:
        continue
    ethertype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if ethertype == 0x0800:
        ihl = (ip[0] & 15) * 4
        row = {"proto": ip[9], "src": socket.inet_ntoa(ip[12:16]),
               "dst": socket.inet_ntoa(ip[16:20]), "len": struct.unpack("!H", ip[2:4])[0]}
    elif ethertype == 0x86DD:  # IPv6: the next header of the fixed header (no extensions here)
        ihl = 40
        row = {"proto": ip[6], "src": socket.inet_ntop(socket.AF_INET6, ip[8:24]),
               "dst": socket.inet_ntop(socket.AF_INET6, ip[24:40]),
               "len": 40 + struct.unpack("!H", ip[4:6])[0]}
    else:
        rows.append({"ethertype": ethertype}); continue
    row["out"] = addr[2] == socket.PACKET_OUTGOING
    row["t"] = round(time.monotonic(), 3)
    if row["proto"] in (6, 17):
        row["sport"], row["dport"] = struct.unpack("!HH", ip[ihl:ihl + 4])
    if row["proto"] == 17:
        row["payload"] = row["len"] - ihl - 8
    if row["proto"] == 6:
        row["payload"] = row["len"] - ihl - (ip[ihl + 12] >> 4) * 4
        row["flags"] = "".join(n for n, bit in zip("FSRPAU", (1, 2, 4, 8, 16, 32))
                               if ip[ihl + 13] & bit)
    elif row["proto"] == 50:
        row["spi"] = struct.unpack("!I", ip[ihl:ihl + 4])[0]
        row["esp"] = ip[ihl:row["len"]].hex()
    rows.append(row)
with open(out, "w") as f:
    json.dump(rows, f)
"""


class Capture:
    """Every frame on the core's veth (AF_PACKET, both directions), until :meth:`stop`."""

    def __init__(self, lab: Lab, folder: Path, name: str, bound: float = 240.0) -> None:
        self.out = folder / f"{name}.json"
        self.stop_file = folder / f"{name}.stop"
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", lab.core, PYTHON, "-c", CAPTURE, lab.core_dev, str(self.out),
             str(self.stop_file), str(bound)], stdin=subprocess.DEVNULL)
        ready = Path(f"{self.out}.ready")
        wait_until(lambda: ready.exists() or self.process.poll() is not None, 30, "capture start")
        assert self.process.poll() is None, "capture did not start"

    def stop(self) -> list[dict[str, Any]]:
        self.stop_file.touch()
        try:
            self.process.wait(timeout=STOP_WAIT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        rows: list[dict[str, Any]] = json.loads(self.out.read_text())
        return rows


# -- the UE agent -----------------------------------------------------------------------------
def agent(lab: Lab, *args: str, timeout: float = STEP_WAIT) -> dict[str, Any]:
    """Run ``ipsec_ue_agent.py ARGS`` in the UE namespace; its JSON result."""
    done = in_ns(lab.ue, PYTHON, AGENT, *args, timeout=timeout)
    try:
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError) as exc:
        raise AssertionError(f"agent {args} exited {done.returncode}:\n{done.stdout}\n"
                             f"{done.stderr[-4000:]}") from exc
    result["stderr"] = done.stderr
    return result


class AgentProcess:
    """The agent in the background (it waits for a go file between steps)."""

    def __init__(self, lab: Lab, folder: Path, name: str, *args: str) -> None:
        self.out = folder / f"{name}.out"
        self.err = folder / f"{name}.err"
        self.go = folder / f"{name}.go"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                ["ip", "netns", "exec", lab.ue, PYTHON, AGENT, *args, "--go-file",
                 str(self.go)], stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=REPO)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.read_text().splitlines()
                if line.startswith("{")]

    def wait_for(self, key: str, bound: float = STEP_WAIT) -> dict[str, Any]:
        """The first JSON line carrying ``key`` (fails if the agent exits without it)."""
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            found = [line for line in self.lines() if key in line]
            if found:
                return found[0]
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"agent gave no {key!r} (exit {self.process.poll()}):\n"
                             f"{self.out.read_text()}\n{self.err.read_text()[-4000:]}")

    def release(self) -> None:
        self.go.touch()

    def finish(self, bound: float = STEP_WAIT) -> int:
        self.release()
        try:
            return self.process.wait(timeout=bound)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()

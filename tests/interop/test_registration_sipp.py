"""IMS AKA registration by SIPp through the whole core, and the same on the wire by tshark.

The core is ``ims-cli run`` on free loopback ports (``tests/e2e/imscore.py``).
Subscribers are provisioned through the REST API with OP (SIPp 3.6.1 takes
OP, not OPc, and derives OPc itself; the HSS converts). SIPp
(``scenarios/register_aka.xml``) registers each subscriber of an injection
file through the P-CSCF: REGISTER (IMPI, empty nonce and response) -> 401
-> REGISTER with SIPp's ``[authentication]`` -> 200 (TS 24.229 §5.1.1.2).

SIPp 3.6.1 computes the digest over ``strlen(RES)``, so a RES with a 0x00
byte gives a wrong response; the S-CSCF answers 403 and the scenario starts
again with a fresh challenge. The test recomputes RES from every challenge
SIPp received and asserts that the retries are exactly the zero-byte ones:
the S-CSCF's check is never loosened.
"""

from __future__ import annotations

import base64
import json
import random
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ims.auth.milenage import compute_opc, f2
from tests.conftest import require_tool
from tests.e2e.imscore import CoreProcess, Ports
from tests.interop.conftest import (
    STEP_TIMEOUT,
    Capture,
    free_udp_port,
    read_stats,
    sipp_command,
)

pytestmark = pytest.mark.interop

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
TOKEN = "ims-lab-token-change-me"
AMF = bytes.fromhex("8000")
SCENARIO = "register_aka.xml"
SUBSCRIBERS = 20
#: Retries expected: ~3% of challenges; 20 registrations give more than 4 about once in 10^4.
MOST_RETRIES = 4


@dataclass(frozen=True)
class Subscriber:
    """One provisioned subscription: IMSI (user part of IMPI and IMPU), K, OP."""

    imsi: str
    k: bytes
    op: bytes

    @property
    def impi(self) -> str:
        return f"{self.imsi}@{DOMAIN}"

    def res(self, rand: bytes) -> bytes:
        """RES (f2) for ``rand``, as SIPp computes it before its strlen bug."""
        return f2(self.k, compute_opc(self.k, self.op), rand)


def sipp_safe_key(rng: random.Random) -> bytes:
    """16 random bytes whose first byte is not 0x00.

    SIPp 3.6.1 drops a literal whose first byte is NUL (``if (literal[0])`` in
    ``SendingMessage``), so a K or OP starting with ``\x00`` reaches its
    Milenage as nothing: "MAC != eXpectedMAC", which is fatal to the whole run.
    """
    while (key := rng.randbytes(16))[0] == 0:
        pass
    return key


def make_subscribers(count: int, first_imsi: int, seed: int) -> list[Subscriber]:
    rng = random.Random(seed)
    return [Subscriber(f"00101{first_imsi + n:010d}", sipp_safe_key(rng), sipp_safe_key(rng))
            for n in range(count)]


def provision(rest_port: int, subscribers: list[Subscriber], token: str = TOKEN) -> None:
    """POST every subscriber to the REST API with ``op`` (the HSS derives OPc)."""
    for sub in subscribers:
        body = {"imsi": sub.imsi, "msisdn": f"4{sub.imsi[-9:]}", "k": sub.k.hex(),
                "op": sub.op.hex(), "amf": AMF.hex()}
        request = urllib.request.Request(
            f"http://127.0.0.1:{rest_port}/api/v1/subscribers", data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as reply:
            assert reply.status == 201


def escaped(value: bytes) -> str:
    """Raw bytes as SIPp ``\\xNN`` escapes (SIPp 3.6.1 memcpy()s aka_K/OP/AMF as bytes)."""
    return "".join(f"\\x{byte:02x}" for byte in value)


def injection_file(subscribers: list[Subscriber]) -> str:
    """SEQUENTIAL injection file: IMSI; domain; the whole ``[authentication ...]`` keyword."""
    lines = ["SEQUENTIAL"]
    for sub in subscribers:
        keyword = (f"[authentication username={sub.impi} aka_K={escaped(sub.k)} "
                   f"aka_OP={escaped(sub.op)} aka_AMF={escaped(AMF)}]")
        lines.append(f"{sub.imsi};{DOMAIN};{keyword}")
    return "\n".join(lines) + "\n"


def sipp_register_command(sipp: str, workdir: Path, subscribers: list[Subscriber],
                          pcscf_port: int, rate: int, extra: tuple[str, ...] = ()) -> list[str]:
    users = workdir / "users.csv"
    users.write_text(injection_file(subscribers))
    return sipp_command(
        sipp, SCENARIO, workdir, port=free_udp_port(), calls=len(subscribers),
        remote=f"127.0.0.1:{pcscf_port}",
        extra=("-inf", str(users), "-r", str(rate), "-trace_counts",
               "-trace_msg", "-message_file", str(workdir / "messages.log"), *extra))


@dataclass
class RegisterRun:
    returncode: int
    stats: dict[str, str]
    counts: dict[str, str]
    output: str

    def stat(self, name: str) -> int:
        return int(self.stats.get(name, "0") or 0)

    @property
    def retries(self) -> int:
        """Received 403s (SIPp's wrong digests), from the -trace_counts file."""
        return sum(int(v or 0) for k, v in self.counts.items() if k.endswith("_403_Recv"))


def run_sipp(cmd: list[str], workdir: Path, timeout: float) -> RegisterRun:
    """Run SIPp with ``workdir`` as cwd (its counts file lands there); bounded."""
    done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                          check=False)
    counts = sorted(workdir.glob("register_aka_*_counts.csv"))
    return RegisterRun(done.returncode, read_stats(workdir / f"{SCENARIO}.csv"),
                       read_stats(counts[-1]) if counts else {}, done.stdout + done.stderr)


def challenges(message_log: Path) -> list[tuple[str, bytes, str]]:
    """(IMSI, RAND, the 401's text) of every 401 SIPp received, from its -trace_msg log."""
    found = []
    for block in message_log.read_text(errors="replace").split("\n\n-----"):
        if "message received" not in block or "SIP/2.0 401" not in block:
            continue
        user = re.search(r"^To:\s*<sip:(\d+)@", block, re.M | re.I)
        nonce = re.search(r'nonce="([^"]+)"', block)
        assert user and nonce, block
        found.append((user.group(1), base64.b64decode(nonce.group(1))[:16], block))
    return found


@pytest.fixture(scope="module")
def sipp_tool() -> str:
    return require_tool(shutil.which("sipp"), "sipp", "sip-tester")


@pytest.fixture(scope="module")
def tshark_tool() -> str:
    return require_tool(shutil.which("tshark"), "tshark", "tshark")


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CoreProcess, Ports]]:
    ports = Ports.pick()
    process = CoreProcess(tmp_path_factory.mktemp("core"), ports.config_text())
    process.start()
    try:
        process.wait_up()
        yield process, ports
    finally:
        process.stop()


def test_sipp_registers_a_batch_with_aka(
        sipp_tool: str, core: tuple[CoreProcess, Ports], tmp_path: Path) -> None:
    process, ports = core
    subscribers = make_subscribers(SUBSCRIBERS, 7700000000, seed=4)
    provision(ports.rest, subscribers)
    cmd = sipp_register_command(sipp_tool, tmp_path, subscribers, ports.sip["pcscf"], rate=20)
    run = run_sipp(cmd, tmp_path, STEP_TIMEOUT + 30)

    assert run.returncode == 0, run.output[-3000:]
    assert run.stat("SuccessfulCall(C)") == SUBSCRIBERS
    assert run.stat("FailedCall(C)") == 0
    # Every challenge RES with a 0x00 byte (SIPp's strlen bug) was a retry; no other 403.
    by_imsi = {sub.imsi: sub for sub in subscribers}
    seen = challenges(tmp_path / "messages.log")
    assert len(seen) == SUBSCRIBERS + run.retries
    zero_res = sum(1 for imsi, rand, _ in seen if 0 in by_imsi[imsi].res(rand))
    assert run.retries == zero_res
    assert run.retries <= MOST_RETRIES, run.retries
    assert {imsi for imsi, _, _ in seen} == set(by_imsi)
    assert not any(re.search(r"\b(ik|ck)=", text) for _, _, text in seen)
    assert all("algorithm=AKAv1-MD5" in text for _, _, text in seen)
    pcscf = process.process_status("pcscf")
    assert pcscf["counters"]["sip_registrations_cached"] >= SUBSCRIBERS


# -- one registration on the wire ----------------------------------------------------
class CoreCapture(Capture):
    """``tshark -i lo`` on the three CSCF SIP ports (UDP and TCP) and the HSS Diameter port."""

    def __init__(self, tshark: str, ports: Ports, path: Path) -> None:  # noqa: D107
        self.tshark = tshark
        self.ports = list(ports.sip.values())
        self.diameter = ports.diameter
        self.path = path
        self.probe = free_udp_port()
        bpf = " or ".join([*(f"port {p}" for p in self.ports), f"tcp port {self.diameter}",
                           f"udp port {self.probe}"])
        self.proc = subprocess.Popen([tshark, "-i", "lo", "-f", bpf, "-w", str(path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self._wait_capturing()
        self._wait_probe_seen()

    def decode_args(self) -> list[str]:
        """None of the ports is a standard one: SIP on UDP and TCP, Diameter on TCP."""
        args: list[str] = []
        for port in self.ports:
            args += ["-d", f"udp.port=={port},sip", "-d", f"tcp.port=={port},sip"]
        return [*args, "-d", f"tcp.port=={self.diameter},diameter"]

    def rows(self, display_filter: str, *fields: str) -> list[str]:
        names = [arg for name in fields for arg in ("-e", name)]
        out = self.read("-Y", display_filter, "-T", "fields", "-E", "occurrence=a",
                        "-E", "aggregator=;", *names)
        return [line for line in out.splitlines() if line.strip()]

    def finish(self) -> None:
        """Stop once the 200 reached SIPp and the SAA is on file (bounded)."""
        done = "sip.Status-Code == 200 && sip.CSeq.method == REGISTER"
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            if len(self.rows(done, "frame.number")) >= 3 and self.rows(
                    "diameter.cmd.code == 301 && diameter.flags.request == 0", "frame.number"):
                break
            time.sleep(0.2)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.communicate(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


def test_one_registration_decodes_cleanly_on_every_hop(
        sipp_tool: str, tshark_tool: str, core: tuple[CoreProcess, Ports],
        tmp_path: Path) -> None:
    _, ports = core
    subscribers = make_subscribers(1, 7710000000, seed=5)
    provision(ports.rest, subscribers)
    cmd = sipp_register_command(sipp_tool, tmp_path, subscribers, ports.sip["pcscf"], rate=1)
    capture = CoreCapture(tshark_tool, ports, tmp_path / "registration.pcapng")
    try:
        run = run_sipp(cmd, tmp_path, STEP_TIMEOUT + 30)
    finally:
        capture.finish()
    assert run.stat("SuccessfulCall(C)") == 1, run.output[-3000:]

    assert capture.rows("_ws.malformed", "frame.number") == []
    assert capture.rows("_ws.expert.severity == error", "frame.number") == []
    assert "Errors (" not in capture.read("-q", "-z", "expert,error")
    # REGISTER, 401, REGISTER, 200 on each of the three hops (UE-P, P-I, I-S).
    registers = capture.rows("sip.Method == REGISTER", "sip.r-uri")
    assert len(registers) >= 6
    assert all(uri == f"sip:{DOMAIN}" for uri in registers)
    status = [int(row) for row in capture.rows(
        "sip.Status-Code && sip.CSeq.method == REGISTER", "sip.Status-Code")]
    assert status.count(401) >= 3 and status.count(200) >= 3
    # UAR (one per REGISTER), MAR, SAR, as request and answer, 3GPP Cx application.
    diameter = capture.rows("diameter", "diameter.cmd.code", "diameter.flags.request",
                            "diameter.applicationId")
    seen: set[tuple[str, str, str]] = set()
    for row in diameter:
        codes, flags, apps = (column.split(";") for column in row.split("\t"))
        seen.update(zip(codes, flags, apps, strict=True))
    for code in ("300", "303", "301"):
        for flag in ("1", "0"):
            assert any(c == code and f in (flag, "True" if flag == "1" else "False")
                       and a == "16777216" for c, f, a in seen), (code, flag, sorted(seen))

"""Helpers of the e2e tests: a generated config on free ports, ``ims-cli run`` as a
subprocess, a plain-socket SIP OPTIONS client and a python-diameter client peer.

Every wait has a generous upper bound (a hang fails the test instead of
blocking it); nothing asserts how long anything took.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diameter.message import Message
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

from ims.sip.message import Response, parse_message

ROOT = Path(__file__).resolve().parents[2]
#: Upper bound of every wait for a process to come up or go away.
START_WAIT = 90.0
STOP_WAIT = 60.0
FUNCTIONS = ("hss", "icscf", "scscf", "pcscf")
SIP_FUNCTIONS = ("pcscf", "icscf", "scscf")


def free_port(both: bool = False) -> int:
    """A port free on 127.0.0.1 for TCP (and UDP too if ``both``)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            if not both:
                return port
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port found")


@dataclass(frozen=True)
class Ports:
    """The ports of one generated config."""

    sip: dict[str, int]
    mgmt: dict[str, int]
    diameter: int
    rest: int

    @classmethod
    def pick(cls) -> Ports:
        taken: set[int] = set()

        def fresh(both: bool) -> int:
            while (port := free_port(both)) in taken:
                pass
            taken.add(port)
            return port

        sip = {name: fresh(True) for name in SIP_FUNCTIONS}
        mgmt = {name: fresh(False) for name in FUNCTIONS}
        return cls(sip, mgmt, fresh(False), fresh(False))

    def config_text(self) -> str:
        lines = []
        for name in SIP_FUNCTIONS:
            lines += [f"[{name}]", f"port = {self.sip[name]}", f"mgmt_port = {self.mgmt[name]}", ""]
        lines += ["[hss]", f"diameter_port = {self.diameter}", f"rest_port = {self.rest}",
                  f"mgmt_port = {self.mgmt['hss']}", 'store_url = "sqlite:///var/hss.sqlite"',
                  # the e2e Diameter clients live in realm test.example (not served)
                  'allowed_peer_hosts = ["e2e-cx.test.example", "e2e-client.test.example"]',
                  f'charging_ccf = ["{CHARGING_CCF}"]', ""]
        return "\n".join(lines)


#: The CCF the e2e HSS announces in Charging-Information (TS 29.229 §6.3.19).
CHARGING_CCF = "aaa://ccf.ims.mnc001.mcc001.3gppnetwork.org:3868"


class CoreProcess:
    """``python -m ims.cli run --config FILE`` in ``workdir``, output to files."""

    def __init__(self, workdir: Path, config_text: str) -> None:
        self.workdir = workdir
        self.config = workdir / "ims.toml"
        self.config.write_text(config_text)
        self.stdout = workdir / "run.out"
        self.stderr = workdir / "run.err"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ims.cli", "run", "--config", str(self.config)],
                cwd=self.workdir, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def output(self) -> str:
        return self.stdout.read_text(errors="replace")

    def errors(self) -> str:
        return self.stderr.read_text(errors="replace")

    def wait_up(self) -> None:
        """Until ``all 4 functions up`` is printed; fail if ims-cli exits first."""
        assert self.process is not None
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline:
            if "all 4 functions up" in self.output():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"ims-cli run did not come up (exit {self.process.poll()}):\n"
                             f"{self.output()}\n{self.errors()[-4000:]}")

    def wait_exit(self, bound: float = STOP_WAIT) -> int:
        assert self.process is not None
        return self.process.wait(timeout=bound)

    def signal(self, signum: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within the bound."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_WAIT)

    def status(self) -> dict[str, Any]:
        """``ims-cli status --json`` (its exit code under ``"exit"``)."""
        done = subprocess.run(
            [sys.executable, "-m", "ims.cli", "status", "--json", "--config", str(self.config)],
            cwd=self.workdir, capture_output=True, timeout=STOP_WAIT, check=False)
        document: dict[str, Any] = json.loads(done.stdout)
        document["exit"] = done.returncode
        return document

    def process_status(self, name: str) -> dict[str, Any]:
        entries: dict[str, dict[str, Any]] = {
            entry["name"]: entry for entry in self.status()["processes"]}
        return entries[name]


def options_request(port: int, transport: str, local_port: int) -> tuple[bytes, str]:
    """A valid OPTIONS to ``sip:127.0.0.1:<port>`` and its Via branch."""
    branch = f"z9hG4bK-e2e-{uuid.uuid4().hex}"
    text = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport.upper()} 127.0.0.1:{local_port};branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:probe@e2e.test>;tag=e2e1\r\n"
            f"To: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: {uuid.uuid4().hex}@e2e.test\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Accept: application/sdp\r\n"
            "Content-Length: 0\r\n\r\n")
    return text.encode(), branch


def send_options(port: int, transport: str, timeout: float = 10.0) -> tuple[Response, str]:
    """Send one OPTIONS over a plain socket; return the final response and our branch."""
    if transport == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.bind(("127.0.0.1", 0))
            data, branch = options_request(port, "udp", sock.getsockname()[1])
            sock.sendto(data, ("127.0.0.1", port))
            reply = sock.recv(65535)
    else:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            data, branch = options_request(port, "tcp", sock.getsockname()[1])
            sock.sendall(data)
            reply = _read_stream_message(sock)
    message = parse_message(reply)
    assert isinstance(message, Response)
    return message, branch


def _read_stream_message(sock: socket.socket) -> bytes:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65535)
        if not chunk:
            break
        buffer += chunk
    head, _, body = buffer.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith((b"content-length:", b"l:"))), 0)
    while len(body) < length:
        body += sock.recv(65535)
    return head + b"\r\n\r\n" + body


class DiameterClient:
    """A python-diameter Node connecting to the HSS as a Cx client, recording CEA and DWA."""

    def __init__(self, hss_identity: str, realm: str, port: int) -> None:
        self.answers: dict[str, Message] = {}
        self._arrived = threading.Condition()
        self.node = _RecordingNode(self, "e2e-client.test.example", "test.example",
                                   vendor_ids=[10415])
        self.node.wakeup_interval = 1
        self.peer = self.node.add_peer(f"aaa://{hss_identity}:{port};transport=tcp", realm,
                                       ["127.0.0.1"], is_persistent=True)
        self.app = SimpleThreadingApplication(16777216, is_auth_application=True,
                                              request_handler=lambda app, message: None)
        self.node.add_application(self.app, [self.peer])

    def record(self, name: str, message: Message) -> None:
        with self._arrived:
            self.answers[name] = message
            self._arrived.notify_all()

    def wait_for(self, name: str, bound: float = 30.0) -> Message:
        with self._arrived:
            if not self._arrived.wait_for(lambda: name in self.answers, timeout=bound):
                raise AssertionError(f"no {name} within {bound} s")
            return self.answers[name]

    def start(self) -> None:
        self.node.start()

    def send_dwr(self) -> None:
        self.node.send_dwr(self.peer.connection)

    def stop(self) -> None:
        self.node.stop(wait_timeout=10)


class _RecordingNode(Node):  # type: ignore[misc]
    def __init__(self, client: DiameterClient, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client = client

    def receive_cea(self, conn: Any, message: Message) -> None:
        self._client.record("CEA", message)
        super().receive_cea(conn, message)

    def receive_dwa(self, conn: Any, message: Message) -> None:
        self._client.record("DWA", message)
        super().receive_dwa(conn, message)


def process_gone(pid: int) -> bool:
    """True once ``pid`` no longer exists (or is a zombie nobody reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def wait_until(predicate: Any, bound: float, what: str) -> None:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {bound} s")


def pids_of(status: dict[str, Any]) -> dict[str, int]:
    return {entry["name"]: int(entry["pid"]) for entry in status["processes"] if entry["up"]}


def kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


#: The home domain of the generated configs (ims/runtime/default.toml).
HOME_DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"


@dataclass(frozen=True)
class Subscriber:
    """A provisioned subscriber and the identities the HSS generates for it."""

    imsi: str
    msisdn: str

    @property
    def impi(self) -> str:
        return f"{self.imsi}@{HOME_DOMAIN}"

    @property
    def impu(self) -> str:
        return f"sip:{self.imsi}@{HOME_DOMAIN}"

    @property
    def tel(self) -> str:
        return f"tel:+{self.msisdn}"

    @property
    def identities(self) -> tuple[str, str, str]:
        """The generated implicit set: IMSI IMPU (barred), tel and sip MSISDN IMPUs."""
        return self.impu, self.tel, f"sip:+{self.msisdn}@{HOME_DOMAIN}"

"""Interop fixtures: a running proxy process, SIPp runs, tshark captures on loopback.

The proxy under test is ``python -m ims.runtime.proxy_service`` on a free
port (the OS picks it: ``--listen udp:127.0.0.1:0``; the process prints
where it listens). Set ``IMS_INTEROP_PROXY`` to another command line that
accepts the same ``--listen`` flag and prints the same ``listening`` line
to run the suite against a different proxy process.

Outside CI a missing ``sipp`` or ``tshark`` skips the tests needing it; with
``CI=true`` it fails them (``tests/conftest.py::require_tool``).
"""

from __future__ import annotations

import csv
import errno
import json
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_tool

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
#: Upper bound for any one interop step (process start, a SIPp run, a capture).
STEP_TIMEOUT = 20.0


_GIVEN: set[int] = set()


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port that was free a moment ago (bind port 0, read it, release it).

    Never the same port twice in one test session, so two SIPp instances
    started back to back cannot be handed the same one.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def wait_udp_bound(port: int, host: str = "127.0.0.1", timeout: float = STEP_TIMEOUT) -> None:
    """Return once some process has bound ``host:port`` (UDP); raise after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return
                raise
        time.sleep(0.02)
    raise TimeoutError(f"nothing bound udp {host}:{port} within {timeout}s")


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """One line of ``proc``'s stdout, or TimeoutError (never blocks past ``timeout``)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise TimeoutError("no output from the proxy process")
    return proc.stdout.readline()


@dataclass
class ProxyProcess:
    """The proxy under test, running as a child process."""

    proc: subprocess.Popen[str]
    host: str
    port: int
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> dict[str, int]:
        """SIGTERM, wait, and return the counters the process prints at exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            out, _ = self.proc.communicate(timeout=STEP_TIMEOUT)
            for line in out.splitlines():
                if line.startswith("{"):
                    self.counters = json.loads(line)["counters"]
        return self.counters


def start_proxy(log_path: Path, extra: tuple[str, ...] = ()) -> ProxyProcess:
    """Start the proxy on a free loopback UDP port and wait for its ``listening`` line."""
    base = os.environ.get("IMS_INTEROP_PROXY")
    cmd = shlex.split(base) if base else [sys.executable, "-m", "ims.runtime.proxy_service"]
    cmd += ["--listen", "udp:127.0.0.1:0", "--log-level", "info", *extra]
    log = log_path.open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = read_line(proc, STEP_TIMEOUT)
    except TimeoutError:
        proc.kill()
        raise
    if not line.startswith("listening udp"):
        proc.kill()
        raise RuntimeError(f"proxy did not start: {line!r}; see {log_path}")
    host, _, port = line.split()[-1].rpartition(":")
    return ProxyProcess(proc, host, int(port))


@pytest.fixture
def sipp() -> str:
    return require_tool(shutil.which("sipp"), "sipp", "sip-tester")


@pytest.fixture
def tshark() -> str:
    return require_tool(shutil.which("tshark"), "tshark", "tshark")


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ProxyProcess]:
    running = start_proxy(tmp_path / "proxy.log")
    try:
        yield running
    finally:
        running.stop()
        if running.proc.poll() is None:
            running.proc.kill()


# -- SIPp -----------------------------------------------------------------------
@dataclass
class SippRun:
    """The outcome of one SIPp run: exit code and the last (cumulative) stats row."""

    returncode: int
    stats: dict[str, str]
    output: str

    def count(self, name: str) -> int:
        return int(self.stats.get(name, "0") or 0)


def sipp_command(
    sipp: str, scenario: str, workdir: Path, *, port: int, calls: int,
    remote: str | None = None, keys: dict[str, str] | None = None, extra: tuple[str, ...] = (),
) -> list[str]:
    """A bounded SIPp command line (``-m`` calls, ``-timeout``), stats to ``<scenario>.csv``."""
    cmd = [sipp, "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(port),
           "-m", str(calls), "-nostdin", "-timeout", f"{int(STEP_TIMEOUT)}s", "-timeout_error",
           "-trace_stat", "-stf", str(workdir / f"{scenario}.csv"), "-fd", "1",
           "-trace_err", "-error_file", str(workdir / f"{scenario}.errors.log")]
    for name, value in (keys or {}).items():
        cmd += ["-key", name, value]
    cmd += list(extra)
    if remote:
        cmd.append(remote)
    return cmd


def sipp_result(proc: subprocess.Popen[str], workdir: Path, scenario: str) -> SippRun:
    """Wait for a SIPp process and read its stats file."""
    out, _ = proc.communicate(timeout=STEP_TIMEOUT + 10)
    return SippRun(proc.returncode, read_stats(workdir / f"{scenario}.csv"), out)


def read_stats(path: Path) -> dict[str, str]:
    """The last row of a SIPp ``-trace_stat`` CSV (``;``-separated) as a dict."""
    if not path.exists():
        return {}
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


def start_sipp(cmd: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


# -- tshark -------------------------------------------------------------------------
class Capture:
    """``tshark -i lo`` writing ``path``; started and confirmed capturing before use.

    tshark prints "Capturing on" before dumpcap really captures, so the
    filter also takes a probe port, and probes are sent until one is on
    file: only then does the test send traffic.
    """

    def __init__(self, tshark: str, ports: list[int], path: Path) -> None:
        self.tshark = tshark
        self.ports = ports
        self.path = path
        self.probe = free_udp_port()
        bpf = " or ".join(f"udp port {p}" for p in [*ports, self.probe])
        self.proc = subprocess.Popen(
            [tshark, "-i", "lo", "-f", bpf, "-w", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self._wait_capturing()
        self._wait_probe_seen()

    def _wait_probe_seen(self) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while time.monotonic() < deadline:
                sock.sendto(b"probe", ("127.0.0.1", self.probe))
                if self.path.exists() and self.read(
                    "-Y", f"udp.port == {self.probe}", "-T", "fields", "-e", "frame.number"
                ).split():
                    return
                time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError("tshark captured no probe packet")

    def _wait_capturing(self) -> None:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + STEP_TIMEOUT
        seen = ""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stderr], [], [], 0.5)
            if ready:
                line = self.proc.stderr.readline()
                seen += line
                if "Capturing on" in line:
                    return
                if not line and self.proc.poll() is not None:
                    break
        self.proc.kill()
        raise RuntimeError(f"tshark did not start capturing: {seen.strip()}")

    def decode_args(self) -> list[str]:
        """Decode every test port as SIP (they are not 5060)."""
        args: list[str] = []
        for port in self.ports:
            args += ["-d", f"udp.port=={port},sip"]
        return args

    def read(self, *args: str) -> str:
        """``tshark -r`` on the capture with the SIP decode-as rules and ``args``."""
        cmd = [self.tshark, "-r", str(self.path), *self.decode_args(), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False)
        return done.stdout

    def sip_packets(self) -> int:
        if not self.path.exists():
            return 0
        return len(self.read("-Y", "sip", "-T", "fields", "-e", "frame.number").split())

    def stop(self, expect_sip_packets: int) -> None:
        """Wait until ``expect_sip_packets`` SIP packets are on file (bounded), then stop."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline and self.sip_packets() < expect_sip_packets:
            time.sleep(0.1)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.communicate(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()

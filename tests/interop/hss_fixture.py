"""The HSS alone (``python -m hss.app``) on free loopback ports, for interop tests.

The HSS provisions its demo subscriber (IMSI 001010000000001, TS 35.208 test
set 1 keys) into an empty store at start, so a client can run Cx and S6a
against it straight away. Every wait is bounded; nothing asserts timing.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT

#: Upper bound for the HSS to come up or go away.
HSS_WAIT = 60.0
DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
HSS_IDENTITY = f"hss.{DOMAIN}"


def free_tcp_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 a moment ago."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


class HssProcess:
    """``python -m hss.app --config FILE`` in ``workdir``, its log in ``hss.log``."""

    def __init__(self, workdir: Path, store_url: str | None = None) -> None:
        self.workdir = workdir
        self.diameter_port, self.rest_port, self.mgmt_port = free_tcp_ports(3)
        url = store_url or f"sqlite:///{workdir / 'hss.sqlite'}"
        self.config = workdir / "hss.toml"
        self.config.write_text("\n".join([
            "[logging]", 'level = "warning"', "",
            "[hss]", f"diameter_port = {self.diameter_port}", f"rest_port = {self.rest_port}",
            f"mgmt_port = {self.mgmt_port}", f'store_url = "{url}"', ""]))
        self.log = workdir / "hss.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        """Start the HSS and return once its Diameter port accepts connections."""
        with self.log.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hss.app", "--config", str(self.config)],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + HSS_WAIT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.diameter_port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the HSS did not come up (exit {self.process.poll()}):\n"
                           f"{self.log.read_text(errors='replace')[-4000:]}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within the bound."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=HSS_WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=HSS_WAIT)

"""Is a configured port free, and if not, which process holds it?

Before a process (or ``ims-cli run``) starts its listeners it tries to bind
each configured socket once and lets go. A refused bind is reported with the
port and, where Linux tells us, the process holding it: the socket's inode
is found in ``/proc/net/{tcp,tcp6,udp,udp6}`` and then among the
``/proc/<pid>/fd`` links (only processes we may inspect are visible).
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from pathlib import Path

from ims.runtime.config import Bind

PROC = Path("/proc")
#: Services that bind sockets at this stage (``rest`` and ``ipsec`` not yet).
ACTIVE_SERVICES = ("sip", "diameter", "mgmt")
#: ``st`` column of a listening TCP socket in /proc/net/tcp.
_TCP_LISTEN = "0A"


@dataclass(frozen=True)
class Busy:
    """A bind that failed."""

    bind: Bind
    """What we tried to bind."""
    reason: str
    """The OS error text."""
    holder: str | None
    """``pid 123 (python -m pcscf.app)`` if found."""

    def message(self) -> str:
        """``pcscf.port 127.0.0.1:5060/udp is already in use by pid 1 (...)``."""
        who = f" by {self.holder}" if self.holder else ""
        if self.reason == "in use":
            return f"{self.bind.key} {self.bind.describe()} is already in use{who}"
        return f"{self.bind.key} {self.bind.describe()} cannot be bound: {self.reason}"


def find_busy(binds: list[Bind], proc: Path = PROC) -> list[Busy]:
    """Try each active bind once; return those that fail, with their holder."""
    return [busy for bind in binds if bind.service in ACTIVE_SERVICES
            if (busy := check_bind(bind, proc)) is not None]


def check_bind(bind: Bind, proc: Path = PROC) -> Busy | None:
    """Bind ``bind`` for a moment; ``None`` if that worked."""
    family = socket.AF_INET6 if ":" in bind.host else socket.AF_INET
    kind = socket.SOCK_STREAM if bind.transport == "tcp" else socket.SOCK_DGRAM
    try:
        with socket.socket(family, kind) as probe:
            if kind == socket.SOCK_STREAM:
                # as the real listeners do, so TIME_WAIT leftovers do not count
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((bind.host, bind.port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return Busy(bind, "in use", holder_of(bind.transport, bind.port, proc))
        return Busy(bind, error.strerror or str(error), None)
    return None


def holder_of(transport: str, port: int, proc: Path = PROC) -> str | None:
    """Describe the process holding ``transport`` ``port``, if visible."""
    inodes = socket_inodes(transport, port, proc)
    for pid in _pids(proc):
        if inodes & _fd_inodes(proc / pid):
            return f"pid {pid} ({command_line(pid, proc)})"
    return None


def socket_inodes(transport: str, port: int, proc: Path = PROC) -> set[str]:
    """Inodes of local sockets bound to ``port`` (listening ones for TCP)."""
    found: set[str] = set()
    for table in (f"{transport}", f"{transport}6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or int(fields[1].rsplit(":", 1)[1], 16) != port:
                continue
            if transport == "tcp" and fields[3] != _TCP_LISTEN:
                continue
            found.add(fields[9])
    found.discard("0")
    return found


def command_line(pid: str, proc: Path = PROC) -> str:
    """The command line of ``pid`` (shortened), or its ``comm`` name."""
    try:
        raw = (proc / pid / "cmdline").read_bytes()
    except OSError:
        return "?"
    text = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    if not text:
        try:
            text = (proc / pid / "comm").read_text().strip()
        except OSError:
            return "?"
    return text if len(text) <= 120 else text[:117] + "..."


def _pids(proc: Path) -> list[str]:
    try:
        return sorted((entry.name for entry in proc.iterdir() if entry.name.isdigit()), key=int)
    except OSError:
        return []


def _fd_inodes(process: Path) -> set[str]:
    found: set[str] = set()
    try:
        links = list((process / "fd").iterdir())
    except OSError:
        return found
    for link in links:
        try:
            target = str(link.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found

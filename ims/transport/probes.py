"""Kernel capability probes that need a socket (the transport owns sockets).

``kernel_sctp`` tells whether the kernel speaks SCTP (RFC 4960): a kernel
without it answers ``socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP)`` with
EPROTONOSUPPORT.
"""

from __future__ import annotations

import errno
import os
import socket

#: IANA protocol number of SCTP (RFC 4960).
IPPROTO_SCTP = getattr(socket, "IPPROTO_SCTP", 132)


def kernel_sctp() -> tuple[bool, str]:
    """Open and close one SCTP socket; on failure the errno says why."""
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP)
    except OSError as exc:
        if exc.errno in (errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT, errno.EAFNOSUPPORT):
            return False, "kernel has no SCTP"
        return False, f"SCTP socket refused: {os.strerror(exc.errno or 0)}"
    probe.close()
    return True, ""

"""SCTP availability for the Diameter listener (RFC 6733 §2.1: TCP and SCTP transports).

A Diameter node listens on SCTP too when both exist: the kernel's SCTP
protocol (probed by ``ims.transport.probes.kernel_sctp``;
a kernel without it answers EPROTONOSUPPORT) and pysctp (the optional extra
``sctp``, which python-diameter imports for its SCTP transport). The result
is computed once at start and stated in the log and in ``/status``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from ims.transport.probes import IPPROTO_SCTP, kernel_sctp

__all__ = ["IPPROTO_SCTP", "SctpSupport", "detect"]


@dataclass(frozen=True)
class SctpSupport:
    """What start-up found out about SCTP."""

    kernel: bool
    """The kernel opens SCTP sockets."""
    library: bool
    """pysctp is importable."""
    reason: str = ""
    """Why the kernel refused (``kernel has no SCTP`` ...), empty when it did not."""

    @property
    def available(self) -> bool:
        """Both kernel and pysctp: the node listens on SCTP."""
        return self.kernel and self.library

    def describe(self) -> str:
        """``available`` or ``unavailable: <why>`` (the ``/status`` value)."""
        if self.available:
            return "available"
        if not self.kernel:
            return f"unavailable: {self.reason or 'kernel has no SCTP'}"
        return "unavailable: pysctp not installed (pip install '.[sctp]')"


def _pysctp_importable() -> bool:
    return importlib.util.find_spec("sctp") is not None


def detect(kernel_probe: Callable[[], tuple[bool, str]] = kernel_sctp,
           library_probe: Callable[[], bool] = _pysctp_importable) -> SctpSupport:
    """Probe the kernel and pysctp (the probes are injectable for tests)."""
    kernel, reason = kernel_probe()
    return SctpSupport(kernel=kernel, library=library_probe(), reason=reason)

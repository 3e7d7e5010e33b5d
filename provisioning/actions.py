"""What the provisioning API asks of the network: the HSS's Diameter client side.

The REST layer does not speak Diameter. The HSS process passes an object
implementing :class:`NetworkActions` to :func:`provisioning.api.create_app`;
the action routes call it (``deregister``: RTR to the assigned S-CSCF,
TS 29.228 §6.2; ``push_profile``: PPR, §6.1.3), and PATCH / DELETE of a
subscriber call the hooks so the HSS can send IDR (TS 29.272 §5.2.2.1) or
CLR (§5.2.1.2) to the registered MME. Implementations answer with an
:class:`ActionResult` and do not raise: a peer that does not answer is an
``ok=False`` result with a ``detail``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["ActionResult", "NetworkActions"]


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The outcome of one network action.

    Attributes:
        ok: the peer accepted (Result-Code 2001), or there was nothing to do.
        detail: what happened, for the operator (e.g. ``"RTA 2001 from scscf..."``).
        result_code: the Diameter Result-Code or Experimental-Result-Code, if any.
    """

    ok: bool
    detail: str = ""
    result_code: int | None = None


class NetworkActions(Protocol):
    """The Diameter client of the HSS, as the provisioning API sees it."""

    def deregister(self, impi: str, impus: list[str], reason: str) -> ActionResult:
        """Send RTR for ``impi`` and ``impus`` to their S-CSCF, with ``reason``."""
        ...

    def push_profile(self, impi: str) -> ActionResult:
        """Send PPR with the current User-Data of ``impi`` to its S-CSCF."""
        ...

    def eps_data_changed(self, imsi: str) -> ActionResult:
        """EPS subscription data of ``imsi`` changed: IDR to the registered MME."""
        ...

    def subscriber_deleted(self, imsi: str) -> ActionResult:
        """``imsi`` was deleted: CLR to the registered MME."""
        ...

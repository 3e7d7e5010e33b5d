"""Events and actions exchanged between the sans-I/O SIP core and its drivers.

The core never performs I/O: it returns these actions and the driver in
``ims/transport`` carries them out (send bytes, arm a timer with
``loop.call_at``, hand a message to the transaction user). Timers are named
after the RFC 3261 §17 letters (A, B, D, E, F, G, H, I, J, K), plus C for the
proxy (§16.6 step 11) and L, M from RFC 6026.
"""

from __future__ import annotations

from dataclasses import dataclass

from ims.sip.message import Request, Response


@dataclass(frozen=True, slots=True)
class Peer:
    """Where a message came from or goes to.

    ``transport`` is ``"udp"``, ``"tcp"`` or ``"tls"``; ``host`` is a bare IP
    address (no IPv6 brackets). ``conn_id`` names the stream connection a
    message arrived on, so that responses go back over it (RFC 3261 §18.2.2).

    ``local_port`` is our end of a protected flow (TS 33.203 §7.1): the
    transport sets it for messages received on a protected listener (the
    port they arrived on), and a message sent with it set leaves from that
    port; a response then goes to the request's source (``host``/``port``),
    not to its Via. None everywhere else.
    """

    transport: str
    host: str
    port: int
    conn_id: int | None = None
    local_port: int | None = None

    @property
    def reliable(self) -> bool:
        """True for stream transports: no retransmission timers (§17.1.1.2)."""
        return self.transport != "udp"


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``message`` to ``peer``."""

    message: Request | Response
    peer: Peer


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Arm timer ``name`` to fire at absolute time ``at`` (same clock as ``now``)."""

    name: str
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Disarm timer ``name`` if armed."""

    name: str


@dataclass(frozen=True, slots=True)
class Deliver:
    """Pass ``message`` up to the transaction user."""

    message: Request | Response


@dataclass(frozen=True, slots=True)
class Timeout:
    """The transaction timed out (Timer B/F/H, or C at a proxy): the TU acts as on a 408."""

    timer: str


@dataclass(frozen=True, slots=True)
class TransportError:
    """Sending failed (RFC 3261 §17.1.4): the TU acts as on a 503."""

    reason: str


@dataclass(frozen=True, slots=True)
class Terminated:
    """The transaction reached TERMINATED; the driver forgets it."""

    key: tuple[str, ...]


Action = Send | StartTimer | CancelTimer | Deliver | Timeout | TransportError | Terminated

"""What a Diameter node reports: peer states for ``/status``, message names and answer counters.

:class:`PeerState` is one peer as ``/status`` shows it (RFC 6733 §5.6
peer states, named); :func:`command_name`, :func:`answer_result` and
:func:`answer_counter` name the per-command traffic counters and log lines
(Result-Code, else the 3GPP Experimental-Result-Code, TS 29.229 §6.2). The
public names are also importable from :mod:`ims.diameter.node`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from diameter.message import Message
from diameter.node.peer import (
    PEER_CLOSED,
    PEER_CLOSING,
    PEER_CONNECTED,
    PEER_CONNECTING,
    PEER_DISCONNECTING,
    PEER_READY,
    PEER_READY_WAITING_DWA,
    PEER_TRANSPORT_SCTP,
    Peer,
)

from .capabilities import application_name

__all__ = ["PeerState", "answer_counter", "answer_result", "command_name", "peer_state"]

#: ``/status`` names of the library's peer states.
STATE_NAMES = {
    PEER_CONNECTING: "connecting", PEER_CONNECTED: "connected", PEER_READY: "ready",
    PEER_READY_WAITING_DWA: "ready", PEER_DISCONNECTING: "disconnecting",
    PEER_CLOSING: "closing", PEER_CLOSED: "closed",
}


@dataclass(frozen=True)
class PeerState:
    """One peer as ``/status`` shows it."""

    host: str
    """DiameterIdentity of the peer."""
    realm: str
    """Realm of the peer."""
    state: str
    """``ready``, ``connecting``, ``connected``, ``closing`` ... or ``down``."""
    applications: tuple[str, ...] = ()
    """Applications the peer advertised in its last CER/CEA (``Cx``, ``S6a``, ``relay`` ...)."""
    transport: str = ""
    """``tcp`` or ``sctp`` while connected."""
    address: str = ""
    """Remote address while connected."""


def command_name(message: Message) -> str:
    """``CER``, ``DWA``, ``MAR`` ... (or ``cmd<code>`` for an unknown command)."""
    name = type(message).__name__
    if name == "Message":
        return f"cmd{message.header.command_code}"
    return "".join(char for char in name if char.isupper())


def answer_result(message: Any) -> str:
    """Result-Code, else Experimental-Result-Code (TS 29.229 §6.2), else ``none``."""
    code = getattr(message, "result_code", None)
    if code is None:
        experimental = getattr(message, "experimental_result", None)
        code = getattr(experimental, "experimental_result_code", None)
    return "none" if code is None else str(code)


def answer_counter(command: str, message: Any) -> str:
    """``diameter_answers{command="MAA",result="2001"}``: one counter per command and result."""
    return f'diameter_answers{{command="{command}",result="{answer_result(message)}"}}'


def peer_state(host: str, peer: Peer, advertised: tuple[int, ...]) -> PeerState:
    """``peer`` as ``/status`` shows it, with the applications it ``advertised``."""
    conn = peer.connection
    if conn is None:
        return PeerState(host=host, realm=peer.realm_name, state="down",
                         applications=tuple(application_name(app) for app in advertised))
    return PeerState(host=host, realm=peer.realm_name,
                     state=STATE_NAMES.get(conn.state, "unknown"),
                     applications=tuple(application_name(app) for app in advertised),
                     transport="sctp" if conn.socket_proto == PEER_TRANSPORT_SCTP else "tcp",
                     address=str(conn.ip))

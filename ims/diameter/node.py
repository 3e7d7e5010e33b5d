"""Diameter node wiring over python-diameter (RFC 6733 §5 peer handling).

Theory of operation
-------------------
python-diameter's ``Node`` owns the Diameter sockets and threads and runs
the base protocol itself: CER/CEA, DWR/DWA, DPR/DPA. This module builds one
from plain settings and adds what an IMS node needs on top:

* the 3GPP applications (Cx 16777216, Sh 16777217, S6a 16777251; TS 29.229
  §7.2, TS 29.329 §7.2, TS 29.272 §7.1.8) are advertised in CER/CEA inside
  ``Vendor-Specific-Application-Id`` with Vendor-Id 10415, as 3GPP peers
  expect, instead of as bare ``Auth-Application-Id``;
* a lab node may accept a CER from a peer nobody configured: the peer is
  added on the fly, routed for every application and served realm;
* each message sent or received gives one debug log line and a counter;
* ``peers()`` reports each peer's state for ``/status``.

Requests for an application are answered by the handlers given for it
(``handlers``: application id → command code → handler, run through
:class:`ims.diameter.bridge.HandlerApplication`); an application served
without handlers answers every request ``DIAMETER_COMMAND_UNSUPPORTED``.
This module and ``bridge.py`` are the only ones importing ``diameter``; the
library's private hooks used here (``_receive_message``, ``_peer_routes``)
are pinned by ``python-diameter>=0.9,<0.10``.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from diameter.message import Message, constants
from diameter.message.avp.grouped import VendorSpecificApplicationId
from diameter.message.commands import CapabilitiesExchangeAnswer, CapabilitiesExchangeRequest
from diameter.node import Node
from diameter.node.application import Application
from diameter.node.peer import (
    PEER_CLOSED,
    PEER_CLOSING,
    PEER_CONNECTED,
    PEER_CONNECTING,
    PEER_DISCONNECTING,
    PEER_READY,
    PEER_READY_WAITING_DWA,
    Peer,
    PeerConnection,
)

from .bridge import Handler, HandlerApplication

logger = logging.getLogger(__name__)

VENDOR_3GPP = 10415
APP_CX = 16777216
APP_SH = 16777217
APP_S6A = 16777251

#: Seconds a stopping node waits for DPA from its peers.
STOP_WAIT = 5

_STATE_NAMES = {
    PEER_CONNECTING: "connecting", PEER_CONNECTED: "connected", PEER_READY: "ready",
    PEER_READY_WAITING_DWA: "ready", PEER_DISCONNECTING: "disconnecting",
    PEER_CLOSING: "closing", PEER_CLOSED: "closed",
}


@dataclass(frozen=True)
class PeerSettings:
    """A peer known by name."""

    identity: str
    """DiameterIdentity (Origin-Host)."""
    realm: str
    """Realm of the peer."""
    address: str = ""
    """Address to connect to; empty if the peer connects to us."""
    port: int = 3868
    """Port to connect to."""
    connect: bool = False
    """Open and keep a connection to the peer."""


@dataclass(frozen=True)
class NodeSettings:
    """Everything needed to build a node."""

    identity: str
    """Our DiameterIdentity (Origin-Host)."""
    realm: str
    """Our realm (Origin-Realm)."""
    listen_host: str | None
    """Address of the TCP listener, or None for a client-only node."""
    listen_port: int
    """TCP port of the listener."""
    applications: tuple[int, ...]
    """3GPP (vendor 10415) auth application ids served."""
    served_realms: tuple[str, ...] = ()
    """Realms served besides ``realm`` (the EPC realm for S6a)."""
    peers: tuple[PeerSettings, ...] = ()
    """Configured peers."""
    accept_unknown_peers: bool = False
    """Accept CER from unconfigured peers."""
    watchdog_interval: int = 30
    """Idle seconds before a DWR (RFC 6733 Tw)."""
    product_name: str = "ims-core"
    """Product-Name in CER/CEA."""


@dataclass(frozen=True)
class PeerState:
    """One peer as ``/status`` shows it."""

    host: str
    """DiameterIdentity of the peer."""
    realm: str
    """Realm of the peer."""
    state: str
    """``ready``, ``connecting``, ``connected``, ``closing`` ... or ``down``."""


def command_name(message: Message) -> str:
    """``CER``, ``DWA``, ``MAR`` ... (or ``cmd<code>`` for an unknown command)."""
    name = type(message).__name__
    if name == "Message":
        return f"cmd{message.header.command_code}"
    return "".join(char for char in name if char.isupper())


class _PendingApplication(Application):  # type: ignore[misc]
    """Answers every request with 3001 until real handlers are wired."""

    def handle_request(self, message: Message) -> None:
        answer = self.generate_answer(message, constants.E_RESULT_CODE_DIAMETER_COMMAND_UNSUPPORTED,
                                      "command not implemented yet")
        answer.header.is_error = True
        self.send_answer(answer)


class _ImsNode(Node):  # type: ignore[misc]
    """python-diameter's Node with the additions described in the module docstring."""

    peers: dict[str, Any]

    def __init__(self, settings: NodeSettings, traffic: Counter[str], lock: threading.Lock) -> None:
        hosts = [settings.listen_host] if settings.listen_host else None
        super().__init__(settings.identity, settings.realm, ip_addresses=hosts,
                         tcp_port=settings.listen_port if hosts else None,
                         vendor_ids=[VENDOR_3GPP])
        self.product_name = settings.product_name
        self.idle_timeout = settings.watchdog_interval
        self.wakeup_interval = 1
        # The library checks requests against its own avp_def tables, which are
        # wrong for Cx MAR (RFC 4740 codes, see ims.diameter.cx) and would answer
        # 5005 to a correct MAR. Our read_<msg> helpers check the mandatory AVPs
        # instead (AvpError, answered 5005/5004 by ims.diameter.bridge).
        self.validate_received_request_avps = False
        self._settings = settings
        self._traffic = traffic
        self._traffic_lock = lock

    def receive_cer(self, conn: PeerConnection, message: CapabilitiesExchangeRequest) -> None:
        host = bytes(message.origin_host).decode(errors="replace").lower()
        if host not in self.peers and self._settings.accept_unknown_peers:
            self._admit(host, bytes(message.origin_realm).decode(errors="replace"), conn)
        super().receive_cer(conn, message)

    def _admit(self, host: str, realm: str, conn: PeerConnection) -> None:
        logger.info("accepting unconfigured peer %s (realm %s) from %s", host, realm, conn.ip)
        peer = Peer(node_name=host, realm_name=realm, transport=conn.socket_proto, port=3868)
        # copy-on-write: the connection thread may be iterating the old dict
        self.peers = {**self.peers, host: peer}
        for routes in self._peer_routes.values():
            for app, members in routes.items():
                if isinstance(app, Application):
                    members.append(peer)

    def send_message(self, conn: PeerConnection, message: Message) -> None:
        if isinstance(message, CapabilitiesExchangeRequest | CapabilitiesExchangeAnswer):
            _advertise_vendor_apps(message, self._settings.applications)
        self._trace("send", conn, message)
        super().send_message(conn, message)

    def _record_answer(self, conn: PeerConnection, message: Message) -> None:
        """The library's bookkeeping of a sent answer, safe for Experimental-Result answers.

        python-diameter 0.9 ends this with ``int(result_code / 1000)``, which
        raises TypeError for a 3GPP answer carrying only Experimental-Result
        (TS 29.229 §6.2), killing the application's answer thread. That call
        is the method's last statement (the answer is already queued and its
        bookkeeping done), so only the per-peer result statistic is skipped.
        """
        if getattr(message, "result_code", 0) is not None:
            super()._record_answer(conn, message)
            return
        try:
            super()._record_answer(conn, message)
        except TypeError:
            logger.debug("answer without Result-Code not counted in peer statistics")

    def _receive_message(self, conn: PeerConnection, message: Message) -> None:
        self._trace("recv", conn, message)
        super()._receive_message(conn, message)

    def _trace(self, direction: str, conn: PeerConnection, message: Message) -> None:
        name = command_name(message)
        with self._traffic_lock:
            self._traffic[f"diameter_{'rx' if direction == 'recv' else 'tx'}_{name.lower()}"] += 1
        if logger.isEnabledFor(logging.DEBUG):
            result = getattr(message, "result_code", None)
            logger.debug("%s %s %s %s:%s hop=%#x e2e=%#x app=%d%s", direction,
                         "<-" if direction == "recv" else "->", name,
                         conn.host_identity or conn.node_name or "?", conn.ip,
                         message.header.hop_by_hop_identifier,
                         message.header.end_to_end_identifier,
                         message.header.application_id,
                         f" result={result}" if result else "")


def _advertise_vendor_apps(message: Any, vendor_apps: tuple[int, ...]) -> None:
    """Move 3GPP application ids into Vendor-Specific-Application-Id (TS 29.229 §7.2)."""
    plain = list(message.auth_application_id or [])
    moved = [app for app in plain if app in vendor_apps]
    message.auth_application_id = [app for app in plain if app not in vendor_apps]
    message.vendor_specific_application_id = [
        VendorSpecificApplicationId(vendor_id=VENDOR_3GPP, auth_application_id=app)
        for app in moved
    ]


class DiameterNode:
    """A started-or-not Diameter node built from :class:`NodeSettings`.

    Args:
        settings: identity, listener, applications and peers.
        handlers: per application id, command code → request handler
            (TS 29.229 §6.1, TS 29.329 §6.1, TS 29.272 §7.2 commands).
    """

    def __init__(self, settings: NodeSettings,
                 handlers: Mapping[int, Mapping[int, Handler]] | None = None) -> None:
        self.settings = settings
        self._traffic: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._node = _ImsNode(settings, self._traffic, self._lock)
        self._started = False
        configured = [self._add_peer(peer) for peer in settings.peers]
        realms = [settings.realm, *settings.served_realms]
        tables = handlers or {}
        for app_id in settings.applications:
            app = (HandlerApplication(app_id, tables[app_id]) if app_id in tables
                   else _PendingApplication(app_id, is_auth_application=True))
            self._node.add_application(app, configured, realms=realms)
            for realm in realms:  # so unconfigured peers can be routed later
                self._node._peer_routes.setdefault(realm, {}).setdefault(app, [])

    def _add_peer(self, peer: PeerSettings) -> Any:
        uri = f"aaa://{peer.identity}:{peer.port};transport=tcp"
        addresses = [peer.address] if peer.address else None
        return self._node.add_peer(uri, peer.realm, addresses, is_persistent=peer.connect)

    def start(self) -> None:
        """Bind the listener and start the node's threads.

        Raises:
            OSError: the listener cannot be bound.
        """
        self._node.start()
        self._started = True
        logger.info("diameter node %s (realm %s) listening on tcp %s:%d",
                    self.settings.identity, self.settings.realm,
                    self.settings.listen_host, self.settings.listen_port)

    def stop(self) -> None:
        """Send DPR to connected peers, wait for them (bounded), close everything. Blocks."""
        if self._started:
            self._started = False
            self._node.stop(wait_timeout=STOP_WAIT)

    def listening(self) -> list[str]:
        """``["tcp 127.0.0.1:3868"]`` (empty for a client-only node)."""
        sockets = self._node.tcp_sockets
        return [f"tcp {sock.getsockname()[0]}:{sock.getsockname()[1]}" for sock in sockets
                if sock.fileno() != -1]

    def peers(self) -> list[PeerState]:
        """Every known peer with its connection state."""
        states = []
        for host, peer in sorted(self._node.peers.items()):
            conn = peer.connection
            state = _STATE_NAMES.get(conn.state, "unknown") if conn is not None else "down"
            states.append(PeerState(host=host, realm=peer.realm_name, state=state))
        return states

    def counters(self) -> dict[str, int]:
        """Messages sent and received per command (``diameter_rx_cer`` ...)."""
        with self._lock:
            return dict(self._traffic)

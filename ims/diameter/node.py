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
* a CER is checked against the peer policy (:mod:`ims.diameter.peers`):
  configured or allowed Origin-Hosts, or an allowed realm from an allowed
  network, else CEA 3010 DIAMETER_UNKNOWN_PEER; a CER sharing none of our
  applications (relay 0xffffffff counts as all) gets 5010 (RFC 6733 §5.3);
  both close the connection once the CEA is sent. An allowed peer nobody
  configured is added on the fly, routed for every application and realm;
* a second connection from a connected Origin-Host is resolved by the
  RFC 6733 §5.6.4 election: we win when our Origin-Host is the higher, keep
  the new connection and close the old one once every request received on
  it is answered (answers go back on the connection their request came in
  on, §6.2); when we lose, the new one gets 4003 DIAMETER_ELECTION_LOST;
* SCTP (RFC 6733 §2.1) is detected at start (:mod:`ims.diameter.sctp`) and,
  where the kernel and pysctp have it, the node listens on it too;
* each message sent or received gives one debug log line and a counter,
  each answer sent one per command and result code;
* ``peers()``/``status()`` report each peer's state and applications.

Requests for an application are answered by the handlers given for it
(``handlers``: application id → command code → handler, run through
:class:`ims.diameter.bridge.HandlerApplication` on ``request_workers``
threads); an application served
without handlers answers every request ``DIAMETER_COMMAND_UNSUPPORTED``.
The library's private hooks used here (``_receive_message``, ``_peer_routes``)
are pinned by ``python-diameter>=0.9,<0.10``.

The pieces without sockets live in modules named for their concern and are
re-exported here: :mod:`ims.diameter.settings` (settings, peer policy),
:mod:`ims.diameter.capabilities` (applications in CER/CEA),
:mod:`ims.diameter.routes` (answer routing, election draining) and
:mod:`ims.diameter.status` (``/status`` peer states, counters).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from diameter.message import Message, constants
from diameter.message.commands import CapabilitiesExchangeAnswer, CapabilitiesExchangeRequest
from diameter.node import Node
from diameter.node.application import Application
from diameter.node.node import NotRoutable
from diameter.node.peer import (
    DISCONNECT_REASON_UNKNOWN,
    PEER_CLOSING,
    PEER_READY_STATES,
    Peer,
    PeerConnection,
)

from . import sctp as sctp_probe
from .bridge import Handler, HandlerApplication
from .capabilities import (
    APPLICATION_NAMES,
    advertise_vendor_apps,
    advertised_applications,
    application_name,
)
from .peers import CerResult, cer_verdict, election_won
from .routes import AnswerRoutes
from .settings import (
    APP_CX,
    APP_S6A,
    APP_SH,
    VENDOR_3GPP,
    NodeSettings,
    PeerSettings,
    peer_policy,
)
from .status import PeerState, answer_counter, answer_result, command_name, peer_state

__all__ = [
    "APPLICATION_NAMES", "APP_CX", "APP_S6A", "APP_SH", "STOP_WAIT", "VENDOR_3GPP",
    "DiameterNode", "DiameterTimeout", "DiameterUnreachable", "NodeSettings", "PeerSettings",
    "PeerState", "advertised_applications", "answer_counter", "answer_result",
    "application_name", "command_name", "peer_policy",
]

logger = logging.getLogger(__name__)

#: Seconds a stopping node waits for DPA from its peers.
STOP_WAIT = 5


class DiameterTimeout(Exception):
    """No answer to a request we sent within its timeout (RFC 6733 §5.5.4, Tx)."""


class DiameterUnreachable(Exception):
    """No ready connection to the request's Destination-Host (or realm) to send it on."""


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else bytes(value).decode(errors="replace")



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

    def __init__(self, settings: NodeSettings, traffic: Counter[str], lock: threading.Lock,
                 sctp_listen: bool = False) -> None:
        hosts = [settings.listen_host] if settings.listen_host else None
        super().__init__(settings.identity, settings.realm, ip_addresses=hosts,
                         tcp_port=settings.listen_port if hosts else None,
                         sctp_port=settings.listen_port if hosts and sctp_listen else None,
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
        self.policy = peer_policy(settings)
        self.advertised: dict[str, tuple[int, ...]] = {}
        self._routes = AnswerRoutes()

    def receive_cer(self, conn: PeerConnection, message: CapabilitiesExchangeRequest) -> None:
        """RFC 6733 §5.3 capabilities exchange with the peer policy and §5.6.4 election."""
        host = _text(message.origin_host).lower()
        realm = _text(message.origin_realm)
        advertised = advertised_applications(message)
        verdict = cer_verdict(self.policy, self._settings.applications, host, realm,
                              str(conn.ip), advertised)
        if verdict is not CerResult.DIAMETER_SUCCESS:
            logger.warning("refusing CER from %s (realm %s) at %s: %s", host, realm, conn.ip,
                           verdict.name)
            self._refuse(conn, message, verdict)
            return
        if host not in self.peers:
            self._admit(host, realm, conn)
        rivals = self._rivals(conn, host)
        if rivals and not election_won(self.origin_host, host):
            logger.warning("second connection from %s at %s lost the election", host, conn.ip)
            self._refuse(conn, message, CerResult.DIAMETER_ELECTION_LOST)
            return
        self.advertised[host] = advertised
        super().receive_cer(conn, message)
        if rivals:
            logger.info("second connection from %s at %s won the election; draining %d older",
                        host, conn.ip, len(rivals))
            peer = self._find_connection_peer(conn)
            if peer is not None:
                peer.connection = conn
            for old in rivals:
                self._drain(old)

    def receive_cea(self, conn: PeerConnection, message: CapabilitiesExchangeAnswer) -> None:
        """Record what the peer advertised (RFC 6733 §5.3), then the library's handling."""
        self.advertised[_text(message.origin_host).lower()] = advertised_applications(message)
        super().receive_cea(conn, message)

    def _refuse(self, conn: PeerConnection, message: CapabilitiesExchangeRequest,
                result: CerResult) -> None:
        """CEA with ``result`` and the connection closed once it is sent (RFC 6733 §5.3)."""
        answer = self._generate_answer(conn, message)
        answer.host_ip_address = self.ip_addresses
        answer.vendor_id = self.vendor_id
        answer.product_name = self.product_name
        answer.supported_vendor_id = list(self.vendor_ids)
        answer.auth_application_id = list(self.auth_application_ids)
        answer.result_code = int(result)
        answer.error_message = result.name
        answer.header.is_error = 3000 <= int(result) < 4000
        conn.state = PEER_CLOSING
        self.send_message(conn, answer)

    def _rivals(self, conn: PeerConnection, host: str) -> list[PeerConnection]:
        """Other open connections of ``host`` (RFC 6733 §5.6.4 election candidates)."""
        return [other for other in list(self.connections.values())
                if other is not conn and (other.host_identity or "").lower() == host
                and other.state in PEER_READY_STATES and not self._routes.draining(other)]

    def _drain(self, conn: PeerConnection) -> None:
        """Close the election loser once every request received on it is answered."""
        if self._routes.drain(conn):
            conn.state = PEER_CLOSING
            conn.demand_attention()

    def _receive_app_request(self, conn: PeerConnection, message: Message) -> None:
        self._routes.remember(message, conn)
        super()._receive_app_request(conn, message)

    def route_answer(self, message: Message) -> tuple[PeerConnection, Message]:
        """The answer goes back on the connection its request came in on (RFC 6733 §6.2).

        The library looks the connection up by the peer's host identity, which
        is ambiguous while an election loser drains.
        """
        conn = self._routes.connection_of(message)
        if conn is None or conn.ident not in self.connections:
            return super().route_answer(message)  # type: ignore[no-any-return]
        waiting = self._peer_waiting_answer.get(conn.host_identity, {})
        waiting.pop(message.header.hop_by_hop_identifier, None)
        return conn, message

    def remove_peer_connection(self, conn: PeerConnection,
                               disconnect_reason: int = DISCONNECT_REASON_UNKNOWN) -> None:
        """The library's removal, keeping the peer's newer connection (election winner)."""
        peer = self._find_connection_peer(conn)
        keep = peer.connection if peer is not None and peer.connection is not conn else None
        super().remove_peer_connection(conn, disconnect_reason)
        self._routes.forget(conn)
        if keep is not None and keep.ident in self.connections:
            peer.connection = keep
            if keep.state in PEER_READY_STATES:
                self._flag_connection_as_ready(keep)

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
            advertise_vendor_apps(message, self._settings.applications)
        self._trace("send", conn, message)
        if not message.header.is_request and self._routes.answered(message, conn):
            conn.state = PEER_CLOSING  # last answer of a drained connection: close once sent
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

    def route_request(self, app: Application, message: Message) -> tuple[PeerConnection, Message]:
        """Route to the peer named by Destination-Host (RFC 6733 §6.1.4), else by realm.

        The library routes by Destination-Realm only; an HSS-initiated request
        (RTR, PPR, CLR, IDR, DSR) must reach the one S-CSCF or MME it names.
        """
        wanted = getattr(message, "destination_host", None)
        if not wanted:
            return super().route_request(app, message)  # type: ignore[no-any-return]
        host = bytes(wanted).decode(errors="replace").lower()
        peer = next((p for name, p in self.peers.items() if name.lower() == host), None)
        conn = peer.connection if peer is not None else None
        if conn is None or conn.state not in PEER_READY_STATES:
            raise NotRoutable(f"peer {host} is not connected")
        if not message.header.hop_by_hop_identifier:
            message.header.hop_by_hop_identifier = conn.hop_by_hop_seq.next_sequence()
        header = message.header
        self._app_waiting_answer[f"{header.hop_by_hop_identifier}:"
                                 f"{header.end_to_end_identifier}"] = app
        return conn, message

    def _trace(self, direction: str, conn: PeerConnection, message: Message) -> None:
        name = command_name(message)
        with self._traffic_lock:
            self._traffic[f"diameter_{'rx' if direction == 'recv' else 'tx'}_{name.lower()}"] += 1
            if direction == "send" and not message.header.is_request:
                self._traffic[answer_counter(name, message)] += 1
        if logger.isEnabledFor(logging.DEBUG):
            result = getattr(message, "result_code", None)
            logger.debug("%s %s %s %s:%s hop=%#x e2e=%#x app=%d%s", direction,
                         "<-" if direction == "recv" else "->", name,
                         conn.host_identity or conn.node_name or "?", conn.ip,
                         message.header.hop_by_hop_identifier,
                         message.header.end_to_end_identifier,
                         message.header.application_id,
                         f" result={result}" if result else "")



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
        self.sctp = sctp_probe.detect()
        listen_sctp = settings.sctp and settings.listen_host is not None and self.sctp.available
        self._node = _ImsNode(settings, self._traffic, self._lock, sctp_listen=listen_sctp)
        self._started = False
        configured = [self._add_peer(peer) for peer in settings.peers]
        realms = [settings.realm, *settings.served_realms]
        tables = handlers or {}
        for app_id in settings.applications:
            app = (HandlerApplication(app_id, tables[app_id], settings.request_workers)
                   if app_id in tables
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
        logger.info("diameter node %s (realm %s) listening on %s; sctp %s",
                    self.settings.identity, self.settings.realm,
                    ", ".join(self.listening()) or "nothing (client only)", self.sctp_status())

    def stop(self) -> None:
        """Send DPR to connected peers, wait for them (bounded), close everything. Blocks."""
        if self._started:
            self._started = False
            self._node.stop(wait_timeout=STOP_WAIT)

    def listening(self) -> list[str]:
        """``["tcp 127.0.0.1:3868"]`` (empty for a client-only node)."""
        where = [("tcp", sock) for sock in self._node.tcp_sockets]
        where += [("sctp", sock) for sock in self._node.sctp_sockets]
        return [f"{proto} {sock.getsockname()[0]}:{sock.getsockname()[1]}"
                for proto, sock in where if sock.fileno() != -1]

    def sctp_status(self) -> str:
        """``listening``, ``available``, ``disabled`` or ``unavailable: <why>`` (for ``/status``)."""
        if any(sock.fileno() != -1 for sock in self._node.sctp_sockets):
            return "listening"
        if not self.settings.sctp:
            return "disabled"
        return self.sctp.describe()

    def peers(self) -> list[PeerState]:
        """Every known peer with its connection state and advertised applications."""
        advertised = dict(self._node.advertised)
        return [peer_state(host, peer, advertised.get(host.lower(), ()))
                for host, peer in sorted(self._node.peers.items())]

    def status(self) -> dict[str, Any]:
        """``diameter_peers`` (host, realm, state, applications ...) and ``sctp``, for ``/status``."""
        return {"diameter_peers": [dataclasses.asdict(peer) for peer in self.peers()],
                "sctp": self.sctp_status()}

    def counters(self) -> dict[str, int]:
        """Messages sent and received per command (``diameter_rx_cer`` ...)."""
        with self._lock:
            return dict(self._traffic)

    def send_request(self, app_id: int, message: Message, timeout: float = 10.0) -> Message:
        """Send ``message`` through application ``app_id`` and wait for its answer. Blocks.

        Raises:
            DiameterUnreachable: no ready connection to its Destination-Host/realm.
            DiameterTimeout: no answer within ``timeout`` seconds.
        """
        app = next(a for a in self._node.applications if a.application_id == app_id)
        try:
            answer: Message = app.send_request(message, timeout=timeout)
        except TimeoutError as exc:
            raise DiameterTimeout(f"no answer within {timeout:g} s") from exc
        except NotRoutable as exc:
            raise DiameterUnreachable(str(exc)) from exc
        return answer

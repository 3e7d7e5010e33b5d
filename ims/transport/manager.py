"""The transport layer of RFC 3261 §18: listeners, connections and sending.

Theory of operation
-------------------
:class:`TransportManager` owns every socket of a process. ``start()``
opens one endpoint per :class:`~ims.transport.config.ListenSpec` (UDP,
TCP, TLS; IPv4 and IPv6). Received bytes go through
:func:`ims.transport.inbound.receive`; good messages go to the
:class:`Receiver` (the :class:`~ims.transport.stack.SipStack`), bad ones
are answered (400/505/513) or dropped and counted.

``send(msg, peer)`` chooses the socket:

* UDP: the endpoint of the destination's address family; responses go to
  the Via ``received``/``rport`` address (§18.2.2, RFC 3581 §4);
* TCP/TLS: the connection ``peer.conn_id`` names if it is still up (a
  response goes back over the request's connection, §18.2.2); else an open
  connection to the same remote address (one per address, §18.1); else a
  new connection (for a response: to ``received`` and the sent-by port).

Protected listeners (``ListenSpec.protected``, the P-CSCF's and the UE's
IPsec ports, TS 33.203 §7.1) stamp ``Peer.local_port`` on what they
receive, and everything they receive passes ``gate`` first (False: dropped
and counted as ``dropped_unprotected``). A message sent to a peer with
``local_port`` leaves from that port: the UDP listener bound there, or a TCP
connection opened from it; a response goes to the request's source, not
its Via, since the SA selector names exactly that port pair.

Choosing TCP for a large request (§18.1.1) is the caller's decision
(:func:`ims.transport.rules.choose_transport`, wrapped by :meth:`route`),
because the top Via must be rewritten before the message is serialised.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from ims.sip.errors import SipError
from ims.sip.events import Peer
from ims.sip.message import Request, Response
from ims.transport.config import ListenSpec, TransportConfig
from ims.transport.inbound import Inbound, answer_unparsed, receive
from ims.transport.log import for_message, log_message, peer_text
from ims.transport.rules import (
    address_key,
    bare_host,
    choose_transport,
    host_family,
    is_ip_literal,
    response_target,
    stamp_received,
)
from ims.transport.tcp import StreamConnection, connect_stream, listen_stream
from ims.transport.tls import client_context, server_context
from ims.transport.udp import UdpEndpoint, open_udp

logger = logging.getLogger(__name__)

#: Called with a reason when a message could not be sent (RFC 3261 §17.1.4).
ErrorCallback = Callable[[str], None]
#: Says whether a message that arrived on a protected port may be processed.
Gate = Callable[[Peer], bool]

#: Seconds ``stop()`` waits for connections to close before aborting them.
STOP_GRACE = 2.0


class Receiver(Protocol):
    """Where the manager delivers well-formed messages."""

    def request_received(self, req: Request, peer: Peer) -> None:
        """A validated request, its top Via stamped (§18.2.1)."""

    def response_received(self, resp: Response, peer: Peer) -> None:
        """A validated response."""


class TransportManager:
    """All listeners and connections of one process (RFC 3261 §18)."""

    def __init__(
        self,
        specs: Sequence[ListenSpec],
        receiver: Receiver | None = None,
        config: TransportConfig | None = None,
    ) -> None:
        self.specs = list(specs)
        self.receiver = receiver
        self.config = config or TransportConfig()
        self.counters: dict[str, int] = {
            "messages_in": 0, "messages_out": 0, "dropped_malformed": 0,
            "responses_400": 0, "send_errors": 0, "dropped_unprotected": 0,
        }
        #: Checks messages received on protected listeners (None: all pass).
        self.gate: Gate | None = None
        self._udp: list[tuple[ListenSpec, UdpEndpoint]] = []
        self._servers: list[tuple[ListenSpec, asyncio.Server]] = []
        self._conns: dict[int, StreamConnection] = {}
        #: (transport, address, port, our protected port or 0) -> connection id
        self._by_remote: dict[tuple[str, str, int, int], int] = {}
        self._waiters: dict[int, list[ErrorCallback]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._client_tls: ssl.SSLContext | None = None
        #: The last message :meth:`route` serialised, and its bytes, for :meth:`send`.
        self._measured: tuple[Request | Response, bytes] | None = None

    # -- life cycle -------------------------------------------------------
    async def start(self) -> None:
        """Open every listener; on failure close what was opened and re-raise.

        Raises:
            OSError: an address cannot be bound or a TLS file cannot be read.
            ssl.SSLError: a TLS certificate or key is invalid.
        """
        try:
            for spec in self.specs:
                await self._listen(spec)
        except (OSError, ssl.SSLError):
            await self.stop()
            raise

    async def _listen(self, spec: ListenSpec) -> None:
        if spec.transport == "udp":
            endpoint = await open_udp(spec.host, spec.port, self, self.config.limits,
                                      spec.protected)
            self._udp.append((spec, endpoint))
            logger.info("listening on %s:%s/udp", spec.host, self._bound(spec)[1])
            return
        context = None
        if spec.transport == "tls" and spec.tls_cert and spec.tls_key:
            context = server_context(spec.tls_cert, spec.tls_key)
        server = await listen_stream(
            spec.host, spec.port, lambda: self._accepted(spec), context, spec.protected
        )
        self._servers.append((spec, server))
        logger.info("listening on %s:%s/%s", spec.host, self._bound(spec)[1], spec.transport)

    async def stop(self) -> None:
        """Close listeners, connections and UDP sockets; cancel pending connects."""
        for _, server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        conns = list(self._conns.values())
        for conn in conns:
            conn.close()
        for _, endpoint in self._udp:
            endpoint.close()
        for _, server in self._servers:
            await server.wait_closed()
        await self._wait_closed(conns)
        self._servers.clear()
        self._udp.clear()
        self._conns.clear()
        self._by_remote.clear()

    async def _wait_closed(self, conns: list[StreamConnection]) -> None:
        waits: list[asyncio.Future[None]] = [c.lost for c in conns]
        waits += [endpoint.closed for _, endpoint in self._udp]
        waits += list(self._tasks)
        if not waits:
            return
        _, pending = await asyncio.wait(waits, timeout=STOP_GRACE)
        for conn in conns:
            if not conn.lost.done():
                conn.abort()
        if pending:
            await asyncio.wait(pending, timeout=STOP_GRACE)

    # -- addresses ----------------------------------------------------------
    def _bound(self, spec: ListenSpec) -> tuple[str, int]:
        for udp_spec, endpoint in self._udp:
            if udp_spec is spec:
                return endpoint.local_address
        for tcp_spec, server in self._servers:
            if tcp_spec is spec and server.sockets:
                name = server.sockets[0].getsockname()
                return str(name[0]), int(name[1])
        raise LookupError(f"{spec.transport} listener on {spec.host} is not open")

    def bound_address(self, spec: ListenSpec) -> tuple[str, int]:
        """The ``(host, port)`` the listener of ``spec`` is bound to.

        Raises:
            LookupError: that listener is not open.
        """
        return self._bound(spec)

    def listens_on(self, transport: str, port: int | None) -> bool:
        """True when an open ``transport`` listener is bound on ``port``."""
        for spec in self.specs:
            if spec.transport == transport:
                with contextlib.suppress(LookupError):
                    if self._bound(spec)[1] == port:
                        return True
        return False

    def local_address(
        self, transport: str, family: socket.AddressFamily = socket.AF_INET
    ) -> tuple[str, int]:
        """``(host, port)`` to advertise in Via/Record-Route/Contact for ``transport``.

        Protected listeners (IPsec ports) are never the advertised address.

        The host is ``advertised_host`` if configured, else the bound address
        (bare, no IPv6 brackets: format with ``rules.format_hostport``).

        Raises:
            LookupError: no open listener for that transport and family.
        """
        for spec in self.specs:
            if spec.transport == transport and host_family(spec.host) == family \
                    and not spec.protected:
                with contextlib.suppress(LookupError):
                    host, port = self._bound(spec)
                    return spec.advertised_host or host, port
        raise LookupError(f"no {transport} listener for address family {family.name}")

    def has_transport(self, transport: str, family: socket.AddressFamily) -> bool:
        """True when a listener for ``transport`` and ``family`` is open."""
        try:
            self.local_address(transport, family)
        except LookupError:
            return False
        return True

    def route(self, msg: Request | Response, peer: Peer) -> Peer:
        """The transport ``msg`` should use (§18.1.1 size rule), see ``choose_transport``."""
        tcp = self.has_transport("tcp", host_family(peer.host))
        if not (tcp and peer.transport == "udp" and isinstance(msg, Request)):
            return peer
        data = msg.to_bytes()
        chosen = choose_transport(msg, peer, self.config.mtu, tcp_available=tcp, size=len(data))
        # Unless the caller now rewrites the top Via for TCP, send() reuses these bytes.
        self._measured = (msg, data) if chosen is peer else None
        return chosen

    # -- connections ----------------------------------------------------------
    @property
    def connections(self) -> list[StreamConnection]:
        """The live stream connections (incoming and outgoing)."""
        return [c for c in self._conns.values() if not c.closing]

    def close_flows(self, host: str, local_ports: Iterable[int],
                    remote_ports: Iterable[int] | None = None) -> int:
        """Close the connections with ``host`` on our protected ``local_ports``; how many.

        ``remote_ports`` narrows it to connections with those ports of ``host``.
        Before an SA set goes (TS 33.203 §7.4) its TCP connections are closed,
        so that their FIN exchange still travels inside ESP.
        """
        ports = set(local_ports)
        remote = None if remote_ports is None else set(remote_ports)
        key = address_key(host)
        closing = [c for c in self.connections if c.local_port in ports and c.remote is not None
                   and address_key(c.remote[0]) == key
                   and (remote is None or c.remote[1] in remote)]
        for conn in closing:
            conn.close()
        return len(closing)

    def _new_connection(
        self, transport: str, remote: tuple[str, int] | None = None,
        local_port: int | None = None,
    ) -> StreamConnection:
        conn = StreamConnection(
            next(self._ids), transport, self, self.config.limits,
            self.config.idle_timeout, remote, local_port,
        )
        self._conns[conn.conn_id] = conn
        return conn

    def _accepted(self, spec: ListenSpec) -> StreamConnection:
        """A connection accepted on ``spec`` (on a protected port: stamped with it)."""
        return self._new_connection(
            spec.transport, local_port=self._bound(spec)[1] if spec.protected else None)

    def _reusable(self, transport: str, host: str, port: int,
                  local_port: int | None = None) -> StreamConnection | None:
        conn_id = self._by_remote.get((transport, address_key(host), port, local_port or 0))
        conn = self._conns.get(conn_id) if conn_id is not None else None
        return conn if conn is not None and not conn.closing else None

    def _connect(self, transport: str, host: str, port: int,
                 local_port: int | None = None) -> StreamConnection:
        context = self._client_context() if transport == "tls" else None
        local = self._protected_local(transport, host, local_port) if local_port \
            else self._source_address(transport, host)
        conn = self._new_connection(transport, (bare_host(host), port), local_port)
        self._by_remote[(transport, address_key(host), port, local_port or 0)] = conn.conn_id
        self._waiters[conn.conn_id] = []
        coro = connect_stream(conn, bare_host(host), port, self.config.connect_timeout, context,
                              local)
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        logger.debug("%s: connecting to %s:%s", transport, host, port)
        return conn

    def _source_address(self, transport: str, host: str) -> tuple[str, int] | None:
        """The address our ordinary ``transport`` listener is bound to, as a source (port 0).

        None when it listens on a wildcard, or on loopback toward another
        address: the kernel picks the source then.
        """
        if not is_ip_literal(host):
            return None
        family = host_family(host)
        for spec in self.specs:
            if spec.transport == transport and not spec.protected \
                    and host_family(spec.host) == family:
                bound = ipaddress.ip_address(bare_host(spec.host))
                if bound.is_unspecified or (
                        bound.is_loopback and not ipaddress.ip_address(bare_host(host)).is_loopback):
                    return None
                return str(bound), 0
        return None

    def _protected_local(self, transport: str, host: str, port: int) -> tuple[str, int]:
        """Our bound address of the protected ``transport`` listener on ``port``.

        Raises:
            LookupError: no such protected listener.
        """
        family = host_family(host)
        for spec in self.specs:
            if spec.protected and spec.transport == transport and host_family(spec.host) == family:
                with contextlib.suppress(LookupError):
                    bound = self._bound(spec)
                    if bound[1] == port:
                        return bound
        raise LookupError(f"no protected {transport} listener on port {port}")

    def _client_context(self) -> ssl.SSLContext:
        if self._client_tls is None:
            self._client_tls = client_context(self.config)
        return self._client_tls

    # -- ConnectionSink -------------------------------------------------------
    def connection_opened(self, conn_id: int) -> None:
        """A connection is up: index it by remote address, forget its waiters."""
        conn = self._conns.get(conn_id)
        if conn is None or conn.remote is None:
            return
        host, port = conn.remote
        self._by_remote[(conn.transport_name, address_key(host), port, conn.local_port or 0)] = \
            conn_id
        self._waiters.pop(conn_id, None)

    def connection_closed(self, conn_id: int) -> None:
        """A connection is gone: unindex it; tell senders waiting on it (§17.1.4)."""
        self._conns.pop(conn_id, None)
        for key in [k for k, v in self._by_remote.items() if v == conn_id]:
            del self._by_remote[key]
        for callback in self._waiters.pop(conn_id, []):
            self._report(callback, f"connection {conn_id} could not be opened")

    def message_received(self, data: bytes, peer: Peer) -> None:
        """One framed message: validate it, answer or drop bad input, deliver the rest."""
        self.counters["messages_in"] += 1
        if peer.local_port is not None and self.gate is not None and not self.gate(peer):
            self.counters["dropped_unprotected"] += 1
            logger.info("dropped a message from %s on protected port %d: no SA of that flow",
                        peer_text(peer), peer.local_port)
            return
        verdict = receive(data, peer, self.config.limits)
        msg = verdict.message
        if msg is None:
            self._reject(peer, verdict)
            return
        log_message(logger, "recv", msg, peer)
        if self.receiver is None:
            return
        try:
            if isinstance(msg, Request):
                self.receiver.request_received(msg, peer)
            else:
                self.receiver.response_received(msg, peer)
        except SipError as err:
            for_message(logger, msg).warning("error handling message: %s", err.reason)

    def framing_failed(self, data: bytes, peer: Peer, err: SipError) -> None:
        """Unframeable bytes: answer if the headers can be read, else drop and count."""
        self.counters["messages_in"] += 1
        self._reject(peer, Inbound(error=err, reply=answer_unparsed(data, err)))

    def _reject(self, peer: Peer, verdict: Inbound) -> None:
        reason = verdict.error.reason if verdict.error else "unknown"
        reply = verdict.reply
        if reply is None:
            self.counters["dropped_malformed"] += 1
            logger.info("dropped malformed message from %s: %s", peer_text(peer), reason)
            return
        with contextlib.suppress(SipError):
            stamp_received(reply, peer)
        key = f"responses_{reply.status}"
        self.counters[key] = self.counters.get(key, 0) + 1
        for_message(logger, reply).info(
            "malformed request from %s answered %d: %s", peer_text(peer), reply.status, reason
        )
        self.send(reply, peer)

    # -- sending ----------------------------------------------------------------
    def send(
        self, msg: Request | Response, peer: Peer, on_error: ErrorCallback | None = None
    ) -> Peer:
        """Send ``msg`` towards ``peer`` (see the module docstring for the choice).

        Never raises: a failure is logged, counted and reported through
        ``on_error`` (scheduled with ``call_soon``, never re-entrantly),
        including a failure to open a new connection.

        Returns:
            The peer actually used (with the connection id for streams).
        """
        data = self._serialised(msg)
        try:
            if peer.transport == "udp":
                used = self._send_udp(msg, data, peer)
            else:
                used = self._send_stream(msg, data, peer, on_error)
        except (OSError, LookupError) as exc:
            self.counters["send_errors"] += 1
            for_message(logger, msg).info("cannot send to %s: %s", peer_text(peer), exc)
            if on_error is not None:
                self._report(on_error, str(exc))
            return peer
        self.counters["messages_out"] += 1
        log_message(logger, "send", msg, used)
        return used

    def _serialised(self, msg: Request | Response) -> bytes:
        """``msg`` as bytes: those :meth:`route` just measured if it is the same message."""
        measured, self._measured = self._measured, None
        if measured is not None and measured[0] is msg:
            return measured[1]
        return msg.to_bytes()

    def _send_udp(self, msg: Request | Response, data: bytes, peer: Peer) -> Peer:
        protected = peer.local_port is not None  # to the source, not the Via (TS 33.203 §7.1)
        target = response_target(msg, "udp") if isinstance(msg, Response) and not protected \
            else None
        host, port = target or (bare_host(peer.host), peer.port)
        if not is_ip_literal(host):
            raise LookupError(f"{host} is not an IP address (resolve it first, RFC 3263)")
        self._udp_endpoint(host_family(host), peer.local_port).send(data, host, port)
        return Peer("udp", host, port, None, peer.local_port)

    def _udp_endpoint(self, family: socket.AddressFamily,
                      local_port: int | None = None) -> UdpEndpoint:
        """The first ordinary endpoint of ``family``; with ``local_port``, the protected one there."""
        for _, endpoint in self._udp:
            if endpoint.family != family:
                continue
            if local_port is None and not endpoint.protected:
                return endpoint
            if endpoint.protected and endpoint.local_address[1] == local_port:
                return endpoint
        if local_port is not None:
            raise LookupError(f"no protected udp listener on port {local_port}")
        raise LookupError(f"no udp listener for address family {family.name}")

    def _send_stream(
        self, msg: Request | Response, data: bytes, peer: Peer, on_error: ErrorCallback | None
    ) -> Peer:
        conn = self._conns.get(peer.conn_id) if peer.conn_id is not None else None
        local_port = peer.local_port
        if conn is None or conn.closing:
            conn = self._reusable(peer.transport, peer.host, peer.port, local_port)
        if conn is None:
            via_target = isinstance(msg, Response) and local_port is None
            target = response_target(msg, peer.transport) \
                if isinstance(msg, Response) and via_target else None
            host, port = target or (bare_host(peer.host), peer.port)
            conn = self._reusable(peer.transport, host, port, local_port) or self._connect(
                peer.transport, host, port, local_port
            )
        conn.write(data)
        if on_error is not None and conn.conn_id in self._waiters:
            self._waiters[conn.conn_id].append(on_error)
        return conn.peer

    @staticmethod
    def _report(callback: ErrorCallback, reason: str) -> None:
        asyncio.get_running_loop().call_soon(callback, reason)

"""The SIP stack: RFC 3261 §17 transactions driven over the §18 transport.

Theory of operation
-------------------
:class:`SipStack` is the asyncio driver of the sans-I/O machines of
:mod:`ims.sip.transaction` (aioquic's protocol-over-connection pattern). It
owns the transaction tables, keyed by ``client_key`` (responses, §17.1.3)
and ``server_key`` (requests, §17.2.3), and carries out the actions the
machines return:

* ``Send`` -> :meth:`TransportManager.send`, whose failures come back as
  ``transaction.transport_error(now)`` (§17.1.4, §17.2.4);
* ``StartTimer``/``CancelTimer`` -> one ``loop.call_at`` per (transaction,
  timer letter), replaced when re-armed, cancelled on ``CancelTimer``;
* ``Deliver``, ``Timeout``, ``TransportError`` -> the transaction user or
  the future of :meth:`send_request`;
* ``Terminated`` -> the transaction leaves the table (one info line).

What the transaction user (:class:`TransactionUser`) receives:

* ``on_request(req, txn)``: a new request (not ACK, not CANCEL). For an
  INVITE the stack has already sent 100 Trying (RFC 3261 §17.2.1, §16.2,
  see ``needs_immediate_trying``). The TU answers with
  :meth:`SipStack.send_response`. A :class:`SipError` raised by the TU
  (e.g. from lazily parsing a header) is answered with its status hint.
* ``on_ack(ack, peer)``: an ACK matching no transaction (the ACK of a 2xx
  is end-to-end and has its own branch, §13.2.2.4, §17.2.3), or one
  delivered by an INVITE server transaction in Accepted (RFC 6026 §7.1).
  ACKs of non-2xx responses are absorbed by their INVITE transaction.
* ``on_cancel(cancel, invite_txn)``: a CANCEL matching a live INVITE
  server transaction that has not sent a final response (§9.2). The stack
  has already answered the CANCEL with 200; the TU answers the INVITE
  with 487 (UAS) or cancels its branches (proxy, §16.10). A CANCEL
  matching nothing gets 481 from the stack and never reaches the TU.
* ``on_stray_response(resp, peer)``: a response matching no client
  transaction, and the further 2xx responses an INVITE client transaction
  in Accepted passes up (RFC 6026 §7.2: forks and retransmissions the TU
  must ACK or, at a proxy, forward statelessly).

:meth:`SipStack.send_request` returns a future resolved with the final
:class:`Response`, or with a :class:`Timeout` or :class:`TransportError`
event object; provisional responses go to the ``on_provisional`` callback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from ims.sip.errors import SipError
from ims.sip.events import (
    Action,
    CancelTimer,
    Deliver,
    Peer,
    Send,
    StartTimer,
    Terminated,
    Timeout,
    TransportError,
)
from ims.sip.message import Request, Response, make_response
from ims.sip.transaction import (
    DEFAULT_TIMERS,
    ClientTransaction,
    ServerTransaction,
    State,
    Timers,
    TransactionKey,
    TransactionStateError,
    cancel_target_key,
    client_key,
    needs_immediate_trying,
    new_client_transaction,
    new_server_transaction,
    server_key,
)
from ims.transport.config import ListenSpec, TransportConfig
from ims.transport.log import for_message, peer_text
from ims.transport.manager import TransportManager
from ims.transport.rules import bare_host, host_family, rewrite_top_via

logger = logging.getLogger(__name__)

#: What the future of :meth:`SipStack.send_request` resolves to.
ClientResult = Response | Timeout | TransportError
ProvisionalCallback = Callable[[Response], None]


class ServerTransactionHandle:
    """The transaction user's view of one server transaction."""

    __slots__ = ("txn",)

    def __init__(self, txn: ServerTransaction) -> None:
        self.txn = txn

    @property
    def request(self) -> Request:
        """The request that created the transaction."""
        return self.txn.request

    @property
    def peer(self) -> Peer:
        """Where the request came from (and the connection responses use)."""
        return self.txn.peer

    @property
    def key(self) -> TransactionKey:
        return self.txn.key

    @property
    def final_sent(self) -> bool:
        """True once a final (>= 200) response was passed down."""
        last = self.txn.last_response
        return last is not None and last.status >= 200

    @property
    def terminated(self) -> bool:
        return self.txn.state is State.TERMINATED

    def __repr__(self) -> str:
        return f"<ServerTransactionHandle {self.request.method} {self.txn.state.name}>"


class TransactionUser(Protocol):
    """The layer above the stack (a proxy core, a registrar, the emulated UE)."""

    def on_request(self, req: Request, txn: ServerTransactionHandle) -> None:
        """A new request; answer it with ``SipStack.send_response(txn, ...)``."""

    def on_ack(self, ack: Request, peer: Peer) -> None:
        """An ACK for a 2xx (end to end), or one matching no transaction."""

    def on_cancel(self, cancel: Request, invite_txn: ServerTransactionHandle) -> None:
        """A CANCEL of ``invite_txn``; the stack already answered it 200."""

    def on_stray_response(self, resp: Response, peer: Peer) -> None:
        """A response matching no pending client transaction."""


@dataclass(slots=True)
class _Client:
    """A pending client transaction; ``future`` is dropped once resolved (it holds the response)."""

    txn: ClientTransaction
    future: asyncio.Future[ClientResult] | None
    on_provisional: ProvisionalCallback | None


_Record = _Client | ServerTransactionHandle


class SipStack:
    """Transactions plus transport for one network function."""

    def __init__(
        self,
        tu: TransactionUser,
        specs: Sequence[ListenSpec],
        config: TransportConfig | None = None,
        timers: Timers = DEFAULT_TIMERS,
        *,
        auto_trying: bool = True,
    ) -> None:
        self.tu = tu
        self.timers = timers
        self.auto_trying = auto_trying
        self.transport = TransportManager(specs, self, config)
        self._clients: dict[TransactionKey, _Client] = {}
        self._servers: dict[TransactionKey, ServerTransactionHandle] = {}
        self._timer_handles: dict[tuple[TransactionKey, str], asyncio.TimerHandle] = {}

    # -- life cycle -------------------------------------------------------
    async def start(self) -> None:
        """Open the listeners (see :meth:`TransportManager.start`)."""
        await self.transport.start()

    async def stop(self) -> None:
        """Cancel every timer, fail pending requests, close all sockets."""
        for handle in self._timer_handles.values():
            handle.cancel()
        self._timer_handles.clear()
        for client in self._clients.values():
            _resolve(client, TransportError("stack stopped"))
        self._clients.clear()
        self._servers.clear()
        await self.transport.stop()

    @property
    def counters(self) -> dict[str, int]:
        """A snapshot for /status and /metrics."""
        counters = dict(self.transport.counters)
        counters["malformed_dropped"] = counters["dropped_malformed"]
        counters["transactions_active"] = len(self._clients) + len(self._servers)
        counters["connections"] = len(self.transport.connections)
        return counters

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    # -- API for the TU ---------------------------------------------------
    def send_request(
        self, req: Request, dest: Peer, on_provisional: ProvisionalCallback | None = None
    ) -> asyncio.Future[ClientResult]:
        """Start a client transaction for ``req`` towards ``dest``.

        ``req`` carries its top Via (with a fresh RFC 3261 branch). A UDP
        request too large for the path MTU goes over TCP instead, its top
        Via rewritten first (§18.1.1).

        Raises:
            ValueError: for ACK (sent with :meth:`send_stateless`).
            SipError: the top Via or CSeq is missing or malformed, or a
                transaction with the same key is pending.
        """
        peer = self._route(req, dest)
        txn = new_client_transaction(req, peer, self.timers)
        if txn.key in self._clients:
            raise SipError(f"a client transaction {txn.key} is already pending", 500)
        future: asyncio.Future[ClientResult] = asyncio.get_running_loop().create_future()
        client = _Client(txn, future, on_provisional)
        self._clients[txn.key] = client
        self._perform(client, txn.start(self._now()))
        return future

    def send_response(self, txn: ServerTransactionHandle, resp: Response) -> None:
        """Pass ``resp`` down to the server transaction ``txn``.

        Raises:
            TransactionStateError: the transaction cannot send it (e.g. after
                its final response, or once terminated).
        """
        self._perform(txn, txn.txn.send_response(resp, self._now()))

    def send_stateless(self, msg: Request | Response, peer: Peer) -> Peer:
        """Send outside any transaction (2xx ACKs, stateless forwarding, §16.11).

        Returns:
            The peer actually used.
        """
        if isinstance(msg, Request):
            peer = self._route(msg, peer)
        return self.transport.send(msg, peer)

    def _route(self, req: Request, dest: Peer) -> Peer:
        peer = self.transport.route(req, dest)
        if peer.transport != dest.transport:
            via = req.top_via
            if dest.local_port is not None or self.transport.listens_on(peer.transport, via.port):
                # same sent-by over TCP: a protected flow, or a port we serve both
                # transports on (a UE's port-s in its Via, TS 24.229 §5.1.1.2)
                host, port = bare_host(via.host), via.port or dest.local_port or 0
            else:
                host, port = self.transport.local_address(peer.transport, host_family(peer.host))
            rewrite_top_via(req, peer.transport, host, port)
        return peer

    # -- Receiver (from the transport) ------------------------------------
    def request_received(self, req: Request, peer: Peer) -> None:
        """Match ``req`` to a server transaction or create one (§17.2.3)."""
        handle = self._servers.get(server_key(req))
        if handle is not None and not handle.terminated:
            self._perform(handle, handle.txn.receive_request(req, self._now()))
        elif req.method == "ACK":
            self.tu.on_ack(req, peer)
        elif req.method == "CANCEL":
            self._cancel_received(req, peer)
        else:
            self._new_server(req, peer)

    def response_received(self, resp: Response, peer: Peer) -> None:
        """Match ``resp`` to a client transaction (§17.1.3) or hand it up as stray."""
        client = self._clients.get(client_key(resp))
        if client is None or client.txn.state is State.TERMINATED:
            self.tu.on_stray_response(resp, peer)
            return
        self._perform(client, client.txn.receive_response(resp, self._now()))

    def _new_server(self, req: Request, peer: Peer) -> ServerTransactionHandle:
        handle = ServerTransactionHandle(new_server_transaction(req, peer, self.timers))
        self._servers[handle.key] = handle
        if self.auto_trying and needs_immediate_trying(req):
            self.send_response(handle, make_response(req, 100))
        if req.method != "CANCEL":
            try:
                self.tu.on_request(req, handle)
            except SipError as err:
                self._answer_error(handle, err)
        return handle

    def _answer_error(self, handle: ServerTransactionHandle, err: SipError) -> None:
        for_message(logger, handle.request).info(
            "%s failed in the TU: %d %s", handle.request.method, err.status_hint, err.reason
        )
        if not handle.final_sent and not handle.terminated:
            self.send_response(handle, make_response(handle.request, err.status_hint, err.reason))

    def _cancel_received(self, cancel: Request, peer: Peer) -> None:
        """RFC 3261 §9.2: 200 if the INVITE is found, else 481; then tell the TU."""
        target = self._servers.get(cancel_target_key(cancel))
        handle = self._new_server(cancel, peer)
        if target is None or target.terminated:
            self.send_response(handle, make_response(cancel, 481))
            return
        last = target.txn.last_response
        to_tag = last.to.tag if last is not None and last.status > 100 else None
        self.send_response(handle, make_response(cancel, 200, to_tag=to_tag))
        if not target.final_sent:
            self.tu.on_cancel(cancel, target)

    # -- actions -----------------------------------------------------------
    def _perform(self, record: _Record, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self._send(record, action)
            elif isinstance(action, StartTimer):
                self._start_timer(record, action)
            elif isinstance(action, CancelTimer):
                self._cancel_timer(record.txn.key, action.name)
            elif isinstance(action, Terminated):
                self._terminated(record)
            elif isinstance(record, _Client):
                self._client_event(record, action)
            else:
                self._server_event(record, action)

    def _send(self, record: _Record, action: Send) -> None:
        on_error = partial(self._transport_failed, record)
        self.transport.send(action.message, action.peer, on_error)

    def _transport_failed(self, record: _Record, reason: str) -> None:
        if record.txn.state is State.TERMINATED:
            return
        for_message(logger, record.txn.request).info("transport error: %s", reason)
        self._perform(record, record.txn.transport_error(self._now()))

    def _start_timer(self, record: _Record, action: StartTimer) -> None:
        slot = (record.txn.key, action.name)
        old = self._timer_handles.pop(slot, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timer_handles[slot] = loop.call_at(action.at, self._timer_fired, record, action.name)

    def _cancel_timer(self, key: TransactionKey, name: str) -> None:
        handle = self._timer_handles.pop((key, name), None)
        if handle is not None:
            handle.cancel()

    def _timer_fired(self, record: _Record, name: str) -> None:
        self._timer_handles.pop((record.txn.key, name), None)
        try:
            actions = record.txn.handle_timer(name, self._now())
        except TransactionStateError as err:
            logger.debug("timer %s of %s ignored: %s", name, record.txn.key, err.reason)
            return
        self._perform(record, actions)

    def _client_event(self, client: _Client, action: Action) -> None:
        if isinstance(action, Deliver) and isinstance(action.message, Response):
            resp = action.message
            if resp.status < 200:
                if client.on_provisional is not None:
                    client.on_provisional(resp)
            elif client.future is None or client.future.done():
                client.future = None
                self.tu.on_stray_response(resp, client.txn.peer)
            else:
                _resolve(client, resp)
        elif isinstance(action, Timeout | TransportError):
            _resolve(client, action)

    def _server_event(self, handle: ServerTransactionHandle, action: Action) -> None:
        if isinstance(action, Deliver) and isinstance(action.message, Request):
            self.tu.on_ack(action.message, handle.peer)
        elif isinstance(action, Timeout | TransportError):
            for_message(logger, handle.request).info(
                "%s server transaction failed: %s", handle.request.method, action
            )

    def _terminated(self, record: _Record) -> None:
        txn = record.txn
        for name in ("A", "B", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M"):
            self._cancel_timer(txn.key, name)
        if isinstance(record, _Client):
            if self._clients.get(txn.key) is record:
                del self._clients[txn.key]
            _resolve(record, TransportError("transaction terminated without a final response"))
        elif self._servers.get(txn.key) is record:
            del self._servers[txn.key]
        last = txn.last_response
        for_message(logger, txn.request).info(
            "%s %s transaction %s %s -> %s", "client" if isinstance(record, _Client) else "server",
            txn.request.method, peer_text(txn.peer), txn.key[0],
            f"{last.status} {last.reason}" if last is not None else "no response",
        )


def _resolve(client: _Client, result: ClientResult) -> None:
    future, client.future = client.future, None
    if future is not None and not future.done():
        future.set_result(result)

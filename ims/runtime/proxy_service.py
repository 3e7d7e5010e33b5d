"""The stateful proxy service: RFC 3261 §16 over the SIP stack (asyncio glue).

:class:`ProxyService` is the :class:`~ims.transport.stack.TransactionUser`
of every CSCF. It feeds the stack's events into the sans-I/O
:class:`~ims.sip.proxy_core.ProxyCore` and carries out the actions it
returns: responses on server transactions, one client transaction per
branch, CANCELs, stateless ACK and 2xx relays, Timer C with
``loop.call_at``. The CSCF logic plugs in through ``route_hook`` (and,
for requests addressed to the proxy itself, ``local_handler``); either may
be a plain function or a coroutine function. Next hops are resolved by a
:class:`Resolver` (static: IP literals and a name table, then the system
resolver; RFC 3263 NAPTR/SRV can replace it).

A CSCF that needs more than the request subclasses and overrides the
public extension points: :meth:`ProxyService.route` (the request with its
:class:`Arrival`: source, our popped Route values, addressed to us),
:meth:`ProxyService.relaying` / :meth:`ProxyService.relayed` (a response on
its way upstream, before and after it left), and ``outbound_hook``.

Run alone for tests and benchmarks (a record-routing proxy that routes by
Route and Request-URI)::

    python -m ims.runtime.proxy_service --listen udp:127.0.0.1:5070
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol, TypeAlias, TypeVar

from ims.sip.errors import SipError
from ims.sip.events import CancelTimer, Peer, StartTimer, TransportError
from ims.sip.message import Request, Response, make_response
from ims.sip.proxy import DEFAULT_PORTS, Hop, LocalAddress, LocalIdentity, ProxyConfig, Target
from ims.sip.proxy_core import (
    Decision,
    Finished,
    Forward,
    ForwardStateless,
    ProxyAction,
    ProxyCore,
    RelayStateless,
    Respond,
    Route,
    SendCancel,
)
from ims.sip.transaction import TransactionStateError
from ims.sip.uri import SipUri
from ims.transport.config import ListenSpec
from ims.transport.log import for_message, peer_text
from ims.transport.rules import bare_host, host_family, is_ip_literal
from ims.transport.stack import ClientResult, ServerTransactionHandle, SipStack

logger = logging.getLogger(__name__)

T = TypeVar("T")
MaybeAwaitable: TypeAlias = T | Awaitable[T]
RouteResult = Target | Sequence[Target] | Response | None
#: The CSCF routing logic: where a request goes (None: by Route, then Request-URI).
RouteHook = Callable[[Request], MaybeAwaitable[RouteResult]]
#: Answers requests addressed to the proxy itself (None: the core's default).
LocalHandler = Callable[[Request], MaybeAwaitable[Response | None]]
#: The last look at a request leaving on a branch (or a 2xx ACK): where it really goes.
OutboundHook = Callable[[Request, Peer], Peer]

COUNTER_NAMES = (
    "requests_received", "requests_relayed", "acks_relayed", "responses_relayed",
    "stray_responses_relayed", "responses_local", "loops_482", "too_many_hops_483",
    "cancels_relayed", "timer_c_fired", "resolve_failures",
)


@dataclass(frozen=True, slots=True)
class Arrival:
    """What the proxy knows of a request it routes, besides the request itself."""

    source: Peer | None
    """Where it came from (None for a 2xx ACK, routed outside any transaction)."""
    popped_routes: tuple[str, ...]
    """Our Route values removed before routing (§16.4), e.g. a Path or ``;orig``."""
    for_self: bool
    """The request is addressed to this proxy as a UAS."""


class ResolveError(SipError):
    """A next hop could not be resolved to an address (answered as a 503, §16.9)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, 503)


class Resolver(Protocol):
    """Turns a next-hop URI into the peer to send to (RFC 3263 §4)."""

    def resolve(self, uri: SipUri, transport: str) -> MaybeAwaitable[Peer]:
        """The peer for ``uri`` over ``transport``; raises :class:`ResolveError`."""
        ...


class StaticResolver:
    """IP literals as they are, then a static name table, then the system resolver.

    ``table`` maps a lower-case host name to ``(ip, port)``; a port of 0
    keeps the URI's port (or the default). ``maddr`` wins over the host
    (RFC 3261 §19.1.1).
    """

    def __init__(self, table: Mapping[str, tuple[str, int]] | None = None) -> None:
        self.table = {k.lower(): v for k, v in (table or {}).items()}

    def resolve(self, uri: SipUri, transport: str) -> MaybeAwaitable[Peer]:
        host = bare_host(uri.params.get("maddr") or uri.host)
        port = uri.port or DEFAULT_PORTS.get(transport, 5060)
        static = self.table.get(host.lower())
        if static is not None:
            host, port = static[0], uri.port or static[1] or port
        if is_ip_literal(host):
            return Peer(transport, bare_host(host), port)
        return self._lookup(host, port, transport)

    async def _lookup(self, host: str, port: int, transport: str) -> Peer:
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=kind)
        except OSError as exc:
            raise ResolveError(f"cannot resolve {host}: {exc}") from exc
        if not infos:
            raise ResolveError(f"no address for {host}")
        return Peer(transport, str(infos[0][4][0]), port)


class ProxyService:
    """Stateful proxy transaction user (see the module docstring).

    Args:
        stack: the SIP stack; when None, :meth:`attach` it later. The
            service makes itself the stack's transaction user.
        identity: our addresses; when None it is built from the stack's
            bound listeners by :meth:`start`.
        route_hook: the CSCF routing logic (sync or async).
        resolver: next-hop resolution (default :class:`StaticResolver`).
        config: proxy behaviour (Timer C, Record-Route ...).
        local_handler: answers requests addressed to the proxy itself.
        outbound_hook: may change the peer of a request about to leave
            (e.g. the P-CSCF's protected flow to a UE, TS 33.203 §7.1).
        aliases: host names that mean us, for an identity built at start.
    """

    def __init__(
        self,
        stack: SipStack | None,
        identity: LocalIdentity | None = None,
        route_hook: RouteHook | None = None,
        resolver: Resolver | None = None,
        *,
        config: ProxyConfig | None = None,
        local_handler: LocalHandler | None = None,
        outbound_hook: OutboundHook | None = None,
        aliases: Sequence[str] = (),
    ) -> None:
        self.route_hook = route_hook
        self.local_handler = local_handler
        self.outbound_hook = outbound_hook
        self.resolver: Resolver = resolver or StaticResolver()
        self.config = config or ProxyConfig()
        self.aliases = tuple(aliases)
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)
        self._stack: SipStack | None = None
        self._core: ProxyCore | None = None if identity is None else ProxyCore(identity, self.config)
        self._peers: dict[tuple[Hashable, int], Peer] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Future[object]] = set()
        if stack is not None:
            self.attach(stack)

    # -- wiring -------------------------------------------------------------
    def attach(self, stack: SipStack) -> None:
        """Use ``stack`` and become its transaction user."""
        self._stack = stack
        stack.tu = self

    @property
    def stack(self) -> SipStack:
        if self._stack is None:
            raise RuntimeError("ProxyService has no SipStack: call attach()")
        return self._stack

    @property
    def core(self) -> ProxyCore:
        if self._core is None:
            raise RuntimeError("ProxyService has no identity yet: call start()")
        return self._core

    async def start(self) -> None:
        """Start the stack; build the identity from its bound listeners if none was given."""
        await self.stack.start()
        if self._core is None:
            self._core = ProxyCore(identity_of(self.stack, self.aliases), self.config)

    async def stop(self) -> None:
        """Disarm Timer C, drop pending routing tasks, stop the stack."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        await self.stack.stop()

    def popped_routes(self, txn: ServerTransactionHandle) -> list[str]:
        """Our Route values removed from the request of ``txn`` (§16.4), e.g. ``;orig``."""
        return self.core.popped_routes(txn)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    # -- TransactionUser ----------------------------------------------------
    def on_request(self, req: Request, txn: ServerTransactionHandle) -> None:
        """A new request on server transaction ``txn``: validate, then route it."""
        self.counters["requests_received"] += 1
        self._perform(self.core.receive_request(txn, req, txn.peer, self._now()))

    def on_ack(self, ack: Request, peer: Peer) -> None:
        """An ACK for a 2xx: routed like any request, forwarded statelessly (§16.11)."""
        self._perform(self.core.receive_request(None, ack, peer, self._now()))

    def on_cancel(self, cancel: Request, invite_txn: ServerTransactionHandle) -> None:
        """A CANCEL of a pending INVITE (already answered 200 by the stack, §16.10)."""
        for_message(logger, cancel).info("CANCEL from %s", peer_text(invite_txn.peer))
        self._perform(self.core.receive_cancel(invite_txn, self._now()))

    def on_stray_response(self, resp: Response, peer: Peer) -> None:
        """A response with no client transaction: relay it by its Via (§16.7)."""
        actions = self.core.receive_stray_response(resp)
        self.counters["stray_responses_relayed"] += len(actions)
        self._perform(actions)

    # -- actions -------------------------------------------------------------
    def _perform(self, actions: list[ProxyAction], relayed: bool = False) -> None:
        for action in actions:
            if isinstance(action, Respond):
                self._respond(action, relayed)
            elif isinstance(action, Route):
                self._route(action.key, action.request)
            elif isinstance(action, Forward):
                self._forward(action)
            elif isinstance(action, ForwardStateless):
                self._send_to_hop(action.request, action.hop, None)
            elif isinstance(action, SendCancel):
                self._send_cancel(action)
            elif isinstance(action, RelayStateless):
                self.stack.send_stateless(action.response, action.peer)
            elif isinstance(action, StartTimer | CancelTimer):
                self._timer(action)
            elif isinstance(action, Finished):
                self._finished(action)

    def _respond(self, action: Respond, relayed: bool) -> None:
        resp = action.response
        if resp.status == 100 and self.stack.auto_trying:
            return  # the stack already sent it (§16.2)
        txn = action.key
        assert isinstance(txn, ServerTransactionHandle)
        if relayed:
            self.counters["responses_relayed"] += 1
        else:
            self._count_local(resp)
        if relayed:
            self.relaying(txn, resp)
        try:
            self.stack.send_response(txn, resp)
        except TransactionStateError as err:
            # A further 2xx after the final one, once the transaction is gone.
            for_message(logger, resp).info("%d not sent on its transaction: %s",
                                           resp.status, err.reason)
            return
        if relayed:
            self.relayed(txn, resp)

    # -- extension points (override in a CSCF) ----------------------------------------
    def route(self, req: Request, arrival: Arrival) -> MaybeAwaitable[Decision]:
        """Where ``req`` goes: a target, several, a response, or None (the default).

        The default asks ``route_hook``, then ``local_handler`` for a request
        addressed to us.
        """
        decision = self.route_hook(req) if self.route_hook is not None else None
        if decision is None and self.local_handler is not None and arrival.for_self:
            return self.local_handler(req)
        return decision

    def relaying(self, txn: ServerTransactionHandle, resp: Response) -> None:
        """A response from downstream is about to leave on ``txn`` (may still change it)."""

    def relayed(self, txn: ServerTransactionHandle, resp: Response) -> None:
        """A response from downstream has left on ``txn``."""

    def _count_local(self, resp: Response) -> None:
        self.counters["responses_local"] += 1
        if resp.status == 482:
            self.counters["loops_482"] += 1
        elif resp.status == 483:
            self.counters["too_many_hops_483"] += 1
        if resp.status >= 300:
            for_message(logger, resp).info("answered %d %s locally", resp.status, resp.reason)

    # -- routing --------------------------------------------------------------
    def _route(self, key: Hashable, req: Request) -> None:
        """Ask the route hook (then the local handler) and hand the decision to the core."""
        try:
            decision = self._decide(key, req)
        except SipError as err:
            decision = _error_response(req, err)
        if inspect.isawaitable(decision):
            self._spawn(self._route_later(key, req, decision))
            return
        self._perform(self.core.route(key, decision, self._now()))

    def _decide(self, key: Hashable, req: Request) -> MaybeAwaitable[Decision]:
        source = key.peer if isinstance(key, ServerTransactionHandle) else None
        return self.route(req, Arrival(source, tuple(self.core.popped_routes(key)),
                                       self.core.is_for_self(key)))

    async def _route_later(self, key: Hashable, req: Request, pending: Awaitable[Decision]) -> None:
        try:
            decision = await pending
            if decision is None and self.local_handler is not None and self.core.is_for_self(key):
                decision = await _maybe(self.local_handler(req))
        except SipError as err:
            decision = _error_response(req, err)
        self._perform(self.core.route(key, decision, self._now()))

    # -- branches ----------------------------------------------------------------
    def _forward(self, action: Forward) -> None:
        self.counters["requests_relayed"] += 1
        self._send_to_hop(action.request, action.hop, action)

    def _send_to_hop(self, req: Request, hop: Hop, branch: Forward | None) -> None:
        """Resolve the hop (now or in a task), then send the request."""
        try:
            peer = hop.peer or self.resolver.resolve(hop.destination, hop.transport)
        except ResolveError as err:
            self._resolve_failed(req, branch, err)
            return
        if isinstance(peer, Peer):
            self._send_branch(req, peer, branch)
        else:
            self._spawn(self._send_resolved(req, peer, branch))

    async def _send_resolved(self, req: Request, pending: Awaitable[Peer],
                             branch: Forward | None) -> None:
        try:
            peer = await pending
        except ResolveError as err:
            self._resolve_failed(req, branch, err)
            return
        self._send_branch(req, peer, branch)

    def _resolve_failed(self, req: Request, branch: Forward | None, err: SipError) -> None:
        self.counters["resolve_failures"] += 1
        for_message(logger, req).warning("next hop unresolved: %s", err.reason)
        if branch is not None:
            error = TransportError(err.reason)
            self._perform(self.core.branch_failed(branch.key, branch.branch, error, self._now()))

    def _send_branch(self, req: Request, peer: Peer, branch: Forward | None) -> None:
        if self.outbound_hook is not None:
            peer = self.outbound_hook(req, peer)
        if branch is None:  # ACK for a 2xx (§16.11)
            self.counters["acks_relayed"] += 1
            self.stack.send_stateless(req, peer)
            return
        key, index = branch.key, branch.branch
        self._peers[(key, index)] = peer
        try:
            future = self.stack.send_request(req, peer, partial(self._provisional, key, index))
        except SipError as err:
            error = TransportError(err.reason)
            self._perform(self.core.branch_failed(key, index, error, self._now()))
            return
        future.add_done_callback(partial(self._branch_done, key, index))

    def _provisional(self, key: Hashable, index: int, resp: Response) -> None:
        self._perform(self.core.receive_response(key, index, resp, self._now()), relayed=True)

    def _branch_done(self, key: Hashable, index: int, future: asyncio.Future[ClientResult]) -> None:
        if future.cancelled():
            return
        result = future.result()
        now = self._now()
        if isinstance(result, Response):
            self._perform(self.core.receive_response(key, index, result, now), relayed=True)
        else:
            self._perform(self.core.branch_failed(key, index, result, now))

    def _send_cancel(self, action: SendCancel) -> None:
        peer = self._peers.get((action.key, action.branch))
        if peer is None:
            return
        self.counters["cancels_relayed"] += 1
        try:
            future = self.stack.send_request(action.request, peer)
        except SipError as err:
            for_message(logger, action.request).info("CANCEL not sent: %s", err.reason)
            return
        future.add_done_callback(_ignore_result)

    # -- Timer C and bookkeeping ------------------------------------------------------
    def _timer(self, action: StartTimer | CancelTimer) -> None:
        old = self._timers.pop(action.name, None)
        if old is not None:
            old.cancel()
        if isinstance(action, StartTimer):
            loop = asyncio.get_running_loop()
            self._timers[action.name] = loop.call_at(action.at, self._timer_fired, action.name)

    def _timer_fired(self, name: str) -> None:
        self._timers.pop(name, None)
        self.counters["timer_c_fired"] += 1
        self._perform(self.core.handle_timer(name, self._now()))

    def _finished(self, done: Finished) -> None:
        """Forget the context's branch peers; one info line per proxied transaction."""
        for index in range(done.branches):
            self._peers.pop((done.key, index), None)
        if logger.isEnabledFor(logging.INFO):
            req = done.request
            source = done.key.peer if isinstance(done.key, ServerTransactionHandle) else None
            for_message(logger, req).info(
                "proxied %s %s from %s -> %d (%d branch%s)", req.method, req.uri_text,
                peer_text(source) if source else "-", done.status, done.branches,
                "" if done.branches == 1 else "es",
            )

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Future[object] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("proxy task failed", exc_info=task.exception())


def _error_response(req: Request, err: SipError) -> Response:
    return make_response(req, err.status_hint, err.reason)


async def _maybe(value: MaybeAwaitable[T]) -> T:
    if inspect.isawaitable(value):
        return await value
    return value


def _ignore_result(future: asyncio.Future[ClientResult]) -> None:
    if not future.cancelled():
        future.result()


def identity_of(stack: SipStack, aliases: Sequence[str] = (), secret: bytes | None = None) -> LocalIdentity:
    """A :class:`LocalIdentity` from the stack's bound listeners (ports chosen by the OS too).

    The advertised address of each transport comes first; protected (IPsec)
    ports follow, so that our Via on a request sent from one is recognised.
    """
    addresses: list[LocalAddress] = []
    for spec in stack.transport.specs:
        if spec.protected:
            host, port = stack.transport.bound_address(spec)
        else:
            host, port = stack.transport.local_address(spec.transport, host_family(spec.host))
        addr = LocalAddress(spec.transport, bare_host(host), port)
        if addr not in addresses:
            addresses.append(addr)
    return LocalIdentity(tuple(addresses), frozenset(aliases),
                         os.urandom(16) if secret is None else secret)


def tune_gc(loop: asyncio.AbstractEventLoop | None = None, sweep_interval: float = 300.0) -> None:
    """Process-level GC settings for a busy proxy (call once, after start-up).

    The cyclic collector, not the SIP work, is what stalls a loaded proxy:
    each pass walks every live transaction's objects, and at a few hundred
    requests per second the stalls overflow the UDP receive buffer (see
    bench/README.md). The proxy path creates no reference cycles (checked
    with ``gc.DEBUG_SAVEALL``: nothing unreachable after 1,500 calls), so
    reference counting frees everything; automatic collection is turned
    off, start-up objects are frozen, and when ``loop`` is given a full
    collection still runs every ``sweep_interval`` seconds to bound what
    an unforeseen cycle (an exception traceback ...) could hold.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    if loop is not None:
        loop.call_later(sweep_interval, _sweep, loop, sweep_interval)


def _sweep(loop: asyncio.AbstractEventLoop, interval: float) -> None:
    found = gc.collect()
    if found:
        logger.info("gc sweep freed %d unreachable objects", found)
    loop.call_later(interval, _sweep, loop, interval)


# -- python -m ims.runtime.proxy_service ------------------------------------------------
def parse_listen(text: str) -> ListenSpec:
    """``udp:127.0.0.1:5060`` or ``tcp:[::1]:5060`` -> a :class:`ListenSpec`."""
    transport, _, rest = text.partition(":")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected transport:host:port, got {text!r}")
    return ListenSpec(transport.lower(), bare_host(host), int(port))


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A stateful SIP proxy (RFC 3261 §16)")
    parser.add_argument("--listen", type=parse_listen, action="append", required=True,
                        metavar="TRANSPORT:HOST:PORT")
    parser.add_argument("--alias", action="append", default=[], help="host name meaning us")
    parser.add_argument("--log-level", default="warning",
                        choices=("debug", "info", "warning", "error"))
    parser.add_argument("--no-record-route", action="store_true")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> dict[str, int]:
    config = ProxyConfig(record_route=not args.no_record_route)
    service = ProxyService(None, config=config, aliases=args.alias)
    service.attach(SipStack(service, args.listen))
    await service.start()
    tune_gc(asyncio.get_running_loop())
    for addr in service.core.identity.addresses:
        print(f"listening {addr.transport} {addr.uri_host}:{addr.port}", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    counters = dict(service.counters) | service.stack.counters
    await service.stop()
    return counters


def main(argv: Sequence[str] | None = None) -> int:
    """Run a bare proxy until SIGINT/SIGTERM; print its counters as JSON at exit."""
    args = _arguments(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    counters = asyncio.run(_serve(args))
    print(json.dumps({"counters": counters}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

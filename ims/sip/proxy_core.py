"""The stateful proxy's response contexts (RFC 3261 §16, sans-I/O).

Theory of operation
-------------------
A :class:`ProxyCore` holds one :class:`ProxyContext` per server transaction
it proxies, keyed by whatever hashable the driver uses for that transaction.
It never touches a socket or a clock: every entry point takes the event and
``now`` and returns a list of actions for the driver
(:mod:`ims.runtime.proxy_service`) to carry out.

A request goes through two steps, so that the routing decision (the CSCF
logic, which may wait for Diameter) stays outside:

1. ``receive_request`` validates it (§16.3), answers INVITE with 100 Trying
   at once (§16.2), applies Route pre-processing to a working copy (§16.4)
   and returns ``Route(key, request)``: "decide where this goes";
2. ``route(key, decision, now)`` takes that decision (a :class:`Target`, a
   list of them for forking, a final :class:`Response`, or None for the
   default: Route header, then Request-URI, §16.6 steps 6-7) and returns one
   ``Forward`` per branch plus Timer C for INVITE (§16.6 step 11).

Responses (§16.7) and client-transaction failures (§16.7 step 1, §16.9)
come back per branch: provisionals other than 100 are relayed at once, a
2xx is relayed at once and the other branches are cancelled (§16.7 step
10), other finals are kept until every branch is final and the best is sent
(§16.7 step 6). Timer C (§16.8) cancels a branch that has had a provisional
and otherwise counts as a 408. On a CANCEL (§16.10; the transaction layer
answers the CANCEL itself) each pending branch is cancelled with the branch's own Via, at once when it has
had a provisional, else when its first provisional arrives (§9.1). ACK
(for a 2xx; an ACK for a non-2xx never leaves the transaction layer) is
routed the same way but forwarded statelessly (§16.11).

A context ends (``Finished``) when the upstream final response is sent and
every branch is final.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from ims.sip.errors import SipError
from ims.sip.events import CancelTimer, Peer, StartTimer, Timeout, TransportError
from ims.sip.message import Request, Response, make_response
from ims.sip.proxy import (
    Hop,
    LocalAddress,
    LocalIdentity,
    ProxyConfig,
    Target,
    add_record_route,
    addressed_to_self,
    apply_target,
    build_cancel,
    check_request,
    choose_best,
    copy_request,
    decrement_max_forwards,
    local_response,
    local_tag,
    loop_hash,
    make_branch,
    next_hop,
    options_response,
    pop_own_via,
    preprocess_routes,
    push_via,
    response_peer,
    self_response,
    wants_record_route,
)

#: RFC 3261 §17.1.1.1 T1 and the 64*T1 a CANCELled branch is given to answer (§9.1).
T1 = 0.5
CANCEL_GRACE = 64 * T1


@dataclass(frozen=True, slots=True)
class Respond:
    """Send ``response`` on the server transaction ``key``."""

    key: Hashable
    response: Response


@dataclass(frozen=True, slots=True)
class Route:
    """Ask the TU where ``request`` goes; answer with ``ProxyCore.route(key, ...)``."""

    key: Hashable
    request: Request


@dataclass(frozen=True, slots=True)
class Forward:
    """Open a client transaction for branch ``branch`` of context ``key``."""

    key: Hashable
    branch: int
    request: Request
    hop: Hop


@dataclass(frozen=True, slots=True)
class ForwardStateless:
    """Send ``request`` to ``hop`` without a transaction (ACK for 2xx, §16.11)."""

    request: Request
    hop: Hop


@dataclass(frozen=True, slots=True)
class SendCancel:
    """Send ``request`` (a CANCEL) to where branch ``branch`` of ``key`` went."""

    key: Hashable
    branch: int
    request: Request


@dataclass(frozen=True, slots=True)
class RelayStateless:
    """Send a response with no transaction of ours to ``peer`` (§16.7 "stateless")."""

    response: Response
    peer: Peer


@dataclass(frozen=True, slots=True)
class Finished:
    """Context ``key`` is over; the driver forgets its per-branch state.

    ``request`` (as received), ``status`` (of the final response sent
    upstream) and ``branches`` (how many were forwarded) are for the log.
    """

    key: Hashable
    request: Request
    status: int
    branches: int


ProxyAction = (
    Respond | Route | Forward | ForwardStateless | SendCancel | RelayStateless
    | StartTimer | CancelTimer | Finished
)
Decision = Target | Sequence[Target] | Response | None


class Phase(Enum):
    """Where a context is: waiting for the routing decision, or forwarded."""

    ROUTING = "routing"
    FORWARDED = "forwarded"


@dataclass(slots=True, eq=False)
class Branch:
    """One forwarded copy of the request (one client transaction)."""

    index: int
    request: Request
    timer: str | None = None
    provisional: bool = False
    final: int = 0
    cancel_pending: bool = False
    cancel_sent: bool = False


@dataclass(slots=True, eq=False)
class ProxyContext:
    """The response context of one proxied request (RFC 3261 §16.7)."""

    key: Hashable
    original: Request
    request: Request
    inbound: LocalAddress
    loop: str
    serial: int
    stateless: bool = False
    popped_routes: list[str] = field(default_factory=list)
    phase: Phase = Phase.ROUTING
    branches: list[Branch] = field(default_factory=list)
    stored: list[tuple[Response, bool]] = field(default_factory=list)
    cancelled: bool = False
    final_status: int = 0

    @property
    def final_sent(self) -> bool:
        return self.final_status >= 200

    @property
    def is_invite(self) -> bool:
        return self.original.method == "INVITE"

    def all_final(self) -> bool:
        return all(b.final for b in self.branches)


class ProxyCore:
    """Response contexts of a stateful proxy; see the module docstring."""

    def __init__(self, identity: LocalIdentity, config: ProxyConfig | None = None) -> None:
        self.identity = identity
        self.config = config or ProxyConfig()
        self.contexts: dict[Hashable, ProxyContext] = {}
        self._timers: dict[str, tuple[Hashable, int]] = {}
        self._serial = itertools.count(1)

    # -- requests -------------------------------------------------------
    def receive_request(
        self, key: Hashable | None, req: Request, source: Peer, now: float,
        inbound: LocalAddress | None = None,
    ) -> list[ProxyAction]:
        """A request arrived on server transaction ``key`` (None: ACK, no transaction).

        Returns:
            ``Respond`` (an error, or 100 Trying first for INVITE) and,
            when the request is to be proxied, ``Route``.
        """
        stateless = req.method == "ACK"
        rejection = check_request(req, self.identity, self.config)
        if rejection is not None:
            return [] if stateless else [Respond(key, rejection)]
        working = copy_request(req)
        try:
            loop = loop_hash(req, self.identity.secret)
            popped = preprocess_routes(working, self.identity)
        except SipError as exc:
            if stateless:
                return []
            return [Respond(key, make_response(req, exc.status_hint, exc.reason,
                                               to_tag=local_tag(req, self.identity.secret)))]
        ctx_key: Hashable = key if key is not None else object()
        ctx = ProxyContext(
            ctx_key, req, working, inbound or self._inbound(source), loop,
            next(self._serial), stateless, popped,
        )
        self.contexts[ctx_key] = ctx
        actions: list[ProxyAction] = []
        if req.method == "INVITE":
            actions.append(Respond(ctx_key, make_response(req, 100)))  # §16.2
        actions.append(Route(ctx_key, working))
        return actions

    def _inbound(self, source: Peer) -> LocalAddress:
        """Our address on the side the request came from: a protected port if it came to one.

        Over IPsec (TS 33.203 §7.1) the UE's in-dialog requests must reach the
        port-s they are protected for, so the Record-Route facing the UE names it.
        """
        addr = self.identity.address_for(source.transport, ":" in source.host)
        if source.local_port is not None and source.local_port != addr.port:
            return LocalAddress(addr.transport, addr.host, source.local_port, addr.advertised)
        return addr

    def popped_routes(self, key: Hashable) -> list[str]:
        """The Route values of ours removed from the request of ``key`` (§16.4)."""
        ctx = self.contexts.get(key)
        return list(ctx.popped_routes) if ctx else []

    def is_for_self(self, key: Hashable) -> bool:
        """True when the request of ``key`` is addressed to this proxy as a UAS."""
        ctx = self.contexts.get(key)
        return ctx is not None and addressed_to_self(ctx.request, self.identity)

    def route(self, key: Hashable, decision: Decision, now: float) -> list[ProxyAction]:
        """Carry out the routing decision for context ``key`` (§16.5, §16.6)."""
        ctx = self.contexts.get(key)
        if ctx is None or ctx.phase is not Phase.ROUTING:
            return []
        if isinstance(decision, Response):
            if ctx.stateless:  # an ACK is never answered (§17.1.1.3)
                return self._drop(ctx)
            return self._finish_with(ctx, self._tagged(ctx, decision))
        if decision is None:
            if addressed_to_self(ctx.request, self.identity):
                return self._answer_self(ctx)
            targets: Sequence[Target] = (Target(),)
        else:
            targets = (decision,) if isinstance(decision, Target) else decision
        if ctx.stateless:
            return self._forward_stateless(ctx, targets[0] if targets else Target())
        return self._fork(ctx, targets, now)

    def process(
        self, key: Hashable | None, req: Request, source: Peer, now: float,
        decision: Decision = None,
    ) -> list[ProxyAction]:
        """``receive_request`` then, if asked, ``route`` with ``decision``, in one call."""
        actions = self.receive_request(key, req, source, now)
        for action in list(actions):
            if isinstance(action, Route):
                actions.remove(action)
                actions += self.route(action.key, decision, now)
        return actions

    def _tagged(self, ctx: ProxyContext, resp: Response) -> Response:
        if resp.status > 100 and resp.to.tag is None:
            to = resp.to
            to.params.set("tag", local_tag(ctx.original, self.identity.secret))
            resp.set("To", str(to))
        return resp

    def _answer_self(self, ctx: ProxyContext) -> list[ProxyAction]:
        """§16.5: the proxy is the target; OPTIONS gets 200 (§11.2)."""
        if ctx.stateless:
            return self._drop(ctx)
        req = ctx.original
        if req.method == "OPTIONS":
            return self._finish_with(ctx, options_response(req, self.identity, self.config))
        return self._finish_with(ctx, self_response(req, self.identity, self.config))

    def _fork(self, ctx: ProxyContext, targets: Sequence[Target], now: float) -> list[ProxyAction]:
        ctx.phase = Phase.FORWARDED
        actions: list[ProxyAction] = []
        targets = targets or (Target(),)
        for target in targets:
            index = len(ctx.branches)
            last = index == len(targets) - 1
            try:
                out, hop = self._branch_request(ctx, target, index, reuse=last)
            except SipError as exc:
                ctx.stored.append((local_response(ctx.original, exc.status_hint,
                                                  self.identity, self.config), True))
                continue
            branch = Branch(index, out)
            ctx.branches.append(branch)
            actions.append(Forward(ctx.key, index, out, hop))
            if ctx.is_invite:
                actions.append(self._arm_timer_c(ctx, branch, now + self.config.timer_c))
        if not ctx.branches:
            return self._finish_with(ctx, self._best(ctx))
        return actions

    def _branch_request(
        self, ctx: ProxyContext, target: Target, index: int, *, reuse: bool = False,
    ) -> tuple[Request, Hop]:
        """Build the copy for one branch (RFC 3261 §16.6 steps 1-8).

        The last branch takes the working request itself (``reuse``): it is
        already a copy of the received one, and nothing reads it afterwards.
        """
        out = ctx.request if reuse else copy_request(ctx.request)
        apply_target(out, target)
        decrement_max_forwards(out)
        hop = next_hop(out, target)
        outbound = self.identity.address_for(hop.transport, hop.ipv6)
        if not ctx.stateless and wants_record_route(out, self.config, target):
            add_record_route(out, ctx.inbound, outbound, self.identity)
        branch = make_branch(ctx.original, self.identity.secret, index, ctx.loop)
        push_via(out, outbound, hop.transport, branch)
        return out, hop

    def _forward_stateless(self, ctx: ProxyContext, target: Target) -> list[ProxyAction]:
        del self.contexts[ctx.key]
        try:
            out, hop = self._branch_request(ctx, target, 0, reuse=True)
        except SipError:
            return []
        return [ForwardStateless(out, hop)]

    def _drop(self, ctx: ProxyContext) -> list[ProxyAction]:
        self.contexts.pop(ctx.key, None)
        return []

    # -- responses ------------------------------------------------------
    def receive_response(
        self, key: Hashable, index: int, resp: Response, now: float,
    ) -> list[ProxyAction]:
        """A response arrived on branch ``index`` of context ``key`` (§16.7)."""
        ctx = self.contexts.get(key)
        if ctx is None or index >= len(ctx.branches):
            # The context is over (e.g. Timer C answered 408): only a 2xx
            # still goes upstream (§16.7 step 5), statelessly.
            return self.receive_stray_response(resp) if 200 <= resp.status < 300 else []
        if pop_own_via(resp, self.identity) is None:  # §16.7 step 3: not ours, drop
            return []
        branch = ctx.branches[index]
        if resp.status < 200:
            return self._provisional(ctx, branch, resp, now)
        return self._final(ctx, branch, resp, synthetic=False)

    def branch_failed(
        self, key: Hashable, index: int, error: Timeout | TransportError, now: float,
    ) -> list[ProxyAction]:
        """Branch ``index`` timed out (as a 408) or could not be sent (as a 503), §16.9."""
        ctx = self.contexts.get(key)
        if ctx is None or index >= len(ctx.branches):
            return []
        status = 408 if isinstance(error, Timeout) else 503
        resp = local_response(ctx.original, status, self.identity, self.config)
        return self._final(ctx, ctx.branches[index], resp, synthetic=True)

    def receive_stray_response(self, resp: Response) -> list[ProxyAction]:
        """A response matching no transaction: relay it statelessly by Via (§16.7, §16.11)."""
        try:
            if pop_own_via(resp, self.identity) is None:
                return []
            return [RelayStateless(resp, response_peer(resp))]
        except SipError:
            return []

    def _provisional(
        self, ctx: ProxyContext, branch: Branch, resp: Response, now: float,
    ) -> list[ProxyAction]:
        if branch.final:
            return []
        branch.provisional = True
        actions: list[ProxyAction] = []
        if ctx.is_invite and resp.status > 100 and branch.timer and not branch.cancel_sent:
            actions += [CancelTimer(branch.timer),  # §16.7 step 2: reset Timer C
                        self._arm_timer_c(ctx, branch, now + self.config.timer_c)]
        if branch.cancel_pending:
            actions += self._cancel(ctx, branch, now)
        if resp.status > 100 and not ctx.final_sent:  # §16.7 step 5: 100 is not relayed
            actions.append(Respond(ctx.key, resp))
        return actions

    def _final(
        self, ctx: ProxyContext, branch: Branch, resp: Response, *, synthetic: bool,
    ) -> list[ProxyAction]:
        success = 200 <= resp.status < 300 and not synthetic
        if branch.final and not success:
            return []
        branch.final = branch.final or resp.status
        actions: list[ProxyAction] = []
        if branch.timer:
            actions.append(CancelTimer(branch.timer))
            self._timers.pop(branch.timer, None)
            branch.timer = None
        if success:  # §16.7 step 5: every 2xx goes upstream at once
            ctx.final_status = ctx.final_status or resp.status
            actions.append(Respond(ctx.key, resp))
            actions += self._cancel_pending(ctx)
        elif not ctx.final_sent:
            ctx.stored.append((resp, synthetic))
            if resp.status >= 600 or ctx.all_final():
                best = self._best(ctx)
                ctx.final_status = best.status
                actions.append(Respond(ctx.key, best))
                actions += self._cancel_pending(ctx)
        return actions + self._maybe_finish(ctx)

    def _best(self, ctx: ProxyContext) -> Response:
        """The response sent upstream from the stored ones (§16.7 step 6)."""
        if not ctx.stored:
            return local_response(ctx.original, 408, self.identity, self.config)
        best = choose_best([r for r, _ in ctx.stored])
        synthetic = any(s for r, s in ctx.stored if r is best)
        if ctx.cancelled and synthetic:
            return local_response(ctx.original, 487, self.identity, self.config)
        if best.status == 503:  # a 503 means "this proxy is unavailable": send 500
            return local_response(ctx.original, 500, self.identity, self.config)
        return best

    def _finish_with(self, ctx: ProxyContext, resp: Response) -> list[ProxyAction]:
        ctx.final_status = resp.status
        self.contexts.pop(ctx.key, None)
        return [Respond(ctx.key, resp), self._finished(ctx)]

    def _maybe_finish(self, ctx: ProxyContext) -> list[ProxyAction]:
        if not (ctx.final_sent and ctx.all_final()):
            return []
        self.contexts.pop(ctx.key, None)
        return [self._finished(ctx)]

    @staticmethod
    def _finished(ctx: ProxyContext) -> Finished:
        return Finished(ctx.key, ctx.original, ctx.final_status, len(ctx.branches))

    # -- CANCEL and Timer C -----------------------------------------------
    def receive_cancel(self, invite_key: Hashable, now: float) -> list[ProxyAction]:
        """A CANCEL matched the INVITE server transaction ``invite_key`` (§16.10).

        The CANCEL itself is answered by the transaction layer (200, or 481
        when no INVITE transaction matches, §9.2). Here the INVITE's pending
        branches are cancelled; before any branch exists the INVITE is
        answered 487 at once.
        """
        ctx = self.contexts.get(invite_key)
        if ctx is None or ctx.final_sent:
            return []
        ctx.cancelled = True
        if ctx.phase is Phase.ROUTING:
            resp = local_response(ctx.original, 487, self.identity, self.config)
            return self._finish_with(ctx, resp)
        actions: list[ProxyAction] = []
        for branch in ctx.branches:
            if not branch.final:
                actions += self._cancel(ctx, branch, now)
        return actions

    def _cancel_pending(self, ctx: ProxyContext) -> list[ProxyAction]:
        """§16.7 step 10: after a 2xx or 6xx, cancel the INVITE's other branches."""
        if not ctx.is_invite:
            return []
        actions: list[ProxyAction] = []
        for branch in ctx.branches:
            if not branch.final and not branch.cancel_sent:
                actions += self._cancel(ctx, branch, None)
        return actions

    def _cancel(self, ctx: ProxyContext, branch: Branch, now: float | None) -> list[ProxyAction]:
        """Send the branch's CANCEL now if it has had a provisional, else later (§9.1)."""
        if branch.cancel_sent:
            return []
        if not branch.provisional:
            branch.cancel_pending = True
            return []
        branch.cancel_pending = False
        branch.cancel_sent = True
        return [SendCancel(ctx.key, branch.index, build_cancel(branch.request))]

    def _arm_timer_c(self, ctx: ProxyContext, branch: Branch, at: float) -> StartTimer:
        name = f"C/{ctx.serial}/{branch.index}"
        branch.timer = name
        self._timers[name] = (ctx.key, branch.index)
        return StartTimer(name, at)

    def handle_timer(self, name: str, now: float) -> list[ProxyAction]:
        """Timer ``name`` (Timer C of a branch) fired (RFC 3261 §16.8)."""
        owner = self._timers.pop(name, None)
        ctx = self.contexts.get(owner[0]) if owner else None
        if owner is None or ctx is None:
            return []
        branch = ctx.branches[owner[1]]
        branch.timer = None
        if branch.final:
            return []
        if branch.provisional and not branch.cancel_sent:
            actions = self._cancel(ctx, branch, now)
            return actions + [self._arm_timer_c(ctx, branch, now + CANCEL_GRACE)]
        return self.branch_failed(ctx.key, branch.index, Timeout("C"), now)

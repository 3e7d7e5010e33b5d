"""The P-CSCF's proxy service: the pure decisions wired to the stateful proxy.

:class:`PcscfService` is the shared :class:`~ims.runtime.proxy_service.ProxyService`
with the P-CSCF's hooks (TS 24.229 §5.2): it knows where each request came
from (the UE's address is the key of its registration), sees every response
relayed upstream (the 401 loses ``ik``/``ck``, the 200 OK to REGISTER fills
the cache), sweeps expired registrations, subscribes to reg-event at the
S-CSCF after an initial registration and acts on its NOTIFYs (§5.2.3).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from ims.runtime.proxy_service import Arrival, ProxyService
from ims.sip.errors import SipError
from ims.sip.events import Peer
from ims.sip.message import Request, Response
from ims.sip.proxy_core import Decision
from ims.sip.uri import SipUri, parse_uri
from ims.transport.stack import ServerTransactionHandle

from . import flows, regevent, router
from .registrar import ContactCache, Registration
from .secagree import strip_sec_agree

logger = logging.getLogger(__name__)

#: Seconds between sweeps of expired registrations.
SWEEP_INTERVAL = 5.0


class PcscfService(ProxyService):
    """The P-CSCF (see the module docstring).

    Args:
        settings: Path, I-CSCF and visited network.
        sec_agree: the sec-agree step (:mod:`pcscf.ipsec`).
        cache: the registration cache (a new one by default).
        **kwargs: passed to :class:`ProxyService`.
    """

    def __init__(self, settings: router.PcscfSettings, sec_agree: router.SecAgree,
                 cache: ContactCache | None = None, **kwargs: Any) -> None:
        super().__init__(None, local_handler=self._local, outbound_hook=self._outbound, **kwargs)
        self.settings = settings
        self.sec_agree = sec_agree
        self.cache = cache if cache is not None else ContactCache()
        self._sweeper: asyncio.TimerHandle | None = None
        for name in ("registrations_cached", "registrations_dropped", "reg_subscribes_sent",
                     "rejected_unregistered", "challenges_stripped"):
            self.counters[name] = 0

    async def start(self) -> None:
        await super().start()
        self._sweeper = asyncio.get_running_loop().call_later(SWEEP_INTERVAL, self._sweep)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        await super().stop()

    def _sweep(self) -> None:
        gone = self.cache.expire(self._now())
        self.counters["registrations_dropped"] += len(gone)
        self.sec_agree.sweep()
        self._sweeper = asyncio.get_running_loop().call_later(SWEEP_INTERVAL, self._sweep)

    # -- requests -------------------------------------------------------------------
    def route(self, req: Request, arrival: Arrival) -> Decision:
        """REGISTER toward the home network; other requests by the registration cache."""
        source = arrival.source
        if req.method == "REGISTER" and source is not None:
            return self._register(req, source)
        strip_sec_agree(req)  # handsets repeat it on every request (RFC 3329 §2.3.1)
        decision = router.route_request(
            req, source, arrival.popped_routes, cache=self.cache,
            now=self._now(), for_self=arrival.for_self)
        if decision is None and arrival.for_self:
            return self._local(req)
        if isinstance(decision, Response) and decision.status == 403:
            self.counters["rejected_unregistered"] += 1
        return decision

    def _outbound(self, req: Request, peer: Peer) -> Peer:
        """Requests toward a UE with IPsec take its SA flow (TS 33.203 §7.1).

        Our Record-Route facing the UE then names our port-s, so its
        in-dialog requests come back over the SA too.
        """
        routed = self.sec_agree.toward_ue(req, peer)
        port_s = self.sec_agree.server_port(peer.host) if routed is not peer else None
        if port_s is not None:
            flows.record_route_facing_ue(req, self.core.identity, port_s)
        return routed

    def _register(self, req: Request, source: Peer) -> Decision:
        refusal = self.sec_agree.check_register(req, source)
        if refusal is not None:
            return refusal
        return router.prepare_register(req, self.settings, os.urandom(8).hex())

    def _local(self, req: Request) -> Response | None:
        """reg-event NOTIFYs for our subscriptions (TS 24.229 §5.2.3); else the default."""
        if not regevent.is_reg_notify(req):
            return None
        resp, aors = regevent.notify_response(req)
        for aor in aors:
            dropped = self.cache.drop_identity(parse_uri(aor), self._now())
            self.counters["registrations_dropped"] += dropped
            logger.info("reg-event: %s terminated, %d registration(s) dropped", aor, dropped)
        return resp

    # -- responses ------------------------------------------------------------------
    def relayed(self, txn: ServerTransactionHandle, resp: Response) -> None:
        """A final response to a REGISTER has left: sec-agree acts now (TS 33.203 §7.4)."""
        if txn.request.method == "REGISTER" and resp.status >= 200:
            self.sec_agree.final(txn.request, resp, txn.peer)

    def relaying(self, txn: ServerTransactionHandle, resp: Response) -> None:
        """Look at a response on its way to the UE (TS 24.229 §5.2.2.1)."""
        req = txn.request
        if req.method != "REGISTER":
            return
        try:
            if resp.status == 401:
                keys = router.strip_challenge_keys(resp)
                if keys:
                    self.counters["challenges_stripped"] += 1
                    self.sec_agree.challenge(req, txn.peer, keys, resp)
            elif 200 <= resp.status < 300:
                self._registered(req, resp, txn.peer)
        except SipError as err:
            logger.warning("REGISTER response not understood: %s", err.reason)

    def _registered(self, req: Request, resp: Response, ue: Peer) -> None:
        known = self.cache.for_ue(ue, self._now()) is not None
        reg = self.cache.update(req, resp, ue, self._now())
        if reg is None:
            return
        self.counters["registrations_cached"] += 1
        if not known:
            self._subscribe(reg)

    # -- reg-event subscription -----------------------------------------------------------
    def _subscribe(self, reg: Registration) -> None:
        """SUBSCRIBE to reg at the S-CSCF after an initial registration (TS 24.229 §5.2.3)."""
        if not reg.service_route:
            return
        transport = "udp"
        local = self.core.identity.address_for(transport)
        token = os.urandom(6).hex()
        via = f"SIP/2.0/UDP {local.uri_host}:{local.port};branch=z9hG4bK{token}"
        expires = max(int(reg.expires_at - self._now()), 60) + 60
        own = self.settings.own_uri or f"sip:{local.uri_host}:{local.port}"
        sub = regevent.build_subscribe(reg, own, via, f"reg-{token}", token[:8], expires)
        first = sub.routes[0].uri if sub.has("route") else sub.uri
        if not isinstance(first, SipUri):
            return
        self.counters["reg_subscribes_sent"] += 1
        self._spawn(self._send_subscribe(sub, first, transport))

    async def _send_subscribe(self, sub: Request, hop: SipUri, transport: str) -> None:
        try:
            pending = self.resolver.resolve(hop, transport)
            peer = pending if isinstance(pending, Peer) else await pending
            result = await self.stack.send_request(sub, peer)
        except SipError as err:
            logger.warning("reg-event SUBSCRIBE not sent: %s", err.reason)
            return
        status = result.status if isinstance(result, Response) else str(result)
        logger.info("reg-event SUBSCRIBE for %s: %s", sub.uri_text, status)

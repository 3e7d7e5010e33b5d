"""S-CSCF process wiring: registrar, reg-event and proxy (TS 24.229 §5.4).

The shared stateful proxy (:class:`ScscfProxy`) runs on the configured SIP
listeners; it hands REGISTER, reg SUBSCRIBE and requests for users
registered here (terminating routing, TS 24.229 §5.4.3.3) to
:class:`scscf.service.RegistrarService` and leaves everything else
(OPTIONS to us: 200; the rest relayed by Route and Request-URI) to the
proxy. Cx goes to the HSS through a
:class:`~ims.diameter.client.DiameterClient`; the HSS's RTR/PPR come back on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Mapping
from typing import Any

from ims.diameter.client import ClientSettings, CxClient, DiameterClient, serve_cx
from ims.runtime.config import Config
from ims.runtime.main import run
from ims.runtime.proxy_service import Arrival, MaybeAwaitable, ProxyService, StaticResolver
from ims.runtime.sip_app import SipFunctionApp, listen_specs, resolver_table
from ims.sip.events import Peer
from ims.sip.message import Request, Response
from ims.sip.proxy import next_hop, push_via
from ims.sip.proxy_core import Decision
from ims.transport.stack import SipStack
from scscf.registrar import RegistrarConfig
from scscf.service import RegistrarService
from scscf.terminating import is_originating

#: Seconds between two expiry sweeps.
SWEEP_INTERVAL = 1.0


class ProxyNotifier:
    """Sends the service's NOTIFYs as client transactions of the proxy's stack."""

    def __init__(self, proxy: ProxyService) -> None:
        self.proxy = proxy

    async def __call__(self, req: Request) -> int | None:
        hop = next_hop(req)
        found = hop.peer or self.proxy.resolver.resolve(hop.destination, hop.transport)
        peer = found if isinstance(found, Peer) else await found
        local = self.proxy.core.identity.address_for(peer.transport, ":" in peer.host)
        push_via(req, local, peer.transport, f"z9hG4bK-n{secrets.token_hex(8)}")
        result = await self.proxy.stack.send_request(req, peer)
        return result.status if isinstance(result, Response) else None


class ScscfProxy(ProxyService):
    """The proxy with the S-CSCF's routing: the registrar is told which requests are originating.

    An originating request is one that came in on our Service-Route, whose
    ``orig`` Route value §16.4 removed before routing (TS 24.229 §5.4.3.2).
    """

    registrar: RegistrarService | None = None

    def route(self, req: Request, arrival: Arrival) -> MaybeAwaitable[Decision]:
        if self.registrar is not None:
            decision = self.registrar.route(req, is_originating(arrival.popped_routes))
            if decision is not None:
                return decision
        return super().route(req, arrival)


class ScscfApp:
    """The S-CSCF as ``ims.runtime.main`` runs it."""

    name = "scscf"

    def __init__(self, sip: SipFunctionApp, diameter: DiameterClient,
                 registrar: RegistrarService) -> None:
        self.sip = sip
        self.diameter = diameter
        self.registrar = registrar
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect to the HSS (in the background), bind SIP, start the expiry sweep."""
        await self.diameter.start()
        await self.sip.start()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def stop(self) -> None:
        """Stop the sweep, SIP, then Diameter (DPR)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.sip.stop()
        await self.diameter.stop()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            await self.registrar.sweep()

    def listening(self) -> list[str]:
        return self.sip.listening()

    def counters(self) -> Mapping[str, float]:
        """SIP counters, ``registrar_*`` and Diameter messages per command."""
        values: dict[str, float] = dict(self.sip.counters())
        values.update({f"registrar_{k}": v for k, v in self.registrar.counters.items()})
        values.update(self.diameter.counters())
        return values

    def gauges(self) -> Mapping[str, float]:
        """SIP gauges, registered sets, reg subscriptions, ready Diameter peers."""
        return {**self.sip.gauges(),
                "registered_sets": len(self.registrar.registrations()),
                "reg_subscriptions": len(self.registrar.subscriptions.all()),
                "diameter_peers_ready": sum(p.state == "ready" for p in self.diameter.peers())}

    def status_extra(self) -> Mapping[str, Any]:
        """``diameter_peers`` and ``registrations``."""
        return {"diameter_peers": [{"host": p.host, "realm": p.realm, "state": p.state}
                                   for p in self.diameter.peers()],
                "registrations": self.registrar.registrations()}


def client_settings(config: Config) -> ClientSettings:
    """The Cx client from ``[scscf]``, empty HSS keys taken from ``[hss]``/``[core]``."""
    s, hss = config.scscf, config.hss
    return ClientSettings(
        identity=s.diameter_identity, realm=config.core.realm,
        hss_identity=s.hss_identity or hss.identity, hss_realm=s.hss_realm or config.core.realm,
        hss_address=s.hss_address or hss.diameter_host, hss_port=s.hss_port or hss.diameter_port,
        timeout=float(s.diameter_timeout), watchdog_interval=hss.watchdog_interval,
    )


def registrar_config(config: Config) -> RegistrarConfig:
    s = config.scscf
    return RegistrarConfig(server_uri=s.server_name, realm=config.core.domain,
                           min_expires=s.min_expires, max_expires=s.max_expires,
                           default_expires=min(3600, s.max_expires),
                           challenge_reregistration=s.reauth_integrity_protected)


def build(config: Config) -> ScscfApp:
    """Wire the S-CSCF from ``config`` (nothing is bound until ``start``)."""
    diameter = DiameterClient(client_settings(config))
    service = ScscfProxy(None, resolver=StaticResolver(resolver_table(config)),
                         aliases=(config.scscf.name,))
    service.attach(SipStack(service, listen_specs(config.scscf)))
    sip = SipFunctionApp("scscf", service)
    registrar = RegistrarService(CxClient(diameter), ProxyNotifier(service),
                                 registrar_config(config))
    service.registrar = registrar
    serve_cx(diameter, registrar.on_rtr, registrar.on_ppr)
    return ScscfApp(sip, diameter, registrar)


def main() -> None:
    """``ims-scscf [--config FILE] [--log-level LEVEL]``."""
    run(build, name="scscf")


if __name__ == "__main__":
    main()

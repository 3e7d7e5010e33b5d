"""I-CSCF process wiring: the entry point of the home network (TS 24.229 §5.3).

The shared stateful proxy on the configured SIP listeners, with
:class:`icscf.service.IcscfRouting` as its ``route_hook`` (UAR for REGISTER,
LIR for terminating requests) over a Cx :class:`~ims.diameter.client.CxClient`
connected to the HSS. Requests addressed to the I-CSCF itself (OPTIONS) are
still answered by the proxy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ims.diameter.client import ClientSettings, CxClient, DiameterClient
from ims.runtime.config import Config
from ims.runtime.main import run
from ims.runtime.sip_app import SipFunctionApp, build_sip_function

from .scscf_select import ScscfCandidate
from .service import IcscfRouting


class IcscfApp(SipFunctionApp):
    """The I-CSCF: the SIP proxy plus its Diameter client of the HSS."""

    def __init__(self, sip: SipFunctionApp, diameter: DiameterClient,
                 routing: IcscfRouting) -> None:
        super().__init__(sip.name, sip.service)
        self.diameter = diameter
        self.routing = routing

    async def start(self) -> None:
        """Start the Diameter client (it keeps connecting), then the SIP listeners."""
        await self.diameter.start()
        try:
            await super().start()
        except OSError:
            await self.diameter.stop()
            raise

    async def stop(self) -> None:
        """Stop SIP first, then say DPR to the HSS."""
        await super().stop()
        await self.diameter.stop()

    def counters(self) -> Mapping[str, float]:
        """SIP counters plus Cx query counters (``cx_*``)."""
        values = dict(super().counters())
        values.update({f"cx_{key}": value for key, value in self.routing.counters.items()})
        return values

    def status_extra(self) -> Mapping[str, Any]:
        """The HSS peer and its state."""
        return {"diameter_peers": [dataclasses.asdict(p) for p in self.diameter.peers()]}


def client_settings(config: Config) -> ClientSettings:
    """The I-CSCF's Diameter identity and HSS peer (empty keys: the ``[hss]`` values)."""
    section = config.icscf
    return ClientSettings(
        identity=section.diameter_identity,
        realm=config.core.realm,
        hss_identity=section.hss_identity or config.hss.identity,
        hss_realm=section.hss_realm or config.core.realm,
        hss_address=section.hss_address or config.hss.diameter_host,
        hss_port=section.hss_port or config.hss.diameter_port,
        timeout=float(section.diameter_timeout),
        watchdog_interval=config.hss.watchdog_interval,
    )


def candidates(config: Config) -> tuple[ScscfCandidate, ...]:
    """The S-CSCFs to select from; by default the one ``[scscf]`` describes."""
    chosen = config.icscf.scscfs
    if not chosen:
        return (ScscfCandidate(config.scscf.server_name),)
    return tuple(ScscfCandidate(c.uri, frozenset(c.capabilities)) for c in chosen)


def build(config: Config) -> IcscfApp:
    """Wire the I-CSCF from ``config`` (nothing is bound until ``start``)."""
    diameter = DiameterClient(client_settings(config))
    # The bridge's own timeout answers first; ours is a backstop one second later.
    routing = IcscfRouting(CxClient(diameter), candidates(config), config.core.domain,
                           timeout=config.icscf.diameter_timeout + 1.0)
    sip = build_sip_function("icscf", config.icscf, config, route_hook=routing)
    return IcscfApp(sip, diameter, routing)


def main() -> None:
    """``ims-icscf [--config FILE] [--log-level LEVEL]``."""
    run(build, name="icscf")


if __name__ == "__main__":
    main()

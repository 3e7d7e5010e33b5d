"""HSS process wiring: the Diameter node (Cx, Sh, S6a) and its management view.

At this stage the HSS runs the Diameter base protocol (CER/CEA, DWR/DWA,
DPR/DPA) and advertises its applications; the subscriber store, the REST
API and the Cx/Sh/S6a handlers are wired here as they arrive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from ims.diameter.node import (
    APP_CX,
    APP_S6A,
    APP_SH,
    DiameterNode,
    NodeSettings,
    PeerSettings,
)
from ims.runtime.config import Config
from ims.runtime.main import run


class HssApp:
    """The HSS as ``ims.runtime.main`` runs it."""

    name = "hss"

    def __init__(self, node: DiameterNode) -> None:
        self.node = node

    async def start(self) -> None:
        """Bind the Diameter listener and start the node."""
        self.node.start()

    async def stop(self) -> None:
        """DPR to connected peers and close (blocking work off the event loop)."""
        await asyncio.to_thread(self.node.stop)

    def listening(self) -> list[str]:
        """The Diameter listener."""
        return [f"diameter {where}" for where in self.node.listening()]

    def counters(self) -> Mapping[str, float]:
        """Diameter messages by direction and command."""
        return self.node.counters()

    def gauges(self) -> Mapping[str, float]:
        """Peers in the ready state."""
        peers = self.node.peers()
        return {"diameter_peers_ready": sum(peer.state == "ready" for peer in peers)}

    def status_extra(self) -> Mapping[str, Any]:
        """``diameter_peers``: each known peer and its state."""
        return {"diameter_identity": self.node.settings.identity,
                "diameter_peers": [{"host": peer.host, "realm": peer.realm, "state": peer.state}
                                   for peer in self.node.peers()]}


def node_settings(config: Config) -> NodeSettings:
    """The HSS's Diameter node from ``[hss]`` and ``[core]``."""
    hss = config.hss
    return NodeSettings(
        identity=hss.identity,
        realm=config.core.realm,
        served_realms=(config.core.epc_realm,),
        listen_host=hss.diameter_host,
        listen_port=hss.diameter_port,
        applications=(APP_CX, APP_SH, APP_S6A),
        peers=tuple(PeerSettings(peer.identity, peer.realm, peer.address, peer.port, peer.connect)
                    for peer in hss.peers),
        accept_unknown_peers=hss.accept_unknown_peers,
        watchdog_interval=hss.watchdog_interval,
    )


def build(config: Config) -> HssApp:
    """Wire the HSS from ``config`` (nothing is bound until ``start``)."""
    return HssApp(DiameterNode(node_settings(config)))


def main() -> None:
    """``ims-hss [--config FILE] [--log-level LEVEL]``."""
    run(build, name="hss")


if __name__ == "__main__":
    main()

"""HSS process wiring: store, AuC, Cx/Sh/S6a handlers, Diameter node, REST API.

``build`` wires everything without touching the network or the schema;
``start`` migrates the store (TS 23.008 data, Alembic), provisions the demo
subscriber into an empty store, starts the Diameter node (Cx TS 29.229, Sh
TS 29.329, S6a TS 29.272) and the REST provisioning API.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from hss.cx import CxHandlers
from hss.identities import SubscriberSpec
from hss.models import Registration, RegistrationState, Subscription
from hss.network import HssNetworkActions
from hss.s6a import S6aHandlers
from hss.sh import ShHandlers
from hss.store import Store
from hss.vectors import VectorService
from ims.diameter.cx import ChargingInformation
from ims.diameter.node import APP_CX, APP_S6A, APP_SH, DiameterNode, NodeSettings, PeerSettings
from ims.diameter.results import Origin
from ims.runtime.config import Config
from ims.runtime.main import run
from provisioning.server import RestServer, start_rest_server

log = logging.getLogger(__name__)

#: The demo subscriber provisioned into an empty store: K and OPc of TS 35.208
#: test set 1 (public lab values: never use them on a real SIM).
DEMO = SubscriberSpec(imsi="001010000000001", k="465b5ce8b199b49faa5f0a2ee238a6bc",
                      opc="cd63cb71954a9f4e48a5994e37a02baf", amf="8000", msisdn="10000001")


class HssApp:
    """The HSS as ``ims.runtime.main`` runs it."""

    name = "hss"

    def __init__(self, node: DiameterNode, store: Store, config: Config,
                 actions: HssNetworkActions | None = None) -> None:
        self.node = node
        self.store = store
        self._config = config
        self._actions = actions
        self._rest: RestServer | None = None

    async def start(self) -> None:
        """Migrate the store, provision the demo user if empty, start Diameter and REST."""
        await asyncio.to_thread(self._prepare_store)
        self.node.start()
        hss = self._config.hss
        self._rest = await asyncio.to_thread(start_rest_server, self.store, hss.rest_host,
                                             hss.rest_port, hss.rest_token,
                                             domain=self._config.core.domain,
                                             actions=self._actions)

    def _prepare_store(self) -> None:
        self.store.upgrade()
        if self.store.list_subscribers(0, 1):
            return
        spec = replace(DEMO, domain=self._config.core.domain)
        record = self.store.add_subscriber(spec)
        impi = record.private_identities[0]
        impus = ", ".join(impu.impu for group in impi.implicit_sets for impu in group)
        log.info("demo subscriber provisioned: IMSI %s MSISDN %s IMPI %s IMPUs %s "
                 "K %s OPc %s AMF %s (TS 35.208 test set 1, lab only)", record.imsi,
                 record.msisdn, impi.impi, impus, spec.k, spec.opc, spec.amf)

    async def stop(self) -> None:
        """Stop REST, DPR to connected peers, close (blocking work off the event loop)."""
        if self._rest is not None:
            await asyncio.to_thread(self._rest.stop)
            self._rest = None
        await asyncio.to_thread(self.node.stop)
        self.store.close()

    def listening(self) -> list[str]:
        """The Diameter listener and the REST API."""
        where = [f"diameter {item}" for item in self.node.listening()]
        return where + ([f"rest {self._rest.url}"] if self._rest is not None else [])

    def counters(self) -> Mapping[str, float]:
        """Diameter messages by direction and command."""
        return self.node.counters()

    def gauges(self) -> Mapping[str, float]:
        """Peers in the ready state, subscribers and registered public identities."""
        peers = self.node.peers()
        return {"diameter_peers_ready": sum(peer.state == "ready" for peer in peers),
                **store_counts(self.store)}

    def status_extra(self) -> Mapping[str, Any]:
        """``diameter_peers`` (state, applications), ``sctp``, and the store's counts."""
        return {"diameter_identity": self.node.settings.identity,
                **self.node.status(),
                "store": store_counts(self.store)}


def store_counts(store: Store) -> dict[str, int]:
    """``subscribers`` and ``registered_impus`` (empty when the store is down)."""
    registered = select(func.count()).select_from(Registration).where(
        Registration.state == RegistrationState.REGISTERED.value)
    try:
        with store.engine.connect() as connection:
            return {"subscribers": connection.scalar(
                        select(func.count()).select_from(Subscription)) or 0,
                    "registered_impus": connection.scalar(registered) or 0}
    except SQLAlchemyError as exc:
        log.warning("store counts unavailable: %s", exc)
        return {}


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
        allowed_hosts=hss.allowed_peer_hosts,
        allowed_realms=hss.allowed_peer_realms,
        allowed_networks=hss.allowed_peer_networks,
        watchdog_interval=hss.watchdog_interval,
    )


def charging_information(config: Config) -> ChargingInformation | None:
    """Charging-Information from ``hss.charging_ccf``/``charging_ecf`` (TS 29.229 §6.3.19)."""
    ccf, ecf = config.hss.charging_ccf, config.hss.charging_ecf
    if not ccf and not ecf:
        return None

    def pick(names: tuple[str, ...], index: int) -> str | None:
        return names[index] if len(names) > index else None

    return ChargingInformation(primary_ecf=pick(ecf, 0), secondary_ecf=pick(ecf, 1),
                               primary_ccf=pick(ccf, 0), secondary_ccf=pick(ccf, 1))


def build(config: Config) -> HssApp:
    """Wire the HSS from ``config`` (nothing is bound or migrated until ``start``)."""
    store = Store(config.hss.store_url)
    vectors = VectorService(store)
    origin = Origin(config.hss.identity, config.core.realm)
    charging = charging_information(config)
    actions = HssNetworkActions(store, origin, charging=charging)  # RTR/PPR/CLR/IDR/DSR (hss.network)
    handlers = {APP_CX: CxHandlers(store, vectors, origin, charging).table(),
                APP_SH: ShHandlers(store, origin).table(),
                APP_S6A: S6aHandlers(store, vectors, origin, actions.mme_changed).table()}
    node = DiameterNode(node_settings(config), handlers)
    actions.attach(node)
    return HssApp(node, store, config, actions)


def main() -> None:
    """``ims-hss [--config FILE] [--log-level LEVEL]``."""
    run(build, name="hss")


if __name__ == "__main__":
    main()

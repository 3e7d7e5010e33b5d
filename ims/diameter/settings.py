"""Settings of a Diameter node and the peer policy they define (RFC 6733 §5.3; TS 29.229 §7.2).

Plain frozen dataclasses, no sockets: our identity, listener and served
3GPP applications (:class:`NodeSettings`), the peers known by name
(:class:`PeerSettings`) and the CER acceptance policy built from them
(:func:`peer_policy`, applied by :mod:`ims.diameter.node` through
:mod:`ims.diameter.peers`). Every name here is also importable from
:mod:`ims.diameter.node`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .bridge import DEFAULT_WORKERS
from .peers import LOOPBACK_NETWORKS, PeerPolicy

__all__ = [
    "APP_CX", "APP_S6A", "APP_SH", "VENDOR_3GPP", "NodeSettings", "PeerSettings", "peer_policy",
]

#: Vendor-Id of 3GPP (TS 29.229 §7.2).
VENDOR_3GPP = 10415
#: Application ids: Cx (TS 29.229 §7.2), Sh (TS 29.329 §7.2), S6a (TS 29.272 §7.1.8).
APP_CX = 16777216
APP_SH = 16777217
APP_S6A = 16777251


@dataclass(frozen=True)
class PeerSettings:
    """A peer known by name."""

    identity: str
    """DiameterIdentity (Origin-Host)."""
    realm: str
    """Realm of the peer."""
    address: str = ""
    """Address to connect to; empty if the peer connects to us."""
    port: int = 3868
    """Port to connect to."""
    connect: bool = False
    """Open and keep a connection to the peer."""


@dataclass(frozen=True)
class NodeSettings:
    """Everything needed to build a node."""

    identity: str
    """Our DiameterIdentity (Origin-Host)."""
    realm: str
    """Our realm (Origin-Realm)."""
    listen_host: str | None
    """Address of the TCP listener, or None for a client-only node."""
    listen_port: int
    """TCP port of the listener."""
    applications: tuple[int, ...]
    """3GPP (vendor 10415) auth application ids served."""
    served_realms: tuple[str, ...] = ()
    """Realms served besides ``realm`` (the EPC realm for S6a)."""
    peers: tuple[PeerSettings, ...] = ()
    """Configured peers."""
    accept_unknown_peers: bool = False
    """Accept CER from any peer at all (insecure lab mode; overrides the allow-lists)."""
    allowed_hosts: tuple[str, ...] = ()
    """Origin-Hosts accepted from any address, besides the configured ``peers``."""
    allowed_realms: tuple[str, ...] | None = None
    """Origin-Realms accepted from ``allowed_networks``; None: ``realm`` + ``served_realms``."""
    allowed_networks: tuple[str, ...] = LOOPBACK_NETWORKS
    """Source networks (CIDR) the ``allowed_realms`` are accepted from."""
    sctp: bool = True
    """Listen on SCTP too (same port) where the kernel and pysctp support it."""
    watchdog_interval: int = 30
    """Idle seconds before a DWR (RFC 6733 Tw)."""
    product_name: str = "ims-core"
    """Product-Name in CER/CEA."""
    request_workers: int = DEFAULT_WORKERS
    """Threads answering requests, per application (a fixed pool; see ``bridge.py``)."""


def peer_policy(settings: NodeSettings) -> PeerPolicy:
    """The CER acceptance policy of ``settings`` (configured peers are allowed by name).

    Raises:
        ValueError: an allowed network is not CIDR notation.
    """
    realms = (settings.allowed_realms if settings.allowed_realms is not None
              else (settings.realm, *settings.served_realms))
    hosts = (*(peer.identity for peer in settings.peers), *settings.allowed_hosts)
    return PeerPolicy.build(hosts, realms, settings.allowed_networks,
                            accept_any=settings.accept_unknown_peers)

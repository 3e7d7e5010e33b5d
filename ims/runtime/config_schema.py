"""The schema of ``ims.toml`` (architecture.md, "Defaults"): one frozen dataclass per section.

Each field has a docstring (aioquic's ``QuicConfiguration``) and a type hint
that drives validation in :mod:`ims.runtime.config_convert`: ``Annotated``
extras are checks run on the converted value (ranges, non-empty, IPv6), and
``Literal`` lists the allowed strings. Loading is :mod:`ims.runtime.config`,
which re-exports the public names.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

#: Start order of the functions (ims-cli run): HSS first, P-CSCF last.
FUNCTIONS = ("hss", "icscf", "scscf", "pcscf")


class InvalidKey(Exception):
    """A problem at a key path, before the file name is known.

    :mod:`ims.runtime.config` turns it into a ``ConfigError`` naming the file.
    """

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class _Range:
    low: int
    high: int

    def __call__(self, value: int, key: str) -> None:
        if not self.low <= value <= self.high:
            raise InvalidKey(key, f"must be between {self.low} and {self.high}, got {value}")


def _non_empty(value: str | tuple[Any, ...], key: str) -> None:
    if not (value.strip() if isinstance(value, str) else value):
        raise InvalidKey(key, "must not be empty")


def _at_most_two(value: tuple[Any, ...], key: str) -> None:
    if len(value) > 2:
        raise InvalidKey(key, f"at most two entries (primary, secondary), got {len(value)}")


def _ipv6_or_empty(value: str, key: str) -> None:
    if not value:
        return
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        raise InvalidKey(key, f"not an IPv6 address: {value!r}") from None


Port = Annotated[int, _Range(1, 65535)]
Seconds = Annotated[int, _Range(1, 86400)]
Name = Annotated[str, _non_empty]
Transport = Literal["udp", "tcp"]
IpsecMode = Literal["off", "optional", "required"]
#: TS 33.203 Annex H ``alg/ealg`` pairs, for ``[pcscf] ipsec_algorithms``.
IpsecPair = Literal[
    "hmac-sha-1-96/aes-cbc", "hmac-md5-96/aes-cbc", "hmac-sha-1-96/des-ede3-cbc",
    "hmac-md5-96/des-ede3-cbc", "hmac-sha-1-96/null", "hmac-md5-96/null",
]
LogLevel = Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True)
class CoreConfig:
    """``[core]``: identity of the home network, shared by every function."""

    domain: Name
    """Home network domain (SIP) and, by default, the Diameter realm."""
    realm: Name
    """Diameter realm of the IMS functions (Origin-Realm of the HSS)."""
    epc_realm: Name
    """Diameter realm of the EPC, also served by the HSS for S6a."""
    mgmt_host: Name
    """Address every management endpoint (/status, /metrics) binds; keep it loopback."""


@dataclass(frozen=True)
class LoggingConfig:
    """``[logging]``."""

    level: LogLevel
    """Log level of every process; ``--log-level`` overrides it."""


@dataclass(frozen=True)
class DnsConfig:
    """``[dns]``: name resolution ahead of RFC 3263 DNS lookups."""

    static: Mapping[str, tuple[str, ...]]
    """Name -> targets (``"address"`` or ``"address:port"``); wins over DNS and over
    the entries derived from the function sections (see :meth:`Config.static_dns`)."""


@dataclass(frozen=True)
class SipFunctionConfig:
    """The keys every CSCF section has."""

    name: Name
    """Host name of the function; resolved through the static DNS table to ``host:port``."""
    host: Name
    """Address the SIP listeners bind."""
    port: Port
    """SIP port, shared by all transports."""
    transports: Annotated[tuple[Transport, ...], _non_empty]
    """SIP transports to listen on."""
    mgmt_port: Port
    """Management HTTP port (/status, /metrics) on ``core.mgmt_host``."""
    ipv6_host: Annotated[str, _ipv6_or_empty]
    """An additional IPv6 address every transport binds too (``"::1"``); empty: none."""
    tls_port: Annotated[int, _Range(0, 65535)]
    """SIP over TLS port on ``host`` (and ``ipv6_host``); 0: no TLS."""
    tls_cert: str
    """PEM certificate chain file of the TLS listeners (needed with ``tls_port``)."""
    tls_key: str
    """PEM private key file of the TLS listeners (needed with ``tls_port``)."""

    def hosts(self) -> tuple[str, ...]:
        """Addresses the SIP listeners bind: ``host``, then ``ipv6_host`` if set."""
        return (self.host, self.ipv6_host) if self.ipv6_host else (self.host,)

    @property
    def tls_enabled(self) -> bool:
        """True when ``tls_port``, ``tls_cert`` and ``tls_key`` are all set."""
        return bool(self.tls_port and self.tls_cert and self.tls_key)


@dataclass(frozen=True)
class PcscfConfig(SipFunctionConfig):
    """``[pcscf]``: the P-CSCF, first hop of the UE."""

    ipsec: IpsecMode
    """TS 33.203 sec-agree: ``off``, ``optional`` (plain SIP phones still work) or ``required``."""
    ipsec_port_s: Port
    """First port of the protected server port pool (port-s)."""
    ipsec_port_c: Port
    """First port of the protected client port pool (port-c)."""
    ipsec_pool_size: Annotated[int, _Range(2, 10000)]
    """Number of ports in each protected pool. Pairs are taken per UE address
    (the lowest index that UE does not hold), and a UE holds at most two SA
    sets (the current one and the one of a re-authentication), so 2 is enough."""
    ipsec_algorithms: Annotated[tuple[IpsecPair, ...], _non_empty]
    """``alg/ealg`` pairs in order of preference: the first one the UE offers is
    chosen (TS 33.203 §7.2; handsets offer all six)."""
    esp_keys_file: str
    """When set, each UE's ESP keys are written there in Wireshark's ``esp_sa``
    format (decrypting captures); "" writes nothing."""
    icscf_uri: Name
    """Where REGISTERs go: the home network's I-CSCF (TS 24.229 §5.2.2.1), resolved
    through the static DNS table (the home domain maps to ``[icscf]``)."""
    visited_network_id: Name
    """P-Visited-Network-ID the P-CSCF adds to REGISTERs (RFC 7315 §4.3)."""


@dataclass(frozen=True)
class ScscfChoiceConfig:
    """One ``[[icscf.scscfs]]`` entry: an S-CSCF the I-CSCF may select (TS 29.228 §6.7)."""

    uri: Name
    """SIP URI of the S-CSCF (its Server-Name at the HSS)."""
    capabilities: tuple[int, ...] = ()
    """Capability numbers it offers, matched against the HSS's Server-Capabilities."""


@dataclass(frozen=True)
class IcscfConfig(SipFunctionConfig):
    """``[icscf]``: the I-CSCF, entry point of the home network."""

    diameter_identity: Name
    """Our DiameterIdentity (Origin-Host) towards the HSS."""
    hss_identity: str
    """DiameterIdentity of the HSS to connect to; empty: ``hss.identity``."""
    hss_realm: str
    """Realm of the HSS; empty: ``core.realm``."""
    hss_address: str
    """Address of the HSS's Diameter listener; empty: ``hss.diameter_host``."""
    hss_port: Annotated[int, _Range(0, 65535)]
    """Port of the HSS's Diameter listener; 0: ``hss.diameter_port``."""
    diameter_timeout: Annotated[int, _Range(1, 60)]
    """Seconds to wait for a UAA/LIA before the request gets 504."""
    scscfs: tuple[ScscfChoiceConfig, ...]
    """S-CSCFs to select from by capabilities; empty: ``scscf.server_name`` only."""


@dataclass(frozen=True)
class ScscfConfig(SipFunctionConfig):
    """``[scscf]``: the S-CSCF, registrar and session control."""

    server_name: Name
    """SIP URI the S-CSCF gives the HSS as its Server-Name (Cx SAR)."""
    diameter_identity: Name
    """Our DiameterIdentity (Origin-Host) towards the HSS."""
    hss_identity: str
    """DiameterIdentity of the HSS to connect to; empty: ``hss.identity``."""
    hss_realm: str
    """Realm of the HSS; empty: ``core.realm``."""
    hss_address: str
    """Address of the HSS's Diameter listener; empty: ``hss.diameter_host``."""
    hss_port: Annotated[int, _Range(0, 65535)]
    """Port of the HSS's Diameter listener; 0: ``hss.diameter_port``."""
    diameter_timeout: Annotated[int, _Range(1, 60)]
    """Seconds to wait for each Cx answer before the REGISTER gets 504."""
    min_expires: Annotated[int, _Range(1, 86400)]
    """Shorter non-zero registration expiries get 423 with Min-Expires (RFC 3261 §10.3)."""
    max_expires: Annotated[int, _Range(1, 604800)]
    """Longer requested expiries are cut to this; the 200 OK says what was granted."""
    reauth_integrity_protected: bool
    """Challenge re-REGISTERs that arrive integrity-protected too (false skips the challenge)."""


@dataclass(frozen=True)
class DiameterPeerConfig:
    """One ``[[hss.peers]]`` entry: a Diameter peer known by name."""

    identity: Name
    """DiameterIdentity (Origin-Host) of the peer."""
    realm: Name
    """Realm of the peer."""
    address: str = ""
    """Address to connect to; empty means the peer connects to us."""
    port: Port = 3868
    """Port to connect to."""
    connect: bool = False
    """Open and keep a connection to the peer (needs ``address``)."""


@dataclass(frozen=True)
class HssConfig:
    """``[hss]``: the HSS (Cx, Sh, S6a over Diameter; REST provisioning)."""

    identity: Name
    """DiameterIdentity (Origin-Host) of the HSS."""
    diameter_host: Name
    """Address the Diameter TCP listener binds."""
    diameter_port: Port
    """Diameter TCP port."""
    accept_unknown_peers: bool
    """Accept a CER from any peer at all (insecure); when false the allow-lists below apply."""
    allowed_peer_hosts: tuple[Name, ...]
    """Origin-Hosts accepted at CER from any address (``peers`` are always accepted)."""
    allowed_peer_realms: tuple[Name, ...]
    """Origin-Realms accepted at CER when the peer connects from ``allowed_peer_networks``."""
    allowed_peer_networks: tuple[Name, ...]
    """Source networks (CIDR) of ``allowed_peer_realms``; other peers get 3010 (RFC 6733 §5.3)."""
    peers: tuple[DiameterPeerConfig, ...]
    """Known Diameter peers (MME, CSCFs, AS)."""
    watchdog_interval: Seconds
    """Seconds of silence before a DWR is sent (RFC 6733 Tw)."""
    rest_host: Name
    """Address of the REST provisioning API."""
    rest_port: Port
    """Port of the REST provisioning API."""
    rest_token: Name
    """Bearer token the REST API requires."""
    store_url: Name
    """SQLAlchemy URL of the subscriber store (SQLite file or PostgreSQL)."""
    mgmt_port: Port
    """Management HTTP port (/status, /metrics) on ``core.mgmt_host``."""
    charging_ccf: Annotated[tuple[Name, ...], _at_most_two]
    """Charging Collection Functions (primary, secondary) sent as Charging-Information
    in SAA and PPR (TS 29.229 §6.3.19); empty: no Charging-Information."""
    charging_ecf: Annotated[tuple[Name, ...], _at_most_two]
    """Event Charging Functions (primary, secondary), likewise."""


@dataclass(frozen=True)
class Config:
    """The whole file: one section per function plus the shared ones."""

    core: CoreConfig
    """``[core]``."""
    logging: LoggingConfig
    """``[logging]``."""
    dns: DnsConfig
    """``[dns]``."""
    pcscf: PcscfConfig
    """``[pcscf]``."""
    icscf: IcscfConfig
    """``[icscf]``."""
    scscf: ScscfConfig
    """``[scscf]``."""
    hss: HssConfig
    """``[hss]``."""

    def mgmt_address(self, function: str) -> tuple[str, int]:
        """Return ``(host, port)`` of a function's management endpoint."""
        section: SipFunctionConfig | HssConfig = getattr(self, function)
        return self.core.mgmt_host, section.mgmt_port

    def static_dns(self) -> dict[str, tuple[str, ...]]:
        """Static name table: each CSCF's name and the home domain (-> I-CSCF),
        overridden by ``[dns.static]``."""
        table: dict[str, tuple[str, ...]] = {}
        for sip in (self.pcscf, self.icscf, self.scscf):
            table[sip.name.lower()] = (f"{sip.host}:{sip.port}",)
        table.setdefault(self.core.domain.lower(), (f"{self.icscf.host}:{self.icscf.port}",))
        table[self.hss.identity.lower()] = (f"{self.hss.diameter_host}:{self.hss.diameter_port}",)
        table.update({name.lower(): targets for name, targets in self.dns.static.items()})
        return table

"""One TOML file configures every function (architecture.md, "Defaults").

Theory of operation
-------------------
The embedded ``default.toml`` is read first; an operator's file is laid over
it key by key (tables merge, scalars and arrays replace), so a partial file
only names what it changes. String values may use placeholders: the core keys
(``{domain}``, ``{realm}``, ``{epc_realm}``, ``{mgmt_host}``) and any scalar
key of their own section (``{port}`` in ``scscf.server_name``). The merged
tree is converted section by section into frozen dataclasses whose type
hints drive validation: an unknown key, a value of the wrong type or out of
range raises :class:`ConfigError` reading ``"<file>: <key.path>: <problem>"``.
Finally the sockets every process will bind are checked for clashes.

Loaded once by ``ims.runtime.main`` (or ``ims.cli``) and passed explicitly.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

DEFAULT_SOURCE = "<embedded default.toml>"

#: Start order of the functions (ims-cli run): HSS first, P-CSCF last.
FUNCTIONS = ("hss", "icscf", "scscf", "pcscf")


class ConfigError(Exception):
    """A configuration problem, worded ``"<file>: <key.path>: <problem>"``."""


class _Invalid(Exception):
    """A problem at a key path, before the file name is known."""

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
            raise _Invalid(key, f"must be between {self.low} and {self.high}, got {value}")


def _non_empty(value: str | tuple[Any, ...], key: str) -> None:
    if not (value.strip() if isinstance(value, str) else value):
        raise _Invalid(key, "must not be empty")


def _at_most_two(value: tuple[Any, ...], key: str) -> None:
    if len(value) > 2:
        raise _Invalid(key, f"at most two entries (primary, secondary), got {len(value)}")


def _ipv6_or_empty(value: str, key: str) -> None:
    if not value:
        return
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        raise _Invalid(key, f"not an IPv6 address: {value!r}") from None


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


@dataclass(frozen=True)
class Bind:
    """A socket (or a range of them) some process binds, for clash checks."""

    function: str
    """Function owning the socket."""
    key: str
    """Config key that sets the port."""
    service: str
    """``sip``, ``mgmt``, ``diameter``, ``rest`` or ``ipsec``."""
    transport: str
    """``udp`` or ``tcp``."""
    host: str
    """Bound address."""
    port: int
    """(First) port."""
    last_port: int
    """Last port of a range (== ``port`` for one socket)."""

    def clashes(self, other: Bind) -> bool:
        """True if both could not be bound at once."""
        same_host = self.host == other.host or _wildcard(self.host) or _wildcard(other.host)
        overlap = self.port <= other.last_port and other.port <= self.last_port
        return same_host and overlap and self.transport == other.transport

    def describe(self) -> str:
        """``127.0.0.1:5060/udp`` (or a range)."""
        ports = str(self.port) if self.port == self.last_port else f"{self.port}-{self.last_port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{ports}/{self.transport}"


def _wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")


def binds(config: Config) -> list[Bind]:
    """Every socket the processes of this config bind, in start order."""
    found = [
        Bind("hss", "hss.diameter_port", "diameter", "tcp",
             config.hss.diameter_host, config.hss.diameter_port, config.hss.diameter_port),
        Bind("hss", "hss.rest_port", "rest", "tcp",
             config.hss.rest_host, config.hss.rest_port, config.hss.rest_port),
    ]
    for name in FUNCTIONS[1:]:
        found += _sip_binds(name, getattr(config, name))
    pcscf = config.pcscf
    for key, first in (("ipsec_port_s", pcscf.ipsec_port_s), ("ipsec_port_c", pcscf.ipsec_port_c)):
        if pcscf.ipsec != "off":
            last = first + pcscf.ipsec_pool_size - 1
            found += [Bind("pcscf", f"pcscf.{key}", "ipsec", transport, pcscf.host, first, last)
                      for transport in ("udp", "tcp")]
    for name in FUNCTIONS:
        host, port = config.mgmt_address(name)
        found.append(Bind(name, f"{name}.mgmt_port", "mgmt", "tcp", host, port, port))
    return found


def _sip_binds(name: str, sip: SipFunctionConfig) -> list[Bind]:
    """The SIP listeners of one CSCF: each transport on each host, TLS (a TCP socket)."""
    found = [Bind(name, f"{name}.port", "sip", transport, host, sip.port, sip.port)
             for host in sip.hosts() for transport in sip.transports]
    if sip.tls_enabled:
        found += [Bind(name, f"{name}.tls_port", "sip", "tcp", host, sip.tls_port, sip.tls_port)
                  for host in sip.hosts()]
    return found


# --------------------------------------------------------------------------- loading


def load_config(path: str | Path | None = None) -> Config:
    """Load the embedded default, overlaid with the file at ``path`` if given.

    Raises:
        ConfigError: the file is unreadable, not TOML, or a key is unknown,
            mistyped, out of range or clashes with another.
    """
    if path is None:
        return _load({}, DEFAULT_SOURCE)
    return _load(_read_file(Path(path)), str(path))


def load_config_text(text: str, source: str = "<text>") -> Config:
    """Like :func:`load_config` for TOML text (tests, generated configs)."""
    try:
        overlay = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: invalid TOML: {error}") from None
    return _load(overlay, source)


def _load(overlay: Mapping[str, Any], source: str) -> Config:
    tree = merge(_read_default(), overlay)
    try:
        config = _build(Config, _resolve_placeholders(tree), "")
        _check_consistency(config)
    except _Invalid as error:
        raise ConfigError(f"{source}: {error.key}: {error.problem}") from None
    assert isinstance(config, Config)
    return config


def default_text() -> str:
    """The embedded default file's text."""
    return resources.files("ims.runtime").joinpath("default.toml").read_text(encoding="utf-8")


def _read_default() -> dict[str, Any]:
    return tomllib.loads(default_text())


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay ``overlay`` on ``base``: tables merge recursively, anything else replaces."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# --------------------------------------------------------------------------- placeholders

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _scalars(section: Any) -> dict[str, str]:
    if not isinstance(section, Mapping):
        return {}
    return {key: str(value) for key, value in section.items()
            if isinstance(value, str | int) and not isinstance(value, bool)}


def _resolve_placeholders(tree: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(tree.get("core"), Mapping):
        raise _Invalid("core", f"expected a table, got {_describe(tree.get('core'))}")
    core = _substitute(tree["core"], _scalars(tree["core"]), "core")
    resolved = dict(tree, core=core)
    for name, section in tree.items():
        if name != "core":
            context = {**_scalars(core), **_scalars(section)}
            resolved[name] = _substitute(section, context, name)
    return resolved


def _substitute(value: Any, context: Mapping[str, str], key: str) -> Any:
    if isinstance(value, str):
        return _fill(value, context, key)
    if isinstance(value, list):
        return [_substitute(item, context, f"{key}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Mapping):
        return {_fill(name, context, f"{key}.{name}"): _substitute(item, context, f"{key}.{name}")
                for name, item in value.items()}
    return value


def _fill(text: str, context: Mapping[str, str], key: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in context:
            known = ", ".join(sorted(context))
            raise _Invalid(key, f"unknown placeholder {{{name}}} (known here: {known})")
        if "{" in context[name]:
            raise _Invalid(key, f"placeholder {{{name}}} refers to a value with placeholders")
        return context[name]

    return _PLACEHOLDER.sub(replace, text)


# --------------------------------------------------------------------------- conversion

_TYPE_NAMES = {str: "a string", int: "an integer", bool: "a boolean (true/false)"}


def _describe(value: Any) -> str:
    kinds = {bool: "boolean", int: "integer", float: "float", str: "string",
             list: "array", dict: "table"}
    kind = next((name for cls, name in kinds.items() if isinstance(value, cls)), "value")
    return f"{kind} {value!r}" if kind in ("string", "integer", "float") else kind


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _build(cls: type[Any], value: Any, key: str) -> Any:
    if not isinstance(value, Mapping):
        raise _Invalid(key or "<top level>", f"expected a table, got {_describe(value)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise _Invalid(_join(key, unknown[0]),
                       f"unknown key (known in {key or 'the file'}: {', '.join(fields)})")
    hints = get_type_hints(cls, include_extras=True)
    kwargs: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in value:
            kwargs[name] = _convert(value[name], hints[name], _join(key, name))
        elif spec.default is dataclasses.MISSING:
            raise _Invalid(_join(key, name), "missing")
    return cls(**kwargs)


def _convert(value: Any, hint: Any, key: str) -> Any:
    checks: tuple[Callable[[Any, str], None], ...] = ()
    if get_origin(hint) is Annotated:
        hint, *extra = get_args(hint)
        checks = tuple(extra)
    result = _convert_plain(value, hint, key)
    for check in checks:
        check(result, key)
    return result


def _convert_plain(value: Any, hint: Any, key: str) -> Any:
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key)  # type: ignore[arg-type]
    if origin is Literal:
        return _literal(value, get_args(hint), key)
    if origin is tuple:
        return _tuple(value, get_args(hint)[0], key)
    if origin is Mapping:
        return _mapping(value, get_args(hint)[1], key)
    return _scalar(value, hint, key)


def _scalar(value: Any, hint: type[Any], key: str) -> Any:
    if isinstance(value, bool) and hint is not bool or not isinstance(value, hint):
        raise _Invalid(key, f"expected {_TYPE_NAMES[hint]}, got {_describe(value)}")
    return value


def _literal(value: Any, choices: tuple[str, ...], key: str) -> str:
    if value not in choices:
        wanted = ", ".join(f'"{choice}"' for choice in choices)
        raise _Invalid(key, f"expected one of {wanted}, got {_describe(value)}")
    return str(value)


def _tuple(value: Any, item: Any, key: str) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise _Invalid(key, f"expected an array, got {_describe(value)}")
    return tuple(_convert(entry, item, f"{key}[{index}]") for index, entry in enumerate(value))


def _mapping(value: Any, item: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _Invalid(key, f"expected a table, got {_describe(value)}")
    return {name: _convert(entry, item, f'{key}."{name}"') for name, entry in value.items()}


def _check_consistency(config: Config) -> None:
    for index, peer in enumerate(config.hss.peers):
        if peer.connect and not peer.address:
            raise _Invalid(f"hss.peers[{index}].connect", "needs an address to connect to")
    for index, network in enumerate(config.hss.allowed_peer_networks):
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise _Invalid(f"hss.allowed_peer_networks[{index}]",
                           f"not an address or CIDR network: {network!r}") from None
    for name in FUNCTIONS[1:]:
        _check_tls(name, getattr(config, name))
    _check_esp_keys_file(config.pcscf)
    seen: list[Bind] = []
    for bind in binds(config):
        other = next((earlier for earlier in seen if earlier.clashes(bind)), None)
        if other is not None:
            raise _Invalid(bind.key, f"{bind.describe()} clashes with {other.key} "
                                     f"({other.describe()})")
        seen.append(bind)


def _check_esp_keys_file(pcscf: PcscfConfig) -> None:
    """``esp_keys_file`` needs IPsec on and an existing directory."""
    if not pcscf.esp_keys_file:
        return
    if pcscf.ipsec == "off":
        raise _Invalid("pcscf.esp_keys_file", 'needs pcscf.ipsec "optional" or "required"')
    folder = Path(pcscf.esp_keys_file).parent
    if not folder.is_dir():
        raise _Invalid("pcscf.esp_keys_file", f"no such directory: {folder}")


def _check_tls(name: str, sip: SipFunctionConfig) -> None:
    """A ``tls_port`` needs a readable certificate and key file."""
    if not sip.tls_port:
        return
    for key in ("tls_cert", "tls_key"):
        path = getattr(sip, key)
        if not path:
            raise _Invalid(f"{name}.{key}", f"needed when {name}.tls_port is set "
                                            f"(a PEM file)")
        if not Path(path).is_file():
            raise _Invalid(f"{name}.{key}", f"no such file: {path}")

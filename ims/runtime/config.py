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

Layout: this module loads and checks; the code it runs lives in modules
named for their concern, and their public names are re-exported here:
:mod:`ims.runtime.config_schema` (the section dataclasses),
:mod:`ims.runtime.config_convert` (placeholders, tree to dataclasses) and
:mod:`ims.runtime.config_binds` (``Bind``, ``binds`` and the clash check).
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from ims.runtime.config_binds import Bind as Bind
from ims.runtime.config_binds import binds as binds
from ims.runtime.config_binds import check_binds
from ims.runtime.config_convert import build_config
from ims.runtime.config_schema import FUNCTIONS as FUNCTIONS
from ims.runtime.config_schema import Config as Config
from ims.runtime.config_schema import CoreConfig as CoreConfig
from ims.runtime.config_schema import DiameterPeerConfig as DiameterPeerConfig
from ims.runtime.config_schema import DnsConfig as DnsConfig
from ims.runtime.config_schema import HssConfig as HssConfig
from ims.runtime.config_schema import IcscfConfig as IcscfConfig
from ims.runtime.config_schema import InvalidKey
from ims.runtime.config_schema import IpsecMode as IpsecMode
from ims.runtime.config_schema import IpsecPair as IpsecPair
from ims.runtime.config_schema import LoggingConfig as LoggingConfig
from ims.runtime.config_schema import LogLevel as LogLevel
from ims.runtime.config_schema import Name as Name
from ims.runtime.config_schema import PcscfConfig as PcscfConfig
from ims.runtime.config_schema import Port as Port
from ims.runtime.config_schema import ScscfChoiceConfig as ScscfChoiceConfig
from ims.runtime.config_schema import ScscfConfig as ScscfConfig
from ims.runtime.config_schema import Seconds as Seconds
from ims.runtime.config_schema import SipFunctionConfig as SipFunctionConfig
from ims.runtime.config_schema import Transport as Transport

DEFAULT_SOURCE = "<embedded default.toml>"


class ConfigError(Exception):
    """A configuration problem, worded ``"<file>: <key.path>: <problem>"``."""


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
        config = build_config(tree)
        _check_consistency(config)
    except InvalidKey as error:
        raise ConfigError(f"{source}: {error.key}: {error.problem}") from None
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

# --------------------------------------------------------------------------- checks


def _check_consistency(config: Config) -> None:
    """Checks across keys, once every section converted: peers, networks, files, binds."""
    for index, peer in enumerate(config.hss.peers):
        if peer.connect and not peer.address:
            raise InvalidKey(f"hss.peers[{index}].connect", "needs an address to connect to")
    for index, network in enumerate(config.hss.allowed_peer_networks):
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise InvalidKey(f"hss.allowed_peer_networks[{index}]",
                             f"not an address or CIDR network: {network!r}") from None
    for name in FUNCTIONS[1:]:
        _check_tls(name, getattr(config, name))
    _check_esp_keys_file(config.pcscf)
    check_binds(config)


def _check_esp_keys_file(pcscf: PcscfConfig) -> None:
    """``esp_keys_file`` needs IPsec on and an existing directory."""
    if not pcscf.esp_keys_file:
        return
    if pcscf.ipsec == "off":
        raise InvalidKey("pcscf.esp_keys_file", 'needs pcscf.ipsec "optional" or "required"')
    folder = Path(pcscf.esp_keys_file).parent
    if not folder.is_dir():
        raise InvalidKey("pcscf.esp_keys_file", f"no such directory: {folder}")


def _check_tls(name: str, sip: SipFunctionConfig) -> None:
    """A ``tls_port`` needs a readable certificate and key file."""
    if not sip.tls_port:
        return
    for key in ("tls_cert", "tls_key"):
        path = getattr(sip, key)
        if not path:
            raise InvalidKey(f"{name}.{key}", f"needed when {name}.tls_port is set "
                                              f"(a PEM file)")
        if not Path(path).is_file():
            raise InvalidKey(f"{name}.{key}", f"no such file: {path}")

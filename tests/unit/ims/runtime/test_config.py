"""ims.runtime.config: embedded default, overlays, placeholders, validation errors."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from ims.runtime.config import (
    Config,
    ConfigError,
    binds,
    default_text,
    load_config,
    load_config_text,
    merge,
)

ROOT = Path(__file__).resolve().parents[4]
DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"


def error_of(text: str, source: str = "lab.toml") -> str:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, source)
    return str(caught.value)


def test_default_has_the_architecture_values() -> None:
    config = load_config()
    assert config.core.domain == DOMAIN
    assert config.core.realm == DOMAIN
    assert config.core.epc_realm == "epc.mnc001.mcc001.3gppnetwork.org"
    assert (config.pcscf.host, config.pcscf.port, config.pcscf.transports) == (
        "127.0.0.1", 5060, ("udp", "tcp"))
    assert (config.pcscf.ipsec, config.pcscf.ipsec_port_s, config.pcscf.ipsec_port_c) == (
        "optional", 5100, 6100)
    assert config.icscf.port == 4060
    assert config.scscf.port == 6060
    assert config.scscf.server_name == f"sip:scscf.{DOMAIN}:6060"
    assert (config.hss.diameter_host, config.hss.diameter_port) == ("127.0.0.1", 3868)
    assert config.hss.identity == f"hss.{DOMAIN}"
    assert (config.hss.rest_host, config.hss.rest_port) == ("127.0.0.1", 8080)
    assert config.hss.store_url == "sqlite:///var/hss.sqlite"
    assert config.logging.level == "info"


def test_default_management_ports() -> None:
    config = load_config()
    assert [config.mgmt_address(name) for name in ("hss", "pcscf", "icscf", "scscf")] == [
        ("127.0.0.1", 9090), ("127.0.0.1", 9091), ("127.0.0.1", 9092), ("127.0.0.1", 9093)]


def test_partial_file_overlays_only_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "ims.toml"
    path.write_text("[pcscf]\nport = 5070\n\n[logging]\nlevel = \"debug\"\n")
    config = load_config(path)
    assert config.pcscf.port == 5070
    assert config.pcscf.transports == ("udp", "tcp")
    assert config.pcscf.mgmt_port == 9091
    assert config.logging.level == "debug"
    assert config.icscf == load_config().icscf


def test_domain_placeholder_follows_the_overlay() -> None:
    config = load_config_text('[core]\ndomain = "ims.example.net"\n')
    assert config.core.realm == "ims.example.net"
    assert config.hss.identity == "hss.ims.example.net"
    assert config.pcscf.name == "pcscf.ims.example.net"
    assert config.scscf.server_name == "sip:scscf.ims.example.net:6060"


def test_section_placeholder_follows_the_overlay() -> None:
    config = load_config_text("[scscf]\nport = 7060\n")
    assert config.scscf.server_name == f"sip:scscf.{DOMAIN}:7060"


def test_unknown_key_names_file_and_key() -> None:
    message = error_of("[pcscf]\nprot = 5070\n")
    assert message.startswith("lab.toml: pcscf.prot: unknown key")
    assert "port" in message


def test_unknown_section_names_file_and_key() -> None:
    assert error_of("[xcscf]\nport = 1\n").startswith("lab.toml: xcscf: unknown key")


def test_wrong_type_names_file_key_and_value() -> None:
    assert error_of('[pcscf]\nport = "5060"\n') == (
        "lab.toml: pcscf.port: expected an integer, got string '5060'")


def test_boolean_is_not_an_integer() -> None:
    assert error_of("[icscf]\nport = true\n") == (
        "lab.toml: icscf.port: expected an integer, got boolean")


def test_port_out_of_range() -> None:
    assert error_of("[hss]\ndiameter_port = 70000\n") == (
        "lab.toml: hss.diameter_port: must be between 1 and 65535, got 70000")


def test_choice_outside_the_allowed_values() -> None:
    message = error_of('[pcscf]\nipsec = "maybe"\n')
    assert message.startswith('lab.toml: pcscf.ipsec: expected one of "off", "optional"')


def test_array_item_error_has_its_index() -> None:
    assert error_of('[pcscf]\ntransports = ["udp", "sctp"]\n').startswith(
        "lab.toml: pcscf.transports[1]: expected one of")


def test_empty_transports_rejected() -> None:
    assert error_of("[scscf]\ntransports = []\n") == (
        "lab.toml: scscf.transports: must not be empty")


def test_unknown_placeholder_rejected() -> None:
    message = error_of('[scscf]\nserver_name = "sip:{nowhere}"\n')
    assert message.startswith("lab.toml: scscf.server_name: unknown placeholder {nowhere}")


def test_section_that_is_not_a_table() -> None:
    assert error_of("pcscf = 5\n") == "lab.toml: pcscf: expected a table, got integer 5"


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[pcscf\nport = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: invalid TOML:")


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: cannot read: No such file or directory"


def test_error_in_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "ims.toml"
    path.write_text("[hss]\nmgmt_port = 0\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: hss.mgmt_port: must be between 1 and 65535, got 0"


def test_port_clash_between_functions() -> None:
    assert error_of("[icscf]\nport = 5060\n") == (
        "lab.toml: pcscf.port: 127.0.0.1:5060/udp clashes with icscf.port (127.0.0.1:5060/udp)")


def test_clash_with_ipsec_pool() -> None:
    message = error_of("[scscf]\nport = 5101\n")
    assert message == ("lab.toml: pcscf.ipsec_port_s: 127.0.0.1:5100-5101/udp clashes with "
                       "scscf.port (127.0.0.1:5101/udp)")


def test_ipsec_algorithms_are_validated_and_ordered() -> None:
    config = load_config_text('[pcscf]\nipsec_algorithms = ["hmac-md5-96/null", '
                              '"hmac-sha-1-96/aes-cbc"]\n')
    assert config.pcscf.ipsec_algorithms == ("hmac-md5-96/null", "hmac-sha-1-96/aes-cbc")
    assert "pcscf.ipsec_algorithms" in error_of('[pcscf]\nipsec_algorithms = ["hmac-sha-256/null"]\n')
    assert "pcscf.ipsec_algorithms" in error_of("[pcscf]\nipsec_algorithms = []\n")
    assert "pcscf.ipsec_pool_size" in error_of("[pcscf]\nipsec_pool_size = 1\n")


def test_no_clash_on_other_host() -> None:
    config = load_config_text('[icscf]\nhost = "127.0.0.2"\nport = 5060\n')
    assert (config.icscf.host, config.icscf.port) == ("127.0.0.2", 5060)


def test_wildcard_host_clashes() -> None:
    assert error_of('[icscf]\nhost = "0.0.0.0"\nport = 5060\n').startswith(
        "lab.toml: pcscf.port: 127.0.0.1:5060/udp clashes with icscf.port")


def test_diameter_peers_parsed() -> None:
    config = load_config_text(
        '[[hss.peers]]\nidentity = "mme.{epc_realm}"\nrealm = "{epc_realm}"\n'
        'address = "127.0.0.1"\nconnect = true\n')
    (peer,) = config.hss.peers
    assert peer.identity == "mme.epc.mnc001.mcc001.3gppnetwork.org"
    assert (peer.address, peer.port, peer.connect) == ("127.0.0.1", 3868, True)


def test_peer_that_connects_needs_an_address() -> None:
    message = error_of('[[hss.peers]]\nidentity = "mme"\nrealm = "epc"\nconnect = true\n')
    assert message == "lab.toml: hss.peers[0].connect: needs an address to connect to"


def test_peer_missing_required_key() -> None:
    assert error_of('[[hss.peers]]\nidentity = "mme"\n') == "lab.toml: hss.peers[0].realm: missing"


def test_static_dns_derived_and_overridden() -> None:
    config = load_config_text(
        '[dns.static]\n"scscf.{domain}" = ["10.0.0.6:6060"]\n"as.{domain}" = ["10.0.0.9"]\n')
    table = config.static_dns()
    assert table[f"scscf.{DOMAIN}"] == ("10.0.0.6:6060",)
    assert table[f"as.{DOMAIN}"] == ("10.0.0.9",)
    assert table[f"pcscf.{DOMAIN}"] == ("127.0.0.1:5060",)
    assert table[DOMAIN] == ("127.0.0.1:4060",)


def test_static_dns_targets_must_be_strings() -> None:
    assert error_of('[dns.static]\n"x" = [1]\n') == (
        'lab.toml: dns.static."x"[0]: expected a string, got integer 1')


def test_binds_cover_every_listener() -> None:
    keys = {(bind.key, bind.transport) for bind in binds(load_config())}
    assert ("pcscf.port", "udp") in keys and ("pcscf.port", "tcp") in keys
    assert ("hss.diameter_port", "tcp") in keys
    assert {f"{name}.mgmt_port" for name in ("hss", "pcscf", "icscf", "scscf")} <= {
        key for key, _ in keys}


def test_merge_replaces_arrays_and_merges_tables() -> None:
    merged = merge({"a": {"x": 1, "y": [1, 2]}, "b": 2}, {"a": {"y": [3]}, "c": 4})
    assert merged == {"a": {"x": 1, "y": [3]}, "b": 2, "c": 4}


def leaves(tree: dict[str, Any], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        found |= leaves(value, path) if isinstance(value, dict) else {path}
    return found


def test_example_file_documents_every_key_with_its_default() -> None:
    example = ROOT / "ims.example.toml"
    documented = leaves(tomllib.loads(example.read_text()))
    expected = leaves(tomllib.loads(default_text())) - {"hss.peers"}
    assert expected - documented == set()
    assert "# [[hss.peers]]" in example.read_text()
    assert load_config(example) == load_config()


def test_config_is_frozen() -> None:
    config: Config = load_config()
    with pytest.raises(AttributeError):
        config.pcscf.port = 1  # type: ignore[misc]


def test_ipsec_pool_clash_on_the_ipv6_address_too() -> None:
    message = error_of('[pcscf]\nipv6_host = "::1"\n[scscf]\nhost = "::1"\nport = 6101\n')
    assert message == ("lab.toml: pcscf.ipsec_port_c: [::1]:6100-6101/udp clashes with "
                       "scscf.port ([::1]:6101/udp)")

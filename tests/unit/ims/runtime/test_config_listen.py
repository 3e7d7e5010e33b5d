"""CSCF listeners from the config: ``ipv6_host``, ``tls_port``/``tls_cert``/``tls_key``,
their validation, the port pre-check binds and :func:`listen_specs`."""

from __future__ import annotations

from pathlib import Path

import pytest

from ims.runtime.config import Bind, ConfigError, binds, load_config, load_config_text
from ims.runtime.sip_app import listen_specs
from ims.transport.config import ListenSpec


def error_of(text: str, source: str = "lab.toml") -> str:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, source)
    return str(caught.value)


@pytest.fixture()
def pem(tmp_path: Path) -> tuple[str, str]:
    """Two existing files standing in for a certificate and key (content is not read here)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("cert")
    key.write_text("key")
    return str(cert), str(key)


def tls_text(pem: tuple[str, str], section: str = "pcscf", port: int = 5061) -> str:
    return (f'[{section}]\ntls_port = {port}\ntls_cert = "{pem[0]}"\n'
            f'tls_key = "{pem[1]}"\n')


def sip_binds(text: str, function: str) -> list[Bind]:
    return [bind for bind in binds(load_config_text(text))
            if bind.function == function and bind.service == "sip"]


def test_defaults_add_no_listeners() -> None:
    config = load_config()
    for section in (config.pcscf, config.icscf, config.scscf):
        assert (section.ipv6_host, section.tls_port, section.tls_cert, section.tls_key) == (
            "", 0, "", "")
        assert section.hosts() == ("127.0.0.1",)
        assert not section.tls_enabled
    assert listen_specs(config.pcscf) == [ListenSpec("udp", "127.0.0.1", 5060),
                                          ListenSpec("tcp", "127.0.0.1", 5060)]


def test_ipv6_host_binds_every_transport_there_too() -> None:
    config = load_config_text('[icscf]\nipv6_host = "::1"\n')
    assert listen_specs(config.icscf) == [
        ListenSpec("udp", "127.0.0.1", 4060), ListenSpec("tcp", "127.0.0.1", 4060),
        ListenSpec("udp", "::1", 4060), ListenSpec("tcp", "::1", 4060)]


def test_tls_listens_on_each_host(pem: tuple[str, str]) -> None:
    config = load_config_text(tls_text(pem) + 'ipv6_host = "::1"\n')
    assert config.pcscf.tls_enabled
    tls = [spec for spec in listen_specs(config.pcscf) if spec.transport == "tls"]
    assert tls == [ListenSpec("tls", "127.0.0.1", 5061, *pem), ListenSpec("tls", "::1", 5061, *pem)]


def test_cert_and_key_without_port_mean_no_tls(pem: tuple[str, str]) -> None:
    config = load_config_text(tls_text(pem, port=0))
    assert not config.pcscf.tls_enabled
    assert all(spec.transport != "tls" for spec in listen_specs(config.pcscf))


@pytest.mark.parametrize("value", ["127.0.0.1", "localhost", "::1/128", "[::1]"])
def test_ipv6_host_must_be_an_ipv6_literal(value: str) -> None:
    assert error_of(f'[scscf]\nipv6_host = "{value}"\n') == (
        f"lab.toml: scscf.ipv6_host: not an IPv6 address: {value!r}")


@pytest.mark.parametrize("missing", ["tls_cert", "tls_key"])
def test_tls_port_without_cert_or_key_is_an_error(pem: tuple[str, str], missing: str) -> None:
    text = "\n".join(line for line in tls_text(pem, "icscf").splitlines()
                     if not line.startswith(missing))
    message = error_of(text)
    assert message.startswith(f"lab.toml: icscf.{missing}: needed when icscf.tls_port is set")


def test_tls_file_that_does_not_exist_is_an_error(pem: tuple[str, str], tmp_path: Path) -> None:
    gone = tmp_path / "gone.pem"
    message = error_of(tls_text((pem[0], str(gone))))
    assert message == f"lab.toml: pcscf.tls_key: no such file: {gone}"


def test_tls_port_out_of_range_is_an_error() -> None:
    assert "pcscf.tls_port: must be between 0 and 65535" in error_of("[pcscf]\ntls_port = 70000\n")


def test_precheck_binds_cover_ipv6_and_tls(pem: tuple[str, str]) -> None:
    found = sip_binds(tls_text(pem) + 'ipv6_host = "::1"\n', "pcscf")
    assert {(bind.key, bind.transport, bind.host, bind.port) for bind in found} == {
        ("pcscf.port", "udp", "127.0.0.1", 5060), ("pcscf.port", "tcp", "127.0.0.1", 5060),
        ("pcscf.port", "udp", "::1", 5060), ("pcscf.port", "tcp", "::1", 5060),
        ("pcscf.tls_port", "tcp", "127.0.0.1", 5061), ("pcscf.tls_port", "tcp", "::1", 5061)}


def test_tls_port_clashing_with_a_tcp_port_is_an_error(pem: tuple[str, str]) -> None:
    message = error_of(tls_text(pem, "scscf", port=6060))
    assert message == ("lab.toml: scscf.tls_port: 127.0.0.1:6060/tcp clashes with "
                       "scscf.port (127.0.0.1:6060/tcp)")


def test_ipv6_clash_is_described_with_brackets() -> None:
    text = ('[pcscf]\nhost = "127.0.0.2"\nport = 4060\nipv6_host = "::1"\n'
            '[icscf]\nipv6_host = "::1"\n')
    assert error_of(text) == ("lab.toml: pcscf.port: [::1]:4060/udp clashes with "
                              "icscf.port ([::1]:4060/udp)")

"""TLS and IPv6 listeners configured in the TOML file, end to end: ``ims-cli run`` with
the P-CSCF and S-CSCF given ``ipv6_host = "::1"`` and a TLS port (generated self-signed
certificate) answers OPTIONS over TLS and over UDP/TCP to ``[::1]``, and
``ims-cli status --json`` lists those listeners."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from imscore import CoreProcess, Ports, free_port, options_request

from ims.sip.message import Response, parse_message

pytestmark = pytest.mark.e2e

CONFIGURED = ("pcscf", "scscf")
TIMEOUT = 10.0


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


if not has_ipv6_loopback():
    pytest.skip("no IPv6 loopback (::1) here", allow_module_level=True)


def write_self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and ::1, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ims-e2e")])
    now = datetime.datetime.now(datetime.UTC)
    addresses = [x509.IPAddress(ipaddress.ip_address(host)) for host in ("127.0.0.1", "::1")]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(addresses), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "sip-cert.pem", directory / "sip-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass(frozen=True)
class Setup:
    """The running core and what its overlay configured."""

    core: CoreProcess
    ports: Ports
    tls: dict[str, int]
    cert: Path


def overlay(ports: Ports, tls: dict[str, int], cert: Path, key: Path) -> str:
    text = ports.config_text()
    for name in CONFIGURED:
        text = text.replace(f"[{name}]\n", f'[{name}]\nipv6_host = "::1"\n'
                            f"tls_port = {tls[name]}\n"
                            f'tls_cert = "{cert}"\ntls_key = "{key}"\n', 1)
    return text


def free_tls_port(ports: Ports) -> int:
    taken = set(ports.sip.values()) | set(ports.mgmt.values()) | {ports.diameter, ports.rest}
    while (port := free_port()) in taken:
        pass
    return port


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    workdir = tmp_path_factory.mktemp("transports")
    cert, key = write_self_signed(workdir)
    ports = Ports.pick()
    tls = {"pcscf": free_tls_port(ports)}
    while (tls_scscf := free_tls_port(ports)) == tls["pcscf"]:
        pass
    tls["scscf"] = tls_scscf
    process = CoreProcess(workdir, overlay(ports, tls, cert, key))
    process.start()
    try:
        process.wait_up()
        yield Setup(process, ports, tls, cert)
    finally:
        process.stop()


def request_for(host: str, port: int, transport: str, local_port: int) -> tuple[bytes, str]:
    """An OPTIONS to ``sip:<host>:<port>`` (``host`` bracketed for IPv6)."""
    data, branch = options_request(port, transport, local_port)
    return data.replace(b"127.0.0.1", host.encode()), branch


def read_message(stream: socket.socket) -> Response:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = stream.recv(65535)
        assert chunk, f"connection closed after {buffer!r}"
        buffer += chunk
    message = parse_message(buffer)
    assert isinstance(message, Response)
    return message


def options_over_tls(host: str, port: int, cert: Path) -> tuple[Response, str]:
    context = ssl.create_default_context(cafile=str(cert))  # trust the generated cert
    with socket.create_connection((host, port), timeout=TIMEOUT) as raw, \
            context.wrap_socket(raw, server_hostname=host) as stream:
        bracketed = f"[{host}]" if ":" in host else host
        data, branch = request_for(bracketed, port, "tls", stream.getsockname()[1])
        stream.sendall(data)
        return read_message(stream), branch


def options_over_ipv6(port: int, transport: str) -> tuple[Response, str]:
    if transport == "tcp":
        with socket.create_connection(("::1", port), timeout=TIMEOUT) as stream:
            data, branch = request_for("[::1]", port, "tcp", stream.getsockname()[1])
            stream.sendall(data)
            return read_message(stream), branch
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.bind(("::1", 0))
        data, branch = request_for("[::1]", port, "udp", sock.getsockname()[1])
        sock.sendto(data, ("::1", port))
        message = parse_message(sock.recv(65535))
    assert isinstance(message, Response)
    return message, branch


def assert_ok(response: Response, branch: str) -> None:
    assert (response.status, response.reason) == (200, "OK")
    assert response.get("cseq") == "1 OPTIONS"
    assert f"branch={branch}" in (response.get("via") or "")


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
@pytest.mark.parametrize("function", CONFIGURED)
def test_options_over_tls_answered_200(setup: Setup, function: str, host: str) -> None:
    assert_ok(*options_over_tls(host, setup.tls[function], setup.cert))


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("function", CONFIGURED)
def test_options_to_ipv6_host_answered_200(setup: Setup, function: str, transport: str) -> None:
    assert_ok(*options_over_ipv6(setup.ports.sip[function], transport))


def test_status_lists_the_configured_listeners(setup: Setup) -> None:
    status = setup.core.status()
    assert status["exit"] == 0
    entries = {entry["name"]: entry for entry in status["processes"]}
    for function in CONFIGURED:
        # "[::1]:port" or "::1:port": whichever way the process writes an IPv6 address
        listening = {item.replace("[", "").replace("]", "")
                     for item in entries[function]["listening"]}
        port, tls = setup.ports.sip[function], setup.tls[function]
        assert {f"sip udp 127.0.0.1:{port}", f"sip tcp 127.0.0.1:{port}",
                f"sip udp ::1:{port}", f"sip tcp ::1:{port}",
                f"sip tls 127.0.0.1:{tls}", f"sip tls ::1:{tls}"} <= listening, listening
    icscf = set(entries["icscf"]["listening"])
    assert not any("tls" in item or "::1" in item for item in icscf), icscf

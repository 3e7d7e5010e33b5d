"""Helpers of the transport tests: wire messages, loopback peers, a test certificate."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar, cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ims.sip.events import Peer
from ims.sip.message import Request, Response, parse_message

T = TypeVar("T")

#: Upper bound for any wait in a test: a hang fails the test instead of blocking it.
WAIT = 10.0


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` in a fresh event loop, failing it after ``WAIT`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, WAIT))


def request_bytes(
    method: str = "OPTIONS",
    *,
    via: str = "SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-test-1;rport",
    call_id: str = "call-1@test",
    cseq: int = 1,
    body: bytes = b"",
    extra: str = "",
    uri: str = "sip:service@127.0.0.1",
) -> bytes:
    """A well-formed request as bytes."""
    head = (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: {via}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:alice@test>;tag=a1\r\n"
        "To: <sip:service@test>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        f"{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def request(method: str = "OPTIONS", **kwargs: Any) -> Request:
    """A well-formed request, parsed."""
    msg = parse_message(request_bytes(method, **kwargs))
    assert isinstance(msg, Request)
    return msg


def response(data: bytes) -> Response:
    """Parse ``data``, asserting it is a response."""
    msg = parse_message(data)
    assert isinstance(msg, Response), data
    return msg


class UdpPeer(asyncio.DatagramProtocol):
    """A raw UDP socket on loopback collecting datagrams."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[Any, ...]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.queue.put_nowait((data, addr))

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, data: bytes, host: str, port: int) -> None:
        assert self.transport is not None
        self.transport.sendto(data, (host, port))

    async def recv(self) -> bytes:
        data, _ = await asyncio.wait_for(self.queue.get(), WAIT)
        return data

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def udp_peer(host: str = "127.0.0.1") -> UdpPeer:
    """Bind a :class:`UdpPeer` on ``host`` with a free port."""
    loop = asyncio.get_running_loop()
    _, peer = await loop.create_datagram_endpoint(UdpPeer, local_addr=(host, 0))
    return peer


async def read_message(reader: asyncio.StreamReader) -> bytes:
    """Read one Content-Length framed message from a stream."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"content-length", b"l"):
            length = int(value.strip())
    body = await asyncio.wait_for(reader.readexactly(length), WAIT) if length else b""
    return head + body


class Recorder:
    """A ``Receiver`` for TransportManager tests: keeps what arrives."""

    def __init__(self) -> None:
        self.requests: asyncio.Queue[tuple[Request, Peer]] = asyncio.Queue()
        self.responses: asyncio.Queue[tuple[Response, Peer]] = asyncio.Queue()

    def request_received(self, req: Request, peer: Peer) -> None:
        self.requests.put_nowait((req, peer))

    def response_received(self, resp: Response, peer: Peer) -> None:
        self.responses.put_nowait((resp, peer))

    async def next_request(self) -> tuple[Request, Peer]:
        return await asyncio.wait_for(self.requests.get(), WAIT)

    async def next_response(self) -> tuple[Response, Peer]:
        return await asyncio.wait_for(self.responses.get(), WAIT)


def make_cert(directory: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and ::1; returns (cert, key) PEM paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ims-test")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName([
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.DNSName("localhost"),
    ])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    return str(cert_path), str(key_path)

"""TransportManager over real loopback sockets (RFC 3261 §18, RFC 3581, RFC 5626 §3.5.1)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

import pytest
from sipwire import (
    WAIT,
    Recorder,
    make_cert,
    read_message,
    request,
    request_bytes,
    response,
    run,
    udp_peer,
)

from ims.sip.events import Peer
from ims.sip.message import make_response
from ims.transport.config import ListenSpec, TransportConfig
from ims.transport.manager import TransportManager

UDP4 = ListenSpec("udp", "127.0.0.1", 0)
TCP4 = ListenSpec("tcp", "127.0.0.1", 0)


async def started(specs: list[ListenSpec], config: TransportConfig | None = None
                  ) -> tuple[TransportManager, Recorder]:
    recorder = Recorder()
    manager = TransportManager(specs, recorder, config)
    await manager.start()
    return manager, recorder


async def until(predicate: object) -> None:
    """Wait (bounded by the test's overall timeout) until ``predicate()`` holds."""
    assert callable(predicate)
    while not predicate():
        await asyncio.sleep(0.01)


# -- UDP -----------------------------------------------------------------------
def test_udp_request_is_stamped_and_response_goes_to_rport() -> None:
    async def body() -> None:
        manager, recorder = await started([UDP4])
        ue = await udp_peer()
        port = manager.local_address("udp")[1]
        ue.send(request_bytes(via="SIP/2.0/UDP 10.9.9.9:5999;branch=z9hG4bK1;rport"), "127.0.0.1", port)
        req, peer = await recorder.next_request()
        assert peer == Peer("udp", "127.0.0.1", ue.port)
        assert (req.top_via.received, req.top_via.rport) == ("127.0.0.1", ue.port)
        used = manager.send(make_response(req, 200), peer)
        assert used == Peer("udp", "127.0.0.1", ue.port)
        resp = response(await ue.recv())
        assert resp.status == 200
        assert resp.get("via") == f"SIP/2.0/UDP 10.9.9.9:5999;branch=z9hG4bK1;rport={ue.port};received=127.0.0.1"
        assert manager.counters["messages_in"] == 1 and manager.counters["messages_out"] == 1
        ue.close()
        await manager.stop()

    run(body())


def test_udp_garbage_is_dropped_and_counted() -> None:
    async def body() -> None:
        manager, recorder = await started([UDP4])
        ue = await udp_peer()
        port = manager.local_address("udp")[1]
        ue.send(b"\x16\x03\x01 not sip at all", "127.0.0.1", port)
        ue.send(request_bytes(call_id="after"), "127.0.0.1", port)
        req, _ = await recorder.next_request()
        assert req.call_id == "after"
        assert manager.counters["dropped_malformed"] == 1
        assert manager.counters["messages_out"] == 0
        assert ue.queue.empty()
        ue.close()
        await manager.stop()

    run(body())


def test_udp_malformed_request_answered_400_with_reason() -> None:
    async def body() -> None:
        manager, recorder = await started([UDP4])
        ue = await udp_peer()
        port = manager.local_address("udp")[1]
        bad = request_bytes(via="SIP/2.0/UDP 10.9.9.9:5999;branch=z9hG4bK7;rport",
                            extra="Broken header line\r\n")
        ue.send(bad, "127.0.0.1", port)
        resp = response(await ue.recv())
        assert (resp.status, resp.reason) == (400, "Bad header line 'Broken header line'")
        assert resp.top_via.rport == ue.port
        assert resp.call_id == "call-1@test"
        assert manager.counters["responses_400"] == 1
        assert manager.counters["dropped_malformed"] == 0
        assert recorder.requests.empty()
        ue.close()
        await manager.stop()

    run(body())


def test_udp_over_ipv6_loopback() -> None:
    async def body() -> None:
        manager, recorder = await started([ListenSpec("udp", "::1", 0)])
        host, port = manager.local_address("udp", socket.AF_INET6)
        assert host == "::1"
        ue = await udp_peer("::1")
        ue.send(request_bytes(via="SIP/2.0/UDP [::1]:5999;branch=z9hG4bK6;rport"), "::1", port)
        req, peer = await recorder.next_request()
        assert peer.host == "::1" and peer.port == ue.port
        assert req.top_via.host == "[::1]"
        assert (req.top_via.received, req.top_via.rport) == ("::1", ue.port)
        manager.send(make_response(req, 200), peer)
        assert response(await ue.recv()).status == 200
        ue.close()
        await manager.stop()

    run(body())


# -- TCP -------------------------------------------------------------------------
def test_tcp_split_writes_make_one_message() -> None:
    async def body() -> None:
        manager, recorder = await started([TCP4])
        reader, writer = await asyncio.open_connection(*manager.local_address("tcp"))
        data = request_bytes(via="SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK2", body=b"hello",
                             extra="Content-Type: text/plain\r\n")
        for chunk in (data[:10], data[10:70], data[70:-2], data[-2:]):
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.02)
        req, peer = await recorder.next_request()
        assert req.body == b"hello"
        assert peer.transport == "tcp" and peer.conn_id is not None
        writer.close()
        await manager.stop()

    run(body())


def test_tcp_coalesced_writes_make_two_messages_in_order() -> None:
    async def body() -> None:
        manager, recorder = await started([TCP4])
        _, writer = await asyncio.open_connection(*manager.local_address("tcp"))
        via = "SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK{}"
        writer.write(request_bytes(via=via.format(1), cseq=1) + request_bytes(via=via.format(2), cseq=2))
        await writer.drain()
        first, peer1 = await recorder.next_request()
        second, peer2 = await recorder.next_request()
        assert (first.cseq.seq, second.cseq.seq) == (1, 2)
        assert peer1 == peer2
        writer.close()
        await manager.stop()

    run(body())


def test_tcp_response_goes_over_the_incoming_connection() -> None:
    async def body() -> None:
        manager, recorder = await started([TCP4])
        reader, writer = await asyncio.open_connection(*manager.local_address("tcp"))
        writer.write(request_bytes(via="SIP/2.0/TCP 192.0.2.1:5999;branch=z9hG4bK3"))
        req, peer = await recorder.next_request()
        used = manager.send(make_response(req, 200), peer)
        assert used == peer
        resp = response(await read_message(reader))
        assert resp.status == 200 and resp.top_via.received == "127.0.0.1"
        assert [c.conn_id for c in manager.connections] == [peer.conn_id]
        writer.close()
        await manager.stop()

    run(body())


def test_tcp_response_opens_new_connection_when_request_connection_closed() -> None:
    async def body() -> None:
        manager, recorder = await started([TCP4])
        arrived: asyncio.Queue[bytes] = asyncio.Queue()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            arrived.put_nowait(await read_message(reader))
            writer.close()

        ue_server = await asyncio.start_server(serve, "127.0.0.1", 0)
        ue_port = ue_server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection(*manager.local_address("tcp"))
        writer.write(request_bytes(via=f"SIP/2.0/TCP 127.0.0.1:{ue_port};branch=z9hG4bK4"))
        req, peer = await recorder.next_request()
        writer.close()
        await until(lambda: not manager.connections)
        used = manager.send(make_response(req, 200), peer)
        assert (used.host, used.port) == ("127.0.0.1", ue_port)
        assert used.conn_id != peer.conn_id
        resp = response(await asyncio.wait_for(arrived.get(), WAIT))
        assert resp.status == 200 and resp.call_id == "call-1@test"
        await manager.stop()
        ue_server.close()

    run(body())


def test_requests_to_one_peer_reuse_one_connection() -> None:
    async def body() -> None:
        manager, _ = await started([TCP4])
        accepted: list[int] = []
        arrived: asyncio.Queue[bytes] = asyncio.Queue()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(1)
            while True:
                arrived.put_nowait(await read_message(reader))

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        dest = Peer("tcp", "127.0.0.1", port)
        first = manager.send(request(via="SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKa", cseq=1), dest)
        second = manager.send(request(via="SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKb", cseq=2), dest)
        got = [response_cseq(await asyncio.wait_for(arrived.get(), WAIT)) for _ in range(2)]
        third = manager.send(request(via="SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKc", cseq=3), dest)
        got.append(response_cseq(await asyncio.wait_for(arrived.get(), WAIT)))
        assert got == [1, 2, 3]
        assert first.conn_id == second.conn_id == third.conn_id
        assert len(accepted) == 1 and len(manager.connections) == 1
        await manager.stop()
        server.close()

    run(body())


def response_cseq(data: bytes) -> int:
    return int(data.split(b"CSeq: ")[1].split(b" ")[0])


def test_idle_connection_is_closed() -> None:
    async def body() -> None:
        manager, recorder = await started([TCP4], TransportConfig(idle_timeout=0.2))
        reader, writer = await asyncio.open_connection(*manager.local_address("tcp"))
        writer.write(request_bytes(via="SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK5"))
        await recorder.next_request()
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
        await until(lambda: not manager.connections)
        writer.close()
        await manager.stop()

    run(body())


def test_crlf_keepalive_ping_gets_crlf_pong() -> None:
    async def body() -> None:
        manager, recorder = await started([TCP4])
        reader, writer = await asyncio.open_connection(*manager.local_address("tcp"))
        writer.write(b"\r\n\r\n")
        assert await asyncio.wait_for(reader.readexactly(2), WAIT) == b"\r\n"
        writer.write(request_bytes(via="SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK8"))
        req, _ = await recorder.next_request()
        assert req.method == "OPTIONS"
        assert manager.counters["dropped_malformed"] == 0
        writer.close()
        await manager.stop()

    run(body())


def test_tcp_framing_error_answers_400_and_closes() -> None:
    async def body() -> None:
        manager, recorder = await started([TCP4])
        reader, writer = await asyncio.open_connection(*manager.local_address("tcp"))
        bad = request_bytes(via="SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK9").replace(
            b"Content-Length: 0", b"Content-Length: zero")
        writer.write(bad)
        resp = response(await read_message(reader))
        assert (resp.status, resp.reason) == (400, "Bad Content-Length")
        assert resp.call_id == "call-1@test"
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
        assert recorder.requests.empty()
        writer.close()
        await manager.stop()

    run(body())


def test_unreachable_tcp_peer_reports_error() -> None:
    async def body() -> None:
        manager, _ = await started([TCP4])
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
        probe.close()
        errors: asyncio.Queue[str] = asyncio.Queue()
        manager.send(request(via="SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKu"),
                     Peer("tcp", "127.0.0.1", closed_port), errors.put_nowait)
        reason = await asyncio.wait_for(errors.get(), WAIT)
        assert "could not be opened" in reason
        assert manager.connections == []
        await manager.stop()

    run(body())


# -- TLS -------------------------------------------------------------------------
def test_tls_both_directions_with_self_signed_cert(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)

    async def body() -> None:
        server, recorder = await started([ListenSpec("tls", "127.0.0.1", 0, cert, key)])
        client, client_recorder = await started([ListenSpec("tls", "127.0.0.1", 0, cert, key)],
                                                TransportConfig(tls_ca_file=cert))
        port = server.local_address("tls")[1]
        used = client.send(request(via="SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bKt"),
                           Peer("tls", "127.0.0.1", port))
        req, peer = await recorder.next_request()
        assert peer.transport == "tls" and req.top_via.transport == "TLS"
        server.send(make_response(req, 200), peer)
        resp, resp_peer = await client_recorder.next_response()
        assert resp.status == 200
        assert resp_peer.conn_id == used.conn_id
        await client.stop()
        await server.stop()

    run(body())


def test_tls_client_refuses_untrusted_server(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)

    async def body() -> None:
        server, recorder = await started([ListenSpec("tls", "127.0.0.1", 0, cert, key)])
        client, _ = await started([TCP4])
        errors: asyncio.Queue[str] = asyncio.Queue()
        client.send(request(via="SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bKv"),
                    Peer("tls", "127.0.0.1", server.local_address("tls")[1]), errors.put_nowait)
        assert "could not be opened" in await asyncio.wait_for(errors.get(), WAIT)
        assert recorder.requests.empty()
        await client.stop()
        await server.stop()

    run(body())


def test_tls_raw_client_over_ipv6(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)

    async def body() -> None:
        manager, recorder = await started([ListenSpec("tls", "::1", 0, cert, key)])
        context = ssl.create_default_context(cafile=cert)
        host, port = manager.local_address("tls", socket.AF_INET6)
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
        writer.write(request_bytes(via="SIP/2.0/TLS [::1]:5999;branch=z9hG4bKw"))
        req, peer = await recorder.next_request()
        assert peer.host == "::1" and peer.transport == "tls"
        manager.send(make_response(req, 202), peer)
        assert response(await read_message(reader)).status == 202
        writer.close()
        await manager.stop()

    run(body())


def test_tls_spec_without_certificate_is_refused() -> None:
    with pytest.raises(ValueError, match="tls_cert"):
        ListenSpec("tls", "127.0.0.1", 5061)


# -- life cycle --------------------------------------------------------------------
def test_stop_closes_listeners_and_connections() -> None:
    async def body() -> None:
        manager, recorder = await started([UDP4, TCP4])
        udp_port = manager.local_address("udp")[1]
        tcp_host, tcp_port = manager.local_address("tcp")
        reader, writer = await asyncio.open_connection(tcp_host, tcp_port)
        writer.write(request_bytes(via="SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKs"))
        await recorder.next_request()
        await manager.stop()
        assert manager.connections == []
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(tcp_host, tcp_port)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", udp_port))
        with pytest.raises(LookupError):
            manager.local_address("udp")
        writer.close()

    run(body())

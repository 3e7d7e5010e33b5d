"""Protected listeners (TS 33.203 §7.1 flows) over real loopback sockets.

The IPsec ports of the P-CSCF and of the emulated UE: what arrives there
carries ``Peer.local_port`` and passes the gate; what is sent with a
``local_port`` leaves from that port (UDP and TCP), and a response goes to
the request's source rather than to its Via. ESP itself is the kernel's
business (tests/kernel); these are the socket-level rules.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from sipwire import Recorder, read_message, request, request_bytes, response, run, udp_peer

from ims.sip.events import Peer
from ims.sip.message import make_response
from ims.transport.config import ListenSpec
from ims.transport.manager import TransportManager
from ims.transport.stack import SipStack


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


async def protected_manager() -> tuple[TransportManager, Recorder, int, int]:
    """A manager with an ordinary UDP+TCP port and a protected port-s and port-c."""
    port_s, port_c = free_port(), free_port()
    specs = [ListenSpec("udp", "127.0.0.1", 0), ListenSpec("tcp", "127.0.0.1", 0)]
    specs += [ListenSpec(t, "127.0.0.1", p, protected=True)
              for p in (port_s, port_c) for t in ("udp", "tcp")]
    recorder = Recorder()
    manager = TransportManager(specs, recorder)
    await manager.start()
    return manager, recorder, port_s, port_c


def test_protected_listener_refuses_tls() -> None:
    with pytest.raises(ValueError, match="protected"):
        ListenSpec("tls", "127.0.0.1", 5100, tls_cert="c", tls_key="k", protected=True)


def test_udp_arrival_carries_local_port_and_response_goes_to_source_from_port_s() -> None:
    async def body() -> None:
        manager, recorder, port_s, _ = await protected_manager()
        ue = await udp_peer()
        # The Via names another port (the UE's port-s): the response still goes
        # back to where the request came from, over the same SA pair.
        ue.send(request_bytes(via="SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKp1"), "127.0.0.1", port_s)
        req, peer = await recorder.next_request()
        assert peer == Peer("udp", "127.0.0.1", ue.port, None, port_s)
        used = manager.send(make_response(req, 200), peer)
        assert used == Peer("udp", "127.0.0.1", ue.port, None, port_s)
        data, source = await asyncio.wait_for(ue.queue.get(), 5)
        assert response(data).status == 200
        assert source[1] == port_s
        ue.close()
        await manager.stop()

    run(body())


def test_ordinary_port_arrival_has_no_local_port_and_advertised_address_skips_protected() -> None:
    async def body() -> None:
        manager, recorder, port_s, port_c = await protected_manager()
        ue = await udp_peer()
        port = manager.local_address("udp")[1]
        assert port not in (port_s, port_c)
        ue.send(request_bytes(), "127.0.0.1", port)
        _, peer = await recorder.next_request()
        assert peer.local_port is None
        ue.close()
        await manager.stop()

    run(body())


def test_udp_request_leaves_from_port_c() -> None:
    async def body() -> None:
        manager, _, _, port_c = await protected_manager()
        ue = await udp_peer()
        manager.send(request(), Peer("udp", "127.0.0.1", ue.port, None, port_c))
        data, source = await asyncio.wait_for(ue.queue.get(), 5)
        assert data.startswith(b"OPTIONS ")
        assert source == ("127.0.0.1", port_c)
        ue.close()
        await manager.stop()

    run(body())


def test_gate_drops_and_counts_unprotected_arrivals_on_protected_ports_only() -> None:
    async def body() -> None:
        manager, recorder, port_s, _ = await protected_manager()
        allowed: set[int] = set()
        manager.gate = lambda peer: peer.port in allowed
        stray, good = await udp_peer(), await udp_peer()
        allowed.add(good.port)
        stray.send(request_bytes(call_id="stray"), "127.0.0.1", port_s)
        good.send(request_bytes(call_id="good"), "127.0.0.1", port_s)
        req, _ = await recorder.next_request()
        assert req.call_id == "good"
        assert manager.counters["dropped_unprotected"] == 1
        # the ordinary port never asks the gate
        stray.send(request_bytes(call_id="plain"), "127.0.0.1", manager.local_address("udp")[1])
        req, _ = await recorder.next_request()
        assert req.call_id == "plain"
        assert manager.counters["dropped_unprotected"] == 1
        stray.close()
        good.close()
        await manager.stop()

    run(body())


def test_tcp_request_from_port_c_and_its_response_over_the_same_connection() -> None:
    async def body() -> None:
        manager, _, _, port_c = await protected_manager()
        accepted: asyncio.Queue[tuple[bytes, tuple[str, int], asyncio.StreamWriter]] = \
            asyncio.Queue()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            data = await read_message(reader)
            await accepted.put((data, writer.get_extra_info("peername"), writer))

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        ue_port_s = server.sockets[0].getsockname()[1]
        manager.send(request(via="SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKt1"),
                     Peer("tcp", "127.0.0.1", ue_port_s, None, port_c))
        data, source, writer = await asyncio.wait_for(accepted.get(), 5)
        assert data.startswith(b"OPTIONS ")
        assert source[1] == port_c  # the connection was opened from our port-c
        writer.close()
        server.close()
        await manager.stop()

    run(body())


def test_tcp_arrival_on_port_s_is_stamped_and_answered_on_its_connection() -> None:
    async def body() -> None:
        manager, recorder, port_s, _ = await protected_manager()
        reader, writer = await asyncio.open_connection("127.0.0.1", port_s)
        writer.write(request_bytes(via="SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKt2"))
        req, peer = await recorder.next_request()
        assert (peer.transport, peer.local_port) == ("tcp", port_s)
        assert peer.port == writer.get_extra_info("sockname")[1]
        manager.send(make_response(req, 200), peer)
        assert response(await read_message(reader)).status == 200
        writer.close()
        await manager.stop()

    run(body())


def test_large_request_on_a_protected_flow_switches_to_tcp_keeping_port_and_via() -> None:
    async def body() -> None:
        port_c = free_port()
        specs = [ListenSpec("udp", "127.0.0.1", 0), ListenSpec("tcp", "127.0.0.1", 0),
                 ListenSpec("udp", "127.0.0.1", port_c, protected=True),
                 ListenSpec("tcp", "127.0.0.1", port_c, protected=True)]
        stack = SipStack(Recorder(), specs)  # type: ignore[arg-type]
        await stack.start()
        received: asyncio.Queue[tuple[bytes, int]] = asyncio.Queue()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await received.put((await read_message(reader), writer.get_extra_info("peername")[1]))
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        ue_port = server.sockets[0].getsockname()[1]
        big = request("MESSAGE", via=f"SIP/2.0/UDP 127.0.0.1:{port_c};branch=z9hG4bKbig",
                      body=b"x" * 1400, extra="Content-Type: text/plain\r\n")
        future = stack.send_request(big, Peer("udp", "127.0.0.1", ue_port, None, port_c))
        data, source_port = await asyncio.wait_for(received.get(), 5)
        assert source_port == port_c
        assert f"Via: SIP/2.0/TCP 127.0.0.1:{port_c};branch=z9hG4bKbig".encode() in data
        future.cancel()
        server.close()
        await stack.stop()

    run(body())


def test_large_request_switching_to_tcp_keeps_a_via_port_we_also_serve_over_tcp() -> None:
    """A UE's initial REGISTER names its port-s in Via (TS 24.229 §5.1.1.2); over TCP it still does."""
    async def body() -> None:
        port_s = free_port()
        specs = [ListenSpec("udp", "127.0.0.1", 0), ListenSpec("tcp", "127.0.0.1", 0),
                 ListenSpec("udp", "127.0.0.1", port_s, protected=True),
                 ListenSpec("tcp", "127.0.0.1", port_s, protected=True)]
        stack = SipStack(Recorder(), specs)  # type: ignore[arg-type]
        await stack.start()
        received: asyncio.Queue[bytes] = asyncio.Queue()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await received.put(await read_message(reader))
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        big = request("REGISTER", via=f"SIP/2.0/UDP 127.0.0.1:{port_s};branch=z9hG4bKreg",
                      extra=f"X-Pad: {'p' * 1400}\r\n")
        future = stack.send_request(big, Peer("udp", "127.0.0.1", server.sockets[0].getsockname()[1]))
        data = await asyncio.wait_for(received.get(), 5)
        assert f"Via: SIP/2.0/TCP 127.0.0.1:{port_s};branch=z9hG4bKreg".encode() in data
        future.cancel()
        server.close()
        await stack.stop()

    run(body())


def test_new_tcp_connection_leaves_from_the_listener_address() -> None:
    """The peer sees the address our Via names (an emulated UE on 127.0.0.2, say)."""
    async def body() -> None:
        manager = TransportManager([ListenSpec("udp", "127.0.0.2", 0),
                                    ListenSpec("tcp", "127.0.0.2", 0)], Recorder())
        await manager.start()
        sources: asyncio.Queue[str] = asyncio.Queue()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_message(reader)
            await sources.put(writer.get_extra_info("peername")[0])
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        manager.send(request(), Peer("tcp", "127.0.0.1", server.sockets[0].getsockname()[1]))
        assert await asyncio.wait_for(sources.get(), 5) == "127.0.0.2"
        server.close()
        await manager.stop()

    run(body())

"""SipStack: RFC 3261 §17 transactions over real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
from typing import TypeVar

from sipwire import WAIT, request, request_bytes, response, run, udp_peer

from ims.sip.errors import SipParseError
from ims.sip.events import Peer, Timeout, TransportError
from ims.sip.message import Request, Response, make_response
from ims.sip.transaction import Timers
from ims.transport.config import ListenSpec
from ims.transport.rules import make_via
from ims.transport.stack import ServerTransactionHandle, SipStack

T = TypeVar("T")


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (a peer listens on both, §18.1.1)."""
    while True:
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def specs() -> list[ListenSpec]:
    port = free_port()
    return [ListenSpec("udp", "127.0.0.1", port), ListenSpec("tcp", "127.0.0.1", port)]


class RecordingTU:
    """Answers OPTIONS/MESSAGE 200, keeps INVITEs pending, fails on INFO."""

    def __init__(self) -> None:
        self.stack: SipStack | None = None
        self.requests: asyncio.Queue[tuple[Request, ServerTransactionHandle]] = asyncio.Queue()
        self.acks: asyncio.Queue[Request] = asyncio.Queue()
        self.cancels: asyncio.Queue[tuple[Request, ServerTransactionHandle]] = asyncio.Queue()
        self.strays: asyncio.Queue[Response] = asyncio.Queue()

    def on_request(self, req: Request, txn: ServerTransactionHandle) -> None:
        assert self.stack is not None
        self.requests.put_nowait((req, txn))
        if req.method == "INFO":
            raise SipParseError("Bad Info-Package")
        if req.method in ("OPTIONS", "MESSAGE"):
            self.stack.send_response(txn, make_response(req, 200, to_tag="uas"))

    def on_ack(self, ack: Request, peer: Peer) -> None:
        self.acks.put_nowait(ack)

    def on_cancel(self, cancel: Request, invite_txn: ServerTransactionHandle) -> None:
        assert self.stack is not None
        self.cancels.put_nowait((cancel, invite_txn))
        self.stack.send_response(invite_txn, make_response(invite_txn.request, 487, to_tag="uas"))

    def on_stray_response(self, resp: Response, peer: Peer) -> None:
        self.strays.put_nowait(resp)


async def make_stack(timers: Timers | None = None) -> tuple[SipStack, RecordingTU]:
    tu = RecordingTU()
    stack = SipStack(tu, specs(), timers=timers or Timers())
    tu.stack = stack
    await stack.start()
    return stack, tu


def outgoing(stack: SipStack, method: str, branch: str, **kwargs: object) -> Request:
    host, port = stack.transport.local_address("udp")
    return request(method, via=make_via("udp", host, port, branch), **kwargs)


def udp_dest(stack: SipStack) -> Peer:
    host, port = stack.transport.local_address("udp")
    return Peer("udp", host, port)


async def get(queue: asyncio.Queue[T]) -> T:
    return await asyncio.wait_for(queue.get(), WAIT)


def test_non_invite_request_gets_final_response_over_udp() -> None:
    async def body() -> None:
        uas, uas_tu = await make_stack()
        uac, _ = await make_stack()
        result = await uac.send_request(outgoing(uac, "OPTIONS", "z9hG4bK-o1"), udp_dest(uas))
        assert isinstance(result, Response)
        assert (result.status, result.to.tag) == (200, "uas")
        req, txn = uas_tu.requests.get_nowait()
        assert txn.peer.transport == "udp" and txn.final_sent
        assert req.top_via.rport == uac.transport.local_address("udp")[1]
        assert uas.counters["transactions_active"] == 1  # Completed until Timer J
        await uac.stop()
        await uas.stop()

    run(body())


def test_large_request_is_sent_over_tcp_with_rewritten_via() -> None:
    async def body() -> None:
        uas, uas_tu = await make_stack()
        uac, _ = await make_stack()
        req = outgoing(uac, "MESSAGE", "z9hG4bK-big", body=b"x" * 2000,
                       extra="Content-Type: text/plain\r\n")
        result = await uac.send_request(req, udp_dest(uas))
        assert isinstance(result, Response) and result.status == 200
        got, txn = uas_tu.requests.get_nowait()
        tcp_port = uac.transport.local_address("tcp")[1]
        assert txn.peer.transport == "tcp"
        assert (got.top_via.transport, got.top_via.port) == ("TCP", tcp_port)
        assert got.top_via.branch == "z9hG4bK-big" and len(got.body) == 2000
        assert uac.counters["connections"] == 1
        await uac.stop()
        await uas.stop()

    run(body())


def test_unanswered_request_times_out_after_retransmissions() -> None:
    async def body() -> None:
        silent = await udp_peer()
        uac, _ = await make_stack(Timers(t1=0.01, t2=0.04))
        result = await uac.send_request(outgoing(uac, "OPTIONS", "z9hG4bK-to"),
                                        Peer("udp", "127.0.0.1", silent.port))
        assert result == Timeout("F")
        assert silent.queue.qsize() >= 2  # Timer E retransmitted (§17.1.2.2)
        assert uac.counters["transactions_active"] == 0
        silent.close()
        await uac.stop()

    run(body())


def test_unreachable_tcp_destination_gives_transport_error() -> None:
    async def body() -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        uac, _ = await make_stack()
        host, tcp_port = uac.transport.local_address("tcp")
        req = request("OPTIONS", via=make_via("tcp", host, tcp_port, "z9hG4bK-te"))
        result = await uac.send_request(req, Peer("tcp", "127.0.0.1", port))
        assert isinstance(result, TransportError)
        assert uac.counters["transactions_active"] == 0
        await uac.stop()

    run(body())


def test_invite_is_trying_then_cancelled_with_487() -> None:
    async def body() -> None:
        uas, uas_tu = await make_stack()
        uac, _ = await make_stack()
        provisional: asyncio.Queue[Response] = asyncio.Queue()
        invite = outgoing(uac, "INVITE", "z9hG4bK-inv")
        result = uac.send_request(invite, udp_dest(uas), provisional.put_nowait)
        trying = await asyncio.wait_for(provisional.get(), WAIT)
        assert trying.status == 100
        cancel = outgoing(uac, "CANCEL", "z9hG4bK-inv")
        cancel_result = await uac.send_request(cancel, udp_dest(uas))
        assert isinstance(cancel_result, Response) and cancel_result.status == 200
        final = await asyncio.wait_for(result, WAIT)
        assert isinstance(final, Response) and final.status == 487
        got_cancel, invite_txn = uas_tu.cancels.get_nowait()
        assert got_cancel.method == "CANCEL"
        assert invite_txn.request.method == "INVITE" and invite_txn.final_sent
        assert [m.method for m, _ in [uas_tu.requests.get_nowait()]] == ["INVITE"]
        await uac.stop()
        await uas.stop()

    run(body())


def test_cancel_matching_nothing_gets_481() -> None:
    async def body() -> None:
        uas, uas_tu = await make_stack()
        uac, _ = await make_stack()
        result = await uac.send_request(outgoing(uac, "CANCEL", "z9hG4bK-none"), udp_dest(uas))
        assert isinstance(result, Response) and result.status == 481
        assert uas_tu.cancels.empty() and uas_tu.requests.empty()
        await uac.stop()
        await uas.stop()

    run(body())


def test_sip_error_in_tu_is_answered_with_its_status() -> None:
    async def body() -> None:
        uas, _ = await make_stack()
        uac, _ = await make_stack()
        result = await uac.send_request(outgoing(uac, "INFO", "z9hG4bK-info"), udp_dest(uas))
        assert isinstance(result, Response)
        assert (result.status, result.reason) == (400, "Bad Info-Package")
        await uac.stop()
        await uas.stop()

    run(body())


def test_ack_and_stray_response_reach_the_tu() -> None:
    async def body() -> None:
        uas, uas_tu = await make_stack()
        uac, _ = await make_stack()
        ack = outgoing(uac, "ACK", "z9hG4bK-ack2xx")
        uac.send_stateless(ack, udp_dest(uas))
        got = await get(uas_tu.acks)
        assert isinstance(got, Request) and got.top_via.branch == "z9hG4bK-ack2xx"
        stray = make_response(outgoing(uas, "OPTIONS", "z9hG4bK-stray"), 200)
        uac.send_stateless(stray, udp_dest(uas))
        resp = await get(uas_tu.strays)
        assert isinstance(resp, Response) and resp.top_via.branch == "z9hG4bK-stray"
        await uac.stop()
        await uas.stop()

    run(body())


def test_request_retransmission_is_answered_by_the_transaction() -> None:
    async def body() -> None:
        uas, uas_tu = await make_stack()
        ue = await udp_peer()
        data = request_bytes(via=f"SIP/2.0/UDP 127.0.0.1:{ue.port};branch=z9hG4bK-rt;rport")
        port = uas.transport.local_address("udp")[1]
        ue.send(data, "127.0.0.1", port)
        first = response(await ue.recv())
        ue.send(data, "127.0.0.1", port)
        second = response(await ue.recv())
        assert first.status == second.status == 200
        assert second.to.tag == first.to.tag == "uas"
        assert uas_tu.requests.qsize() == 1
        ue.close()
        await uas.stop()

    run(body())


def test_stop_resolves_pending_requests() -> None:
    async def body() -> None:
        silent = await udp_peer()
        uac, _ = await make_stack()
        future = uac.send_request(outgoing(uac, "OPTIONS", "z9hG4bK-stop"),
                                  Peer("udp", "127.0.0.1", silent.port))
        await silent.recv()
        await uac.stop()
        assert future.result() == TransportError("stack stopped")
        assert uac.counters["transactions_active"] == 0
        silent.close()

    run(body())


def test_counters_expose_both_malformed_spellings() -> None:
    async def body() -> None:
        uas, _ = await make_stack()
        ue = await udp_peer()
        ue.send(b"garbage\r\n\r\n", "127.0.0.1", uas.transport.local_address("udp")[1])
        ue.send(request_bytes(via=f"SIP/2.0/UDP 127.0.0.1:{ue.port};branch=z9hG4bK-c;rport"),
                "127.0.0.1", uas.transport.local_address("udp")[1])
        await ue.recv()
        counters = uas.counters
        assert counters["dropped_malformed"] == counters["malformed_dropped"] == 1
        assert counters["messages_in"] == 2 and counters["messages_out"] == 1
        ue.close()
        await uas.stop()

    run(body())

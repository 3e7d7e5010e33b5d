"""The proxy service's asyncio glue over a fake stack (RFC 3261 §16; no sockets, no sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from ims.runtime.proxy_service import ProxyService, ResolveError, StaticResolver
from ims.sip.events import Peer, Timeout
from ims.sip.message import Request, Response, make_response, parse_message
from ims.sip.proxy import LocalAddress, LocalIdentity, Target
from ims.sip.transaction import new_server_transaction
from ims.sip.uri import SipUri, parse_uri
from ims.transport.stack import ClientResult, ServerTransactionHandle

IDENTITY = LocalIdentity((LocalAddress("udp", "127.0.0.1", 5060),), secret=b"k")
UA = Peer("udp", "127.0.0.1", 5070)
UAS = Peer("udp", "127.0.0.1", 5090)


class FakeStack:
    """Records what the service asks of the stack; client results are resolved by the test."""

    auto_trying = True

    def __init__(self) -> None:
        self.tu: object = None
        self.responses: list[tuple[ServerTransactionHandle, Response]] = []
        self.requests: list[tuple[Request, Peer, Callable[[Response], None] | None]] = []
        self.futures: list[asyncio.Future[ClientResult]] = []
        self.stateless: list[tuple[Request | Response, Peer]] = []

    def send_response(self, txn: ServerTransactionHandle, resp: Response) -> None:
        self.responses.append((txn, resp))

    def send_request(self, req: Request, dest: Peer,
                     on_provisional: Callable[[Response], None] | None = None,
                     ) -> asyncio.Future[ClientResult]:
        self.requests.append((req, dest, on_provisional))
        future: asyncio.Future[ClientResult] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        return future

    def send_stateless(self, msg: Request | Response, peer: Peer) -> Peer:
        self.stateless.append((msg, peer))
        return peer


def request(method: str = "MESSAGE", uri: str = "sip:bob@127.0.0.1:5090", extra: str = "") -> Request:
    text = (
        f"{method} {uri} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKua1\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:alice@example.org>;tag=a1\r\n"
        "To: <sip:bob@example.org>\r\n"
        "Call-ID: c1@127.0.0.1\r\n"
        f"CSeq: 1 {method}\r\n"
        f"{extra}"
        "Content-Length: 0\r\n\r\n"
    )
    msg = parse_message(text.encode())
    assert isinstance(msg, Request)
    return msg


def downstream_reply(req: Request, status: int) -> Response:
    msg = parse_message(make_response(req, status, to_tag="b1").to_bytes())
    assert isinstance(msg, Response)
    return msg


def run(test: Callable[[ProxyService, FakeStack], Coroutine[Any, Any, None]],
        **kwargs: Any) -> None:
    async def main() -> None:
        stack = FakeStack()
        service = ProxyService(None, IDENTITY, **kwargs)
        service._stack = stack  # type: ignore[assignment]
        await test(service, stack)
        for handle in service._timers.values():
            handle.cancel()

    asyncio.run(main())


async def settle() -> None:
    """Let callbacks and tasks scheduled with call_soon run (a yield, not a timed wait)."""
    for _ in range(5):
        await asyncio.sleep(0)


def receive(service: ProxyService, req: Request) -> ServerTransactionHandle:
    txn = ServerTransactionHandle(new_server_transaction(req, UA))
    service.on_request(req, txn)
    return txn


def test_request_is_forwarded_to_the_request_uri_and_the_response_relayed() -> None:
    async def body(service: ProxyService, stack: FakeStack) -> None:
        txn = receive(service, request())
        (sent, dest, _), = stack.requests
        assert dest == UAS and sent.top_via.sent_by == "127.0.0.1:5060"
        stack.futures[0].set_result(downstream_reply(sent, 200))
        await settle()
        (to, resp), = stack.responses
        assert to is txn and resp.status == 200 and len(resp.vias) == 1
        assert service.counters["requests_relayed"] == 1
        assert service.counters["responses_relayed"] == 1

    run(body)


def test_provisional_is_relayed_and_100_left_to_the_stack() -> None:
    async def body(service: ProxyService, stack: FakeStack) -> None:
        receive(service, request("INVITE"))
        assert stack.responses == []  # the stack sent 100 Trying itself
        sent, _, on_provisional = stack.requests[0]
        assert on_provisional is not None
        on_provisional(downstream_reply(sent, 180))
        assert [r.status for _, r in stack.responses] == [180]

    run(body)


def test_async_route_hook_decides_the_target() -> None:
    async def hook(req: Request) -> Target:
        return Target(peer=Peer("udp", "127.0.0.1", 6060))

    async def body(service: ProxyService, stack: FakeStack) -> None:
        receive(service, request())
        assert stack.requests == []
        await settle()
        assert [dest for _, dest, _ in stack.requests] == [Peer("udp", "127.0.0.1", 6060)]

    run(body, route_hook=hook)


def test_route_hook_response_is_sent() -> None:
    async def body(service: ProxyService, stack: FakeStack) -> None:
        receive(service, request())
        assert [r.status for _, r in stack.responses] == [403]
        assert service.counters["responses_local"] == 1

    run(body, route_hook=lambda req: make_response(req, 403))


def test_local_handler_answers_requests_for_the_proxy_itself() -> None:
    async def body(service: ProxyService, stack: FakeStack) -> None:
        receive(service, request("NOTIFY", "sip:127.0.0.1:5060"))
        assert [r.status for _, r in stack.responses] == [202]

    run(body, local_handler=lambda req: make_response(req, 202))


def test_unresolvable_next_hop_is_answered_500() -> None:
    class Failing:
        def resolve(self, uri: SipUri, transport: str) -> Peer:
            raise ResolveError(f"cannot resolve {uri.host}")

    async def body(service: ProxyService, stack: FakeStack) -> None:
        receive(service, request(uri="sip:bob@nowhere.invalid"))
        assert [r.status for _, r in stack.responses] == [500]
        assert service.counters["resolve_failures"] == 1

    run(body, resolver=Failing())


def test_branch_timeout_is_answered_408() -> None:
    async def body(service: ProxyService, stack: FakeStack) -> None:
        receive(service, request())
        stack.futures[0].set_result(Timeout("F"))
        await settle()
        assert [r.status for _, r in stack.responses] == [408]

    run(body)


def test_cancel_goes_to_the_branch_peer_with_the_branch_via() -> None:
    async def body(service: ProxyService, stack: FakeStack) -> None:
        invite = request("INVITE")
        txn = receive(service, invite)
        sent, dest, on_provisional = stack.requests[0]
        assert on_provisional is not None
        on_provisional(downstream_reply(sent, 180))
        service.on_cancel(request("CANCEL"), txn)
        cancel, cancel_dest, _ = stack.requests[1]
        assert cancel.method == "CANCEL" and cancel_dest == dest
        assert cancel.top_via.branch == sent.top_via.branch
        assert service.counters["cancels_relayed"] == 1

    run(body)


def test_max_forwards_zero_is_counted_as_483() -> None:
    async def body(service: ProxyService, stack: FakeStack) -> None:
        req = request()
        req.set("Max-Forwards", "0")
        receive(service, req)
        assert [r.status for _, r in stack.responses] == [483]
        assert service.counters["too_many_hops_483"] == 1

    run(body)


def test_ack_is_forwarded_statelessly() -> None:
    async def body(service: ProxyService, stack: FakeStack) -> None:
        ack = request("ACK", extra="Route: <sip:127.0.0.1:5060;lr>\r\n")
        service.on_ack(ack, UA)
        (sent, peer), = stack.stateless
        assert isinstance(sent, Request) and sent.method == "ACK" and peer == UAS
        assert not sent.has("route") and service.counters["acks_relayed"] == 1

    run(body)


def test_stray_response_is_relayed_by_its_via() -> None:
    async def body(service: ProxyService, stack: FakeStack) -> None:
        receive(service, request("INVITE"))
        sent = stack.requests[0][0]
        service.on_stray_response(downstream_reply(sent, 200), UAS)
        (resp, peer), = stack.stateless
        assert isinstance(resp, Response) and resp.status == 200 and peer == UA

    run(body)


def test_static_resolver() -> None:
    resolver = StaticResolver({"scscf.example": ("127.0.0.2", 6060)})
    assert resolver.resolve(SipUri("[::1]", port=5062), "tcp") == Peer("tcp", "::1", 5062)
    assert resolver.resolve(SipUri("scscf.example"), "udp") == Peer("udp", "127.0.0.2", 6060)
    uri = parse_uri("sip:x.example;maddr=10.0.0.3")
    assert isinstance(uri, SipUri)
    assert resolver.resolve(uri, "udp") == Peer("udp", "10.0.0.3", 5060)

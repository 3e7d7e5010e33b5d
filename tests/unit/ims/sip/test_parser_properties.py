"""Property tests of the SIP message layer (Hypothesis).

1. Generated valid messages (random methods, URIs, repeated and comma-joined
   list headers, unknown ``X-`` headers, bodies) survive
   parse -> to_bytes -> parse with equal values, validate, and keep unknown
   header lines byte for byte.
2. Arbitrary bytes, and RFC 4475 messages with random damage, never make
   the parser, the validators, the typed accessors or the framers raise
   anything but :class:`SipError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ims.sip.errors import SipError
from ims.sip.framing import StreamFramer, frame_datagram
from ims.sip.headers.nameaddr import parse_name_addr
from ims.sip.headers.params import parse_params, quote
from ims.sip.headers.via import parse_via
from ims.sip.message import (
    Message,
    Request,
    Response,
    parse_message,
    validate_request,
    validate_response,
)
from ims.sip.uri import parse_uri
from tests.vectors.loaders import load_rfc4475, rfc4475_names

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Generating whole messages is slower than generating bytes: fewer examples.
GENERATED = settings(SETTINGS, max_examples=100)

TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
tokens = st.text(TOKEN_CHARS, min_size=1, max_size=10)
labels = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)
hostnames = st.lists(labels, min_size=1, max_size=4).map(".".join)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = st.sampled_from(["[2001:db8::10]", "[::1]", "[::ffff:192.0.2.2]", "[2001:db8:0:0:1:0:5:1]"])
hosts = st.one_of(hostnames, ipv4, ipv6)
ports = st.one_of(st.none(), st.integers(1, 65535))
users = st.from_regex(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-F]{2}){1,12}", fullmatch=True)
param_values = st.one_of(st.none(), tokens)
uri_params = st.lists(st.tuples(labels, param_values), max_size=3)


@st.composite
def sip_uris(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["sip", "sips", "SIP"]))
    user = draw(st.one_of(st.none(), users))
    port = draw(ports)
    text = f"{scheme}:{user + '@' if user else ''}{draw(hosts)}{'' if port is None else f':{port}'}"
    return text + "".join(f";{k}" if v is None else f";{k}={v}" for k, v in draw(uri_params))


tel_uris = st.from_regex(r"tel:\+[0-9]{1,12}(;ext=[0-9]{1,4})?", fullmatch=True)
uris = st.one_of(sip_uris(), tel_uris)
display_names = st.one_of(
    st.none(),
    st.lists(tokens, min_size=1, max_size=3).map(" ".join),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12).map(quote),
)


@st.composite
def name_addrs(draw: st.DrawFn, tag: bool = False) -> str:
    display = draw(display_names)
    params = draw(st.lists(st.tuples(labels, param_values), max_size=2))
    if tag:
        params.append(("tag", draw(tokens)))
    text = f"{display + ' ' if display else ''}<{draw(uris)}>"
    return text + "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


@st.composite
def vias(draw: st.DrawFn) -> str:
    transport = draw(st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS"]))
    port = draw(ports)
    sent_by = draw(hosts) + ("" if port is None else f":{port}")
    extra = "".join(f";{k}={v}" for k, v in draw(st.lists(st.tuples(st.sampled_from(["received", "ttl", "x"]), tokens), max_size=2)))
    return f"SIP/2.0/{transport} {sent_by};branch=z9hG4bK{draw(tokens)}{extra}"


header_text = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.sampled_from(" \tééü€"), max_size=30
).map(lambda s: s.strip(" \t"))


def list_lines(name: str, values: list[str], joined: bool) -> list[str]:
    """One line per value, or all values comma-joined on one line."""
    if joined and values:
        return [f"{name}: {', '.join(values)}"]
    return [f"{name}: {v}" for v in values]


@dataclass
class Generated:
    data: bytes
    method: str
    unknown_lines: list[str]
    via_values: list[str]


@st.composite
def requests(draw: st.DrawFn) -> Generated:
    method = draw(st.one_of(st.sampled_from(["INVITE", "REGISTER", "OPTIONS", "MESSAGE", "BYE"]), tokens))
    via_values = draw(st.lists(vias(), min_size=1, max_size=4))
    via_lines = list_lines(draw(st.sampled_from(["Via", "v", "VIA"])), via_values, draw(st.booleans()))
    lines = [
        f"From: {draw(name_addrs(tag=True))}",
        f"t: {draw(name_addrs())}",
        f"Call-ID: {draw(tokens)}@{draw(hostnames)}",
        f"CSeq: {draw(st.integers(0, 2**32 - 1))} {method}",
        f"Max-Forwards: {draw(st.integers(0, 255))}",
    ]
    lines += list_lines("Route", draw(st.lists(name_addrs(), max_size=3)), draw(st.booleans()))
    lines += list_lines("Contact", draw(st.lists(name_addrs(), max_size=2)), draw(st.booleans()))
    unknown = [f"X-{draw(tokens)}:{draw(st.sampled_from(['', ' ', '   ']))}{draw(header_text)}" for _ in range(draw(st.integers(0, 4)))]
    lines += unknown
    lines = via_lines + draw(st.permutations(lines))  # Via order matters; the rest does not
    body = draw(st.binary(max_size=64))
    head = f"{method} {draw(uris)} SIP/2.0\r\n" + "".join(f"{line}\r\n" for line in lines)
    data = head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    return Generated(data, method, unknown, via_values)


def field_values(msg: Message) -> list[tuple[str, str]]:
    return [(f.key, f.value) for f in msg.fields]


@GENERATED
@given(requests())
def test_generated_request_round_trips_with_equal_values(gen: Generated) -> None:
    first = parse_message(gen.data)
    assert isinstance(first, Request)
    validate_request(first)
    out = first.to_bytes()
    assert out == gen.data
    second = parse_message(out)
    assert isinstance(second, Request)
    assert (second.method, second.uri_text, second.body) == (gen.method, first.uri_text, first.body)
    assert field_values(second) == field_values(first)
    assert [str(v) for v in second.vias] == [str(v) for v in first.vias]
    assert [str(v) for v in first.vias] == [str(parse_via(v)) for v in gen.via_values]
    assert str(second.from_) == str(first.from_) and second.cseq == first.cseq


@GENERATED
@given(requests())
def test_typed_values_serialise_and_reparse_equal(gen: Generated) -> None:
    msg = parse_message(gen.data)
    for addr in msg.contacts + msg.routes + [msg.from_, msg.to]:
        again = parse_name_addr(str(addr))
        assert (again.display_name, str(again.uri), again.params) == (addr.display_name, str(addr.uri), addr.params)
    for via in msg.vias:
        assert str(parse_via(str(via))) == str(via)
    if isinstance(msg, Request):
        assert str(parse_uri(str(msg.uri))) == str(msg.uri)


@GENERATED
@given(requests(), st.data())
def test_unknown_headers_are_forwarded_byte_for_byte(gen: Generated, data: st.DataObject) -> None:
    msg = parse_message(gen.data)
    msg.add("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKproxy", first=True)
    msg.pop_first("route")
    msg.set("Max-Forwards", str(data.draw(st.integers(0, 70))))
    out = msg.to_bytes()
    for line in gen.unknown_lines:
        assert f"\r\n{line}\r\n".encode() in out
    assert parse_message(out).top_via.host == "proxy.example.com"


# -- robustness: only SipError ever comes out ------------------------------------
def exercise(data: bytes) -> None:
    """Parse, validate and read every typed value; only SipError may escape."""
    try:
        msg = parse_message(data)
    except SipError:
        return
    for read in (
        lambda: validate_request(msg) if isinstance(msg, Request) else validate_response(msg),
        lambda: msg.vias, lambda: msg.contacts, lambda: msg.routes, lambda: msg.record_routes,
        lambda: msg.from_, lambda: msg.to, lambda: msg.cseq, lambda: msg.call_id,
        lambda: msg.max_forwards, lambda: msg.expires, lambda: msg.addresses("path"),
        lambda: msg.uri if isinstance(msg, Request) else msg.status,
    ):
        try:
            read()
        except SipError:
            pass
    assert isinstance(msg, Request | Response)
    msg.to_bytes()


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_sip_errors(data: bytes) -> None:
    exercise(data)


@SETTINGS
@given(st.binary(max_size=200))
def test_arbitrary_bytes_after_a_start_line_raise_only_sip_errors(data: bytes) -> None:
    exercise(b"INVITE sip:a@b.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n" + data + b"\r\n\r\n")


mutations = st.lists(
    st.tuples(st.sampled_from(["flip", "insert", "delete"]), st.integers(0, 4000), st.binary(min_size=1, max_size=3)),
    min_size=1, max_size=6,
)


def damage(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    buf = bytearray(data)
    for kind, pos, octets in edits:
        pos %= max(len(buf), 1)
        if kind == "flip" and buf:
            buf[pos] = octets[0]
        elif kind == "insert":
            buf[pos:pos] = octets
        elif buf:
            del buf[pos : pos + len(octets)]
    return bytes(buf)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(rfc4475_names()), mutations)
def test_damaged_torture_messages_raise_only_sip_errors(name: str, edits: list[tuple[str, int, bytes]]) -> None:
    exercise(damage(load_rfc4475(name), edits))


@SETTINGS
@given(st.sampled_from(rfc4475_names()), mutations, st.lists(st.integers(1, 64), min_size=1, max_size=20))
def test_framers_raise_only_sip_errors(name: str, edits: list[tuple[str, int, bytes]], cuts: list[int]) -> None:
    data = damage(load_rfc4475(name), edits) * 2
    try:
        frame_datagram(data)
    except SipError:
        pass
    framer = StreamFramer()
    pos = 0
    try:
        for cut in cuts + [len(data)]:
            framer.feed(data[pos : pos + cut])
            pos += cut
            while (msg := framer.next_message()) is not None:
                exercise(msg)
    except SipError:
        pass


@SETTINGS
@given(st.text(max_size=60))
def test_header_value_parsers_raise_only_sip_errors(text: str) -> None:
    for parse in (parse_uri, parse_name_addr, parse_via, parse_params):
        try:
            parse(text)
        except SipError:
            pass

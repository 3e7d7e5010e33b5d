"""Datagram and stream framing (RFC 3261 §18.3) and CRLF keep-alives (RFC 5626 §3.5.1).

Stream cases run the h11 triad: whole, byte by byte, and with trailing bytes.
"""

from __future__ import annotations

import pytest

from ims.sip.errors import SipLimitError, SipParseError
from ims.sip.framing import (
    PING,
    PONG,
    Limits,
    StreamFramer,
    content_length_of,
    find_head_end,
    frame_datagram,
)
from ims.sip.message import parse_message

OPTIONS = (
    b"OPTIONS sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKa1\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:alice@example.com>;tag=1\r\n"
    b"To: <sip:bob@example.com>\r\n"
    b"Call-ID: a1@192.0.2.1\r\n"
    b"CSeq: 1 OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n"
)
MESSAGE = (
    b"MESSAGE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKa2\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:alice@example.com>;tag=1\r\n"
    b"To: <sip:bob@example.com>\r\n"
    b"Call-ID: a2@192.0.2.1\r\n"
    b"CSeq: 2 MESSAGE\r\n"
    b"Content-Type: text/plain\r\n"
    b"l: 17\r\n\r\n"
    b"Hello\r\n\r\nworld!\r\n"
)


def feed_all(framer: StreamFramer, data: bytes, chunk: int | None) -> list[bytes]:
    pieces = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    out: list[bytes] = []
    for piece in pieces:
        framer.feed(piece)
        while (msg := framer.next_message()) is not None:
            out.append(msg)
    return out


TRIAD = pytest.mark.parametrize("chunk", [None, 1, 5])


# -- stream framing ---------------------------------------------------------
@TRIAD
def test_two_coalesced_messages_come_out_one_by_one(chunk: int | None) -> None:
    framer = StreamFramer()
    assert feed_all(framer, OPTIONS + MESSAGE, chunk) == [OPTIONS, MESSAGE]
    assert framer.buffered == 0


@TRIAD
def test_body_containing_an_empty_line_is_framed_by_content_length(chunk: int | None) -> None:
    framer = StreamFramer()
    [msg] = feed_all(framer, MESSAGE, chunk)
    assert parse_message(msg).body == b"Hello\r\n\r\nworld!\r\n"


@TRIAD
def test_trailing_bytes_stay_in_the_buffer(chunk: int | None) -> None:
    framer = StreamFramer()
    trailing = b"INVITE sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n"
    assert feed_all(framer, OPTIONS + trailing, chunk) == [OPTIONS]
    assert framer.buffered == len(trailing)
    framer.feed(b"Content-Length: 0\r\n\r\n")
    assert framer.next_message() == trailing + b"Content-Length: 0\r\n\r\n"


@pytest.mark.parametrize("cut", range(1, len(MESSAGE)))
def test_message_split_into_two_segments_anywhere(cut: int) -> None:
    framer = StreamFramer()
    framer.feed(MESSAGE[:cut])
    assert framer.next_message() is None
    framer.feed(MESSAGE[cut:] + OPTIONS[:10])
    assert framer.next_message() == MESSAGE
    assert framer.next_message() is None
    assert framer.buffered == 10


def test_next_message_with_nothing_fed_is_none() -> None:
    framer = StreamFramer()
    assert framer.next_message() is None
    assert framer.buffered == 0


@TRIAD
def test_bare_lf_message_is_framed(chunk: int | None) -> None:
    lf = OPTIONS.replace(b"\r\n", b"\n")
    assert feed_all(StreamFramer(), lf + OPTIONS, chunk) == [lf, OPTIONS]


def test_missing_content_length_is_a_stream_error() -> None:
    framer = StreamFramer()
    framer.feed(OPTIONS.replace(b"Content-Length: 0\r\n", b""))
    with pytest.raises(SipParseError) as info:
        framer.next_message()
    assert info.value.reason == "Missing Content-Length on a stream transport"
    assert info.value.status_hint == 400


@pytest.mark.parametrize(
    ("value", "reason"),
    [(b"-1", "Negative Content-Length"), (b"five", "Bad Content-Length"),
     (b"12345678901", "Bad Content-Length"), (b"\xb2", "Bad Content-Length")],
)
def test_invalid_content_length_is_a_stream_error(value: bytes, reason: str) -> None:
    framer = StreamFramer()
    framer.feed(OPTIONS.replace(b"Content-Length: 0", b"Content-Length: " + value))
    with pytest.raises(SipParseError) as info:
        framer.next_message()
    assert info.value.reason == reason


def test_content_length_names_are_case_insensitive_and_compact() -> None:
    assert content_length_of(b"X y z\r\ncontent-LENGTH : 12\r\n") == 12
    assert content_length_of(b"X y z\r\nL:3\r\n") == 3
    assert content_length_of(b"X y z\r\nX-Content-Length: 3\r\n") is None


def test_equal_repeated_content_length_is_accepted_differing_is_not() -> None:
    assert content_length_of(b"S\r\nContent-Length: 4\r\nl: 4\r\n") == 4
    with pytest.raises(SipParseError, match="Multiple Content-Length values"):
        content_length_of(b"S\r\nContent-Length: 4\r\nl: 5\r\n")


def test_find_head_end_prefers_the_first_empty_line() -> None:
    assert find_head_end(b"A\r\nB: c\r\n\r\nbody\n\n") == 11
    assert find_head_end(b"A\nB: c\n\nbody\r\n\r\n") == 8
    assert find_head_end(b"A\r\nB: c\r\n") == -1


# -- limits -------------------------------------------------------------------
def test_endless_header_block_is_refused_before_it_is_buffered_whole() -> None:
    framer = StreamFramer(Limits(max_message_size=1024))
    framer.feed(b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X-Filler: " + b"a" * 900)
    with pytest.raises(SipLimitError) as info:
        framer.feed(b"a" * 200)
    assert info.value.status_hint == 513
    assert info.value.reason == "Message Too Large"


def test_announced_body_over_the_limit_is_refused_at_the_header_block() -> None:
    framer = StreamFramer(Limits(max_message_size=1024))
    framer.feed(OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 4096"))
    with pytest.raises(SipLimitError) as info:
        framer.next_message()
    assert info.value.status_hint == 513
    assert framer.buffered == len(OPTIONS) + 3  # nothing more was waited for


def test_message_exactly_at_the_limit_is_accepted() -> None:
    framer = StreamFramer(Limits(max_message_size=len(MESSAGE)))
    assert feed_all(framer, MESSAGE, None) == [MESSAGE]


def test_message_one_octet_over_the_limit_is_refused() -> None:
    framer = StreamFramer(Limits(max_message_size=len(MESSAGE) - 1))
    with pytest.raises(SipLimitError):
        feed_all(framer, MESSAGE, None)


# -- keep-alives (RFC 5626 §3.5.1) ---------------------------------------------
@TRIAD
def test_ping_is_consumed_and_counted(chunk: int | None) -> None:
    framer = StreamFramer()
    assert feed_all(framer, PING + OPTIONS + PING + PING, chunk) == [OPTIONS]
    assert (framer.pings_received, framer.pongs_received) == (3, 0)
    assert framer.buffered == 0


@TRIAD
def test_pong_is_consumed_and_counted(chunk: int | None) -> None:
    framer = StreamFramer()
    assert feed_all(framer, PONG + OPTIONS + PONG, chunk) == [OPTIONS]
    assert (framer.pings_received, framer.pongs_received) == (0, 2)


@TRIAD
def test_ping_then_pong_in_one_run(chunk: int | None) -> None:
    framer = StreamFramer()
    assert feed_all(framer, PING + PONG + MESSAGE, chunk) == [MESSAGE]
    assert (framer.pings_received, framer.pongs_received) == (1, 1)


def test_ping_split_over_two_segments_is_one_ping() -> None:
    framer = StreamFramer()
    framer.feed(b"\r\n")
    assert framer.next_message() is None
    assert (framer.pings_received, framer.pongs_received) == (0, 1)
    framer.feed(b"\r\n")
    assert framer.next_message() is None
    assert (framer.pings_received, framer.pongs_received) == (1, 0)


def test_lone_pong_is_counted_without_waiting_for_more() -> None:
    framer = StreamFramer()
    framer.feed(PONG)
    assert framer.next_message() is None
    assert framer.pongs_received == 1


def test_bare_cr_before_a_start_line_is_an_error() -> None:
    framer = StreamFramer()
    framer.feed(b"\rOPTIONS")
    with pytest.raises(SipParseError, match="Bare CR"):
        framer.next_message()


def test_stray_lf_before_a_start_line_is_ignored() -> None:
    framer = StreamFramer()
    assert feed_all(framer, b"\n" + OPTIONS, None) == [OPTIONS]
    assert (framer.pings_received, framer.pongs_received) == (0, 0)


# -- datagrams ------------------------------------------------------------------
def test_datagram_trailing_octets_are_cut() -> None:
    assert frame_datagram(OPTIONS + b"garbage after the message") == OPTIONS


def test_datagram_without_content_length_runs_to_its_end() -> None:
    data = OPTIONS.replace(b"Content-Length: 0\r\n", b"") + b"body"
    assert frame_datagram(data) == data


def test_datagram_leading_crlfs_are_skipped() -> None:
    assert frame_datagram(b"\r\n\r\n" + OPTIONS) == OPTIONS


def test_keepalive_datagram_frames_to_nothing() -> None:
    assert frame_datagram(b"\r\n\r\n") == b""


def test_datagram_over_the_limit_is_refused() -> None:
    with pytest.raises(SipLimitError) as info:
        frame_datagram(OPTIONS, Limits(max_message_size=len(OPTIONS) - 1))
    assert info.value.status_hint == 513


def test_datagram_without_end_of_headers_is_refused() -> None:
    with pytest.raises(SipParseError, match="Missing empty line"):
        frame_datagram(OPTIONS[:-2])


def test_datagram_body_shorter_than_content_length_is_refused() -> None:
    with pytest.raises(SipParseError, match="Content-Length larger than body"):
        frame_datagram(MESSAGE[:-1])

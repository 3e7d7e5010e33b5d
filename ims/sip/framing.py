"""SIP message framing on datagram and stream transports (RFC 3261 §18.3; RFC 5626 §3.5.1).

Theory of operation
-------------------
A datagram carries one message. Octets after the body that Content-Length
announces are discarded; a Content-Length larger than what arrived is an
error, and a message without one runs to the end of the datagram (RFC 3261
§18.3). :func:`frame_datagram` applies these rules.

A stream (TCP, TLS) carries messages back to back, and Content-Length is the
only way to find where a body ends, so it is mandatory there (§18.3,
§20.14). :class:`StreamFramer` is a receive buffer in the style of h11's
``_receivebuffer.py``: the transport :meth:`~StreamFramer.feed`\\ s whatever
bytes arrived and then calls :meth:`~StreamFramer.next_message` until it
returns ``None``; each call hands out the bytes of one complete message.
Limits are enforced before a message is buffered whole: a header block that
has not ended within ``max_message_size`` bytes, or a Content-Length that
would carry the message past it, raises :class:`SipLimitError` at once.

Keep-alives (RFC 5626 §3.5.1, §4.4.1): between messages a client sends
CRLFCRLF (a "ping") and the server answers with one CRLF (a "pong"). The
framer consumes both and counts them in ``pings_received`` and
``pongs_received``; a server answers each new ping with ``b"\\r\\n"``, a
client treats a new pong as the keep-alive answer. A lone CRLF at the end of
the buffer is ambiguous (a pong, or half of a ping split between two
segments): it is counted as a pong at once and, if the next bytes complete a
CRLFCRLF, moved over to ``pings_received``, so feeding a stream byte by byte
ends with the same counts as feeding it whole.

Nothing here parses headers beyond Content-Length: the framed bytes go to
:func:`ims.sip.message.parse_message`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ims.sip.errors import SipLimitError, SipParseError

CRLF = b"\r\n"
#: RFC 5626 §3.5.1: the keep-alive request on a stream transport.
PING = b"\r\n\r\n"
#: RFC 5626 §3.5.1: the keep-alive response.
PONG = b"\r\n"


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds enforced before parsing work grows (architecture: boundaries)."""

    max_message_size: int = 65536
    """Largest message accepted, start line to end of body, in bytes (else 513)."""
    max_headers: int = 128
    """Most header fields (after unfolding) in one message."""
    max_line_length: int = 8192
    """Longest start line or (unfolded) header line, in bytes."""


DEFAULT_LIMITS = Limits()


def parse_content_length(value: str) -> int:
    """``Content-Length = 1*DIGIT`` (RFC 3261 §20.14).

    Raises:
        SipParseError: for a negative, non-numeric or absurdly long value
            (RFC 4475 §3.1.2.3).
    """
    if value.startswith("-") and value[1:].isdigit():
        raise SipParseError("Negative Content-Length")
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        raise SipParseError("Bad Content-Length")
    return int(value)


def find_head_end(buf: bytes | bytearray, start: int = 0) -> int:
    """Index just past the empty line that ends the header block, or -1.

    Lines end in CRLF (RFC 3261 §7); a header block using bare LF is found
    too, as :func:`ims.sip.message.parse_message` accepts one.
    """
    crlf = buf.find(b"\r\n\r\n", start)
    lf = buf.find(b"\n\n", start, crlf if crlf >= 0 else len(buf))
    if lf >= 0:
        return lf + 2
    return crlf + 4 if crlf >= 0 else -1


def content_length_of(head: bytes) -> int | None:
    """The Content-Length of a header block (full or compact ``l`` name), or None.

    Raises:
        SipParseError: on differing repeated values (RFC 4475 §3.3.9) or
            a value that is not a length.
    """
    values: set[bytes] = set()
    for line in head.split(b"\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.rstrip(b" \t").lower() in (b"content-length", b"l"):
            values.add(value.strip(b" \t\r"))
    if not values:
        return None
    if len(values) > 1:
        raise SipParseError("Multiple Content-Length values")
    return parse_content_length(values.pop().decode("ascii", "replace"))


def frame_datagram(data: bytes, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The one message in a datagram, trailing octets cut (RFC 3261 §18.3).

    Returns ``b""`` for a datagram of bare CRLFs (a keep-alive, nothing to parse).

    Raises:
        SipLimitError: the datagram is larger than ``limits.max_message_size``.
        SipParseError: no end of headers, or Content-Length larger than the
            body (RFC 4475 §3.1.2.2).
    """
    if len(data) > limits.max_message_size:
        raise SipLimitError("Message Too Large", 513)
    data = data.lstrip(b"\r\n")
    if not data:
        return b""
    end = find_head_end(data)
    if end < 0:
        raise SipParseError("Missing empty line after headers")
    length = content_length_of(data[:end])
    if length is None:
        return data
    if end + length > len(data):
        raise SipParseError("Content-Length larger than body")
    return data[: end + length]


class StreamFramer:
    """Frames SIP messages out of a byte stream by Content-Length (RFC 3261 §18.3).

    Attributes:
        pings_received: CRLFCRLF keep-alives consumed (RFC 5626 §3.5.1);
            a server answers each with :data:`PONG`.
        pongs_received: single-CRLF keep-alive answers consumed.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._buf = bytearray()
        self._search_from = 0
        self._head_end = -1
        self._length = 0
        self._crlf_pending = False
        self.pings_received = 0
        self.pongs_received = 0

    def feed(self, data: bytes) -> None:
        """Append bytes received from the stream.

        Raises:
            SipLimitError: the message at the front of the buffer already
                has a header block longer than ``limits.max_message_size``.
        """
        self._buf += data
        if self._head_end < 0 and len(self._buf) > self._limits.max_message_size:
            if self._skip_keepalives():
                self._locate_head()

    @property
    def buffered(self) -> int:
        """How many received bytes are not handed out yet."""
        return len(self._buf)

    def next_message(self) -> bytes | None:
        """The next complete message, or None when more bytes are needed.

        Raises:
            SipParseError: the message has no Content-Length or an invalid
                one (the stream cannot be re-synchronised: close it).
            SipLimitError: the header block or the announced message is
                larger than ``limits.max_message_size`` (513).
        """
        if self._head_end < 0:
            if not self._skip_keepalives() or not self._locate_head():
                return None
        total = self._head_end + self._length
        if len(self._buf) < total:
            return None
        message = bytes(self._buf[:total])
        del self._buf[:total]
        self._head_end = -1
        self._search_from = 0
        return message

    def _locate_head(self) -> bool:
        """Find the header block at the front and read its Content-Length."""
        buf = self._buf
        end = find_head_end(buf, self._search_from)
        limit = self._limits.max_message_size
        if end < 0:
            if len(buf) > limit:
                raise SipLimitError("Message Too Large", 513)
            self._search_from = max(0, len(buf) - 3)
            return False
        length = content_length_of(bytes(buf[:end]))
        if length is None:
            raise SipParseError("Missing Content-Length on a stream transport")
        if end + length > limit:
            raise SipLimitError("Message Too Large", 513)
        self._head_end, self._length = end, length
        return True

    def _skip_keepalives(self) -> bool:
        """Consume CRLF keep-alives in front of a message (RFC 5626 §3.5.1).

        Returns True when a message starts at the front of the buffer.
        """
        buf = self._buf
        while buf and buf[0] in (13, 10):  # CR, LF
            if buf[:2] == CRLF:
                if not self._take_crlf(buf):
                    return False
            elif buf[0] == 13:
                if len(buf) < 2:
                    return False
                raise SipParseError("Bare CR before start line")
            else:
                del buf[:1]  # a stray LF: RFC 3261 §7.5 lets us ignore it
                self._crlf_pending = False
        if not buf:
            return False
        self._crlf_pending = False
        return True

    def _take_crlf(self, buf: bytearray) -> bool:
        """Count one ping or pong; False when the bytes so far are ambiguous."""
        if self._crlf_pending:
            self.pongs_received -= 1
            self.pings_received += 1
            self._crlf_pending = False
            del buf[:2]
        elif buf[:4] == PING:
            self.pings_received += 1
            del buf[:4]
        elif buf[2:3] == b"\r" and len(buf) == 3:
            return False
        else:
            self.pongs_received += 1
            self._crlf_pending = len(buf) == 2
            del buf[:2]
        return True

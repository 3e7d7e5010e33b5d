"""SIP requests and responses (RFC 3261 §7, §20, §25), parsed lazily.

Theory of operation
-------------------
``parse_message`` does the least work that framing and routing need: it
splits the start line and the header lines, unfolds continuation lines and
maps compact names to full names (RFC 3261 §7.3.3). Nothing else is parsed
until somebody asks: a header value turns into a typed object (``Via``,
``NameAddr``, ``CSeq`` ...) on first access and is cached until the message
is changed. Each header line remembers its original text, so a header nobody
touched is forwarded byte for byte, whatever its case, spacing or folding.

A header may occur on several lines, and list-valued headers (Via, Route,
Contact ...; RFC 3261 §7.3.1) may also join several values with commas.
``get_all`` sees both forms as one list; ``count`` counts values;
``header_values`` returns one raw value per line (what a proxy sees of an
unknown ``X-`` header).

``validate_request``/``validate_response`` apply the checks a server makes
before it hands a message to a transaction (mandatory headers, CSeq, the
Request-URI, version), raising :class:`SipParseError` with a reason phrase
naming the defect; the transport layer answers it with 400 (or 505, 513).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import islice
from typing import Any

from ims.sip.errors import SipLimitError, SipParseError
from ims.sip.framing import DEFAULT_LIMITS as DEFAULT_LIMITS
from ims.sip.framing import Limits as Limits
from ims.sip.framing import parse_content_length
from ims.sip.headers.cseq import CSeq, parse_cseq
from ims.sip.headers.nameaddr import NameAddr, parse_name_addr
from ims.sip.headers.params import split_list
from ims.sip.headers.via import Via, parse_via
from ims.sip.names import CANONICAL_NAMES as CANONICAL_NAMES
from ims.sip.names import COMPACT_FORMS as COMPACT_FORMS
from ims.sip.names import LIST_HEADERS as LIST_HEADERS
from ims.sip.names import REASON_PHRASES as REASON_PHRASES
from ims.sip.names import SINGLE_HEADERS as SINGLE_HEADERS
from ims.sip.names import canonical_key as canonical_key
from ims.sip.names import display_name_for as display_name_for
from ims.sip.uri import SipUri, Uri, parse_uri

SIP_VERSION = "SIP/2.0"

class HeaderField:
    """One header line: its key, the name as written, the value, the raw text.

    ``raw`` is the original line (continuations included) or ``None`` for a
    field this core created or changed; ``None`` serialises as ``Name: value``.
    """

    __slots__ = ("key", "name", "value", "raw")

    def __init__(self, key: str, name: str, value: str, raw: str | None = None) -> None:
        self.key = key
        self.name = name
        self.value = value
        self.raw = raw

    def line(self) -> str:
        return self.raw if self.raw is not None else f"{self.name}: {self.value}"

    def __repr__(self) -> str:
        return f"HeaderField({self.name!r}, {self.value!r})"


class Message:
    """Common part of :class:`Request` and :class:`Response`."""

    __slots__ = ("fields", "body", "_cache")

    def __init__(self, fields: list[HeaderField] | None = None, body: bytes = b"") -> None:
        self.fields: list[HeaderField] = fields if fields is not None else []
        self.body = body
        self._cache: dict[str, Any] = {}

    # -- generic access -------------------------------------------------
    def header_values(self, name: str) -> list[str]:
        """One value per header line named ``name``, as written (unfolded)."""
        key = canonical_key(name)
        return [f.value for f in self.fields if f.key == key]

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``: lines in order, list headers split at commas."""
        key = canonical_key(name)
        values = [f.value for f in self.fields if f.key == key]
        if key in LIST_HEADERS:
            return [item for v in values for item in split_list(v)]
        return values

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name`` (first list element for list headers)."""
        key = canonical_key(name)
        for f in self.fields:
            if f.key == key:
                if key in LIST_HEADERS:
                    items = split_list(f.value)
                    return items[0] if items else default
                return f.value
        return default

    def count(self, name: str) -> int:
        """How many values of ``name`` there are (see :meth:`get_all`)."""
        return len(self.get_all(name))

    def has(self, name: str) -> bool:
        key = canonical_key(name)
        return any(f.key == key for f in self.fields)

    # -- mutation -------------------------------------------------------
    def add(self, name: str, value: str, *, first: bool = False) -> None:
        """Add a header line; ``first`` puts it above the existing lines of that name."""
        key = canonical_key(name)
        field = HeaderField(key, display_name_for(key), value)
        self._cache.pop(key, None)
        positions = [i for i, f in enumerate(self.fields) if f.key == key]
        if first:
            self.fields.insert(positions[0] if positions else 0, field)
        elif positions:
            self.fields.insert(positions[-1] + 1, field)
        else:
            self.fields.append(field)

    def set(self, name: str, value: str) -> None:
        """Replace every line of ``name`` by one line with ``value``."""
        key = canonical_key(name)
        self._cache.pop(key, None)
        for i, f in enumerate(self.fields):
            if f.key == key:
                self.fields[i] = HeaderField(key, display_name_for(key), value)
                self.fields[i + 1 :] = [g for g in self.fields[i + 1 :] if g.key != key]
                return
        self.fields.append(HeaderField(key, display_name_for(key), value))

    def remove(self, name: str) -> int:
        """Remove every line of ``name``; returns how many lines went."""
        key = canonical_key(name)
        before = len(self.fields)
        self.fields = [f for f in self.fields if f.key != key]
        self._cache.pop(key, None)
        return before - len(self.fields)

    def pop_first(self, name: str) -> str | None:
        """Remove and return the first value of a list header (Via or Route pop).

        When that value shares its line with others (comma-joined), only it
        is removed and the rest of the line stays.
        """
        key = canonical_key(name)
        for i, f in enumerate(self.fields):
            if f.key != key:
                continue
            self._cache.pop(key, None)
            items = split_list(f.value)
            if len(items) <= 1:
                del self.fields[i]
                return items[0] if items else None
            self.fields[i] = HeaderField(key, f.name, ", ".join(items[1:]))
            return items[0]
        return None

    # -- typed accessors ------------------------------------------------
    def _typed(self, key: str, build: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    @property
    def vias(self) -> list[Via]:
        """Every Via value, top first."""
        return self._typed("via", lambda: [parse_via(v) for v in self.get_all("via")])  # type: ignore[no-any-return]

    @property
    def top_via(self) -> Via:
        """The topmost Via. Raises SipParseError if there is none."""
        vias = self.vias
        if not vias:
            raise SipParseError("Missing Via")
        return vias[0]

    @property
    def call_id(self) -> str:
        value = self.get("call-id")
        if not value:
            raise SipParseError("Missing Call-ID")
        return value

    @property
    def cseq(self) -> CSeq:
        def build() -> CSeq:
            value = self.get("cseq")
            if value is None:
                raise SipParseError("Missing CSeq")
            return parse_cseq(value)

        return self._typed("cseq", build)  # type: ignore[no-any-return]

    @property
    def from_(self) -> NameAddr:
        return self._typed("from", lambda: _required_addr(self, "from"))  # type: ignore[no-any-return]

    @property
    def to(self) -> NameAddr:
        return self._typed("to", lambda: _required_addr(self, "to"))  # type: ignore[no-any-return]

    def addresses(self, name: str) -> list[NameAddr]:
        """Every value of an address list header (Contact, Route, Path ...)."""
        key = canonical_key(name)
        return self._typed(  # type: ignore[no-any-return]
            key, lambda: [parse_name_addr(v) for v in self.get_all(key) if v != "*"]
        )

    @property
    def contacts(self) -> list[NameAddr]:
        return self.addresses("contact")

    @property
    def routes(self) -> list[NameAddr]:
        return self.addresses("route")

    @property
    def record_routes(self) -> list[NameAddr]:
        return self.addresses("record-route")

    @property
    def max_forwards(self) -> int | None:
        """Max-Forwards (RFC 3261 §20.22), None if absent."""
        return _bounded_int(self.get("max-forwards"), 255, "Max-Forwards")

    @property
    def expires(self) -> int | None:
        """The Expires header (RFC 3261 §20.19), None if absent."""
        return _bounded_int(self.get("expires"), 2**32 - 1, "Expires")

    @property
    def content_type(self) -> str | None:
        return self.get("content-type")

    def option_tags(self, name: str) -> list[str]:
        """Option tags of Supported/Require/Proxy-Require/Unsupported, lower-cased."""
        return [v.lower() for v in self.get_all(name)]

    # -- serialisation --------------------------------------------------
    def start_line(self) -> str:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """Serialise; Content-Length is set to the body's real length (RFC 3261 §20.14).

        Fields nobody changed go out as they came, folding included.
        """
        length = str(len(self.body))
        lines = [self.start_line()]
        append = lines.append
        have_length = False
        for f in self.fields:
            if f.key != "content-length":
                raw = f.raw
                append(raw if raw is not None else f"{f.name}: {f.value}")
            elif not have_length:
                have_length = True
                append(f.line() if f.value == length else f"{f.name}: {length}")
        if not have_length:
            append(f"Content-Length: {length}")
        append("\r\n")
        return "\r\n".join(lines).encode("utf-8", "surrogateescape") + self.body

    def __bytes__(self) -> bytes:
        return self.to_bytes()


class Request(Message):
    """A SIP request. ``uri`` is parsed from ``uri_text`` on first access."""

    __slots__ = ("method", "uri_text", "version", "_uri", "_uri_seen")

    def __init__(
        self,
        method: str,
        uri: str | Uri,
        fields: list[HeaderField] | None = None,
        body: bytes = b"",
        version: str = SIP_VERSION,
    ) -> None:
        super().__init__(fields, body)
        self.method = method
        self.version = version
        self._uri: Uri | None = None if isinstance(uri, str) else uri
        self.uri_text = uri if isinstance(uri, str) else str(uri)
        self._uri_seen = self.uri_text

    @property
    def uri(self) -> Uri:
        """The Request-URI (parsed lazily). Raises SipParseError if malformed."""
        if self._uri is None:
            self._uri = parse_uri(self.uri_text)
            self._uri_seen = str(self._uri)
        return self._uri

    @uri.setter
    def uri(self, value: Uri) -> None:
        self._uri = value
        self.uri_text = self._uri_seen = str(value)

    def start_line(self) -> str:
        """The Request-Line; the URI as received unless it was changed since."""
        if self._uri is not None:
            text = str(self._uri)
            if text != self._uri_seen:
                self.uri_text = self._uri_seen = text
        return f"{self.method} {self.uri_text} {self.version}"

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri_text}>"


class Response(Message):
    """A SIP response."""

    __slots__ = ("status", "reason", "version")

    def __init__(
        self,
        status: int,
        reason: str | None = None,
        fields: list[HeaderField] | None = None,
        body: bytes = b"",
        version: str = SIP_VERSION,
    ) -> None:
        super().__init__(fields, body)
        self.status = status
        self.reason = REASON_PHRASES.get(status, "") if reason is None else reason
        self.version = version

    def start_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}"

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


def _bounded_int(value: str | None, maximum: int, name: str) -> int | None:
    """A ``1*DIGIT`` header value no larger than ``maximum`` (RFC 4475 §3.1.2.4)."""
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 10 or int(value) > maximum:
        raise SipParseError(f"Bad {name}")
    return int(value)


def _required_addr(msg: Message, key: str) -> NameAddr:
    values = msg.header_values(key)
    if not values:
        raise SipParseError(f"Missing {display_name_for(key)}")
    return parse_name_addr(values[0])


# -- parsing ---------------------------------------------------------------
def parse_message(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Request | Response:
    """Parse one whole SIP message (a datagram, or one message framed from a stream).

    CRLFs before the start line are skipped (RFC 3261 §7.5). A body longer
    than Content-Length is cut to it and one without Content-Length runs to
    the end of ``data`` (§18.3, datagram rules); a Content-Length larger
    than the body is an error (RFC 4475 §3.1.2.2). Only the start line and
    the header lines are split here: typed values are parsed on access.

    Raises:
        SipLimitError: the message, a line or the header count is over
            ``limits`` (status hint 513).
        SipParseError: the message is malformed; ``reason`` names the defect.
    """
    if len(data) > limits.max_message_size:
        raise SipLimitError("Message Too Large", 513)
    if data[:1] in (b"\r", b"\n"):
        data = data.lstrip(b"\r\n")
    lines, body, plain = _split_head(data, limits.max_line_length)
    first = lines[0]
    if len(first) > limits.max_line_length:
        raise SipLimitError("Start line too long", 513)
    msg = _parse_start_line(first)
    msg.fields = _parse_plain_fields(lines) if plain else _parse_fields(lines, limits)
    if len(msg.fields) > limits.max_headers:
        raise SipLimitError("Too many header fields", 513)
    msg.body = _cut_body(msg, body)
    return msg


def _split_head(data: bytes, max_line: int) -> tuple[list[str], bytes, bool]:
    """Split header lines from the body at the first empty line.

    Lines end in CRLF (RFC 3261 §7); a message using bare LF throughout is
    accepted too. A bare CR or LF inside a CRLF header block is an error.
    The flag is True when no line is folded or can be longer than ``max_line``.
    """
    end = data.find(b"\r\n\r\n")
    lf_end = data.find(b"\n\n", 0, end if end >= 0 else len(data))
    if lf_end >= 0:
        text = data[:lf_end].decode("utf-8", "surrogateescape").replace("\r\n", "\n")
        return text.split("\n"), data[lf_end + 2 :], False
    if end < 0:
        raise SipParseError("Missing empty line after headers")
    text = data[:end].decode("utf-8", "surrogateescape")
    lines = text.split("\r\n")
    if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
        raise SipParseError("Bare CR or LF in header")
    plain = len(text) <= max_line and "\n " not in text and "\n\t" not in text
    return lines, data[end + 4 :], plain


def _parse_start_line(line: str) -> Request | Response:
    if line[:4].upper() == "SIP/":
        return _parse_status_line(line)
    parts = line.split(" ")
    if len(parts) != 3 or not (parts[0] and parts[1] and parts[2]):
        raise SipParseError(_request_line_defect(line, parts))
    method, uri, version = parts
    if method not in _KNOWN_METHODS and not _is_token(method):
        raise SipParseError("Bad method")
    if uri[0] == "<":
        raise SipParseError("Request-URI enclosed in <>")  # RFC 4475 §3.1.2.7
    _check_version(version)
    return Request(method, uri, version=version)


def _request_line_defect(line: str, parts: list[str]) -> str:
    """Name what is wrong with a Request-Line (RFC 3261 §25.1; RFC 4475 §3.1.2.8-10)."""
    if "\t" in line or not line.strip(" "):
        return "Bad Request-Line"
    if line.endswith(" "):
        return "Trailing SP in Request-Line"
    if not all(parts):
        return "Extra SP in Request-Line"
    if len(parts) > 3:
        return "LWS in Request-URI"
    return "Bad Request-Line"


def _check_version(version: str) -> None:
    """``SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`` (RFC 3261 §25.1)."""
    if version != SIP_VERSION and not _VERSION_RE.fullmatch(version):
        raise SipParseError("Bad SIP-Version")


def _parse_status_line(line: str) -> Response:
    """``Status-Line = SIP-Version SP Status-Code SP Reason-Phrase`` (RFC 3261 §7.2)."""
    version, _, rest = line.partition(" ")
    _check_version(version)
    code, _, reason = rest.partition(" ")
    if len(code) != 3 or not (code.isascii() and code.isdigit()) or not "1" <= code[0] <= "6":
        raise SipParseError("Bad Status-Code")  # RFC 4475 §3.1.2.19
    return Response(int(code), reason, version=version)


def _parse_fields(lines: list[str], limits: Limits) -> list[HeaderField]:
    """One :class:`HeaderField` per header, continuation lines unfolded (RFC 3261 §7.3.1)."""
    fields: list[HeaderField] = []
    append = fields.append
    names = _NAME_CACHE
    max_len = limits.max_line_length
    for i in range(1, len(lines)):
        line = lines[i]
        if len(line) > max_len:
            raise SipLimitError("Header line too long", 513)
        if line[:1] in _WSP:
            _unfold(fields, line)
            continue
        colon = line.find(":")
        known = names.get(line[:colon]) if colon > 0 else None
        if known is None:
            known = _new_name(line, colon)
        append(HeaderField(known[0], known[1], line[colon + 1 :].strip(" \t"), line))
    return fields


def _parse_plain_fields(lines: list[str]) -> list[HeaderField]:
    """:func:`_parse_fields` for the common case: no folding, no line over the limit."""
    fields: list[HeaderField] = []
    append = fields.append
    names = _NAME_CACHE
    for line in islice(lines, 1, None):
        name, colon, value = line.partition(":")
        known = names.get(name)
        if known is None:
            known = _new_name(line, len(name) if colon else -1)
        append(HeaderField(known[0], known[1], value.strip(" \t"), line))
    return fields


def _unfold(fields: list[HeaderField], line: str) -> None:
    """Join a continuation line to the field above; the fold counts as one SP."""
    if not fields:
        raise SipParseError("Continuation line before first header")
    last = fields[-1]
    last.raw = f"{last.raw}\r\n{line}"
    part = line.strip(" \t")
    if part:
        last.value = f"{last.value} {part}" if last.value else part


def _new_name(line: str, colon: int) -> tuple[str, str]:
    """Check a header name not seen before (``token`` then optional WSP) and cache it."""
    if colon <= 0:
        raise SipParseError(f"Bad header line {line[:40]!r}")
    written = line[:colon]
    name = written.rstrip(" \t")
    if not _is_token(name):
        raise SipParseError(f"Bad header name {name[:40]!r}")
    known = (canonical_key(name), name)
    if len(_NAME_CACHE) < _NAME_CACHE_SIZE and len(written) <= 64:
        _NAME_CACHE[written] = known
    return known


def _cut_body(msg: Message, body: bytes) -> bytes:
    """Apply Content-Length to a datagram body (RFC 3261 §18.3, §20.14)."""
    values = msg.header_values("content-length")
    if not values:
        return body
    if len(values) > 1 and len(set(values)) > 1:
        raise SipParseError("Multiple Content-Length values")  # RFC 4475 §3.3.9
    length = parse_content_length(values[0])
    if length > len(body):
        raise SipParseError("Content-Length larger than body")
    return body[:length]


_WSP = (" ", "\t")
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_KNOWN_METHODS = frozenset("INVITE ACK BYE CANCEL OPTIONS REGISTER PRACK SUBSCRIBE NOTIFY PUBLISH INFO REFER MESSAGE UPDATE".split())
_VERSION_RE = re.compile(r"[Ss][Ii][Pp]/[0-9]+\.[0-9]+")
#: Header names as written -> (key, name); bounded in count and name length.
_NAME_CACHE: dict[str, tuple[str, str]] = {}
_NAME_CACHE_SIZE = 512


def _is_token(text: str) -> bool:
    """RFC 3261 §25.1 ``token``."""
    return bool(text) and all(c in _TOKEN_CHARS for c in text)


# -- validation ------------------------------------------------------------
def validate_request(req: Request) -> None:
    """The checks of RFC 3261 §8.2 and §16.3 a server makes before acting.

    Parses every header a transaction, proxy or registrar acts on: Via,
    Call-ID, CSeq (whose method must match, RFC 4475 §3.1.2.17), From, To,
    Max-Forwards, Expires, Contact, Route and the Request-URI, which must
    not carry headers (RFC 3261 §19.1.1 table 1; RFC 4475 §3.1.2.11).

    Raises:
        SipParseError: with ``status_hint`` 505 for a version other than
            SIP/2.0, else 400 and a reason naming the defect.
    """
    if req.version.upper() != SIP_VERSION:
        raise SipParseError("Version Not Supported", 505)
    _validate_common(req)
    if req.cseq.method != req.method:
        raise SipParseError("CSeq method does not match request method")
    uri = req.uri
    if isinstance(uri, SipUri) and uri.headers:
        raise SipParseError("Request-URI must not contain headers")
    req.max_forwards  # noqa: B018 -- parses, raising on a bad value
    req.expires  # noqa: B018
    req.contacts  # noqa: B018
    req.routes  # noqa: B018


def validate_response(resp: Response) -> None:
    """Checks on a received response before it is matched to a transaction.

    Raises:
        SipParseError: 505 for another SIP version, else 400 (the response
            is then dropped, RFC 4475 §3.1.2.5).
    """
    if resp.version.upper() != SIP_VERSION:
        raise SipParseError("Version Not Supported", 505)
    _validate_common(resp)


def _validate_common(msg: Message) -> None:
    seen: set[str] = set()
    for f in msg.fields:
        if f.key in seen and f.key in SINGLE_HEADERS:
            raise SipParseError(f"Multiple {display_name_for(f.key)} values")
        seen.add(f.key)
    if not msg.vias:
        raise SipParseError("Missing Via")
    if not _CALL_ID_RE.fullmatch(msg.call_id):
        raise SipParseError("Bad Call-ID")
    msg.cseq  # noqa: B018
    msg.from_  # noqa: B018
    msg.to  # noqa: B018


# RFC 3261 §25.1: callid = word [ "@" word ]
_CALL_ID_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+(?:@[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+)?")


# -- building --------------------------------------------------------------
def make_response(
    req: Request, status: int, reason: str | None = None, *, to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (), body: bytes = b"",
) -> Response:
    """Build a response to ``req`` per RFC 3261 §8.2.6.

    Via (all values, as received), From, To, Call-ID and CSeq are copied;
    ``to_tag`` is added to To when the request's To has none and the status
    is above 100; a 100 Trying copies Timestamp (§8.2.6.1).
    """
    copied = ("via", "from", "call-id", "cseq") + (("timestamp",) if status == 100 else ())
    fields = [HeaderField(f.key, f.name, f.value, f.raw) for f in req.fields if f.key in copied]
    to_values = req.header_values("to")
    if to_values:
        to_value = to_values[0]
        if to_tag and status > 100 and req.to.tag is None:
            to_value = f"{to_value};tag={to_tag}"
        position = next((i for i, f in enumerate(fields) if f.key == "call-id"), len(fields))
        fields.insert(position, HeaderField("to", "To", to_value))
    resp = Response(status, reason, fields, body)
    for name, value in headers:
        resp.add(name, value)
    return resp


def build_request(method: str, uri: str | Uri, headers: Iterable[tuple[str, str]], body: bytes = b"") -> Request:
    """Build a request from ``(name, value)`` pairs in the order given."""
    req = Request(method, uri)
    for name, value in headers:
        key = canonical_key(name)
        req.fields.append(HeaderField(key, display_name_for(key), value))
    req.body = body
    return req

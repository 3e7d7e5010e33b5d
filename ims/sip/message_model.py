"""SIP message model (RFC 3261 §7, §20): header fields, Request and Response, parsed lazily.

A :class:`Message` is a list of :class:`HeaderField` lines plus a body. A
header value turns into a typed object (``Via``, ``NameAddr``, ``CSeq`` ...)
on first access and is cached until the message is changed; a line nobody
changed keeps its original text and is serialised byte for byte. List-valued
headers (RFC 3261 §7.3.1) are seen as one list whether repeated or
comma-joined. Parsing bytes into this model is :mod:`ims.sip.message_parser`;
the public names are re-exported by :mod:`ims.sip.message`.
"""

from __future__ import annotations

from typing import Any

from ims.sip.errors import SipParseError
from ims.sip.headers.cseq import CSeq, parse_cseq
from ims.sip.headers.nameaddr import NameAddr, parse_name_addr
from ims.sip.headers.params import split_list
from ims.sip.headers.via import Via, parse_via
from ims.sip.names import LIST_HEADERS, REASON_PHRASES, canonical_key, display_name_for
from ims.sip.uri import Uri, parse_uri

#: RFC 3261 §7.1, §25.1: the only SIP-Version this core speaks.
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

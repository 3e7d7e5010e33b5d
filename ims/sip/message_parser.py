"""Parsing SIP messages from bytes (RFC 3261 §7, §25; RFC 4475 torture cases).

:func:`parse_message` does the least work that framing and routing need: it
splits the start line and the header lines, unfolds continuation lines and
maps compact names to full names (RFC 3261 §7.3.3). Typed values are parsed
on access by the model in :mod:`ims.sip.message_model`. Re-exported by
:mod:`ims.sip.message`.
"""

from __future__ import annotations

import re
from itertools import islice

from ims.sip.errors import SipLimitError, SipParseError
from ims.sip.framing import DEFAULT_LIMITS, Limits, parse_content_length
from ims.sip.message_model import SIP_VERSION, HeaderField, Message, Request, Response
from ims.sip.names import canonical_key


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

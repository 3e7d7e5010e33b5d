"""What the transport does with the bytes of one received message (RFC 3261 §18.2.1, §8.2).

Theory of operation
-------------------
:func:`receive` turns one framed message into either a message for the
transaction layer or a verdict on bad input, without raising:

* the bytes parse and validate -> the message (requests with the top Via
  stamped with ``received``/``rport``, RFC 3261 §18.2.1, RFC 3581 §4);
* a request fails parsing or validation, but the headers a response needs
  (Via, From, To, Call-ID, CSeq; RFC 3261 §8.2.6.2) can still be read -> an
  error response carrying the error's ``status_hint`` (400, 505, 513) and its
  ``reason`` as reason phrase;
* anything else (a bad response, an ACK, garbage) -> dropped; the caller counts it.

An ACK is never answered (RFC 3261 §17.2.1: ACK has no response).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ims.sip.errors import SipError
from ims.sip.events import Peer
from ims.sip.message import (
    HeaderField,
    Limits,
    Request,
    Response,
    canonical_key,
    display_name_for,
    make_response,
    parse_message,
    validate_request,
    validate_response,
)
from ims.transport.rules import stamp_received

#: Headers copied into a response to a request we cannot parse (RFC 3261 §8.2.6.2).
RESPONSE_KEYS = ("via", "from", "to", "call-id", "cseq")
#: How much of an unparseable message we look at to find those headers.
SCAN_BYTES = 16384


@dataclass(frozen=True, slots=True)
class Inbound:
    """The verdict on one received message.

    Exactly one of ``message`` (good input) and ``error`` is set; ``reply``
    is the error response to send, if the bad message can be answered.
    """

    message: Request | Response | None = None
    error: SipError | None = None
    reply: Response | None = None


def receive(data: bytes, source: Peer, limits: Limits) -> Inbound:
    """Parse, stamp and validate one framed message from ``source``. Never raises."""
    try:
        msg = parse_message(data, limits)
    except SipError as err:
        return Inbound(error=err, reply=answer_unparsed(data, err))
    if isinstance(msg, Response):
        try:
            validate_response(msg)
        except SipError as err:
            return Inbound(error=err)
        return Inbound(message=msg)
    try:
        stamp_received(msg, source)
    except SipError:
        pass  # the top Via is bad; validate_request reports it below
    try:
        validate_request(msg)
    except SipError as err:
        return Inbound(error=err, reply=answer_request(msg, err))
    return Inbound(message=msg)


def new_tag() -> str:
    """A fresh To tag for a stateless error response (RFC 3261 §19.3)."""
    return secrets.token_hex(6)


def answer_request(req: Request, err: SipError) -> Response | None:
    """The error response to a parsed request that failed validation, or None.

    None when the request is an ACK or lacks a header a response needs.
    """
    if req.method.upper() == "ACK" or not all(req.has(key) for key in RESPONSE_KEYS):
        return None
    try:
        return make_response(req, err.status_hint, err.reason, to_tag=new_tag())
    except SipError:  # the To header itself is malformed: copy it as it is
        return make_response(req, err.status_hint, err.reason)


def answer_unparsed(data: bytes, err: SipError) -> Response | None:
    """The error response to a request that does not parse, or None.

    The start line must look like a request line (not an ACK) and the
    headers of :data:`RESPONSE_KEYS` must be found as ``Name: value`` lines;
    they are copied in order, the To getting a tag when it has none.
    """
    lines = _head_lines(data)
    if not lines or not _is_answerable_start(lines[0]):
        return None
    found: dict[str, list[str]] = {key: [] for key in RESPONSE_KEYS}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        key = canonical_key(name.strip())
        if colon and key in found and line[:1] not in (" ", "\t"):
            found[key].append(value.strip())
    if not all(found.values()):
        return None
    to_value = found["to"][0]
    if ";tag=" not in to_value.lower().replace(" ", ""):
        found["to"] = [f"{to_value};tag={new_tag()}"]
    fields = [
        HeaderField(key, display_name_for(key), value)
        for key in RESPONSE_KEYS
        for value in (found[key] if key == "via" else found[key][:1])
    ]
    return Response(err.status_hint, err.reason, fields)


def _head_lines(data: bytes) -> list[str]:
    head = data[:SCAN_BYTES].lstrip(b"\r\n")
    for sep in (b"\r\n\r\n", b"\n\n"):
        end = head.find(sep)
        if end >= 0:
            head = head[:end]
            break
    text = head.decode("utf-8", "surrogateescape")
    return text.replace("\r\n", "\n").split("\n")


def _is_answerable_start(line: str) -> bool:
    parts = line.split()
    if len(parts) < 2 or line.startswith("SIP/"):
        return False
    return parts[0].upper() != "ACK" and parts[0].isascii() and parts[0].isalpha()

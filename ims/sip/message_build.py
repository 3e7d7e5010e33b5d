"""Building SIP requests and responses (RFC 3261 §8.1.1, §8.2.6).

Re-exported by :mod:`ims.sip.message`.
"""

from __future__ import annotations

from collections.abc import Iterable

from ims.sip.message_model import HeaderField, Request, Response
from ims.sip.names import canonical_key, display_name_for
from ims.sip.uri import Uri


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

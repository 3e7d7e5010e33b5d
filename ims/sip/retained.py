"""What a transaction keeps of its messages once its final response has passed.

After the final response a transaction lives on only to absorb
retransmissions (RFC 3261 §17.1.1.2 Timer D, §17.1.2.2 Timer K, §17.2.1
Timers G/H/I, §17.2.2 Timer J; RFC 6026 Timers L and M): up to 32 s on UDP.
Holding the parsed request and response for that long costs about 12 KiB
per transaction (bench/README.md), so it keeps only:

* of the request: method, Request-URI and the first value of Via, From,
  To, Call-ID and CSeq (what a response copies), nothing parsed;
* of a response it sent: the serialised bytes it resends unchanged (only
  when it may resend them), plus the top Via, To and Call-ID values (the
  response target, §18.2.2; the To tag a CANCEL answer needs, §9.2);
* of a final response it received (client side): status, reason and the
  Call-ID and CSeq values (for log lines).
"""

from __future__ import annotations

from ims.sip.message import HeaderField, Request, Response

#: Header lines a transaction keeps of its request: what make_response copies.
REQUEST_KEYS = frozenset({"via", "from", "to", "call-id", "cseq"})
#: What a response kept for resending needs: the target (top Via, §18.2.2), the
#: To tag (answering a CANCEL, §9.2), the Call-ID (log lines).
RESPONSE_KEYS = frozenset({"via", "to", "call-id"})
#: What a client transaction keeps of a received final response: log lines only.
LOG_KEYS = frozenset({"call-id", "cseq"})


class WireResponse(Response):
    """A sent response reduced to its bytes; ``to_bytes`` returns them as they went out."""

    __slots__ = ("data",)

    def __init__(self, resp: Response, data: bytes) -> None:
        super().__init__(resp.status, resp.reason, _kept(resp.fields, RESPONSE_KEYS), b"", resp.version)
        self.data = data

    def to_bytes(self) -> bytes:
        return self.data


def retained_request(req: Request, keys: frozenset[str] = REQUEST_KEYS) -> Request:
    """A small unparsed copy of ``req``: start line and the ``keys`` header values."""
    if isinstance(req, _RetainedRequest):
        return req
    return _RetainedRequest(req.method, req.uri_text, _kept(req.fields, keys), b"", req.version)


def retained_response(resp: Response, *, resend: bool) -> Response:
    """What to keep of ``resp``: its bytes when it may be sent again (``resend``), else the status."""
    if isinstance(resp, WireResponse | _RetainedResponse):
        return resp
    if resend:
        return WireResponse(resp, resp.to_bytes())
    return _RetainedResponse(resp.status, resp.reason, _kept(resp.fields, LOG_KEYS), b"", resp.version)


class _RetainedRequest(Request):
    __slots__ = ()


class _RetainedResponse(Response):
    __slots__ = ()


def _kept(fields: list[HeaderField], keys: frozenset[str]) -> list[HeaderField]:
    """The first line of each of ``keys``, value only (the original line text is let go)."""
    kept: list[HeaderField] = []
    seen: set[str] = set()
    for f in fields:
        if f.key in keys and f.key not in seen:
            seen.add(f.key)
            kept.append(HeaderField(f.key, f.name, f.value))
    return kept

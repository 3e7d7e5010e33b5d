"""Checks on a received SIP message before a transaction sees it (RFC 3261 §8.2, §16.3; RFC 4475).

``validate_request``/``validate_response`` parse every header a transaction,
proxy or registrar acts on and raise :class:`SipParseError` with a reason
phrase naming the defect; the transport layer answers it with 400 (or 505).
Re-exported by :mod:`ims.sip.message`.
"""

from __future__ import annotations

import re

from ims.sip.errors import SipParseError
from ims.sip.message_model import SIP_VERSION, Message, Request, Response
from ims.sip.names import SINGLE_HEADERS, display_name_for
from ims.sip.uri import SipUri


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

"""Terminating routing at the S-CSCF (TS 24.229 §5.4.3.3).

A request whose Request-URI is a public identity registered here (any
identity of the implicit set, ``sip:`` or ``tel:`` form) is retargeted to a
registered contact of that set: Request-URI = the contact, Route = the Path
stored with that binding, so it reaches the UE through its P-CSCF (TS 24.229
§5.4.3.3 step 9; RFC 3327 §5.3), with P-Called-Party-ID set to the original
Request-URI (§5.4.3.3 step 8; RFC 3455 §4.2). A known identity without a
live contact is answered 480 (§5.4.3.3).

Originating requests (they arrived on our Service-Route, ``orig`` parameter,
§5.4.3.2) are not terminated here when addressed by a SIP URI: they go by the
Request-URI to the home I-CSCF, whose LIR brings them back to us without
``orig`` (a spiral, RFC 3261 §16.3 step 4). A ``tel:`` Request-URI has no
route of its own without ENUM, so when it names one of our registered users
the originating request is served as terminating at once (§5.4.3.2).

All functions here are pure: the registration record and the clock are
passed in.
"""

from __future__ import annotations

from collections.abc import Sequence

from ims.sip.errors import SipParseError
from ims.sip.headers.nameaddr import parse_name_addr
from ims.sip.message import Request
from ims.sip.proxy import Target
from ims.sip.uri import SipUri, TelUri, parse_uri
from scscf.bindings import Binding, Registration, RegState

#: Methods never retargeted here: hop-by-hop or in-dialog by nature (RFC 3261 §9, §17).
_NOT_ROUTED = frozenset({"ACK", "CANCEL", "REGISTER"})


def is_originating(popped_routes: Sequence[str]) -> bool:
    """True when one of our Route values removed by §16.4 carries ``orig`` (§5.4.3.2)."""
    for value in popped_routes:
        try:
            uri = parse_name_addr(value).uri
        except SipParseError:
            continue
        if isinstance(uri, SipUri) and "orig" in uri.params:
            return True
    return False


def wants_lookup(req: Request, originating: bool) -> bool:
    """True for an initial request addressed to a user that we may terminate (§5.4.3.3).

    In-dialog requests (To tag) and requests still carrying a Route set go
    the usual way; so does an originating request to a SIP URI (see above).
    """
    uri = req.uri
    to_user = isinstance(uri, TelUri) or (
        isinstance(uri, SipUri) and uri.user is not None and not originating)
    if not to_user or req.method in _NOT_ROUTED or req.has("route"):
        return False
    return req.to.tag is None


def newest_binding(record: Registration, now: float) -> Binding | None:
    """The most recently stored live contact of ``record``, if it is registered."""
    if record.state is not RegState.REGISTERED:
        return None
    live = record.active_bindings(now)
    return live[-1] if live else None


def terminating_target(req: Request, record: Registration, now: float) -> Target | None:
    """Retarget ``req`` (in place: P-Called-Party-ID) to ``record``'s newest contact.

    Returns:
        The target, or None when no contact is live (the caller answers 480).

    Raises:
        SipParseError: the stored contact is not a URI.
    """
    binding = newest_binding(record, now)
    if binding is None:
        return None
    req.set("P-Called-Party-ID", f"<{req.uri_text}>")
    return Target(uri=parse_uri(binding.uri), routes=binding.path)

"""The ``reg`` event package at the S-CSCF (RFC 3680, TS 24.229 §5.4.2.1).

UEs subscribe to their own registration state right after registering and
the P-CSCF subscribes too (TS 24.229 §5.1.1.3, §5.2.3). The S-CSCF keeps a
:class:`Subscription` per dialog (RFC 6665 §4.2.2, RFC 3261 §12.1.1: Call-ID,
tags, route set from Record-Route, remote target from Contact, our CSeq)
and sends NOTIFYs carrying ``application/reginfo+xml`` full state
(RFC 3680 §5.3, TS 24.229 §5.4.2.1.2) with a ``version`` that increases by
one per NOTIFY of that subscription.

Strict handsets deregister themselves when a NOTIFY is subtly wrong, so
:func:`build_notify` builds a proper in-dialog request: Request-URI = the
subscriber's Contact, To = the subscriber's From (with its tag), From = the
SUBSCRIBE's To with our tag, the same Call-ID, our next CSeq and the route
set as Route. The reginfo lists only current contacts with their real
remaining expiry (plus, in the NOTIFY reporting it, the ones just removed,
as ``terminated``). Pure functions: ``now`` is passed in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from ims.sip.errors import SipParseError
from ims.sip.headers.pheaders import asserted_identities
from ims.sip.message import Request, Response, build_request, make_response
from ims.sip.uri import SipUri, parse_uri
from scscf.bindings import Binding, Registration, RegState, identity_key

#: RFC 3680 §5.4: the reginfo namespace and MIME type.
REGINFO_NS = "urn:ietf:params:xml:ns:reginfo"
REGINFO_TYPE = "application/reginfo+xml"


@dataclass(frozen=True, slots=True)
class RegEventConfig:
    """reg-event settings (RFC 3680 §5.4: default duration 3761 s)."""

    server_uri: str = "sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060"
    default_expires: int = 3761
    max_expires: int = 600000


@dataclass(frozen=True, slots=True)
class Subscription:
    """One reg subscription dialog, seen from the notifier (RFC 3261 §12.1.1)."""

    impu: str
    """The identity subscribed to (Request-URI of the SUBSCRIBE)."""
    call_id: str
    local_tag: str
    """Our tag: To tag of the 200 OK, From tag of every NOTIFY."""
    remote_tag: str
    remote_uri: str
    """The SUBSCRIBE's From value as written (with the subscriber's tag)."""
    local_uri: str
    """The SUBSCRIBE's To value without a tag."""
    remote_target: str
    """The subscriber's Contact URI: Request-URI of every NOTIFY."""
    route_set: tuple[str, ...]
    remote_cseq: int
    local_cseq: int
    expires_at: float
    version: int = 0
    """The reginfo ``version`` the next NOTIFY carries (RFC 3680 §5.3: starts at 0)."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)

    def remaining(self, now: float) -> int:
        return max(0, int(self.expires_at - now))


@dataclass(frozen=True, slots=True)
class SubscribeDecision:
    """The answer to a SUBSCRIBE, and the subscription to keep (None: drop it)."""

    status: int
    reason: str
    subscription: Subscription | None = None
    headers: tuple[tuple[str, str], ...] = ()
    notify_state: str | None = None
    """Subscription-State of the NOTIFY to send now, None when none is due."""


def dialog_key(req: Request) -> tuple[str, str, str] | None:
    """(Call-ID, To tag, From tag) of an in-dialog SUBSCRIBE; None for an initial one."""
    to_tag = req.to.tag
    if to_tag is None:
        return None
    return (req.call_id, to_tag, req.from_.tag or "")


def handle_subscribe(
    record: Registration | None, req: Request, now: float, config: RegEventConfig,
    local_tag: str, existing: Subscription | None = None,
) -> SubscribeDecision:
    """Accept or refuse a SUBSCRIBE to ``reg`` (TS 24.229 §5.4.2.1.1, RFC 6665 §4.2.1).

    Accepted for any identity of the served implicit set (``sip:`` or
    ``tel:``) when the subscriber is the user itself (P-Asserted-Identity, or
    From, in the set) or the P-CSCF the user registered through; 403
    otherwise; 489 for another event package. Expires 0 ends the
    subscription with a final ``terminated`` NOTIFY.
    """
    try:
        refusal = _check(record, req, existing)
        if refusal is not None:
            return refusal
        expiry = _granted(req, config)
        sub = _dialog(req, now, expiry, local_tag, existing)
    except SipParseError as exc:
        return SubscribeDecision(400, exc.reason)
    headers = (("Expires", str(expiry)), ("Contact", f"<{config.server_uri}>"))
    if expiry == 0:
        return SubscribeDecision(200, "OK", sub, headers, "terminated;reason=timeout")
    return SubscribeDecision(200, "OK", sub, headers, f"active;expires={expiry}")


def _check(record: Registration | None, req: Request,
           existing: Subscription | None) -> SubscribeDecision | None:
    event = (req.get("event") or "").split(";")[0].strip().lower()
    if event != "reg":
        return SubscribeDecision(489, "Bad Event", headers=(("Allow-Events", "reg"),))
    accept = [a.split(";")[0].strip().lower() for a in req.get_all("accept")]
    if accept and REGINFO_TYPE not in accept:
        return SubscribeDecision(406, "Not Acceptable", headers=(("Accept", REGINFO_TYPE),))
    if dialog_key(req) is not None and existing is None:
        return SubscribeDecision(481, "Subscription Does Not Exist")
    if record is None or record.state is not RegState.REGISTERED:
        return SubscribeDecision(403, "Forbidden - identity not registered here")
    if not record.has_identity(str(req.uri)) or not _authorized(record, req):
        return SubscribeDecision(403, "Forbidden - not authorized for this registration")
    return None


def _authorized(record: Registration, req: Request) -> bool:
    """The UE itself or its P-CSCF (TS 24.229 §5.4.2.1.1)."""
    asserted = [str(a.uri) for a in asserted_identities(req)] or [str(req.from_.uri)]
    if any(record.has_identity(a) for a in asserted):
        return True
    pcscf_hosts = {_host(b.pcscf) for b in record.bindings if b.pcscf}
    return any(_host(a) in pcscf_hosts for a in asserted)


def _host(value: str | None) -> str:
    try:
        uri = parse_uri((value or "").strip().lstrip("<").split(">")[0])
    except SipParseError:
        return ""
    return uri.host.lower() if isinstance(uri, SipUri) else ""


def _granted(req: Request, config: RegEventConfig) -> int:
    requested = req.expires
    if requested is None:
        return config.default_expires
    return min(requested, config.max_expires)


def _dialog(req: Request, now: float, expiry: int, local_tag: str,
            existing: Subscription | None) -> Subscription:
    """Dialog state from the SUBSCRIBE (RFC 3261 §12.1.1; refresh: §12.2.2)."""
    contacts = req.contacts
    if existing is not None:
        target = str(contacts[0].uri) if contacts else existing.remote_target
        return dataclasses.replace(existing, remote_target=target, remote_cseq=req.cseq.seq,
                                   expires_at=now + expiry)
    if not contacts:
        raise SipParseError("SUBSCRIBE without Contact")
    return Subscription(
        impu=str(req.uri), call_id=req.call_id, local_tag=local_tag,
        remote_tag=req.from_.tag or "", remote_uri=req.get("from") or "",
        local_uri=req.get("to") or "", remote_target=str(contacts[0].uri),
        route_set=tuple(req.get_all("record-route")), remote_cseq=req.cseq.seq,
        local_cseq=0, expires_at=now + expiry,
    )


def build_subscribe_response(req: Request, decision: SubscribeDecision) -> Response:
    """The response to a SUBSCRIBE; 2xx carries our tag (RFC 6665 §4.2.1.1)."""
    tag = decision.subscription.local_tag if decision.subscription else None
    return make_response(req, decision.status, decision.reason, to_tag=tag,
                         headers=decision.headers)


# -- reginfo ------------------------------------------------------------------------
def _id(*parts: str) -> str:
    """A stable element id (RFC 3680 §5.3: the same for the same object)."""
    return hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()[:10]


def build_reginfo(record: Registration, version: int, now: float, state: str = "full",
                  removed: Sequence[Binding] = ()) -> bytes:
    """The reginfo document (RFC 3680 §5.3, TS 24.229 §5.4.2.1.2).

    One ``<registration>`` per non-barred identity of the implicit set,
    ``active`` while the set has current contacts; each current contact
    ``active`` with its event and real remaining expiry; ``removed``
    contacts (this NOTIFY's news) ``terminated`` with their event.
    """
    ET.register_namespace("", REGINFO_NS)
    root = ET.Element(f"{{{REGINFO_NS}}}reginfo", {"version": str(version), "state": state})
    gone = {b.uri for b in removed}
    current = [b for b in record.active_bindings(now) if b.uri not in gone]
    if record.state is not RegState.REGISTERED:
        current = []
    for aor in record.associated_uris():
        reg_state = "active" if current else "terminated"
        reg = ET.SubElement(root, f"{{{REGINFO_NS}}}registration",
                            {"aor": aor, "id": _id(identity_key(aor)), "state": reg_state})
        for binding in current:
            _contact(reg, aor, binding, "active", str(binding.remaining(now)))
        for binding in removed:
            _contact(reg, aor, binding, "terminated", None)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _contact(reg: ET.Element, aor: str, binding: Binding, state: str,
             expires: str | None) -> None:
    attrs = {"id": _id(identity_key(aor), binding.uri), "state": state, "event": binding.event,
             "callid": binding.call_id, "cseq": str(binding.cseq)}
    if expires is not None:
        attrs["expires"] = expires
    node = ET.SubElement(reg, f"{{{REGINFO_NS}}}contact", attrs)
    ET.SubElement(node, f"{{{REGINFO_NS}}}uri").text = binding.uri


# -- NOTIFY -------------------------------------------------------------------------
def subscription_state(sub: Subscription, now: float, reason: str | None = None) -> str:
    """Subscription-State (RFC 6665 §8.2.3): active;expires=N or terminated;reason=R."""
    if reason is not None or sub.remaining(now) == 0:
        return f"terminated;reason={reason or 'timeout'}"
    return f"active;expires={sub.remaining(now)}"


def build_notify(sub: Subscription, body: bytes, state: str,
                 server_uri: str | None = None) -> tuple[Request, Subscription]:
    """An in-dialog NOTIFY (RFC 6665 §4.2.2, RFC 3261 §12.2.1.1).

    Returns the request and the subscription with our CSeq and the
    reginfo version advanced by one. The transport layer adds Via.
    """
    from_value = sub.local_uri if ";tag=" in sub.local_uri else f"{sub.local_uri};tag={sub.local_tag}"
    cseq = sub.local_cseq + 1
    headers = [("Route", r) for r in sub.route_set]
    headers += [
        ("Max-Forwards", "70"), ("To", sub.remote_uri), ("From", from_value),
        ("Call-ID", sub.call_id), ("CSeq", f"{cseq} NOTIFY"), ("Event", "reg"),
        ("Subscription-State", state),
    ]
    if server_uri is not None:
        headers.append(("Contact", f"<{server_uri}>"))
    headers += [("Content-Type", REGINFO_TYPE), ("Content-Length", str(len(body)))]
    req = build_request("NOTIFY", sub.remote_target, headers, body)
    return req, dataclasses.replace(sub, local_cseq=cseq, version=sub.version + 1)


def notify_registration(
    sub: Subscription, record: Registration, now: float, *,
    removed: Sequence[Binding] = (), reason: str | None = None, server_uri: str | None = None,
) -> tuple[Request, Subscription]:
    """NOTIFY with full reginfo at ``sub.version`` (TS 24.229 §5.4.2.1.2).

    ``reason`` (``deactivated``, ``rejected``, ``timeout``, ``noresource``)
    terminates the subscription, as after a network-initiated
    deregistration; so does a record left without contacts.
    """
    if reason is None and not record.active_bindings(now):
        reason = "noresource"
    body = build_reginfo(record, sub.version, now, "full", removed)
    return build_notify(sub, body, subscription_state(sub, now, reason), server_uri)


def expired_subscriptions(subs: Sequence[Subscription], now: float) -> list[Subscription]:
    """Subscriptions whose duration has run out (RFC 6665 §4.2.2)."""
    return [s for s in subs if s.expires_at <= now]


class SubscriptionTable:
    """reg subscriptions in memory, by dialog and by the identities they watch."""

    def __init__(self) -> None:
        self._subs: dict[tuple[str, str, str], Subscription] = {}

    def put(self, sub: Subscription) -> None:
        self._subs[sub.key] = sub

    def remove(self, sub: Subscription) -> None:
        self._subs.pop(sub.key, None)

    def find(self, req: Request) -> Subscription | None:
        key = dialog_key(req)
        return None if key is None else self._subs.get(key)

    def for_record(self, record: Registration) -> list[Subscription]:
        """Every subscription to any identity of the record's implicit set."""
        return [s for s in self._subs.values() if record.has_identity(s.impu)]

    def all(self) -> list[Subscription]:
        return list(self._subs.values())

"""S-CSCF registrar decisions (TS 24.229 §5.4.1, RFC 3261 §10.3, TS 29.228 §6).

Pure functions; a thin orchestrator (``scscf/app.py``, later) feeds them
and carries out what they return:

1. ``handle_register(record, req, now, config, pending)`` looks at a
   REGISTER, the stored :class:`~scscf.bindings.Registration` of its IMPU
   and the pending challenge its nonce names (``AuthChallengeStore.take``),
   and returns a :class:`RegisterDecision`: answer now (400, 423, 500, or
   200 to a binding query), CHALLENGE (MAR, with RAND||AUTS on a
   synchronisation failure, then store the vector and send
   :func:`build_unauthorized`), AUTH_FAILURE (SAR AUTHENTICATION_FAILURE
   and 403) or ASSIGN (SAR REGISTRATION / RE_REGISTRATION /
   USER_DEREGISTRATION with the new contact list).
2. ``apply_saa(record, decision, user_data, now)`` turns a successful SAA
   into the record to store (or None when deregistered); 403 when every
   identity of the set is barred (TS 24.229 §5.4.1.2.1).
3. ``build_register_ok(req, record, now, config)``: the 200 OK of
   TS 24.229 §5.4.1.2.2 (Path, Service-Route, P-Associated-URI, each
   contact with its expiry, Date).
4. ``expire``, ``deregister_identities`` (RTR, TS 29.228 §6.1.3) and
   ``apply_ppr`` (PPR, TS 29.228 §6.1.4) for network-side changes.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import formatdate

from ims.diameter.cx import ServerAssignmentType, UserDataAlreadyAvailable
from ims.diameter.userdata import UserDataError, parse_ims_subscription
from ims.sip.errors import SipParseError
from ims.sip.headers.auth import Credentials
from ims.sip.headers.nameaddr import NameAddr
from ims.sip.headers.option import contact_expiry
from ims.sip.message import Request, Response, make_response
from ims.sip.uri import SipUri
from scscf.auth import (
    PendingChallenge,
    Verdict,
    VerdictKind,
    build_challenge,
    digest_credentials,
    identify,
    verify,
)
from scscf.bindings import Binding, Registration, RegState, identity_key

#: integrity-protected values meaning the REGISTER came over a protected channel.
_PROTECTED = frozenset({"yes", "tls-yes", "ip-assoc-yes"})


@dataclass(frozen=True, slots=True)
class RegistrarConfig:
    """Registrar settings (TS 24.229 §5.4.1.2; RFC 3261 §10.3)."""

    server_uri: str = "sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060"
    """Our own SIP URI: Server-Name in Cx and the Service-Route we hand out."""
    realm: str = "ims.mnc001.mcc001.3gppnetwork.org"
    """The digest realm of the 401 (TS 24.229 §5.4.1.2.1: the home domain)."""
    min_expires: int = 60
    """Shorter non-zero expiries get 423 (RFC 3261 §10.3 step 7)."""
    max_expires: int = 3600
    """Longer requested expiries are cut to this (handsets ask for 600000)."""
    default_expires: int = 3600
    """Used when neither Contact ``expires`` nor Expires is present."""
    challenge_reregistration: bool = True
    """Challenge every re-REGISTER; False skips it for integrity-protected ones."""


class Action(enum.Enum):
    """What the orchestrator does with a :class:`RegisterDecision`."""

    RESPOND = "respond"
    """Send ``status`` with ``headers`` now (400, 423, 500)."""
    QUERY = "query"
    """Send :func:`build_register_ok` with the record as it is (no SAR)."""
    CHALLENGE = "challenge"
    """MAR (resync when ``mar.resync``), store the vector, send 401."""
    AUTH_FAILURE = "auth-failure"
    """SAR AUTHENTICATION_FAILURE, then 403 (TS 24.229 §5.4.1.2.3)."""
    ASSIGN = "assign"
    """SAR ``sar.assignment_type``, :func:`apply_saa`, then 200 OK."""


@dataclass(frozen=True, slots=True)
class MarRequest:
    """An MAR to send (TS 29.228 §6.3); ``resync`` is (RAND, AUTS)."""

    impi: str
    impu: str
    resync: tuple[bytes, bytes] | None = None


@dataclass(frozen=True, slots=True)
class SarRequest:
    """A SAR to send (TS 29.228 §6.1.2)."""

    assignment_type: ServerAssignmentType
    impi: str
    impus: tuple[str, ...]
    user_data_already_available: UserDataAlreadyAvailable = (
        UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE
    )


@dataclass(frozen=True, slots=True)
class ContactUpdate:
    """The complete contact list after a REGISTER, and what it removed."""

    bindings: tuple[Binding, ...]
    removed: tuple[Binding, ...] = ()


@dataclass(frozen=True, slots=True)
class RegisterDecision:
    """The outcome of :func:`handle_register`."""

    action: Action
    impi: str
    impu: str
    status: int = 0
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    mar: MarRequest | None = None
    sar: SarRequest | None = None
    update: ContactUpdate | None = None
    stale: bool = False


@dataclass(frozen=True, slots=True)
class SaaOutcome:
    """The record to keep after a SAR (None: delete it) and the answer to send."""

    record: Registration | None
    status: int
    reason: str
    removed: tuple[Binding, ...] = ()


@dataclass(frozen=True, slots=True)
class Removal:
    """Bindings removed by the network side, and the SAR to send (if any)."""

    record: Registration | None
    removed: tuple[Binding, ...]
    sar: SarRequest | None = None


@dataclass(frozen=True, slots=True)
class _Register:
    """What the decision needs from one REGISTER."""

    impi: str
    impu: str
    creds: Credentials | None
    call_id: str
    cseq: int


# -- REGISTER -------------------------------------------------------------------
def handle_register(
    record: Registration | None, req: Request, now: float, config: RegistrarConfig,
    pending: PendingChallenge | Verdict | None = None,
) -> RegisterDecision:
    """Decide what to do with a REGISTER (TS 24.229 §5.4.1.2, RFC 3261 §10.3).

    ``record`` is the stored registration of the To IMPU (None if unknown);
    ``pending`` is what ``AuthChallengeStore.take`` returned for the
    credentials' nonce. Authentication comes first (RFC 3261 §10.3 step 3),
    then the Contact rules (steps 6-7).
    """
    try:
        reg = _read_register(req)
    except SipParseError as exc:
        return RegisterDecision(Action.RESPOND, "", "", 400, exc.reason)
    refusal = _authenticate(record, reg, config, pending)
    if refusal is not None:
        return refusal
    try:
        return _contacts(record, reg, req, now, config)
    except SipParseError as exc:
        return _respond(reg, 400, exc.reason)


def _read_register(req: Request) -> _Register:
    impi = identify(req)
    return _Register(impi, str(req.to.uri), digest_credentials(req), req.call_id, req.cseq.seq)


def _respond(reg: _Register, status: int, reason: str,
             headers: tuple[tuple[str, str], ...] = ()) -> RegisterDecision:
    return RegisterDecision(Action.RESPOND, reg.impi, reg.impu, status, reason, headers)


def _challenge(reg: _Register, resync: tuple[bytes, bytes] | None = None,
               stale: bool = False) -> RegisterDecision:
    return RegisterDecision(Action.CHALLENGE, reg.impi, reg.impu,
                            mar=MarRequest(reg.impi, reg.impu, resync), stale=stale)


def _authenticate(
    record: Registration | None, reg: _Register, config: RegistrarConfig,
    pending: PendingChallenge | Verdict | None,
) -> RegisterDecision | None:
    """None when authenticated, else the CHALLENGE / AUTH_FAILURE decision.

    TS 24.229 §5.4.1.2.1 (challenge), §5.4.1.2.3 (failures), §5.4.1.2.1
    NOTE on skipping re-authentication for integrity-protected re-REGISTERs.
    """
    if _may_skip_challenge(record, reg, config):
        return None
    if reg.creds is None or not reg.creds.nonce:
        return _challenge(reg)
    if isinstance(pending, Verdict):
        return _challenge(reg, stale=pending.kind is VerdictKind.STALE)
    if pending is not None and identity_key(pending.impu) != identity_key(reg.impu):
        return _challenge(reg)
    verdict = verify(reg.creds, "REGISTER", pending)
    return _after_verdict(reg, verdict)


def _after_verdict(reg: _Register, verdict: Verdict) -> RegisterDecision | None:
    if verdict.ok:
        return None
    if verdict.kind is VerdictKind.SYNC_FAILURE and verdict.rand and verdict.auts:
        return _challenge(reg, resync=(verdict.rand, verdict.auts))
    if verdict.kind in (VerdictKind.WRONG_RES, VerdictKind.MAC_FAILURE):
        reason = "Forbidden - authentication failed"
        if verdict.kind is VerdictKind.MAC_FAILURE:
            reason = "Forbidden - UE reported network authentication failure"
        sar = SarRequest(ServerAssignmentType.AUTHENTICATION_FAILURE, reg.impi, (reg.impu,))
        return RegisterDecision(Action.AUTH_FAILURE, reg.impi, reg.impu, 403, reason, sar=sar)
    return _challenge(reg, stale=verdict.kind is VerdictKind.STALE)


def _may_skip_challenge(record: Registration | None, reg: _Register,
                        config: RegistrarConfig) -> bool:
    if config.challenge_reregistration or record is None or reg.creds is None:
        return False
    protected = (reg.creds.integrity_protected or "").lower()
    return (
        record.state is RegState.REGISTERED and record.impi == reg.impi
        and record.has_identity(reg.impu) and protected in _PROTECTED
    )


def _contacts(record: Registration | None, reg: _Register, req: Request, now: float,
              config: RegistrarConfig) -> RegisterDecision:
    """RFC 3261 §10.3 steps 6-7 on the Contact header of an authenticated REGISTER."""
    registered = record is not None and record.state is RegState.REGISTERED
    if any(v.strip() == "*" for v in req.get_all("contact")):
        return _wildcard(record if registered else None, reg, req)
    contacts = req.contacts
    if not contacts:
        return RegisterDecision(Action.QUERY, reg.impi, reg.impu, 200, "OK")
    requested = [(c, _requested(c, req, config)) for c in contacts]
    if any(0 < e < config.min_expires for _, e in requested):
        return _respond(reg, 423, "Interval Too Brief",
                        (("Min-Expires", str(config.min_expires)),))
    current = record.active_bindings(now) if record is not None and registered else []
    update = _merge(current, requested, reg, req, now, config)
    if update is None:
        return _respond(reg, 500, "Out of order REGISTER")
    return _assignment(record if registered else None, reg, update)


def _requested(contact: NameAddr, req: Request, config: RegistrarConfig) -> int:
    expiry = contact_expiry(contact, req)
    return config.default_expires if expiry is None else expiry


def _wildcard(record: Registration | None, reg: _Register, req: Request) -> RegisterDecision:
    """``Contact: *`` (RFC 3261 §10.3 step 6): only alone and with Expires: 0."""
    if len(req.get_all("contact")) != 1 or req.expires != 0:
        return _respond(reg, 400, "Bad Request - '*' needs Expires: 0 and no other Contact")
    if record is None or not record.bindings:
        return RegisterDecision(Action.QUERY, reg.impi, reg.impu, 200, "OK")
    removed = tuple(_with_event(b, "unregistered") for b in record.bindings)
    return _assignment(record, reg, ContactUpdate((), removed))


def _assignment(record: Registration | None, reg: _Register,
                update: ContactUpdate) -> RegisterDecision:
    """The SAR for a contact change (TS 24.229 §5.4.1.2.1, §5.4.1.4)."""
    impus = record.impus if record is not None else (reg.impu,)
    udaa = UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE
    if not update.bindings:
        if record is None:
            return RegisterDecision(Action.QUERY, reg.impi, reg.impu, 200, "OK")
        kind = ServerAssignmentType.USER_DEREGISTRATION
    elif record is None:
        kind = ServerAssignmentType.REGISTRATION
    else:
        kind = ServerAssignmentType.RE_REGISTRATION
        if record.user_data is not None:
            udaa = UserDataAlreadyAvailable.USER_DATA_ALREADY_AVAILABLE
    sar = SarRequest(kind, reg.impi, impus, udaa)
    return RegisterDecision(Action.ASSIGN, reg.impi, reg.impu, sar=sar, update=update)


def _merge(
    current: list[Binding], requested: list[tuple[NameAddr, int]], reg: _Register,
    req: Request, now: float, config: RegistrarConfig,
) -> ContactUpdate | None:
    """Apply each Contact to the bindings (RFC 3261 §10.3 step 7); None if out of order."""
    bindings = [dataclasses.replace(b) for b in current]
    removed: list[Binding] = []
    for contact, expiry in requested:
        uri, instance = str(contact.uri), contact.instance_id
        index = next((i for i, b in enumerate(bindings) if b.same_contact(uri, instance)), None)
        old = bindings[index] if index is not None else None
        if old is not None and old.call_id == reg.call_id and reg.cseq <= old.cseq:
            return None
        if expiry == 0:
            if old is not None and index is not None:
                removed.append(_with_event(bindings.pop(index), "unregistered"))
            continue
        new = _binding(contact, min(expiry, config.max_expires), reg, req, now, old)
        if index is None:
            bindings.append(new)
        else:
            bindings[index] = new
    return ContactUpdate(tuple(bindings), tuple(removed))


def _binding(contact: NameAddr, granted: int, reg: _Register, req: Request, now: float,
             old: Binding | None) -> Binding:
    """A binding for one Contact, with the reginfo event it causes (RFC 3680 §5.1)."""
    expires_at = now + granted
    event = "registered"
    if old is not None:
        event = "shortened" if expires_at < old.expires_at else "refreshed"
    path = tuple(req.get_all("path"))
    ue_via = req.vias[-1] if req.vias else None
    received = None
    transport = contact.uri.transport if isinstance(contact.uri, SipUri) else None
    if ue_via is not None:
        port = ue_via.rport or ue_via.port
        host = ue_via.received or ue_via.host
        received = host if port is None else f"{host}:{port}"
        transport = transport or ue_via.transport
    return Binding(
        uri=str(contact.uri), expires_at=expires_at, call_id=reg.call_id, cseq=reg.cseq,
        instance_id=contact.instance_id, feature_tags=contact.feature_tags(), path=path,
        received=received, transport=transport, pcscf=path[0] if path else None, event=event,
    )


def _with_event(binding: Binding, event: str) -> Binding:
    return dataclasses.replace(binding, event=event)


# -- after the SAA ---------------------------------------------------------------
def apply_saa(record: Registration | None, decision: RegisterDecision, user_data: str | None,
              now: float) -> SaaOutcome:
    """The record after a successful SAA (TS 24.229 §5.4.1.2.2, TS 29.228 §6.1.2).

    User-Data from the SAA replaces the cached one; the implicit set is the
    service profile holding the registered IMPU. 403 when every identity
    of the set is barred (TS 24.229 §5.4.1.2.1).
    """
    update = decision.update or ContactUpdate(())
    sar = decision.sar
    if sar is not None and sar.assignment_type is ServerAssignmentType.USER_DEREGISTRATION:
        return SaaOutcome(None, 200, "OK", update.removed)
    base = record or Registration(decision.impi, (decision.impu,))
    try:
        fresh = _with_user_data(base, user_data) if user_data else base.copy()
    except UserDataError:
        return SaaOutcome(record, 500, "Server Internal Error - bad User-Data")
    if not fresh.associated_uris():
        return SaaOutcome(record, 403, "Forbidden - all public identities barred")
    fresh.state = RegState.REGISTERED
    fresh.bindings = [b for b in update.bindings if b.expires_at > now]
    return SaaOutcome(fresh, 200, "OK", update.removed)


def _with_user_data(record: Registration, user_data: str) -> Registration:
    """``record`` with User-Data parsed and the implicit set taken from it."""
    subscription = parse_ims_subscription(user_data)
    fresh = dataclasses.replace(record.copy(), user_data=user_data, subscription=subscription)
    profile = fresh.profile()
    if profile is not None:
        fresh.impus = tuple(p.identity for p in profile.public_identities)
    return fresh


def apply_ppr(record: Registration, user_data: str) -> Registration:
    """Replace the stored service profile with a PPR's User-Data (TS 29.228 §6.1.4).

    Raises:
        UserDataError: when the XML is not a valid IMSSubscription.
    """
    return _with_user_data(record, user_data)


# -- network-side removal ----------------------------------------------------------
def expire(record: Registration, now: float) -> Removal:
    """Drop expired bindings (RFC 3261 §10.3); SAR TIMEOUT_DEREGISTRATION when the last goes.

    TS 24.229 §5.4.1.7: the S-CSCF deregisters the set when no contact is left.
    """
    gone = tuple(_with_event(b, "expired") for b in record.bindings if b.expires_at <= now)
    if not gone:
        return Removal(record, ())
    kept = [b for b in record.bindings if b.expires_at > now]
    if kept:
        return Removal(dataclasses.replace(record.copy(), bindings=kept), gone)
    sar = SarRequest(ServerAssignmentType.TIMEOUT_DEREGISTRATION, record.impi, record.impus)
    return Removal(None, gone, sar)


def next_expiry(record: Registration) -> float | None:
    """When :func:`expire` next has work for this record (for the timer)."""
    return min((b.expires_at for b in record.bindings), default=None)


def deregister_identities(record: Registration, identities: Iterable[str]) -> Removal:
    """Network-initiated deregistration by RTR (TS 29.228 §6.1.3, TS 24.229 §5.4.1.5).

    An empty ``identities`` names the whole IMPI; naming any identity of
    the implicit set deregisters the set (its contacts are shared). The
    removed contacts carry event ``deactivated`` for the reg-event NOTIFY.
    """
    names = [identity_key(i) for i in identities]
    if names and not any(n in record.keys for n in names):
        return Removal(record, ())
    removed = tuple(_with_event(b, "deactivated") for b in record.bindings)
    return Removal(None, removed)


# -- responses ----------------------------------------------------------------------
def build_unauthorized(req: Request, pending: PendingChallenge, to_tag: str,
                       stale: bool = False) -> Response:
    """The 401 carrying the challenge (TS 24.229 §5.4.1.2.1)."""
    challenge = build_challenge(pending, stale)
    return make_response(req, 401, "Unauthorized", to_tag=to_tag,
                         headers=[("WWW-Authenticate", str(challenge))])


def build_failure(req: Request, decision: RegisterDecision | SaaOutcome, to_tag: str) -> Response:
    """A final error response carrying the decision's status, reason and headers."""
    headers = decision.headers if isinstance(decision, RegisterDecision) else ()
    return make_response(req, decision.status, decision.reason, to_tag=to_tag, headers=headers)


def build_register_ok(req: Request, record: Registration | None, now: float,
                      config: RegistrarConfig, to_tag: str) -> Response:
    """The 200 OK to a REGISTER (TS 24.229 §5.4.1.2.2, RFC 3261 §10.3 step 8).

    Path echoed (RFC 3327 §5.3), Service-Route with our URI, ``orig`` and
    ``lr`` (RFC 3608), P-Associated-URI with the non-barred identities of the
    implicit set, default first (RFC 3455 §4.1), every current binding with
    its remaining expiry, and Date.
    """
    headers: list[tuple[str, str]] = [("Path", p) for p in req.get_all("path")]
    if record is not None and record.state is RegState.REGISTERED:
        headers.append(("Service-Route", service_route(config)))
        uris = record.associated_uris()
        if uris:
            headers.append(("P-Associated-URI", ", ".join(f"<{u}>" for u in uris)))
        headers += [("Contact", contact_value(b, now)) for b in record.active_bindings(now)]
    headers.append(("Date", formatdate(now, usegmt=True)))
    return make_response(req, 200, "OK", to_tag=to_tag, headers=headers)


def service_route(config: RegistrarConfig) -> str:
    """Our Service-Route value: ``<server-uri;lr;orig>`` (TS 24.229 §5.4.1.2.2)."""
    return f"<{config.server_uri};lr;orig>"


def contact_value(binding: Binding, now: float) -> str:
    """A Contact value of the 200 OK: the URI, its expiry and ``+sip.instance``."""
    value = f"<{binding.uri}>;expires={binding.remaining(now)}"
    if binding.instance_id is not None:
        value += f';+sip.instance="<{binding.instance_id}>"'
    for name, tag in binding.feature_tags.items():
        if name.lower() != "+sip.instance":
            value += f";{name}" if tag is None else f";{name}={tag}"
    return value

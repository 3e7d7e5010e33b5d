"""Cx handlers of the HSS (TS 29.228 §6.1-§6.3, TS 29.229 §6.1; Rel-17).

Each command is parse → decide → build:

* ``answer_<msg>(port, origin, request)`` reads the request with
  :mod:`ims.diameter.cx` (a missing AVP raises ``AvpError``, which the
  bridge answers with its result code), calls ``handle_<msg>`` and builds
  the answer with ``ims.diameter.cx.build_<msg>``;
* ``handle_<msg>(port, request, origin)`` decides from the store's answers
  and returns the answer dataclass. It never touches Diameter messages.

Result rules (TS 29.228 §6.1.1.1, §6.1.2.1, §6.1.4.1, §6.3.1; TS 29.229
§6.2): an unknown identity is Experimental-Result 5001, an IMPU that is not
the IMPI's is 5002, a registration with only barred identities is the base
Result-Code 5003 DIAMETER_AUTHORIZATION_REJECTED. A store failure is the
base Result-Code 5012 DIAMETER_UNABLE_TO_COMPLY, never 5001.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from diameter.message import Message

from hss.fastpath import FastPath, ImpuContext, fast_path_for
from hss.fastpath_cx import CxContext, CxFastPath, cx_fast_path_for
from hss.identities import (
    DigestCredentials,
    FilterCriteriaRecord,
    ImpiRecord,
    ImpuLookup,
    ImpuRecord,
    ScscfAssignment,
    ServiceProfileRecord,
    SubscriberRecord,
    TriggerSpec,
)
from hss.models import (
    AuthSchemeError,
    NotFoundError,
    RegistrationState,
    SptKind,
    StoreUnavailable,
)
from hss.store import MAX_BATCH
from ims.auth.aka import AuthVector
from ims.diameter import cx
from ims.diameter import userdata as ud
from ims.diameter.cx import ServerAssignmentType as Sat
from ims.diameter.cx import UserAuthorizationType as Uat
from ims.diameter.results import (
    Answer,
    CxExperimentalResult,
    Envelope,
    Origin,
    Result,
    ResultCode,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

_OK = Result.of(ResultCode.DIAMETER_SUCCESS)
_UNKNOWN = Result.of(CxExperimentalResult.DIAMETER_ERROR_USER_UNKNOWN)
_MISMATCH = Result.of(CxExperimentalResult.DIAMETER_ERROR_IDENTITIES_DONT_MATCH)
_REJECTED = Result.of(ResultCode.DIAMETER_AUTHORIZATION_REJECTED)
_UNABLE = Result.of(ResultCode.DIAMETER_UNABLE_TO_COMPLY)
_FIRST = Result.of(CxExperimentalResult.DIAMETER_FIRST_REGISTRATION)

#: RAND (16) || AUTS (14) in the SIP-Authorization of a resync MAR (TS 29.229 §6.3.15).
RESYNC_LEN = 30


class CxStore(Protocol):
    """What the Cx handlers need from :class:`hss.store.Store`."""

    def identities_for_impi(self, impi: str) -> ImpiRecord: ...  # noqa: D102
    def lookup_impu(self, impu: str) -> ImpuLookup: ...  # noqa: D102
    def service_profile(self, name: str) -> ServiceProfileRecord: ...  # noqa: D102
    def get_subscriber(self, imsi: str) -> SubscriberRecord: ...  # noqa: D102

    def set_registration(self, impu: str, state: RegistrationState, *,  # noqa: D102
                         impi: str | None = None,
                         scscf: ScscfAssignment | None = None) -> tuple[str, ...]: ...


class CxVectors(Protocol):
    """What MAR needs from :class:`hss.vectors.VectorService`."""

    def ims_vectors(self, impi: str, count: int = 1) -> list[AuthVector]: ...  # noqa: D102
    def resync(self, identity: str, rand: bytes, auts: bytes) -> bool: ...  # noqa: D102
    def digest_credentials(self, impi: str) -> DigestCredentials: ...  # noqa: D102


class Refused(Exception):
    """A decision that ends in an error result (internal to this module)."""

    def __init__(self, result: Result) -> None:
        super().__init__(result)
        self.result = result


def _same_impi(left: str, right: str) -> bool:
    """IMPIs compare with a case-insensitive realm (RFC 4282 NAI)."""
    lu, _, lr = left.partition("@")
    ru, _, rr = right.partition("@")
    return lu == ru and lr.lower() == rr.lower()


def guarded(origin: Origin, session: str, decide: Callable[[], T],
            refuse: Callable[[Answer], T], *, unknown: Result = _UNKNOWN) -> T:
    """Run ``decide``; map :class:`Refused` and store errors to an error answer.

    Shared by the Cx, Sh and S6a handlers: :class:`NotFoundError` becomes
    ``unknown`` (Experimental-Result 5001 of the interface) and
    :class:`StoreUnavailable` the base Result-Code 5012 (TS 29.229 §6.2,
    TS 29.272 §7.4: an infrastructure failure is never "user unknown").
    """
    try:
        return decide()
    except Refused as refused:
        return refuse(Answer(session, origin.host, origin.realm, refused.result))
    except NotFoundError as exc:
        log.info("user unknown: %s", exc)
        return refuse(Answer(session, origin.host, origin.realm, unknown))
    except StoreUnavailable as exc:
        log.error("subscriber store unavailable: %s", exc)
        return refuse(Answer(session, origin.host, origin.realm, _UNABLE))


def _owned_impu(store: CxStore, impi: str, impu: str) -> ImpuLookup:
    """The IMPU, checked to belong to ``impi`` (TS 29.228 §6.1.1.1 steps 1-2).

    Raises:
        NotFoundError: either identity is unknown (5001).
        Refused: the IMPU is not ``impi``'s (5002).
    """
    store.identities_for_impi(impi)
    found = store.lookup_impu(impu)
    if not _same_impi(found.impi, impi):
        raise Refused(_MISMATCH)
    return found


# -- UAR (TS 29.228 §6.1.1.1) --------------------------------------------------
def handle_uar(store: CxStore, uar: cx.Uar, origin: Origin,
               fast: CxFastPath | None = None) -> cx.Uaa:
    """Decide the UAA: which S-CSCF serves ``uar``'s user, or the capabilities to pick one.

    With ``fast`` the identities come from one joined SELECT
    (:mod:`hss.fastpath_cx`); unknown or mismatched ones take the ORM path.
    """
    def decide() -> cx.Uaa:
        context = _fast_owned(fast, uar.user_name, uar.public_identity)
        found = (context.lookup if context is not None
                 else _owned_impu(store, uar.user_name, uar.public_identity))
        answer = Answer.to(uar.envelope, origin, _OK)
        return _uaa_for(found, uar.authorization_type, answer)
    return guarded(origin, uar.envelope.session_id, decide, cx.Uaa)


def _uaa_for(found: ImpuLookup, kind: Uat, answer: Answer) -> cx.Uaa:
    """TS 29.228 §6.1.1.1 steps 3-5 and Table 6.1.1.1."""
    registration = found.impu.registration
    server = registration.scscf.name if registration.scscf else None
    if kind == Uat.DE_REGISTRATION:
        if server is None:
            raise Refused(Result.of(CxExperimentalResult.DIAMETER_ERROR_IDENTITY_NOT_REGISTERED))
        return cx.Uaa(_with(answer, _OK), server_name=server)
    if all(member.barred for member in found.implicit_set):
        raise Refused(_REJECTED)
    if kind == Uat.REGISTRATION_AND_CAPABILITIES:
        return cx.Uaa(_with(answer, _FIRST), server_capabilities=cx.ServerCapabilities())
    if registration.state == RegistrationState.REGISTERED and server:
        code = CxExperimentalResult.DIAMETER_SUBSEQUENT_REGISTRATION
        return cx.Uaa(_with(answer, Result.of(code)), server_name=server)
    if registration.state == RegistrationState.UNREGISTERED and server:
        code = CxExperimentalResult.DIAMETER_UNREGISTERED_SERVICE
        return cx.Uaa(_with(answer, Result.of(code)), server_name=server)
    if server:
        return cx.Uaa(_with(answer, _FIRST), server_name=server)
    return cx.Uaa(_with(answer, _FIRST), server_capabilities=cx.ServerCapabilities())


def _with(answer: Answer, result: Result) -> Answer:
    return Answer(answer.session_id, answer.origin_host, answer.origin_realm, result)


def _fast_owned(fast: CxFastPath | None, impi: str, impu: str) -> CxContext | None:
    """The IMPU's context when it is known and ``impi``'s; None: take the ORM path."""
    context = None if fast is None else fast.lookup(impu)
    if context is None or not _same_impi(context.lookup.impi, impi):
        return None
    return context


def answer_uar(store: CxStore, origin: Origin, request: Message,
               fast: CxFastPath | None = None) -> Message:
    """Parse, decide, build a UAA (raises ``AvpError`` on a malformed UAR)."""
    return cx.build_uaa(request, handle_uar(store, cx.read_uar(request), origin, fast))


# -- MAR (TS 29.228 §6.3.1) ----------------------------------------------------
def handle_mar(store: CxStore, vectors: CxVectors, mar: cx.Mar, origin: Origin,
               fast: FastPath | None = None) -> cx.Maa:
    """Decide the MAA: AKA vectors (after a resync if asked) or a SIP Digest HA1.

    With ``fast`` the identity checks and the S-CSCF decision read one
    joined SELECT (:mod:`hss.fastpath`) instead of the ORM graph; the
    decisions and results are the same.
    """
    def decide() -> cx.Maa:
        if fast is None:
            found = _owned_impu(store, mar.user_name, mar.public_identity)
            items = _auth_items(vectors, mar)
            _record_scscf(store, found, mar)
        else:
            context = _owned_context(store, fast, mar.user_name, mar.public_identity)
            items = _auth_items(vectors, mar)
            _record_scscf_fast(store, fast, context, mar)
        answer = Answer.to(mar.envelope, origin, _OK)
        return cx.Maa(answer, user_name=mar.user_name, public_identity=mar.public_identity,
                      number_auth_items=len(items), auth_items=items)
    return guarded(origin, mar.envelope.session_id, decide, cx.Maa)


def _auth_items(vectors: CxVectors, mar: cx.Mar) -> tuple[cx.AuthDataItem, ...]:
    """The SIP-Auth-Data-Items for the requested scheme (TS 29.228 §6.3.1, Table 6.3.2)."""
    scheme = mar.auth_data.scheme
    try:
        if scheme == cx.AuthScheme.SIP_DIGEST:
            return (_digest_item(vectors.digest_credentials(mar.user_name)),)
        if scheme == cx.AuthScheme.AKAV1_MD5:
            return _aka_items(vectors, mar)
        if scheme == cx.AuthScheme.UNKNOWN:
            return _any_items(vectors, mar)
    except AuthSchemeError as exc:
        log.info("cx: MAR scheme %r refused: %s", scheme, exc)
    raise Refused(Result.of(CxExperimentalResult.DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED))


def _any_items(vectors: CxVectors, mar: cx.Mar) -> tuple[cx.AuthDataItem, ...]:
    """Scheme ``Unknown``: whatever the IMPI is provisioned with (TS 29.228 §6.3.1)."""
    try:
        return _aka_items(vectors, mar)
    except AuthSchemeError:
        return (_digest_item(vectors.digest_credentials(mar.user_name)),)


def _aka_items(vectors: CxVectors, mar: cx.Mar) -> tuple[cx.AuthDataItem, ...]:
    """Digest-AKAv1-MD5 items, resynchronising first when RAND||AUTS came (TS 33.203 §6.3.3)."""
    resync = mar.auth_data.authorization
    if resync is not None:
        if len(resync) != RESYNC_LEN:
            raise Refused(Result.of(ResultCode.DIAMETER_INVALID_AVP_VALUE))
        if not vectors.resync(mar.user_name, resync[:16], resync[16:]):
            raise Refused(Result.of(ResultCode.DIAMETER_AUTHENTICATION_REJECTED))
    count = min(max(mar.number_auth_items, 1), MAX_BATCH)
    return tuple(cx.aka_item(number, v.rand, v.autn, v.xres, v.ck, v.ik)
                 for number, v in enumerate(vectors.ims_vectors(mar.user_name, count), 1))


def _digest_item(credentials: DigestCredentials) -> cx.AuthDataItem:
    """SIP Digest: HA1 only, never a password or key (TS 29.228 §6.3.1, RFC 2617)."""
    digest = cx.DigestAuthenticate(realm=credentials.realm, ha1=credentials.ha1,
                                   qop="auth", algorithm="MD5")
    return cx.AuthDataItem(cx.AuthScheme.SIP_DIGEST, item_number=1, digest=digest)


def _record_scscf(store: CxStore, found: ImpuLookup, mar: cx.Mar) -> None:
    """Store the requesting S-CSCF while the user is not registered (TS 29.228 §6.3.1)."""
    if found.impu.registration.state == RegistrationState.NOT_REGISTERED:
        store.set_registration(found.impu.impu, RegistrationState.NOT_REGISTERED,
                               impi=found.impi, scscf=_assignment(mar.server_name, mar.envelope))


def _owned_context(store: CxStore, fast: FastPath, impi: str, impu: str) -> ImpuContext:
    """:func:`_owned_impu` from one joined SELECT; the error cases re-check the IMPI first."""
    context = fast.impu_context(impu)
    if context is None:
        store.identities_for_impi(impi)
        raise NotFoundError("IMPU", impu)
    if not _same_impi(context.impi, impi):
        store.identities_for_impi(impi)
        raise Refused(_MISMATCH)
    return context


def _record_scscf_fast(store: CxStore, fast: FastPath, context: ImpuContext,
                       mar: cx.Mar) -> None:
    """:func:`_record_scscf`, skipping the write when the same S-CSCF is already stored."""
    if context.state != RegistrationState.NOT_REGISTERED:
        return
    scscf = _assignment(mar.server_name, mar.envelope)
    if not context.assigned_to(scscf) and not fast.assign(context, scscf):
        store.set_registration(context.impu, RegistrationState.NOT_REGISTERED,
                               impi=context.impi, scscf=scscf)


def _assignment(server_name: str, envelope: Envelope) -> ScscfAssignment:
    """The S-CSCF with its Diameter Origin-Host/Realm, where RTR/PPR go (TS 29.228 §6.1.3, §6.2)."""
    return ScscfAssignment(server_name, envelope.origin_host, envelope.origin_realm)


def answer_mar(store: CxStore, vectors: CxVectors, origin: Origin, request: Message,
               fast: FastPath | None = None) -> Message:
    """Parse, decide, build an MAA."""
    return cx.build_maa(request, handle_mar(store, vectors, cx.read_mar(request), origin, fast))


# -- SAR (TS 29.228 §6.1.2.1) --------------------------------------------------
_DEREGISTRATIONS = {Sat.TIMEOUT_DEREGISTRATION, Sat.USER_DEREGISTRATION,
                    Sat.ADMINISTRATIVE_DEREGISTRATION, Sat.DEREGISTRATION_TOO_MUCH_DATA}
_DEREGISTRATIONS_KEEP = {Sat.TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME,
                         Sat.USER_DEREGISTRATION_STORE_SERVER_NAME}
_AUTH_FAILURES = {Sat.AUTHENTICATION_FAILURE, Sat.AUTHENTICATION_TIMEOUT}


def handle_sar(store: CxStore, sar: cx.Sar, origin: Origin,
               charging: cx.ChargingInformation | None = None,
               fast: CxFastPath | None = None) -> cx.Saa:
    """Decide the SAA: record the assignment and return the user profile when due.

    TS 29.228 §6.1.2.1: the SAA carries Associated-Identities (the other
    IMPIs of the IMS subscription) and, with the profile, the configured
    Charging-Information (TS 29.229 §6.3.19). With ``fast``, REGISTRATION
    and RE_REGISTRATION of a known, owned IMPU use :mod:`hss.fastpath_cx`.
    """
    def decide() -> cx.Saa:
        quick = None if fast is None else _fast_sar(store, fast, sar, origin, charging)
        if quick is not None:
            return quick
        found = _sar_identity(store, sar)
        state = _apply_assignment(store, found, sar)
        answer = Answer.to(sar.envelope, origin, _OK)
        others = associated_impis(store, found)
        if state is None:
            return cx.Saa(answer, user_name=found.impi, associated_identities=others)
        return cx.Saa(answer, user_name=found.impi, user_data=user_data(store, found),
                      charging_information=charging, associated_identities=others)
    return guarded(origin, sar.envelope.session_id, decide, cx.Saa)


def _fast_sar(store: CxStore, fast: CxFastPath, sar: cx.Sar, origin: Origin,
              charging: cx.ChargingInformation | None) -> cx.Saa | None:
    """SAR REGISTRATION / RE_REGISTRATION from one SELECT and one UPDATE; None otherwise."""
    if (sar.assignment_type not in (Sat.REGISTRATION, Sat.RE_REGISTRATION)
            or not sar.public_identities or sar.user_name is None):
        return None
    context = _fast_owned(fast, sar.user_name, sar.public_identities[0])
    if context is None:
        return None
    found = context.lookup
    scscf = _assignment(sar.server_name, sar.envelope)
    if not fast.register(context, scscf):
        store.set_registration(found.impu.impu, RegistrationState.REGISTERED,
                               impi=found.impi, scscf=scscf)
    answer = Answer.to(sar.envelope, origin, _OK)
    others = tuple(impi for impi in fast.associated_impis(context)
                   if not _same_impi(impi, found.impi))
    wanted = sar.user_data_already_available == cx.UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE
    if sar.assignment_type == Sat.RE_REGISTRATION and not wanted:
        return cx.Saa(answer, user_name=found.impi, associated_identities=others)
    data = ud.build_ims_subscription(subscription_of(found, fast.profiles(context)))
    return cx.Saa(answer, user_name=found.impi, user_data=data,
                  charging_information=charging, associated_identities=others)


def associated_impis(store: CxStore, found: ImpuLookup) -> tuple[str, ...]:
    """The IMS subscription's other private identities (Associated-Identities, §6.3.33)."""
    record = store.get_subscriber(found.imsi)
    return tuple(impi.impi for impi in record.private_identities
                 if not _same_impi(impi.impi, found.impi))


def _sar_identity(store: CxStore, sar: cx.Sar) -> ImpuLookup:
    """The IMPU the SAR is about: its Public-Identity, else the IMPI's first (§6.1.2.1)."""
    if sar.public_identities:
        if sar.user_name is None:
            return store.lookup_impu(sar.public_identities[0])
        return _owned_impu(store, sar.user_name, sar.public_identities[0])
    if sar.user_name is None:
        raise Refused(Result.of(ResultCode.DIAMETER_MISSING_AVP))
    impi = store.identities_for_impi(sar.user_name)
    return store.lookup_impu(impi.implicit_sets[0][0].impu)


def _apply_assignment(store: CxStore, found: ImpuLookup, sar: cx.Sar) -> bool | None:
    """Write the registration state of Table 6.1.2.1; True when User-Data is due."""
    kind, impu = sar.assignment_type, found.impu.impu
    scscf = _assignment(sar.server_name, sar.envelope)
    stored = found.impu.registration.scscf
    if kind in (Sat.REGISTRATION, Sat.RE_REGISTRATION):
        store.set_registration(impu, RegistrationState.REGISTERED, impi=found.impi, scscf=scscf)
        wanted = sar.user_data_already_available == cx.UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE
        return True if kind == Sat.REGISTRATION or wanted else None
    if kind == Sat.UNREGISTERED_USER:
        store.set_registration(impu, RegistrationState.UNREGISTERED, scscf=scscf)
        return True
    if kind in _DEREGISTRATIONS or kind in _DEREGISTRATIONS_KEEP:
        keep = scscf if kind in _DEREGISTRATIONS_KEEP else None
        store.set_registration(impu, RegistrationState.NOT_REGISTERED, scscf=keep)
        return None
    if kind in _AUTH_FAILURES:
        if found.impu.registration.state == RegistrationState.NOT_REGISTERED:
            store.set_registration(impu, RegistrationState.NOT_REGISTERED)
        return None
    if kind == Sat.NO_ASSIGNMENT:
        if stored is None or stored.name != sar.server_name:
            raise Refused(_UNABLE)
        return True
    raise Refused(Result.of(CxExperimentalResult.DIAMETER_ERROR_IN_ASSIGNMENT_TYPE))


def answer_sar(store: CxStore, origin: Origin, request: Message,
               charging: cx.ChargingInformation | None = None,
               fast: CxFastPath | None = None) -> Message:
    """Parse, decide, build an SAA."""
    return cx.build_saa(request, handle_sar(store, cx.read_sar(request), origin, charging, fast))


# -- LIR (TS 29.228 §6.1.4.1) --------------------------------------------------
def handle_lir(store: CxStore, lir: cx.Lir, origin: Origin,
               fast: CxFastPath | None = None) -> cx.Lia:
    """Decide the LIA: the assigned S-CSCF, or capabilities for unregistered services.

    With ``fast`` one joined SELECT (:mod:`hss.fastpath_cx`); unknown: the ORM path.
    """
    def decide() -> cx.Lia:
        context = None if fast is None else fast.lookup(lir.public_identity)
        found = context.lookup if context is not None else store.lookup_impu(lir.public_identity)
        registration = found.impu.registration
        answer = Answer.to(lir.envelope, origin, _OK)
        if registration.scscf is not None and registration.state != RegistrationState.NOT_REGISTERED:
            return cx.Lia(answer, server_name=registration.scscf.name)
        if registration.scscf is not None:
            code = CxExperimentalResult.DIAMETER_UNREGISTERED_SERVICE
            return cx.Lia(_with(answer, Result.of(code)), server_name=registration.scscf.name)
        code = CxExperimentalResult.DIAMETER_UNREGISTERED_SERVICE
        return cx.Lia(_with(answer, Result.of(code)), server_capabilities=cx.ServerCapabilities())
    return guarded(origin, lir.envelope.session_id, decide, cx.Lia)


def answer_lir(store: CxStore, origin: Origin, request: Message,
               fast: CxFastPath | None = None) -> Message:
    """Parse, decide, build an LIA."""
    return cx.build_lia(request, handle_lir(store, cx.read_lir(request), origin, fast))


# -- User-Data (TS 29.228 Annex E) ---------------------------------------------
def user_data(store: CxStore, found: ImpuLookup) -> str:
    """The IMSSubscription XML of ``found``'s implicit registration set."""
    return ud.build_ims_subscription(subscription_of(found, _profiles(store, found.implicit_set)))


def _profiles(store: CxStore, members: Iterable[ImpuRecord]) -> dict[str, ServiceProfileRecord]:
    return {name: store.service_profile(name)
            for name in dict.fromkeys(member.service_profile for member in members)}


def subscription_of(found: ImpuLookup,
                    profiles: dict[str, ServiceProfileRecord]) -> ud.IMSSubscription:
    """One ServiceProfile per profile used in the set; each with its IMPUs and iFCs (Annex B)."""
    blocks = []
    for name, profile in profiles.items():
        identities = tuple(ud.PublicIdentity(member.impu, barred=member.barred)
                           for member in found.implicit_set if member.service_profile == name)
        blocks.append(ud.ServiceProfile(identities, tuple(_ifc(f) for f in profile.filter_criteria)))
    return ud.IMSSubscription(private_id=found.impi, service_profiles=tuple(blocks))


def _ifc(record: FilterCriteriaRecord) -> ud.InitialFilterCriteria:
    """One stored filter criterion as an iFC (TS 29.228 Annex B.2.1)."""
    server = record.application_server
    spts = tuple(_spt(trigger) for trigger in record.triggers)
    trigger = ud.TriggerPoint(record.condition_type_cnf, spts) if spts else None
    part = None if record.profile_part_indicator is None else ud.ProfilePartIndicator(
        record.profile_part_indicator)
    return ud.InitialFilterCriteria(
        priority=record.priority,
        application_server=ud.ApplicationServer(
            server.server_name, ud.DefaultHandling(int(server.default_handling)),
            server.service_info, server.include_register_request,
            server.include_register_response),
        trigger_point=trigger, profile_part_indicator=part)


def _spt(trigger: TriggerSpec) -> ud.SPT:
    """One stored trigger as an SPT (TS 29.228 Annex B.2.2)."""
    regs = () if trigger.registration_type is None else (
        ud.RegistrationType(trigger.registration_type),)
    groups, negated = (trigger.group,), trigger.negated
    kind, value, header = trigger.kind, trigger.value, trigger.header or ""
    if kind == SptKind.METHOD:
        return ud.SPT(groups, negated, method=value, registration_types=regs)
    if kind == SptKind.REQUEST_URI:
        return ud.SPT(groups, negated, request_uri=value, registration_types=regs)
    if kind == SptKind.SESSION_CASE:
        case = ud.SessionCase(int(value or 0))
        return ud.SPT(groups, negated, session_case=case, registration_types=regs)
    if kind == SptKind.SESSION_DESCRIPTION:
        line = ud.SessionDescription(header, value)
        return ud.SPT(groups, negated, session_description=line, registration_types=regs)
    return ud.SPT(groups, negated, sip_header=ud.SipHeader(header, value),
                  registration_types=regs)


@dataclass(frozen=True)
class CxHandlers:
    """The Cx request handlers bound to a store, its vectors and our origin."""

    store: CxStore
    vectors: CxVectors
    origin: Origin
    charging: cx.ChargingInformation | None = None
    """Charging-Information sent with the profile in SAA, where configured."""
    fast: FastPath | None = None
    """The MAR fast path; by default one over ``store`` when it is a SQL store."""
    cx_fast: CxFastPath | None = None
    """The UAR/SAR/LIR fast path; by default one over ``store`` when it is a SQL store."""

    def table(self) -> dict[int, Callable[[Message], Message]]:
        """Command code → handler (TS 29.229 §6.1: UAR 300, SAR 301, LIR 302, MAR 303)."""
        fast = self.fast if self.fast is not None else fast_path_for(self.store)
        quick = self.cx_fast if self.cx_fast is not None else cx_fast_path_for(self.store)
        return {
            300: lambda request: answer_uar(self.store, self.origin, request, quick),
            301: lambda request: answer_sar(self.store, self.origin, request, self.charging,
                                            quick),
            302: lambda request: answer_lir(self.store, self.origin, request, quick),
            303: lambda request: answer_mar(self.store, self.vectors, self.origin, request, fast),
        }


__all__ = ["CxHandlers", "Refused", "guarded", "CxStore", "CxVectors", "answer_lir", "answer_mar",
           "answer_sar", "answer_uar", "associated_impis", "handle_lir", "handle_mar", "handle_sar", "handle_uar",
           "subscription_of", "user_data"]

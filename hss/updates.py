"""Changing and searching provisioned subscribers (TS 23.008 §2, §5; TS 29.272 §7.3.2).

Companion of :mod:`hss.store`. :func:`update_subscriber` applies a
:class:`SubscriberChanges` (every field optional; None leaves it alone) in
one write transaction with the subscription row locked, and returns an
:class:`UpdateResult` naming what actually changed, so the HSS can tell the
network:

* EPS data (MSISDN, APNs, AMBR, Access-Restriction) changed: IDR to the
  registered MME (TS 29.272 §5.2.2.1);
* the IMS profile (barring, service profile of an implicit set) changed:
  PPR to the assigned S-CSCF (TS 29.228 §6.1.3);
* AuC data (K, OPc, AMF, SQN) and the authentication scheme concern only
  future vectors and challenges.

Keys are validated as on creation (:func:`hss.identities.parse_hex`): a new
K needs its OPc or OP (OPc is derived from both, TS 35.206 §4.1); OP alone
is converted with the stored K. A SIP Digest password is stored only as
HA1 = MD5(IMPI:realm:password) (RFC 2617 §3.2.2.2).

:func:`search_subscribers` is one SQL query: a case-insensitive substring of
the IMSI, MSISDN, an IMPI or an IMPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from hss.identities import (
    ApnConfig,
    SubscriberRecord,
    apn_config,
    check_name,
    normalize_impu,
    parse_hex,
    subscriber_record,
)
from hss.identities import _apns as check_apns
from hss.identities import _int_range as int_range
from hss.identities import _msisdn as check_msisdn
from hss.models import (
    ApnConfiguration,
    AuthScheme,
    ConflictError,
    ImplicitRegistrationSet,
    NotFoundError,
    PrivateIdentity,
    PublicIdentity,
    ServiceProfile,
    Subscription,
    ValidationError,
    _apn_row,
)
from hss.profiles import assign_in_session
from hss.store import _SUBSCRIBER_LOAD, Store
from ims.auth.digest import ha1
from ims.auth.milenage import compute_opc
from ims.auth.sqn import SQN_MAX

__all__ = ["EPS_FIELDS", "IMS_FIELDS", "SubscriberChanges", "UpdateResult",
           "search_subscribers", "update_subscriber"]

#: Fields whose change is EPS subscription data (IDR to the MME).
EPS_FIELDS = frozenset({"msisdn", "apns", "ambr_ul", "ambr_dl", "access_restriction"})
#: Fields whose change is the IMS user profile (PPR to the S-CSCF).
IMS_FIELDS = frozenset({"barring", "service_profiles"})
_UINT32 = 2**32 - 1


@dataclass(frozen=True, slots=True)
class SubscriberChanges:
    """What to change; None leaves a field as it is.

    Attributes:
        msisdn: new MSISDN (the IMPUs are not renamed).
        amf: 4 hex digits; sqn: SQN_HE.
        k, opc, op: 32 hex digits each (module docstring).
        apns: replace every APN configuration.
        barring: IMPU -> barred (TS 23.008 §5.2.1.3).
        service_profiles: IMPU -> service profile name, for its whole implicit set.
        auth_scheme: AKA or SIP Digest; digest_password: the Digest password (kept as HA1).
    """

    msisdn: str | None = None
    amf: str | None = None
    sqn: int | None = None
    k: str | None = None
    opc: str | None = None
    op: str | None = None
    apns: tuple[ApnConfig, ...] | None = None
    ambr_ul: int | None = None
    ambr_dl: int | None = None
    access_restriction: int | None = None
    barring: Mapping[str, bool] | None = None
    service_profiles: Mapping[str, str] | None = None
    auth_scheme: AuthScheme | None = None
    digest_password: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """The subscriber after the update and the names of the fields that changed."""

    subscriber: SubscriberRecord
    changed: frozenset[str]

    @property
    def eps_changed(self) -> bool:
        """EPS data changed: the HSS sends IDR to the registered MME."""
        return bool(self.changed & EPS_FIELDS)

    @property
    def ims_changed(self) -> bool:
        """The IMS profile changed: the HSS sends PPR to the assigned S-CSCF."""
        return bool(self.changed & IMS_FIELDS)


def update_subscriber(store: Store, imsi: str, changes: SubscriberChanges) -> UpdateResult:
    """Apply ``changes`` to ``imsi`` atomically (module docstring).

    Raises:
        NotFoundError: unknown IMSI.
        ValidationError: naming the first invalid field.
        ConflictError: the new MSISDN belongs to another subscriber.
    """
    with store.transaction(write=True) as session:
        row = _load(session, imsi, lock=True)
        changed: set[str] = set()
        _apply_scalars(session, row, changes, changed)
        _apply_keys(row, changes, changed)
        if changes.apns is not None:
            _apply_apns(session, row, check_apns(tuple(changes.apns)), changed)
        _apply_barring(row, changes.barring or {}, changed)
        _apply_profiles(session, row, changes.service_profiles or {}, changed)
        _apply_auth(row, changes, changed)
        session.flush()
        session.expire_all()
        return UpdateResult(subscriber_record(_load(session, imsi)), frozenset(changed))


def search_subscribers(store: Store, query: str, limit: int = 100,
                       offset: int = 0) -> list[SubscriberRecord]:
    """Subscribers whose IMSI, MSISDN, an IMPI or an IMPU contains ``query`` (any case)."""
    needle = query.strip().lower()
    by_impi = select(PrivateIdentity.subscription_id).where(
        func.lower(PrivateIdentity.impi).contains(needle, autoescape=True))
    by_impu = (select(PrivateIdentity.subscription_id)
               .join(ImplicitRegistrationSet,
                     ImplicitRegistrationSet.impi_id == PrivateIdentity.id)
               .join(PublicIdentity, PublicIdentity.irs_id == ImplicitRegistrationSet.id)
               .where(func.lower(PublicIdentity.impu).contains(needle, autoescape=True)))
    statement = (select(Subscription)
                 .where(or_(Subscription.imsi.contains(needle, autoescape=True),
                            Subscription.msisdn.contains(needle.removeprefix("+"),
                                                         autoescape=True),
                            Subscription.id.in_(by_impi), Subscription.id.in_(by_impu)))
                 .order_by(Subscription.imsi).offset(offset).limit(limit)
                 .options(*_SUBSCRIBER_LOAD))
    with store.transaction() as session:
        return [subscriber_record(row) for row in session.scalars(statement)]


# --------------------------------------------------------------------------- steps

def _load(session: Session, imsi: str, lock: bool = False) -> Subscription:
    if lock:  # lock the row alone: PostgreSQL refuses FOR UPDATE across outer joins
        session.scalar(select(Subscription.id).where(Subscription.imsi == imsi)
                       .with_for_update())
    row = session.scalars(select(Subscription).where(Subscription.imsi == imsi)
                          .options(*_SUBSCRIBER_LOAD)).one_or_none()
    if row is None:
        raise NotFoundError("IMSI", imsi)
    return row


def _set(row: object, name: str, value: object, changed: set[str]) -> None:
    if getattr(row, name) != value:
        setattr(row, name, value)
        changed.add(name)


def _apply_scalars(session: Session, row: Subscription, changes: SubscriberChanges,
                   changed: set[str]) -> None:
    if changes.msisdn is not None:
        msisdn = check_msisdn(changes.msisdn)
        owner = session.scalar(select(Subscription.imsi).where(Subscription.msisdn == msisdn,
                                                               Subscription.id != row.id))
        if owner is not None:
            raise ConflictError("msisdn", msisdn or "")
        _set(row, "msisdn", msisdn, changed)
    if changes.amf is not None:
        _set(row, "amf", parse_hex("amf", changes.amf, 2), changed)
    if changes.sqn is not None:
        _set(row, "sqn", int_range("sqn", changes.sqn, 0, SQN_MAX), changed)
    for name in ("ambr_ul", "ambr_dl", "access_restriction"):
        value = getattr(changes, name)
        if value is not None:
            _set(row, name, int_range(name, value, 0, _UINT32), changed)


def _new_keys(row: Subscription, changes: SubscriberChanges) -> tuple[bytes, bytes]:
    if changes.opc is not None and changes.op is not None:
        raise ValidationError("opc", "give opc or op, not both")
    k = parse_hex("k", changes.k, 16) if changes.k is not None else row.k
    if k is None:
        raise ValidationError("k", "is required with opc/op (the subscriber has no K)")
    if changes.opc is not None:
        return k, parse_hex("opc", changes.opc, 16)
    if changes.op is not None:
        return k, compute_opc(k, parse_hex("op", changes.op, 16))
    raise ValidationError("opc", "a new k needs its opc or op")


def _apply_keys(row: Subscription, changes: SubscriberChanges, changed: set[str]) -> None:
    if changes.k is None and changes.opc is None and changes.op is None:
        return
    k, opc = _new_keys(row, changes)
    _set(row, "k", k, changed)
    _set(row, "opc", opc, changed)


def _apply_apns(session: Session, row: Subscription, apns: tuple[ApnConfig, ...],
                changed: set[str]) -> None:
    if tuple(apn_config(apn) for apn in row.apns) == apns:
        return
    # Delete in SQL first: the unit of work inserts before deleting (unique context_id).
    session.execute(delete(ApnConfiguration).where(ApnConfiguration.subscription_id == row.id))
    for apn in apns:
        new = _apn_row(apn)
        new.subscription_id = row.id
        session.add(new)
    changed.add("apns")


def _impus_of(row: Subscription) -> dict[str, PublicIdentity]:
    return {impu.impu: impu for impi in row.private_identities
            for irs in impi.implicit_sets for impu in irs.public_identities}


def _member(row: Subscription, impu: str, field_name: str) -> PublicIdentity:
    key = normalize_impu(impu, field_name)
    member = _impus_of(row).get(key)
    if member is None:
        raise ValidationError(field_name, f"{impu!r} is not a public identity of {row.imsi}")
    return member


def _apply_barring(row: Subscription, barring: Mapping[str, bool], changed: set[str]) -> None:
    for impu, barred in barring.items():
        member = _member(row, impu, f"barring.{impu}")
        if not isinstance(barred, bool):
            raise ValidationError(f"barring.{impu}", "must be true or false")
        if member.barred != barred:
            member.barred = barred
            changed.add("barring")


def _apply_profiles(session: Session, row: Subscription, assignments: Mapping[str, str],
                    changed: set[str]) -> None:
    for impu, name in assignments.items():
        where = f"service_profiles.{impu}"
        member = _member(row, impu, where)
        check_name(where, name)
        profile = session.scalars(select(ServiceProfile)
                                  .where(ServiceProfile.name == name)).one_or_none()
        if profile is None:
            raise ValidationError(where, f"unknown service profile {name!r}")
        if assign_in_session(session, member, profile):
            changed.add("service_profiles")


def _apply_auth(row: Subscription, changes: SubscriberChanges, changed: set[str]) -> None:
    scheme, password = changes.auth_scheme, changes.digest_password
    if scheme is None and password is None:
        return
    if password is not None and (not isinstance(password, str) or not password):
        raise ValidationError("digest_password", "must be a non-empty string")
    if scheme is AuthScheme.AKA:
        if password is not None:
            raise ValidationError("digest_password", "is not used with AKA")
        if row.k is None or row.opc is None:
            raise ValidationError("auth_scheme", "AKA needs k and opc")
    for identity in row.private_identities:
        _set_scheme(identity, scheme, password, changed)


def _set_scheme(identity: PrivateIdentity, scheme: AuthScheme | None, password: str | None,
                changed: set[str]) -> None:
    if scheme is AuthScheme.AKA:
        values: tuple[str, str | None, str | None] = (AuthScheme.AKA.value, None, None)
    elif password is not None:
        realm = identity.digest_realm or identity.impi.partition("@")[2]
        values = (AuthScheme.DIGEST.value, realm, ha1(identity.impi, realm, password))
    elif identity.digest_ha1 is None:
        raise ValidationError("digest_password", "is required to switch to digest")
    else:
        return
    current = (identity.auth_scheme, identity.digest_realm, identity.digest_ha1)
    if current != values:
        identity.auth_scheme, identity.digest_realm, identity.digest_ha1 = values
        changed.add("auth_scheme" if current[0] != values[0] else "digest_password")

"""The HSS store's queries, by concern, each inside the caller's session (TS 23.008; TS 33.102 Annex C).

Helpers of :class:`hss.store.Store` (and its companions :mod:`hss.updates`,
:mod:`hss.profiles`): identity lookups (IMSI, IMPI, IMPU and its implicit
registration set, TS 23.228 §4.3.3.3), the SQN row lock and the resync log
(TS 33.102 §6.3.5), Sh repository data (TS 29.328 §7.6) and the
provisioning checks (uniqueness, service profiles and their application
servers, TS 29.228 Annex B). None opens a transaction; unknown keys raise
:class:`hss.models.NotFoundError`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from hss.models import (
    ApplicationServer,
    ConflictError,
    ImplicitRegistrationSet,
    NotFoundError,
    PrivateIdentity,
    PublicIdentity,
    Registration,
    RepositoryData,
    ServiceProfile,
    SqnResync,
    Subscription,
    ValidationError,
    new_filter_criteria,
)
from hss.specs import ServiceProfileSpec, SubscriberPlan
from hss.validation import normalize_impu

__all__ = [
    "RESYNC_LOG_KEEP", "SUBSCRIBER_LOAD", "check_unique", "find_impi", "find_impu",
    "find_repository_data", "find_subscription_id", "lock_implicit_set", "lock_sqn",
    "log_resync", "new_service_profile", "profiles_by_name",
]

#: Resynchronisation attempts kept per subscription.
RESYNC_LOG_KEEP = 20

#: Eager loads for building a whole :class:`~hss.identities.SubscriberRecord` from a row.
SUBSCRIBER_LOAD: tuple[LoaderOption, ...] = (
    selectinload(Subscription.apns),
    selectinload(Subscription.private_identities)
    .selectinload(PrivateIdentity.implicit_sets)
    .selectinload(ImplicitRegistrationSet.public_identities)
    .options(joinedload(PublicIdentity.service_profile),
             joinedload(PublicIdentity.registration).joinedload(Registration.private_identity)),
)


def find_subscription_id(session: Session, imsi: str) -> int:
    """The row id of the subscription of ``imsi``."""
    found = session.scalar(select(Subscription.id).where(Subscription.imsi == imsi))
    if found is None:
        raise NotFoundError("IMSI", imsi)
    return found


def lock_sqn(session: Session, imsi: str) -> tuple[int, int]:
    """Row-lock the subscription (PostgreSQL ``FOR UPDATE``); its id and SQN_HE."""
    row = session.execute(select(Subscription.id, Subscription.sqn)
                          .where(Subscription.imsi == imsi).with_for_update()).one_or_none()
    if row is None:
        raise NotFoundError("IMSI", imsi)
    return row.id, row.sqn


def find_impi(session: Session, impi: str) -> PrivateIdentity:
    """The IMPI, its realm compared lower-cased (as stored)."""
    user, _, realm = impi.partition("@")
    found = session.scalars(select(PrivateIdentity)
                            .where(PrivateIdentity.impi == f"{user}@{realm.lower()}")
                            ).one_or_none()
    if found is None:
        raise NotFoundError("IMPI", impi)
    return found


def find_impu(session: Session, impu: str, lock: bool = False) -> PublicIdentity:
    """The IMPU in canonical form (row-locked with ``lock``); malformed means unknown."""
    try:
        key = normalize_impu(impu)
    except ValidationError:
        raise NotFoundError("IMPU", impu) from None
    statement = select(PublicIdentity).where(PublicIdentity.impu == key)
    found = session.scalars(statement.with_for_update() if lock else statement).one_or_none()
    if found is None:
        raise NotFoundError("IMPU", impu)
    return found


def lock_implicit_set(session: Session, impu: str) -> list[PublicIdentity]:
    """The IMPUs of ``impu``'s implicit registration set, row-locked, in set order."""
    irs_id = find_impu(session, impu).irs_id
    return list(session.scalars(select(PublicIdentity).where(PublicIdentity.irs_id == irs_id)
                                .order_by(PublicIdentity.position).with_for_update()))


def find_repository_data(session: Session, impu_id: int,
                         service_indication: str) -> RepositoryData | None:
    """Sh repository data of one IMPU and Service-Indication (TS 29.328 §7.6), if any."""
    return session.scalars(select(RepositoryData).where(
        RepositoryData.impu_id == impu_id,
        RepositoryData.service_indication == service_indication)).one_or_none()


def check_unique(session: Session, plan: SubscriberPlan) -> None:
    """Name the first provisioned value the plan would duplicate."""
    checks: list[tuple[str, InstrumentedAttribute[Any], list[str]]] = [
        ("imsi", Subscription.imsi, [plan.imsi]),
        ("msisdn", Subscription.msisdn, [plan.msisdn] if plan.msisdn else []),
        ("impi", PrivateIdentity.impi, [plan.impi]),
        ("impus", PublicIdentity.impu, [item.impu for item in plan.impus]),
    ]
    for field_name, column, values in checks:
        if not values:
            continue
        taken = session.scalar(select(column).where(column.in_(values)).limit(1))
        if taken is not None:
            raise ConflictError(field_name, str(taken))


def profiles_by_name(session: Session, names: set[str]) -> dict[str, ServiceProfile]:
    """The named service profiles; an unknown name is a :class:`ValidationError`."""
    found = {row.name: row for row in
             session.scalars(select(ServiceProfile).where(ServiceProfile.name.in_(names)))}
    missing = sorted(names - found.keys())
    if missing:
        raise ValidationError("service_profile", f"unknown service profile {missing[0]!r}")
    return found


def new_service_profile(session: Session, spec: ServiceProfileSpec) -> ServiceProfile:
    """A service profile row whose iFCs point at existing application servers."""
    names = {ifc.application_server for ifc in spec.filter_criteria}
    servers = {row.name: row for row in session.scalars(
        select(ApplicationServer).where(ApplicationServer.name.in_(names)))}
    missing = sorted(names - servers.keys())
    if missing:
        raise ValidationError("application_server", f"unknown application server {missing[0]!r}")
    return ServiceProfile(name=spec.name, filter_criteria=[
        new_filter_criteria(ifc, servers[ifc.application_server])
        for ifc in spec.filter_criteria])


def log_resync(session: Session, subscription_id: int, at: datetime, rand: bytes,
               auts: bytes, sqns: tuple[int | None, int, int]) -> None:
    """Add one resync attempt (SQN_MS, SQN_HE before, after) and prune old ones."""
    sqn_ms, before, after = sqns
    session.add(SqnResync(subscription_id=subscription_id, at=at, rand=rand, auts=auts,
                          accepted=sqn_ms is not None, sqn_ms=sqn_ms, sqn_before=before,
                          sqn_after=after))
    session.flush()
    keep = (select(SqnResync.id).where(SqnResync.subscription_id == subscription_id)
            .order_by(SqnResync.id.desc()).limit(RESYNC_LOG_KEEP))
    session.execute(delete(SqnResync).where(SqnResync.subscription_id == subscription_id,
                                            SqnResync.id.not_in(keep.scalar_subquery())))

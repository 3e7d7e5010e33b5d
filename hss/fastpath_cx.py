"""Fast path of the store for UAR, SAR and LIR (TS 29.228 §6.1.1, §6.1.2, §6.1.4).

Theory of operation
-------------------
As :mod:`hss.fastpath` does for MAR and AIR, the functions here answer the
questions the Cx handlers ask of :class:`hss.store.Store` with SQLAlchemy
Core, with no ORM objects and no lazy loads:

* :meth:`CxFastPath.lookup`: one joined SELECT from an IMPU to its owner
  IMPI, IMSI and every member of its implicit registration set with its
  service profile name and registration row. It returns the very
  :class:`hss.identities.ImpuLookup` that :meth:`Store.lookup_impu` returns
  (plus the row ids the writes below need), so UAR and LIR decide from the
  same record with one statement;
* :meth:`CxFastPath.register`: SAR REGISTRATION / RE_REGISTRATION's write
  (:meth:`Store.set_registration` over the implicit set, TS 23.228
  §4.3.3.3) as one ``UPDATE`` of the set's registration rows, skipped when
  every row already holds the same state, IMPI and S-CSCF. When a member
  has no registration row yet the caller falls back to the store, which
  creates it;
* :meth:`CxFastPath.profiles`: the service profiles of the set with their
  iFCs, application servers and triggers, one SELECT, as the
  :class:`ServiceProfileRecord` values User-Data is built from (Annex E);
* :meth:`CxFastPath.associated_impis`: the subscription's IMPIs, one SELECT.

Anything unusual (unknown identities, other assignment types) stays on the
ORM path of :mod:`hss.cx`, which names the exact error. Database failures
become :class:`StoreUnavailable`, as in the store.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, Row, bindparam, select, update
from sqlalchemy.orm import aliased

from hss.fastpath import CoreAccess
from hss.identities import (
    ApplicationServerSpec,
    FilterCriteriaRecord,
    ImpuLookup,
    ImpuRecord,
    RegistrationRecord,
    ScscfAssignment,
    ServiceProfileRecord,
    TriggerSpec,
    normalize_impu,
)
from hss.models import (
    ApplicationServer,
    DefaultHandling,
    ImplicitRegistrationSet,
    InitialFilterCriteria,
    PrivateIdentity,
    PublicIdentity,
    Registration,
    RegistrationState,
    ServicePointTrigger,
    ServiceProfile,
    SptKind,
    Subscription,
    ValidationError,
)
from hss.store import Store

__all__ = ["CxContext", "CxFastPath", "cx_fast_path_for"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CxContext:
    """An IMPU's :class:`ImpuLookup` with the row ids the fast writes need."""

    lookup: ImpuLookup
    impi_id: int
    subscription_id: int
    irs_id: int
    profile_ids: tuple[int, ...]
    """The set's service profiles, in first-use order (as ``hss.cx._profiles``)."""
    rows: tuple[tuple[int | None, str | None], ...]
    """Per member: the registration's IMPI id and state (state None: no row)."""

    def registered_with(self, scscf: ScscfAssignment) -> bool:
        """Whether every member is already REGISTERED with this IMPI and ``scscf``."""
        return all(state == RegistrationState.REGISTERED.value and impi_id == self.impi_id
                   for impi_id, state in self.rows) and all(
            member.registration.scscf == scscf for member in self.lookup.implicit_set)


class CxFastPath(CoreAccess):
    """Core-SQL reads and writes for UAR, SAR and LIR (module docstring).

    Args:
        store: the store whose engine (and pool) and clock are used.
    """

    def lookup(self, impu: str) -> CxContext | None:
        """What :meth:`Store.lookup_impu` returns, and row ids; None when not provisioned."""
        try:
            key = normalize_impu(impu)
        except ValidationError:
            return None
        with self._connection() as connection:
            rows = connection.execute(_LOOKUP, {"impu": key}).all()
        return _context(key, rows) if rows else None

    def register(self, context: CxContext, scscf: ScscfAssignment) -> bool:
        """Mark the set REGISTERED to ``context``'s IMPI and ``scscf``.

        Returns:
            False when a member has no registration row (nothing written:
            the caller uses :meth:`Store.set_registration`), else True.
        """
        if any(state is None for _, state in context.rows):
            return False
        if context.registered_with(scscf):
            return True
        values = {"irs": context.irs_id, "state": RegistrationState.REGISTERED.value,
                  "impi_id": context.impi_id, "name": scscf.name, "host": scscf.host,
                  "realm": scscf.realm, "at": self._clock()}
        with self._connection(write=True) as connection:
            connection.execute(_REGISTER, values)
        return True

    def profiles(self, context: CxContext) -> dict[str, ServiceProfileRecord]:
        """The set's service profiles with their iFCs, as ``Store.service_profile`` gives them."""
        with self._connection() as connection:
            rows = connection.execute(_PROFILES, {"ids": list(context.profile_ids)}).all()
        return _profile_records(context.profile_ids, rows)

    def associated_impis(self, context: CxContext) -> tuple[str, ...]:
        """Every IMPI of the context's subscription, in id order."""
        with self._connection() as connection:
            return tuple(connection.execute(_IMPIS, {"sid": context.subscription_id}).scalars())


def cx_fast_path_for(store: object) -> CxFastPath | None:
    """A :class:`CxFastPath` over ``store`` when it is a SQL :class:`Store`, else None."""
    return CxFastPath(store) if isinstance(store, Store) else None


# --------------------------------------------------------------------------- rows to records

def _context(key: str, rows: Sequence[Row[Any]]) -> CxContext:
    members = tuple(_member(row) for row in rows)
    own = next(member for member in members if member.impu == key)
    first = rows[0]
    lookup = ImpuLookup(own, first.impi, first.imsi, members)
    profile_ids = tuple(dict.fromkeys(row.profile_id for row in rows))
    return CxContext(lookup, first.impi_id, first.subscription_id, first.irs_id, profile_ids,
                     tuple((row.reg_impi_id, row.state) for row in rows))


def _member(row: Row[Any]) -> ImpuRecord:
    if row.state is None:
        registration = RegistrationRecord()
    else:
        scscf = None if row.scscf_name is None else ScscfAssignment(
            row.scscf_name, row.scscf_host, row.scscf_realm)
        registration = RegistrationRecord(RegistrationState(row.state), row.reg_impi, scscf)
    return ImpuRecord(row.impu, row.barred, row.profile, registration)


def _profile_records(ids: tuple[int, ...],
                     rows: Sequence[Row[Any]]) -> dict[str, ServiceProfileRecord]:
    names: dict[int, str] = {}
    criteria: dict[int, dict[int, tuple[Row[Any], list[TriggerSpec]]]] = {}
    for row in rows:
        names[row.profile_id] = row.profile
        per_profile = criteria.setdefault(row.profile_id, {})
        if row.ifc_id is None:
            continue
        _, triggers = per_profile.setdefault(row.ifc_id, (row, []))
        if row.spt_id is not None:
            triggers.append(TriggerSpec(SptKind(row.kind), row.value, row.header, row.spt_group,
                                        row.condition_negated, row.registration_type))
    return {names[pid]: ServiceProfileRecord(names[pid], tuple(
        _criterion(row, triggers) for row, triggers in criteria[pid].values())) for pid in ids}


def _criterion(row: Row[Any], triggers: list[TriggerSpec]) -> FilterCriteriaRecord:
    server = ApplicationServerSpec(row.as_name, row.server_name,
                                   DefaultHandling(row.default_handling), row.service_info,
                                   row.include_register_request, row.include_register_response)
    return FilterCriteriaRecord(row.priority, server, tuple(triggers), row.condition_type_cnf,
                                row.profile_part_indicator)


# --------------------------------------------------------------------------- statements

def _lookup_statement() -> Executable:
    target = aliased(PublicIdentity)
    member = aliased(PublicIdentity)
    reg_impi = aliased(PrivateIdentity)
    return (select(member.impu, member.barred, ServiceProfile.name.label("profile"),
                   ServiceProfile.id.label("profile_id"), PrivateIdentity.impi,
                   PrivateIdentity.id.label("impi_id"), Subscription.imsi,
                   Subscription.id.label("subscription_id"), target.irs_id, Registration.state,
                   Registration.impi_id.label("reg_impi_id"), reg_impi.impi.label("reg_impi"),
                   Registration.scscf_name, Registration.scscf_host, Registration.scscf_realm)
            .select_from(target)
            .join(ImplicitRegistrationSet, ImplicitRegistrationSet.id == target.irs_id)
            .join(PrivateIdentity, PrivateIdentity.id == ImplicitRegistrationSet.impi_id)
            .join(Subscription, Subscription.id == PrivateIdentity.subscription_id)
            .join(member, member.irs_id == target.irs_id)
            .join(ServiceProfile, ServiceProfile.id == member.service_profile_id)
            .outerjoin(Registration, Registration.impu_id == member.id)
            .outerjoin(reg_impi, reg_impi.id == Registration.impi_id)
            .where(target.impu == bindparam("impu"))
            .order_by(member.position))


def _register_statement() -> Executable:
    members = select(PublicIdentity.id).where(PublicIdentity.irs_id == bindparam("irs"))
    return (update(Registration)
            .where(Registration.impu_id.in_(members))
            .values(state=bindparam("state"), impi_id=bindparam("impi_id"),
                    scscf_name=bindparam("name"), scscf_host=bindparam("host"),
                    scscf_realm=bindparam("realm"), updated_at=bindparam("at")))


def _profiles_statement() -> Executable:
    ifc, spt, server = InitialFilterCriteria, ServicePointTrigger, ApplicationServer
    return (select(ServiceProfile.id.label("profile_id"), ServiceProfile.name.label("profile"),
                   ifc.id.label("ifc_id"), ifc.priority, ifc.profile_part_indicator,
                   ifc.condition_type_cnf, server.name.label("as_name"), server.server_name,
                   server.default_handling, server.service_info,
                   server.include_register_request, server.include_register_response,
                   spt.id.label("spt_id"), spt.kind, spt.value, spt.header, spt.spt_group,
                   spt.condition_negated, spt.registration_type)
            .select_from(ServiceProfile)
            .outerjoin(ifc, ifc.service_profile_id == ServiceProfile.id)
            .outerjoin(server, server.id == ifc.application_server_id)
            .outerjoin(spt, spt.ifc_id == ifc.id)
            .where(ServiceProfile.id.in_(bindparam("ids", expanding=True)))
            .order_by(ServiceProfile.id, ifc.priority, ifc.id, spt.id))


_LOOKUP = _lookup_statement()
_REGISTER = _register_statement()
_PROFILES = _profiles_statement()
_IMPIS = (select(PrivateIdentity.impi)
          .where(PrivateIdentity.subscription_id == bindparam("sid"))
          .order_by(PrivateIdentity.id))

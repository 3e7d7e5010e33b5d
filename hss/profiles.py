"""Service profiles and application servers: the shared objects of TS 29.228 Annex B.

Companion of :mod:`hss.store` (which creates and reads single profiles and
creates application servers): listing, replacing a profile's initial filter
criteria, application-server read/update/delete, and assigning a profile to
an implicit registration set (TS 23.228 §4.3.3.3: the IMPUs of one set share
their service profile). Every function runs in one :meth:`Store.transaction`
and raises the store's typed errors: :class:`NotFoundError` for an unknown
name, :class:`ConflictError` when an object is still referenced,
:class:`ValidationError` naming the field.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hss.identities import (
    ApplicationServerSpec,
    ServiceProfileRecord,
    ServiceProfileSpec,
    application_server_spec,
    check_application_server,
    check_service_profile,
    normalize_impu,
    service_profile_record,
)
from hss.models import (
    ApplicationServer,
    ConflictError,
    InitialFilterCriteria,
    NotFoundError,
    PrivateIdentity,
    PublicIdentity,
    Registration,
    RegistrationState,
    ServiceProfile,
    StoreError,
    ValidationError,
    new_filter_criteria,
)
from hss.store import Store

__all__ = [
    "InUseError", "application_server", "create_service_profile", "assign_in_session", "assign_service_profile",
    "delete_application_server", "delete_service_profile", "list_application_servers", "list_service_profiles",
    "replace_service_profile", "update_application_server",
]


class InUseError(ConflictError):
    """A shared object cannot be removed: ``user`` still references it."""

    def __init__(self, field_name: str, value: str, user: str) -> None:
        StoreError.__init__(self, f"{value!r} is still used by {user}")
        self.field = field_name
        self.value = value
        self.user = user


# --------------------------------------------------------------------------- service profiles

def create_service_profile(store: Store, spec: ServiceProfileSpec) -> ServiceProfileRecord:
    """Like :meth:`Store.add_service_profile`, naming the iFC of an unknown server.

    Raises:
        ValidationError: e.g. ``filter_criteria[1].application_server``.
        ConflictError: the name exists.
    """
    checked = check_service_profile(spec)
    with store.transaction(write=True) as session:
        if session.scalar(select(ServiceProfile.id)
                          .where(ServiceProfile.name == checked.name)) is not None:
            raise ConflictError("name", checked.name)
        profile = ServiceProfile(name=checked.name, filter_criteria=_filter_rows(session, checked))
        session.add(profile)
        session.flush()
        return service_profile_record(profile)


def list_service_profiles(store: Store) -> list[ServiceProfileRecord]:
    """Every service profile with its iFCs, ordered by name."""
    with store.transaction() as session:
        rows = session.scalars(select(ServiceProfile).order_by(ServiceProfile.name))
        return [service_profile_record(row) for row in rows]


def replace_service_profile(store: Store, spec: ServiceProfileSpec) -> ServiceProfileRecord:
    """Replace the iFCs of the profile ``spec.name`` with ``spec.filter_criteria``.

    Raises:
        NotFoundError: unknown profile.
        ValidationError: invalid field or unknown application server.
    """
    checked = check_service_profile(spec)
    with store.transaction(write=True) as session:
        profile = _find_profile(session, checked.name)
        rows = _filter_rows(session, checked)
        # Delete first, in SQL: the unit of work would insert before deleting
        # and trip the (service_profile_id, priority) unique constraint.
        session.execute(delete(InitialFilterCriteria)
                        .where(InitialFilterCriteria.service_profile_id == profile.id))
        session.expire(profile, ["filter_criteria"])
        for row in rows:
            row.service_profile_id = profile.id
            session.add(row)
        session.flush()
        session.expire(profile, ["filter_criteria"])
        return service_profile_record(profile)


def impis_served_with_profile(store: Store, name: str) -> list[str]:
    """IMPIs whose implicit sets use profile ``name`` and hold an S-CSCF assignment.

    These are the users whose S-CSCF must receive the changed profile in a
    Push-Profile-Request (TS 29.228 §6.1.7).
    """
    query = (select(PrivateIdentity.impi).distinct()
             .join(Registration, Registration.impi_id == PrivateIdentity.id)
             .join(PublicIdentity, PublicIdentity.id == Registration.impu_id)
             .join(ServiceProfile, ServiceProfile.id == PublicIdentity.service_profile_id)
             .where(ServiceProfile.name == name,
                    Registration.scscf_name.is_not(None),
                    Registration.state != RegistrationState.NOT_REGISTERED.value)
             .order_by(PrivateIdentity.impi))
    with store.transaction(write=False) as session:
        return list(session.scalars(query))


def delete_service_profile(store: Store, name: str) -> None:
    """Remove a service profile no public identity uses.

    Raises:
        NotFoundError: unknown name.
        InUseError: a public identity still has it.
    """
    with store.transaction(write=True) as session:
        profile = _find_profile(session, name)
        user = session.scalar(select(PublicIdentity.impu)
                              .where(PublicIdentity.service_profile_id == profile.id).limit(1))
        if user is not None:
            raise InUseError("service_profile", name, f"public identity {user}")
        session.delete(profile)


def assign_service_profile(store: Store, impu: str, name: str) -> tuple[str, ...]:
    """Give the implicit registration set of ``impu`` the service profile ``name``.

    Returns:
        The IMPUs whose profile changed (empty when it already had it).

    Raises:
        NotFoundError: unknown IMPU or profile.
    """
    with store.transaction(write=True) as session:
        profile = _find_profile(session, name)
        return assign_in_session(session, _find_impu(session, impu), profile)


def assign_in_session(session: Session, member: PublicIdentity,
                      profile: ServiceProfile) -> tuple[str, ...]:
    """Assign ``profile`` to every IMPU of ``member``'s implicit set; the IMPUs changed."""
    changed = []
    for impu in member.implicit_set.public_identities:
        if impu.service_profile_id != profile.id:
            impu.service_profile = profile
            changed.append(impu.impu)
    return tuple(changed)


def _find_profile(session: Session, name: str) -> ServiceProfile:
    profile = session.scalars(select(ServiceProfile)
                              .where(ServiceProfile.name == name)).one_or_none()
    if profile is None:
        raise NotFoundError("service profile", name)
    return profile


def _find_impu(session: Session, impu: str) -> PublicIdentity:
    try:
        key = normalize_impu(impu)
    except ValidationError:
        raise NotFoundError("IMPU", impu) from None
    found = session.scalars(select(PublicIdentity).where(PublicIdentity.impu == key)).one_or_none()
    if found is None:
        raise NotFoundError("IMPU", impu)
    return found


def _filter_rows(session: Session, spec: ServiceProfileSpec) -> list[InitialFilterCriteria]:
    names = {ifc.application_server for ifc in spec.filter_criteria}
    servers = {row.name: row for row in session.scalars(
        select(ApplicationServer).where(ApplicationServer.name.in_(names)))}
    for index, ifc in enumerate(spec.filter_criteria):
        if ifc.application_server not in servers:
            raise ValidationError(f"filter_criteria[{index}].application_server",
                                  f"unknown application server {ifc.application_server!r}")
    return [new_filter_criteria(ifc, servers[ifc.application_server])
            for ifc in spec.filter_criteria]


# --------------------------------------------------------------------------- application servers

def list_application_servers(store: Store) -> list[ApplicationServerSpec]:
    """Every application server, ordered by name."""
    with store.transaction() as session:
        rows = session.scalars(select(ApplicationServer).order_by(ApplicationServer.name))
        return [application_server_spec(row) for row in rows]


def application_server(store: Store, name: str) -> ApplicationServerSpec:
    """One application server. Raises :class:`NotFoundError`."""
    with store.transaction() as session:
        return application_server_spec(_find_server(session, name))


def update_application_server(store: Store, spec: ApplicationServerSpec) -> ApplicationServerSpec:
    """Replace the attributes of the application server ``spec.name``.

    Raises:
        NotFoundError: unknown name.
        ValidationError: an invalid field.
    """
    checked = check_application_server(spec)
    with store.transaction(write=True) as session:
        row = _find_server(session, checked.name)
        row.server_name = checked.server_name
        row.default_handling = int(checked.default_handling)
        row.service_info = checked.service_info
        row.include_register_request = checked.include_register_request
        row.include_register_response = checked.include_register_response
        return application_server_spec(row)


def delete_application_server(store: Store, name: str) -> None:
    """Remove an application server no iFC uses.

    Raises:
        NotFoundError: unknown name.
        ConflictError: an initial filter criteria still names it.
    """
    with store.transaction(write=True) as session:
        row = _find_server(session, name)
        user = session.scalar(
            select(ServiceProfile.name).join(InitialFilterCriteria)
            .where(InitialFilterCriteria.application_server_id == row.id).limit(1))
        if user is not None:
            raise InUseError("application_server", name, f"service profile {user}")
        session.delete(row)


def _find_server(session: Session, name: str) -> ApplicationServer:
    row = session.scalars(select(ApplicationServer)
                          .where(ApplicationServer.name == name)).one_or_none()
    if row is None:
        raise NotFoundError("application server", name)
    return row

"""The HSS data model (3GPP TS 23.008 Release 17, TS 29.228 Annex B, TS 29.272 §7.3, TS 29.328).

Theory of operation
-------------------
One **subscription** (TS 23.008 §2.1: IMSI, §2.3: authentication data;
§2.13: EPS data) carries the AuC state: K, OPc, AMF and SQN_HE, the
counter every vector is drawn from (TS 33.102 Annex C.1). ``sqn`` is only
ever changed by single atomic SQL statements in :mod:`hss.store`; resync
attempts are kept in ``sqn_resync`` for troubleshooting.

A subscription owns **IMS private identities** (TS 23.008 §5.2.2, IMPI),
each authenticated by AKA or, for plain SIP phones, by SIP Digest (HA1).
An IMPI owns **implicit registration sets** (TS 23.228 §4.3.3.3) of
**public identities** (IMPUs, ``sip:``/``tel:``, TS 23.008 §5.2.1), each
with a barring flag (TS 23.008 §5.2.1.3) and a **service profile**.

Service profiles and **application servers** are shared objects: many
IMPUs reference one profile, many initial filter criteria one AS. iFCs are
kept structured (TS 29.228 Annex B.2.2: priority, trigger point in CNF or
DNF of service point triggers, AS with default handling) so the Cx layer can
render the XML of TS 29.228 Annex E.

Dynamic Cx state lives apart from provisioning data: **registration** holds
per IMPU the registration state (TS 29.228 §6.1.2, §6.1.4), the IMPI it
was registered with, and the assigned S-CSCF (name, Diameter host and
realm). **repository_data** is the Sh transparent data per IMPU and service
indication with its sequence number (TS 29.328 §7.6, §6.1.2.1).

Constraint names follow :data:`NAMING_CONVENTION` so that the Alembic
migrations name the same objects on SQLite and PostgreSQL (within
PostgreSQL's 63-character limit). The store's exceptions live here too, the
one module every other ``hss`` module imports; :mod:`hss.store` re-exports
them. ``new_*`` build the rows of validated specs from :mod:`hss.identities`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

if TYPE_CHECKING:
    from hss.identities import (
        ApnConfig,
        ApplicationServerSpec,
        FilterCriteriaSpec,
        SubscriberPlan,
        TriggerSpec,
    )

__all__ = [
    "AuthSchemeError", "ConflictError", "NotFoundError", "OutOfSyncError", "StoreError",
    "StoreUnavailable", "ValidationError",
    "ApnConfiguration", "ApplicationServer", "AuthScheme", "Base", "DefaultHandling",
    "ImplicitRegistrationSet", "InitialFilterCriteria", "PrivateIdentity", "PublicIdentity",
    "Registration", "RegistrationState", "RepositoryData", "ServicePointTrigger",
    "ServiceProfile", "SptKind", "SqnResync", "Subscription", "new_application_server",
    "new_filter_criteria", "new_subscription",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

#: Name of the service profile the initial migration creates (no iFC).
DEFAULT_SERVICE_PROFILE = "default"


class AuthScheme(enum.StrEnum):
    """How an IMPI authenticates (TS 29.228 §6.3.2 SIP-Authentication-Scheme)."""

    AKA = "aka"
    """Digest-AKAv1-MD5 (TS 33.203, RFC 3310) from K/OPc."""
    DIGEST = "digest"
    """SIP Digest (RFC 2617) from a provisioned HA1, for phones without an ISIM."""


class RegistrationState(enum.StrEnum):
    """IMS registration state of a public identity (TS 23.008 §5.2.1.6, TS 29.228 §6.1.2)."""

    NOT_REGISTERED = "NOT_REGISTERED"
    REGISTERED = "REGISTERED"
    UNREGISTERED = "UNREGISTERED"
    """Not registered, but an S-CSCF is assigned to serve unregistered services."""


class DefaultHandling(enum.IntEnum):
    """DefaultHandling of an application server (TS 29.228 Annex B.2.3)."""

    SESSION_CONTINUED = 0
    SESSION_TERMINATED = 1


class SptKind(enum.StrEnum):
    """The kind of a service point trigger (TS 29.228 Annex B.2.2, Annex C)."""

    REQUEST_URI = "request_uri"
    METHOD = "method"
    SIP_HEADER = "sip_header"
    SESSION_CASE = "session_case"
    SESSION_DESCRIPTION = "session_description"


def _values(kind: type[enum.StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in kind)


# --------------------------------------------------------------------------- errors
# Raised by hss.identities (validation) and hss.store; re-exported by hss.store.

class StoreError(Exception):
    """Base of the subscriber store's errors."""


class ValidationError(StoreError, ValueError):
    """A provisioning value is invalid; ``field`` names it (e.g. ``"k"``)."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


class NotFoundError(StoreError, LookupError):
    """The identity is not provisioned: the only error meaning "user unknown"."""

    def __init__(self, kind: str, identity: str) -> None:
        super().__init__(f"unknown {kind} {identity!r}")
        self.kind = kind
        self.identity = identity


class ConflictError(StoreError):
    """The value is already provisioned (unique IMSI, MSISDN, IMPI, IMPU, name)."""

    def __init__(self, field_name: str, value: str) -> None:
        super().__init__(f"{field_name}: {value!r} already exists")
        self.field = field_name
        self.value = value


class AuthSchemeError(StoreError):
    """The IMPI does not use the requested scheme (TS 29.228 §6.3.2), e.g. AKA for Digest."""

    def __init__(self, impi: str, scheme: AuthScheme) -> None:
        super().__init__(f"{impi!r} authenticates with {scheme.value}")
        self.impi = impi
        self.scheme = scheme


class OutOfSyncError(ConflictError):
    """Sh repository data update with the wrong Sequence-Number (TS 29.328 §6.1.2.1)."""


class StoreUnavailable(StoreError):
    """The database failed (connection, lock timeout, I/O).

    An infrastructure error: answer DIAMETER_UNABLE_TO_COMPLY (5012) or
    DIAMETER_TOO_BUSY (3004), never "user unknown" (style.md, Banned 4).
    """


class Base(DeclarativeBase):
    """Declarative base with the project's constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Subscription(Base):
    """The subscription: IMSI, AuC data (TS 23.008 §2.3) and EPS data (§2.13)."""

    __tablename__ = "subscription"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    imsi: Mapped[str] = mapped_column(String(15), unique=True)
    msisdn: Mapped[str | None] = mapped_column(String(15), unique=True)
    k: Mapped[bytes | None] = mapped_column(LargeBinary)
    opc: Mapped[bytes | None] = mapped_column(LargeBinary)
    amf: Mapped[bytes] = mapped_column(LargeBinary)
    sqn: Mapped[int] = mapped_column(BigInteger, default=0)
    access_restriction: Mapped[int] = mapped_column(Integer, default=0)
    ambr_ul: Mapped[int] = mapped_column(BigInteger)
    ambr_dl: Mapped[int] = mapped_column(BigInteger)
    mme_host: Mapped[str | None] = mapped_column(String(255))
    mme_realm: Mapped[str | None] = mapped_column(String(255))
    mme_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    private_identities: Mapped[list[PrivateIdentity]] = relationship(
        back_populates="subscription", cascade="all, delete-orphan", passive_deletes=True,
        order_by="PrivateIdentity.id",
    )
    apns: Mapped[list[ApnConfiguration]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True,
        order_by="ApnConfiguration.context_id",
    )

    __table_args__ = (CheckConstraint("sqn >= 0 AND sqn < 281474976710656", name="sqn_range"),)


class ApnConfiguration(Base):
    """One APN-Configuration of the subscription (TS 29.272 §7.3.35)."""

    __tablename__ = "apn_configuration"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscription.id", ondelete="CASCADE"), index=True)
    context_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    pdn_type: Mapped[int] = mapped_column(Integer)
    qci: Mapped[int] = mapped_column(Integer)
    arp_priority: Mapped[int] = mapped_column(Integer)
    arp_preemption_capability: Mapped[bool] = mapped_column(Boolean)
    arp_preemption_vulnerability: Mapped[bool] = mapped_column(Boolean)
    ambr_ul: Mapped[int] = mapped_column(BigInteger)
    ambr_dl: Mapped[int] = mapped_column(BigInteger)
    is_default: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        UniqueConstraint("subscription_id", "context_id"),
        UniqueConstraint("subscription_id", "name"),
    )


class SqnResync(Base):
    """One resynchronisation attempt (TS 33.102 §6.3.5), accepted or not."""

    __tablename__ = "sqn_resync"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscription.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rand: Mapped[bytes] = mapped_column(LargeBinary)
    auts: Mapped[bytes] = mapped_column(LargeBinary)
    accepted: Mapped[bool] = mapped_column(Boolean)
    sqn_ms: Mapped[int | None] = mapped_column(BigInteger)
    sqn_before: Mapped[int] = mapped_column(BigInteger)
    sqn_after: Mapped[int] = mapped_column(BigInteger)


class PrivateIdentity(Base):
    """An IMS private identity, IMPI (TS 23.008 §5.2.2)."""

    __tablename__ = "ims_private_identity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    impi: Mapped[str] = mapped_column(String(255), unique=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscription.id", ondelete="CASCADE"), index=True)
    auth_scheme: Mapped[str] = mapped_column(String(16))
    digest_realm: Mapped[str | None] = mapped_column(String(255))
    digest_ha1: Mapped[str | None] = mapped_column(String(32))

    subscription: Mapped[Subscription] = relationship(back_populates="private_identities")
    implicit_sets: Mapped[list[ImplicitRegistrationSet]] = relationship(
        back_populates="private_identity", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ImplicitRegistrationSet.id",
    )

    __table_args__ = (CheckConstraint(f"auth_scheme IN ({_values(AuthScheme)})",
                                      name="auth_scheme"),)


class ImplicitRegistrationSet(Base):
    """An implicit registration set (TS 23.228 §4.3.3.3, TS 29.228 §6.1.2)."""

    __tablename__ = "implicit_registration_set"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    impi_id: Mapped[int] = mapped_column(
        ForeignKey("ims_private_identity.id", ondelete="CASCADE"), index=True)

    private_identity: Mapped[PrivateIdentity] = relationship(back_populates="implicit_sets")
    public_identities: Mapped[list[PublicIdentity]] = relationship(
        back_populates="implicit_set", cascade="all, delete-orphan", passive_deletes=True,
        order_by="PublicIdentity.position",
    )


class ServiceProfile(Base):
    """A shared service profile (TS 29.228 Annex B.2.1): its iFCs by priority."""

    __tablename__ = "service_profile"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)

    filter_criteria: Mapped[list[InitialFilterCriteria]] = relationship(
        back_populates="service_profile", cascade="all, delete-orphan", passive_deletes=True,
        order_by="InitialFilterCriteria.priority",
    )


class PublicIdentity(Base):
    """An IMS public identity, IMPU (TS 23.008 §5.2.1)."""

    __tablename__ = "ims_public_identity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    impu: Mapped[str] = mapped_column(String(255), unique=True)
    irs_id: Mapped[int] = mapped_column(
        ForeignKey("implicit_registration_set.id", ondelete="CASCADE"), index=True)
    service_profile_id: Mapped[int] = mapped_column(
        ForeignKey("service_profile.id", ondelete="RESTRICT"), index=True)
    barred: Mapped[bool] = mapped_column(Boolean)
    position: Mapped[int] = mapped_column(Integer)

    implicit_set: Mapped[ImplicitRegistrationSet] = relationship(
        back_populates="public_identities")
    service_profile: Mapped[ServiceProfile] = relationship()
    registration: Mapped[Registration | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True,
        foreign_keys="Registration.impu_id",
    )


class Registration(Base):
    """Registration state and S-CSCF assignment of one IMPU (TS 29.228 §6.1.2, §6.1.4)."""

    __tablename__ = "registration"

    impu_id: Mapped[int] = mapped_column(
        ForeignKey("ims_public_identity.id", ondelete="CASCADE"), primary_key=True)
    impi_id: Mapped[int | None] = mapped_column(
        ForeignKey("ims_private_identity.id", ondelete="SET NULL"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    scscf_name: Mapped[str | None] = mapped_column(String(255))
    scscf_host: Mapped[str | None] = mapped_column(String(255))
    scscf_realm: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    private_identity: Mapped[PrivateIdentity | None] = relationship()

    __table_args__ = (CheckConstraint(f"state IN ({_values(RegistrationState)})",
                                      name="state"),)


class ApplicationServer(Base):
    """A shared application server (TS 29.228 Annex B.2.3)."""

    __tablename__ = "application_server"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    server_name: Mapped[str] = mapped_column(String(255))
    default_handling: Mapped[int] = mapped_column(Integer)
    service_info: Mapped[str | None] = mapped_column(Text)
    include_register_request: Mapped[bool] = mapped_column(Boolean)
    include_register_response: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (CheckConstraint("default_handling IN (0, 1)", name="default_handling"),)


class InitialFilterCriteria(Base):
    """One iFC of a service profile (TS 29.228 Annex B.2.2)."""

    __tablename__ = "initial_filter_criteria"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_profile_id: Mapped[int] = mapped_column(
        ForeignKey("service_profile.id", ondelete="CASCADE"), index=True)
    application_server_id: Mapped[int] = mapped_column(
        ForeignKey("application_server.id", ondelete="RESTRICT"), index=True)
    priority: Mapped[int] = mapped_column(Integer)
    profile_part_indicator: Mapped[int | None] = mapped_column(Integer)
    condition_type_cnf: Mapped[bool] = mapped_column(Boolean)

    service_profile: Mapped[ServiceProfile] = relationship(back_populates="filter_criteria")
    application_server: Mapped[ApplicationServer] = relationship()
    triggers: Mapped[list[ServicePointTrigger]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True,
        order_by="ServicePointTrigger.id",
    )

    __table_args__ = (UniqueConstraint("service_profile_id", "priority"),)


class ServicePointTrigger(Base):
    """One SPT of an iFC's trigger point (TS 29.228 Annex B.2.2, Annex C).

    ``value`` is the Method, the RequestURI, the SessionCase number, or the
    Content of a SIPHeader/SessionDescription SPT; ``header`` is the Header
    or the SDP Line. Each SPT belongs to one ``spt_group``.
    """

    __tablename__ = "service_point_trigger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ifc_id: Mapped[int] = mapped_column(
        ForeignKey("initial_filter_criteria.id", ondelete="CASCADE"), index=True)
    spt_group: Mapped[int] = mapped_column(Integer)
    condition_negated: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(24))
    value: Mapped[str | None] = mapped_column(String(255))
    header: Mapped[str | None] = mapped_column(String(255))
    registration_type: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (CheckConstraint(f"kind IN ({_values(SptKind)})", name="kind"),)


class RepositoryData(Base):
    """Sh transparent data of one IMPU and service indication (TS 29.328 §7.6)."""

    __tablename__ = "repository_data"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    impu_id: Mapped[int] = mapped_column(
        ForeignKey("ims_public_identity.id", ondelete="CASCADE"), index=True)
    service_indication: Mapped[str] = mapped_column(String(255))
    sequence_number: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (UniqueConstraint("impu_id", "service_indication"),)


# --------------------------------------------------------------------------- builders

def _apn_row(apn: ApnConfig) -> ApnConfiguration:
    return ApnConfiguration(
        context_id=apn.context_id, name=apn.name, pdn_type=int(apn.pdn_type), qci=apn.qci,
        arp_priority=apn.arp_priority, arp_preemption_capability=apn.arp_preemption_capability,
        arp_preemption_vulnerability=apn.arp_preemption_vulnerability,
        ambr_ul=apn.ambr_ul, ambr_dl=apn.ambr_dl, is_default=apn.is_default)


def new_subscription(plan: SubscriberPlan, profiles: dict[str, ServiceProfile]) -> Subscription:
    """The rows of a validated subscriber: subscription, IMPI, one implicit set of IMPUs.

    ``profiles`` maps every service profile name the plan's IMPUs use to its row.
    """
    impus = [PublicIdentity(impu=item.impu, barred=item.barred, position=position,
                            service_profile=profiles[item.service_profile or ""])
             for position, item in enumerate(plan.impus)]
    identity = PrivateIdentity(
        impi=plan.impi, auth_scheme=plan.auth_scheme.value, digest_realm=plan.digest_realm,
        digest_ha1=plan.digest_ha1,
        implicit_sets=[ImplicitRegistrationSet(public_identities=impus)])
    return Subscription(
        imsi=plan.imsi, msisdn=plan.msisdn, k=plan.k, opc=plan.opc, amf=plan.amf, sqn=plan.sqn,
        access_restriction=plan.access_restriction, ambr_ul=plan.ambr_ul, ambr_dl=plan.ambr_dl,
        private_identities=[identity], apns=[_apn_row(apn) for apn in plan.apns])


def new_application_server(spec: ApplicationServerSpec) -> ApplicationServer:
    """The row of a validated application server."""
    return ApplicationServer(
        name=spec.name, server_name=spec.server_name, default_handling=int(spec.default_handling),
        service_info=spec.service_info, include_register_request=spec.include_register_request,
        include_register_response=spec.include_register_response)


def _trigger_row(spt: TriggerSpec) -> ServicePointTrigger:
    return ServicePointTrigger(
        spt_group=spt.group, condition_negated=spt.negated, kind=SptKind(spt.kind).value,
        value=spt.value, header=spt.header, registration_type=spt.registration_type)


def new_filter_criteria(spec: FilterCriteriaSpec,
                        server: ApplicationServer) -> InitialFilterCriteria:
    """The rows of a validated iFC and its SPTs, pointing at ``server``."""
    return InitialFilterCriteria(
        priority=spec.priority, application_server=server,
        profile_part_indicator=spec.profile_part_indicator,
        condition_type_cnf=spec.condition_type_cnf,
        triggers=[_trigger_row(spt) for spt in spec.triggers])

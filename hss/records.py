"""Read-only records the HSS store returns, and their construction from rows (TS 23.008 §2, §5).

Frozen dataclasses, never ORM objects: a private identity with its implicit
registration sets (TS 23.228 §4.3.3.3), a public identity with its
registration state (TS 29.228 §6.1.2), the AuC keys (TS 33.102 §6.3.2), Sh
repository data (TS 29.328 §7.6) and service profiles with their iFCs
(TS 29.228 Annex B.2). Every name here is also importable from
:mod:`hss.identities`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hss.models import (
    ApnConfiguration,
    ApplicationServer,
    AuthScheme,
    AuthSchemeError,
    DefaultHandling,
    PrivateIdentity,
    PublicIdentity,
    Registration,
    RegistrationState,
    ServiceProfile,
    SptKind,
    Subscription,
)
from hss.specs import ApnConfig, ApplicationServerSpec, PdnType, TriggerSpec

__all__ = [
    "AuthKeys", "DigestCredentials", "FilterCriteriaRecord", "ImpiRecord", "ImpuLookup",
    "ImpuRecord", "RegistrationRecord", "RepositoryDataRecord", "ResyncRecord",
    "ScscfAssignment", "ServiceProfileRecord", "SubscriberRecord", "apn_config",
    "application_server_spec", "auth_keys_of", "impi_record", "impu_lookup", "impu_record",
    "registration_record", "service_profile_record", "subscriber_record",
]


@dataclass(frozen=True, slots=True)
class FilterCriteriaRecord:
    """An iFC as read back, its application server resolved."""

    priority: int
    application_server: ApplicationServerSpec
    triggers: tuple[TriggerSpec, ...]
    condition_type_cnf: bool
    profile_part_indicator: int | None


@dataclass(frozen=True, slots=True)
class ServiceProfileRecord:
    """A service profile as read back, iFCs in priority order."""

    name: str
    filter_criteria: tuple[FilterCriteriaRecord, ...]


@dataclass(frozen=True, slots=True)
class ScscfAssignment:
    """The S-CSCF serving a user (TS 29.228 §6.3.4 Server-Name; its Diameter peer)."""

    name: str
    host: str | None = None
    realm: str | None = None


@dataclass(frozen=True, slots=True)
class RegistrationRecord:
    """Registration state of one IMPU (TS 29.228 §6.1.2)."""

    state: RegistrationState = RegistrationState.NOT_REGISTERED
    impi: str | None = None
    scscf: ScscfAssignment | None = None


@dataclass(frozen=True, slots=True)
class ImpuRecord:
    """A provisioned public identity."""

    impu: str
    barred: bool
    service_profile: str
    registration: RegistrationRecord = field(default_factory=RegistrationRecord)


@dataclass(frozen=True, slots=True)
class ImpiRecord:
    """A provisioned private identity with its implicit registration sets."""

    impi: str
    imsi: str
    auth_scheme: AuthScheme
    implicit_sets: tuple[tuple[ImpuRecord, ...], ...]

    @property
    def impus(self) -> tuple[ImpuRecord, ...]:
        """Every public identity of the IMPI, set by set."""
        return tuple(impu for irs in self.implicit_sets for impu in irs)


@dataclass(frozen=True, slots=True)
class ImpuLookup:
    """A public identity with its owner and its implicit registration set."""

    impu: ImpuRecord
    impi: str
    imsi: str
    implicit_set: tuple[ImpuRecord, ...]


@dataclass(frozen=True, slots=True)
class SubscriberRecord:
    """A provisioned subscriber as read back from the store."""

    imsi: str
    msisdn: str | None
    k: bytes | None = field(repr=False)
    opc: bytes | None = field(repr=False)
    amf: bytes
    sqn: int
    private_identities: tuple[ImpiRecord, ...]
    apns: tuple[ApnConfig, ...]
    ambr_ul: int
    ambr_dl: int
    access_restriction: int
    mme_host: str | None = None
    mme_realm: str | None = None


@dataclass(frozen=True, slots=True)
class AuthKeys:
    """What the AuC needs for one subscriber (TS 33.102 §6.3.2)."""

    imsi: str
    k: bytes = field(repr=False)
    opc: bytes = field(repr=False)
    amf: bytes


@dataclass(frozen=True, slots=True)
class ResyncRecord:
    """One logged resynchronisation attempt (TS 33.102 §6.3.5)."""

    at: datetime
    accepted: bool
    sqn_ms: int | None
    sqn_before: int
    sqn_after: int


@dataclass(frozen=True, slots=True)
class RepositoryDataRecord:
    """Sh transparent data (TS 29.328 §7.6): Service-Indication, Sequence-Number, data."""

    impu: str
    service_indication: str
    sequence_number: int
    data: bytes


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """HA1 of a SIP Digest identity (RFC 2617 §3.2.2.2): MD5(IMPI:realm:password)."""

    impi: str
    realm: str
    ha1: str = field(repr=False)


# --------------------------------------------------------------------------- rows to records

def registration_record(row: Registration | None) -> RegistrationRecord:
    if row is None:
        return RegistrationRecord()
    scscf = None if row.scscf_name is None else ScscfAssignment(
        row.scscf_name, row.scscf_host, row.scscf_realm)
    impi = None if row.private_identity is None else row.private_identity.impi
    return RegistrationRecord(RegistrationState(row.state), impi, scscf)


def impu_record(row: PublicIdentity) -> ImpuRecord:
    return ImpuRecord(row.impu, row.barred, row.service_profile.name,
                      registration_record(row.registration))


def impi_record(row: PrivateIdentity) -> ImpiRecord:
    return ImpiRecord(row.impi, row.subscription.imsi, AuthScheme(row.auth_scheme), tuple(
        tuple(impu_record(impu) for impu in irs.public_identities)
        for irs in row.implicit_sets))


def impu_lookup(row: PublicIdentity) -> ImpuLookup:
    owner = row.implicit_set.private_identity
    return ImpuLookup(impu_record(row), owner.impi, owner.subscription.imsi,
                      tuple(impu_record(impu) for impu in row.implicit_set.public_identities))


def apn_config(row: ApnConfiguration) -> ApnConfig:
    return ApnConfig(row.name, row.context_id, row.qci, row.arp_priority,
                     row.arp_preemption_capability, row.arp_preemption_vulnerability,
                     row.ambr_ul, row.ambr_dl, PdnType(row.pdn_type), row.is_default)


def subscriber_record(row: Subscription) -> SubscriberRecord:
    return SubscriberRecord(
        imsi=row.imsi, msisdn=row.msisdn, k=row.k, opc=row.opc, amf=row.amf, sqn=row.sqn,
        private_identities=tuple(impi_record(impi) for impi in row.private_identities),
        apns=tuple(apn_config(apn) for apn in row.apns), ambr_ul=row.ambr_ul,
        ambr_dl=row.ambr_dl, access_restriction=row.access_restriction,
        mme_host=row.mme_host, mme_realm=row.mme_realm)


def auth_keys_of(row: Subscription, identity: str) -> AuthKeys:
    if row.k is None or row.opc is None:
        raise AuthSchemeError(identity, AuthScheme.DIGEST)
    return AuthKeys(row.imsi, row.k, row.opc, row.amf)


def service_profile_record(row: ServiceProfile) -> ServiceProfileRecord:
    return ServiceProfileRecord(row.name, tuple(
        FilterCriteriaRecord(
            ifc.priority, application_server_spec(ifc.application_server),
            tuple(TriggerSpec(SptKind(spt.kind), spt.value, spt.header, spt.spt_group,
                              spt.condition_negated, spt.registration_type)
                  for spt in ifc.triggers),
            ifc.condition_type_cnf, ifc.profile_part_indicator)
        for ifc in row.filter_criteria))


def application_server_spec(row: ApplicationServer) -> ApplicationServerSpec:
    return ApplicationServerSpec(row.name, row.server_name, DefaultHandling(row.default_handling),
                                 row.service_info, row.include_register_request,
                                 row.include_register_response)

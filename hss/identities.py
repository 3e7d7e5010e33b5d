"""Subscriber identities and provisioning records (TS 23.003 §2, §13; TS 23.008 §2, §5).

What a subscriber is made of, without a database: the provisioning specs
(:class:`SubscriberSpec`, :class:`ApnConfig`, :class:`ServiceProfileSpec`),
their validation into a :class:`SubscriberPlan`, the identity set generated
by default, the read-only records :mod:`hss.store` returns and their
construction from rows. Validation raises :class:`hss.models.ValidationError`.

The default identity set (TS 23.003 §13.3, §13.4B and the field notes):

* IMPI ``<IMSI>@<domain>``;
* IMPU ``sip:<IMSI>@<domain>``, barred (TS 23.008 §5.2.1.3): it only
  serves to register, as a UE without ISIM derives it;
* IMPUs ``tel:+<MSISDN>`` and ``sip:+<MSISDN>@<domain>``, the identities
  handsets dial and SUBSCRIBE with.

All of them in one implicit registration set (TS 23.228 §4.3.3.3), so
registering the barred IMSI identity registers the MSISDN ones too. Without
an MSISDN the set is the IMSI identity alone, not barred (a registration
with only barred identities must fail, TS 24.229 §5.4.1.2).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

from hss.models import (
    DEFAULT_SERVICE_PROFILE,
    ApnConfiguration,
    ApplicationServer,
    AuthScheme,
    AuthSchemeError,
    ConflictError,
    DefaultHandling,
    NotFoundError,
    OutOfSyncError,
    PrivateIdentity,
    PublicIdentity,
    Registration,
    RegistrationState,
    ServiceProfile,
    SptKind,
    StoreError,
    StoreUnavailable,
    Subscription,
    ValidationError,
)
from ims.auth.digest import ha1
from ims.auth.milenage import compute_opc
from ims.auth.sqn import SQN_MAX

__all__ = [
    "ApnConfig", "ApplicationServerSpec", "AuthKeys", "AuthSchemeError", "ConflictError",
    "DEFAULT_APNS", "DEFAULT_DOMAIN", "DigestCredentials", "FilterCriteriaRecord",
    "FilterCriteriaSpec", "ImpiRecord", "ImpuLookup", "ImpuRecord", "ImpuSpec", "NotFoundError",
    "OutOfSyncError", "PdnType", "RegistrationRecord", "RepositoryDataRecord", "ResyncRecord",
    "ScscfAssignment", "ServiceProfileRecord", "ServiceProfileSpec", "StoreError",
    "StoreUnavailable", "SubscriberPlan", "SubscriberRecord", "SubscriberSpec", "TriggerSpec",
    "ValidationError", "check_application_server", "check_name", "check_service_profile",
    "default_identity_set", "normalize_impu", "parse_hex", "plan_subscriber", "apn_config",
    "application_server_spec", "auth_keys_of", "impi_record", "impu_lookup", "impu_record",
    "registration_record", "service_profile_record", "subscriber_record",
]

#: The home domain of the default configuration (architecture.md, Defaults).
DEFAULT_DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"

_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")
_NAI = re.compile(r"[^\s@]+@[^\s@]+")
_TEL = re.compile(r"tel:\+[0-9]{1,15}")
_SIP = re.compile(r"sips?:[^\s@]+@([^\s@;?]+)")
_SIP_SERVER = re.compile(r"sips?:[^\s]+")
_MAX_IDENTITY = 255


# --------------------------------------------------------------------------- specs

class PdnType(enum.IntEnum):
    """PDN-Type AVP values (TS 29.272 §7.3.62)."""

    IPV4 = 0
    IPV6 = 1
    IPV4V6 = 2
    IPV4_OR_IPV6 = 3


@dataclass(frozen=True, slots=True)
class ApnConfig:
    """One APN-Configuration (TS 29.272 §7.3.35), as provisioned and as read back.

    Attributes:
        name: Service-Selection, the APN network identifier.
        context_id: Context-Identifier, unique per subscription.
        qci: QoS-Class-Identifier of the default bearer (TS 23.203 §6.1.7).
        arp_priority: Priority-Level of the ARP, 1 (highest) .. 15.
        arp_preemption_capability: the bearer may pre-empt others.
        arp_preemption_vulnerability: the bearer may be pre-empted.
        ambr_ul: APN-AMBR uplink, bit/s.
        ambr_dl: APN-AMBR downlink, bit/s.
        pdn_type: PDN-Type.
        is_default: the Context-Identifier of the APN-Configuration-Profile.
    """

    name: str
    context_id: int
    qci: int
    arp_priority: int
    arp_preemption_capability: bool = False
    arp_preemption_vulnerability: bool = True
    ambr_ul: int = 100_000_000
    ambr_dl: int = 100_000_000
    pdn_type: PdnType = PdnType.IPV4V6
    is_default: bool = False


#: ``internet`` (default bearer QCI 9, ARP 8) and ``ims`` (QCI 5, ARP 1), TS 23.203 Table 6.1.7.
DEFAULT_APNS = (
    ApnConfig("internet", 1, qci=9, arp_priority=8, is_default=True),
    ApnConfig("ims", 2, qci=5, arp_priority=1, arp_preemption_capability=True,
              arp_preemption_vulnerability=False, ambr_ul=10_000_000, ambr_dl=10_000_000),
)


@dataclass(frozen=True, slots=True)
class ImpuSpec:
    """A public identity to provision; ``service_profile`` None: the subscriber's."""

    impu: str
    barred: bool = False
    service_profile: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriberSpec:
    """What to provision for one subscriber (TS 23.008 §2, §5.2).

    Keys are hex strings: K and OPc (or OP, converted with TS 35.206 §4.1)
    32 hex digits, AMF 4. ``impi`` and ``impus`` default to the identity set
    of the module docstring; ``digest_password`` (or ``digest_ha1``) makes the
    IMPI a SIP Digest identity, whose HA1 uses ``domain`` as realm.
    """

    imsi: str
    k: str | None = None
    opc: str | None = None
    op: str | None = None
    amf: str = "8000"
    sqn: int = 0
    msisdn: str | None = None
    domain: str = DEFAULT_DOMAIN
    impi: str | None = None
    impus: tuple[ImpuSpec, ...] | None = None
    digest_password: str | None = None
    digest_ha1: str | None = None
    service_profile: str = DEFAULT_SERVICE_PROFILE
    apns: tuple[ApnConfig, ...] = DEFAULT_APNS
    ambr_ul: int = 100_000_000
    ambr_dl: int = 100_000_000
    access_restriction: int = 0


@dataclass(frozen=True, slots=True)
class SubscriberPlan:
    """A validated :class:`SubscriberSpec`: binary keys, normalised identities."""

    imsi: str
    msisdn: str | None
    k: bytes | None = field(repr=False)
    opc: bytes | None = field(repr=False)
    amf: bytes
    sqn: int
    impi: str
    auth_scheme: AuthScheme
    digest_realm: str | None
    digest_ha1: str | None
    impus: tuple[ImpuSpec, ...]
    apns: tuple[ApnConfig, ...]
    ambr_ul: int
    ambr_dl: int
    access_restriction: int


@dataclass(frozen=True, slots=True)
class ApplicationServerSpec:
    """An application server (TS 29.228 Annex B.2.3), as provisioned and as read back."""

    name: str
    server_name: str
    default_handling: DefaultHandling = DefaultHandling.SESSION_CONTINUED
    service_info: str | None = None
    include_register_request: bool = False
    include_register_response: bool = False


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    """A service point trigger (TS 29.228 Annex B.2.2, Annex C); see ``ServicePointTrigger``."""

    kind: SptKind
    value: str | None = None
    header: str | None = None
    group: int = 0
    negated: bool = False
    registration_type: int | None = None


@dataclass(frozen=True, slots=True)
class FilterCriteriaSpec:
    """An initial filter criteria (TS 29.228 Annex B.2.2) naming its AS."""

    priority: int
    application_server: str
    triggers: tuple[TriggerSpec, ...] = ()
    condition_type_cnf: bool = True
    profile_part_indicator: int | None = None


@dataclass(frozen=True, slots=True)
class ServiceProfileSpec:
    """A shared service profile: its iFCs (TS 29.228 Annex B.2.1)."""

    name: str
    filter_criteria: tuple[FilterCriteriaSpec, ...] = ()


# --------------------------------------------------------------------------- records

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


# --------------------------------------------------------------------------- validation

def parse_hex(field_name: str, value: str, octets: int) -> bytes:
    """Decode a hex key of exactly ``octets`` octets (``2 * octets`` hex digits).

    Raises:
        ValidationError: naming ``field_name``.
    """
    text = value.strip() if isinstance(value, str) else ""
    if len(text) != 2 * octets or not _HEX.fullmatch(text):
        raise ValidationError(field_name, f"must be {2 * octets} hex digits")
    return bytes.fromhex(text)


def _digits(field_name: str, value: str, low: int, high: int) -> str:
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or not low <= len(value) <= high:
        raise ValidationError(field_name, f"must be {low} to {high} decimal digits")
    return value


def _int_range(field_name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(field_name, f"must be an integer in {low}..{high}")
    return value


def _hostname(field_name: str, value: str) -> str:
    if not isinstance(value, str) or not _HOSTNAME.fullmatch(value):
        raise ValidationError(field_name, "must be a domain name")
    return value.lower()


def normalize_impu(impu: str, field_name: str = "impu") -> str:
    """Canonical form of a public identity: ``tel:+<digits>`` or ``sip[s]:user@host``.

    The scheme and host are lower-cased (RFC 3261 §19.1.4); URI parameters
    after the host are dropped. Raises :class:`ValidationError` otherwise.
    """
    text = impu.strip() if isinstance(impu, str) else ""
    scheme, _, rest = text.partition(":")
    text = f"{scheme.lower()}:{rest}"
    if scheme.lower() == "tel":
        text = text.split(";", 1)[0]
        if _TEL.fullmatch(text):
            return text
    else:
        match = _SIP.match(text)
        if match and len(text) <= _MAX_IDENTITY:
            return text[: match.start(1)] + match.group(1).lower()
    raise ValidationError(field_name, "must be tel:+<E.164> or sip:user@host")


def _impi(value: str) -> str:
    if not isinstance(value, str) or len(value) > _MAX_IDENTITY or not _NAI.fullmatch(value):
        raise ValidationError("impi", "must be a NAI user@realm (TS 23.003 §13.3)")
    user, _, realm = value.partition("@")
    return f"{user}@{realm.lower()}"


def default_identity_set(imsi: str, msisdn: str | None, domain: str) -> tuple[ImpuSpec, ...]:
    """The public identities generated for a subscriber (module docstring)."""
    if msisdn is None:
        return (ImpuSpec(f"sip:{imsi}@{domain}"),)
    return (
        ImpuSpec(f"sip:{imsi}@{domain}", barred=True),
        ImpuSpec(f"tel:+{msisdn}"),
        ImpuSpec(f"sip:+{msisdn}@{domain}"),
    )


def _keys(spec: SubscriberSpec, required: bool) -> tuple[bytes | None, bytes | None]:
    """K and OPc (OP converted), TS 35.206 §4.1; required for AKA."""
    if spec.k is None:
        if required:
            raise ValidationError("k", "is required for AKA")
        if spec.opc is not None or spec.op is not None:
            raise ValidationError("k", "is required with opc/op")
        return None, None
    k = parse_hex("k", spec.k, 16)
    if (spec.opc is None) == (spec.op is None):
        raise ValidationError("opc", "give exactly one of opc and op")
    if spec.opc is not None:
        return k, parse_hex("opc", spec.opc, 16)
    return k, compute_opc(k, parse_hex("op", spec.op or "", 16))


def _digest(spec: SubscriberSpec, impi: str, realm: str) -> str | None:
    """HA1 of a SIP Digest identity, or None for AKA."""
    if spec.digest_password is not None and spec.digest_ha1 is not None:
        raise ValidationError("digest_password", "give digest_password or digest_ha1, not both")
    if spec.digest_ha1 is not None:
        return parse_hex("digest_ha1", spec.digest_ha1, 16).hex()
    if spec.digest_password is not None:
        if not isinstance(spec.digest_password, str) or not spec.digest_password:
            raise ValidationError("digest_password", "must be a non-empty string")
        return ha1(impi, realm, spec.digest_password)
    return None


def _apns(apns: tuple[ApnConfig, ...]) -> tuple[ApnConfig, ...]:
    """Check APN configurations (TS 29.272 §7.3.35, TS 23.203 §6.1.7)."""
    for index, apn in enumerate(apns):
        where = f"apns[{index}]"
        _hostname(f"{where}.name", apn.name)
        _int_range(f"{where}.context_id", apn.context_id, 1, 2**32 - 1)
        _int_range(f"{where}.qci", apn.qci, 1, 254)
        _int_range(f"{where}.arp_priority", apn.arp_priority, 1, 15)
        _int_range(f"{where}.ambr_ul", apn.ambr_ul, 0, 2**32 - 1)
        _int_range(f"{where}.ambr_dl", apn.ambr_dl, 0, 2**32 - 1)
        _int_range(f"{where}.pdn_type", apn.pdn_type, 0, len(PdnType) - 1)
    if len({apn.name.lower() for apn in apns}) != len(apns):
        raise ValidationError("apns", "APN names must be unique")
    if len({apn.context_id for apn in apns}) != len(apns):
        raise ValidationError("apns", "context identifiers must be unique")
    if apns and sum(apn.is_default for apn in apns) != 1:
        raise ValidationError("apns", "exactly one APN must be the default")
    return apns


def _impus(spec: SubscriberSpec, imsi: str, msisdn: str | None,
           domain: str) -> tuple[ImpuSpec, ...]:
    given = spec.impus if spec.impus is not None else default_identity_set(imsi, msisdn, domain)
    if not given:
        raise ValidationError("impus", "at least one public identity is required")
    impus = tuple(
        ImpuSpec(normalize_impu(item.impu, f"impus[{index}]"), bool(item.barred),
                 item.service_profile or spec.service_profile)
        for index, item in enumerate(given)
    )
    if len({item.impu for item in impus}) != len(impus):
        raise ValidationError("impus", "public identities must be unique")
    return impus


def _msisdn(value: str | None) -> str | None:
    if value is None:
        return None
    return _digits("msisdn", value.removeprefix("+") if isinstance(value, str) else value, 3, 15)


def plan_subscriber(spec: SubscriberSpec) -> SubscriberPlan:
    """Validate ``spec`` and compute what the store writes.

    Raises:
        ValidationError: naming the first invalid field.
    """
    imsi = _digits("imsi", spec.imsi, 6, 15)
    msisdn = _msisdn(spec.msisdn)
    domain = _hostname("domain", spec.domain)
    impi = _impi(spec.impi if spec.impi is not None else f"{imsi}@{domain}")
    digest_ha1 = _digest(spec, impi, domain)
    scheme = AuthScheme.AKA if digest_ha1 is None else AuthScheme.DIGEST
    k, opc = _keys(spec, required=scheme is AuthScheme.AKA)
    return SubscriberPlan(
        imsi=imsi, msisdn=msisdn, k=k, opc=opc, amf=parse_hex("amf", spec.amf, 2),
        sqn=_int_range("sqn", spec.sqn, 0, SQN_MAX), impi=impi, auth_scheme=scheme,
        digest_realm=None if digest_ha1 is None else domain, digest_ha1=digest_ha1,
        impus=_impus(spec, imsi, msisdn, domain), apns=_apns(tuple(spec.apns)),
        ambr_ul=_int_range("ambr_ul", spec.ambr_ul, 0, 2**32 - 1),
        ambr_dl=_int_range("ambr_dl", spec.ambr_dl, 0, 2**32 - 1),
        access_restriction=_int_range("access_restriction", spec.access_restriction,
                                      0, 2**32 - 1),
    )


# --------------------------------------------------------------------------- service profiles

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
_NEEDS_VALUE = {SptKind.METHOD, SptKind.REQUEST_URI, SptKind.SESSION_CASE}
_NEEDS_HEADER = {SptKind.SIP_HEADER, SptKind.SESSION_DESCRIPTION}


def check_name(field_name: str, value: str) -> str:
    """A name of a shared object (service profile, application server)."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValidationError(field_name, "must be 1-100 of A-Z a-z 0-9 _ . : -")
    return value


def check_application_server(spec: ApplicationServerSpec) -> ApplicationServerSpec:
    """Validate an application server (TS 29.228 Annex B.2.3: ServerName is a SIP URI)."""
    check_name("name", spec.name)
    if not isinstance(spec.server_name, str) or not _SIP_SERVER.fullmatch(spec.server_name):
        raise ValidationError("server_name", "must be a sip: or sips: URI")
    try:
        handling = DefaultHandling(spec.default_handling)
    except ValueError:
        raise ValidationError("default_handling", "must be 0 or 1") from None
    return ApplicationServerSpec(spec.name, spec.server_name, handling, spec.service_info,
                                 bool(spec.include_register_request),
                                 bool(spec.include_register_response))


def _check_trigger(where: str, spt: TriggerSpec) -> TriggerSpec:
    """One SPT (TS 29.228 Annex B.2.2): the fields its kind needs."""
    try:
        kind = SptKind(spt.kind)
    except ValueError:
        raise ValidationError(f"{where}.kind", f"must be one of {[k.value for k in SptKind]}") from None
    if kind in _NEEDS_VALUE and not spt.value:
        raise ValidationError(f"{where}.value", f"is required for {kind.value}")
    if kind in _NEEDS_HEADER and not spt.header:
        raise ValidationError(f"{where}.header", f"is required for {kind.value}")
    if kind is SptKind.METHOD and not _TOKEN.fullmatch(spt.value or ""):
        raise ValidationError(f"{where}.value", "must be a SIP method token")
    if kind is SptKind.SESSION_CASE and spt.value not in {"0", "1", "2", "3", "4"}:
        raise ValidationError(f"{where}.value", "must be a SessionCase 0..4")
    _int_range(f"{where}.group", spt.group, 0, 2**31 - 1)
    if spt.registration_type is not None:
        _int_range(f"{where}.registration_type", spt.registration_type, 0, 7)
    return TriggerSpec(kind, spt.value, spt.header, spt.group, bool(spt.negated),
                       spt.registration_type)


def check_service_profile(spec: ServiceProfileSpec) -> ServiceProfileSpec:
    """Validate a service profile: unique iFC priorities, well-formed SPTs."""
    check_name("name", spec.name)
    checked = []
    for index, ifc in enumerate(spec.filter_criteria):
        where = f"filter_criteria[{index}]"
        _int_range(f"{where}.priority", ifc.priority, 0, 2**31 - 1)
        check_name(f"{where}.application_server", ifc.application_server)
        if ifc.profile_part_indicator is not None:
            _int_range(f"{where}.profile_part_indicator", ifc.profile_part_indicator, 0, 1)
        triggers = tuple(_check_trigger(f"{where}.triggers[{n}]", spt)
                         for n, spt in enumerate(ifc.triggers))
        checked.append(FilterCriteriaSpec(ifc.priority, ifc.application_server, triggers,
                                          bool(ifc.condition_type_cnf),
                                          ifc.profile_part_indicator))
    if len({ifc.priority for ifc in checked}) != len(checked):
        raise ValidationError("filter_criteria", "priorities must be unique")
    return ServiceProfileSpec(spec.name, tuple(checked))


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

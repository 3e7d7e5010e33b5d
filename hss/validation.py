"""Validation of provisioning specs and the default identity set (TS 23.003 §13; TS 29.228 Annex B).

:func:`plan_subscriber` checks a :class:`~hss.specs.SubscriberSpec` field
by field and computes the :class:`~hss.specs.SubscriberPlan` the store
writes: binary keys (OP converted to OPc, TS 35.206 §4.1), the IMPI as a
NAI (TS 23.003 §13.3), public identities in canonical form
(:func:`normalize_impu`) and, when none are given, the default identity set
of :func:`default_identity_set` (described in :mod:`hss.identities`). The
shared objects are checked by :func:`check_application_server` and
:func:`check_service_profile`. Every failure raises
:class:`hss.models.ValidationError` naming the field; every public name here
is also importable from :mod:`hss.identities`.
"""

from __future__ import annotations

import re

from hss.models import AuthScheme, DefaultHandling, SptKind, ValidationError
from hss.specs import (
    ApnConfig,
    ApplicationServerSpec,
    FilterCriteriaSpec,
    ImpuSpec,
    PdnType,
    ServiceProfileSpec,
    SubscriberPlan,
    SubscriberSpec,
    TriggerSpec,
)
from ims.auth.digest import ha1
from ims.auth.milenage import compute_opc
from ims.auth.sqn import SQN_MAX

__all__ = [
    "check_application_server", "check_name", "check_service_profile", "default_identity_set",
    "normalize_impu", "parse_hex", "plan_subscriber",
]

_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")
_NAI = re.compile(r"[^\s@]+@[^\s@]+")
_TEL = re.compile(r"tel:\+[0-9]{1,15}")
_SIP = re.compile(r"sips?:[^\s@]+@([^\s@;?]+)")
_SIP_SERVER = re.compile(r"sips?:[^\s]+")
_MAX_IDENTITY = 255


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
    """The public identities generated for a subscriber (the :mod:`hss.identities` docstring)."""
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


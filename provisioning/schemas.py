"""Request and response schemas of the provisioning REST API (TS 23.008 §2, §5 data).

The marshmallow schemas here are the single description of the API's
bodies: :mod:`provisioning.api` loads requests through them and dumps
responses through them, and the OpenAPI document is generated from them
(apispec's ``MarshmallowPlugin``). Shape checks (types, unknown fields,
sizes) happen here; value checks (hex lengths, identities, APN rules) stay
in :func:`hss.identities.plan_subscriber`, so every entry point of the
store validates the same way. Both report the offending field by name.

K and OPc are not dumped in full: :func:`mask_key` keeps the last four
hex digits only (enough to tell two keys apart in a support call), unless
the caller explicitly asks with ``GET /api/v1/subscribers/<imsi>?include_keys=true``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, fields, validate
from marshmallow import ValidationError as SchemaError

from hss.identities import (
    ApnConfig,
    ImpiRecord,
    ImpuRecord,
    ImpuSpec,
    PdnType,
    SubscriberRecord,
    SubscriberSpec,
)
from hss.models import AuthScheme
from hss.updates import SubscriberChanges

__all__ = [
    "ApnSchema", "ErrorSchema", "ImpuSchema", "MAX_APNS", "MAX_IMPUS", "MAX_PAGE",
    "SchemaError", "SubscriberCreateSchema", "SubscriberListSchema", "SubscriberSchema",
    "SubscriberUpdateSchema", "changes_of", "first_error", "mask_key", "subscriber_document", "subscriber_spec",
]

#: Most public identities one request may provision.
MAX_IMPUS = 32
#: Most APN configurations one request may provision.
MAX_APNS = 16
#: Largest page of ``GET /api/v1/subscribers``.
MAX_PAGE = 1000
_UINT32 = validate.Range(min=0, max=2**32 - 1)
_SHORT = validate.Length(max=255)


class _Strict(Schema):
    """Unknown fields are an error, not silently dropped."""

    class Meta:
        unknown = RAISE


class ErrorSchema(Schema):
    """Every error response: a message and, when one is at fault, the field."""

    error = fields.String(required=True, metadata={"description": "what went wrong"})
    field = fields.String(allow_none=True,
                          metadata={"description": "the request field at fault, e.g. k"})


class ImpuSchema(_Strict):
    """A public identity of the implicit registration set (TS 23.228 §4.3.3.3)."""

    impu = fields.String(required=True, validate=_SHORT,
                         metadata={"description": "tel:+<E.164> or sip:user@host"})
    barred = fields.Boolean(load_default=False, dump_default=False)
    service_profile = fields.String(load_default=None, allow_none=True, validate=_SHORT)


class ApnSchema(_Strict):
    """An APN configuration for S6a (TS 29.272 §7.3.35)."""

    name = fields.String(required=True, validate=_SHORT)
    context_id = fields.Integer(required=True, strict=True, validate=_UINT32)
    qci = fields.Integer(required=True, strict=True, validate=validate.Range(1, 254))
    arp_priority = fields.Integer(required=True, strict=True, validate=validate.Range(1, 15))
    arp_preemption_capability = fields.Boolean(load_default=False)
    arp_preemption_vulnerability = fields.Boolean(load_default=True)
    ambr_ul = fields.Integer(load_default=100_000_000, strict=True, validate=_UINT32)
    ambr_dl = fields.Integer(load_default=100_000_000, strict=True, validate=_UINT32)
    pdn_type = fields.Integer(load_default=int(PdnType.IPV4V6), strict=True,
                              validate=validate.Range(0, len(PdnType) - 1))
    is_default = fields.Boolean(load_default=False)


class SubscriberCreateSchema(_Strict):
    """``POST /api/v1/subscribers``: a subscription with its identity set.

    Without ``impus`` the identity set of the field notes is generated: IMPI
    ``<IMSI>@<domain>``, ``sip:<IMSI>@<domain>`` (barred), ``tel:+<MSISDN>``
    and ``sip:+<MSISDN>@<domain>``; without ``apns`` the ``internet`` and
    ``ims`` APNs.
    """

    imsi = fields.String(required=True, validate=_SHORT, metadata={"example": "001010000000001"})
    msisdn = fields.String(load_default=None, allow_none=True, validate=_SHORT)
    k = fields.String(load_default=None, allow_none=True, validate=_SHORT,
                      metadata={"description": "32 hex digits"})
    opc = fields.String(load_default=None, allow_none=True, validate=_SHORT,
                        metadata={"description": "32 hex digits; give opc or op"})
    op = fields.String(load_default=None, allow_none=True, validate=_SHORT,
                       metadata={"description": "32 hex digits, converted to OPc"})
    amf = fields.String(load_default="8000", validate=_SHORT,
                        metadata={"description": "4 hex digits"})
    sqn = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0))
    domain = fields.String(load_default=None, allow_none=True, validate=_SHORT)
    impi = fields.String(load_default=None, allow_none=True, validate=_SHORT)
    impus = fields.List(fields.Nested(ImpuSchema), load_default=None, allow_none=True,
                        validate=validate.Length(max=MAX_IMPUS))
    digest_password = fields.String(load_default=None, allow_none=True, validate=_SHORT)
    digest_ha1 = fields.String(load_default=None, allow_none=True, validate=_SHORT)
    service_profile = fields.String(load_default=None, allow_none=True, validate=_SHORT)
    apns = fields.List(fields.Nested(ApnSchema), load_default=None, allow_none=True,
                       validate=validate.Length(max=MAX_APNS))
    ambr_ul = fields.Integer(load_default=None, allow_none=True, strict=True, validate=_UINT32)
    ambr_dl = fields.Integer(load_default=None, allow_none=True, strict=True, validate=_UINT32)
    access_restriction = fields.Integer(load_default=None, allow_none=True, strict=True,
                                        validate=_UINT32)


class SubscriberUpdateSchema(_Strict):
    """``PATCH /api/v1/subscribers/<imsi>``: every field optional, absent = unchanged.

    A new ``k`` needs ``opc`` or ``op``; ``apns`` replaces the whole list;
    ``barring`` maps IMPUs to true/false; ``service_profiles`` maps an IMPU
    to the profile its whole implicit registration set gets;
    ``digest_password`` switches the IMPI to SIP Digest (stored as HA1),
    ``auth_scheme: "aka"`` back to AKA.
    """

    msisdn = fields.String(validate=_SHORT)
    k = fields.String(validate=_SHORT, metadata={"description": "32 hex digits"})
    opc = fields.String(validate=_SHORT, metadata={"description": "32 hex digits"})
    op = fields.String(validate=_SHORT, metadata={"description": "32 hex digits"})
    amf = fields.String(validate=_SHORT, metadata={"description": "4 hex digits"})
    sqn = fields.Integer(strict=True, validate=validate.Range(min=0))
    apns = fields.List(fields.Nested(ApnSchema), validate=validate.Length(max=MAX_APNS))
    ambr_ul = fields.Integer(strict=True, validate=_UINT32)
    ambr_dl = fields.Integer(strict=True, validate=_UINT32)
    access_restriction = fields.Integer(strict=True, validate=_UINT32)
    barring = fields.Dict(keys=fields.String(validate=_SHORT), values=fields.Boolean(),
                          validate=validate.Length(max=MAX_IMPUS))
    service_profiles = fields.Dict(keys=fields.String(validate=_SHORT),
                                   values=fields.String(validate=_SHORT),
                                   validate=validate.Length(max=MAX_IMPUS))
    auth_scheme = fields.String(validate=validate.OneOf(["aka", "digest"]))
    digest_password = fields.String(validate=validate.Length(min=1, max=255))


class RegistrationSchema(Schema):
    """Registration state of an IMPU and its S-CSCF (TS 29.228 §6.1.2)."""

    state = fields.String()
    impi = fields.String(allow_none=True)
    scscf = fields.String(allow_none=True)


class ImpuRecordSchema(Schema):
    """A provisioned public identity."""

    impu = fields.String()
    barred = fields.Boolean()
    service_profile = fields.String()
    registration = fields.Nested(RegistrationSchema)


class ImpiSchema(Schema):
    """A private identity with its implicit registration sets."""

    impi = fields.String()
    auth_scheme = fields.String(metadata={"enum": ["aka", "digest"]})
    implicit_sets = fields.List(fields.List(fields.Nested(ImpuRecordSchema)))


class SubscriberSchema(Schema):
    """A subscriber as read back; K and OPc masked."""

    imsi = fields.String()
    msisdn = fields.String(allow_none=True)
    k = fields.String(allow_none=True, metadata={
        "description": "masked (last 4 hex digits) unless ?include_keys=true"})
    opc = fields.String(allow_none=True, metadata={
        "description": "masked (last 4 hex digits) unless ?include_keys=true"})
    amf = fields.String(metadata={"description": "4 hex digits"})
    sqn = fields.Integer()
    private_identities = fields.List(fields.Nested(ImpiSchema))
    apns = fields.List(fields.Nested(ApnSchema))
    ambr_ul = fields.Integer()
    ambr_dl = fields.Integer()
    access_restriction = fields.Integer()
    mme_host = fields.String(allow_none=True)
    mme_realm = fields.String(allow_none=True)


class SubscriberListSchema(Schema):
    """A page of ``GET /api/v1/subscribers``."""

    subscribers = fields.List(fields.Nested(SubscriberSchema))
    limit = fields.Integer()
    offset = fields.Integer()
    next_offset = fields.Integer(allow_none=True,
                                 metadata={"description": "offset of the next page, or null"})


# --------------------------------------------------------------------------- helpers

def first_error(messages: Any, prefix: str = "") -> tuple[str, str]:
    """The first ``(field path, message)`` of a marshmallow error tree.

    ``{"impus": {0: {"impu": ["Missing data"]}}}`` gives
    ``("impus[0].impu", "Missing data")``.
    """
    if isinstance(messages, Mapping) and messages:
        key, value = sorted(messages.items(), key=lambda item: str(item[0]))[0]
        if isinstance(key, int):
            path = f"{prefix}[{key}]"
        else:
            path = f"{prefix}.{key}" if prefix else str(key)
        return first_error(value, path)
    if isinstance(messages, list) and messages:
        return first_error(messages[0], prefix)
    return prefix or "body", str(messages)


def _given(data: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {name: data[name] for name in names if data.get(name) is not None}


def subscriber_spec(data: Mapping[str, Any]) -> SubscriberSpec:
    """The store's :class:`SubscriberSpec` from a loaded create body."""
    extra = _given(data, "amf", "sqn", "domain", "impi", "digest_password", "digest_ha1",
                   "service_profile", "ambr_ul", "ambr_dl", "access_restriction")
    if data.get("impus") is not None:
        extra["impus"] = tuple(ImpuSpec(**item) for item in data["impus"])
    if data.get("apns") is not None:
        extra["apns"] = tuple(ApnConfig(**{**item, "pdn_type": PdnType(item["pdn_type"])})
                              for item in data["apns"])
    return SubscriberSpec(imsi=data["imsi"], k=data.get("k"), opc=data.get("opc"),
                          op=data.get("op"), msisdn=data.get("msisdn"), **extra)


def mask_key(key: bytes | None) -> str | None:
    """``"****************************cdef"``: all but the last 4 hex digits hidden."""
    if key is None:
        return None
    text = key.hex()
    return "*" * (len(text) - 4) + text[-4:]


def _impu(record: ImpuRecord) -> dict[str, Any]:
    registration = record.registration
    return {"impu": record.impu, "barred": record.barred,
            "service_profile": record.service_profile,
            "registration": {"state": registration.state.value, "impi": registration.impi,
                             "scscf": registration.scscf.name if registration.scscf else None}}


def _impi(record: ImpiRecord) -> dict[str, Any]:
    return {"impi": record.impi, "auth_scheme": record.auth_scheme.value,
            "implicit_sets": [[_impu(impu) for impu in irs] for irs in record.implicit_sets]}


def _apn(apn: ApnConfig) -> dict[str, Any]:
    return {"name": apn.name, "context_id": apn.context_id, "qci": apn.qci,
            "arp_priority": apn.arp_priority,
            "arp_preemption_capability": apn.arp_preemption_capability,
            "arp_preemption_vulnerability": apn.arp_preemption_vulnerability,
            "ambr_ul": apn.ambr_ul, "ambr_dl": apn.ambr_dl, "pdn_type": int(apn.pdn_type),
            "is_default": apn.is_default}


def changes_of(data: Mapping[str, Any]) -> SubscriberChanges:
    """The store's :class:`SubscriberChanges` from a loaded PATCH body."""
    values = dict(data)
    if "apns" in values:
        values["apns"] = tuple(ApnConfig(**{**item, "pdn_type": PdnType(item["pdn_type"])})
                               for item in values["apns"])
    if "auth_scheme" in values:
        values["auth_scheme"] = AuthScheme(values["auth_scheme"])
    return SubscriberChanges(**values)


def _key(key: bytes | None, include_keys: bool) -> str | None:
    if include_keys:
        return None if key is None else key.hex()
    return mask_key(key)


def subscriber_document(record: SubscriberRecord, include_keys: bool = False) -> dict[str, Any]:
    """The JSON document of a subscriber (:class:`SubscriberSchema`).

    K and OPc are masked unless ``include_keys`` (``?include_keys=true``).
    """
    document = {
        "imsi": record.imsi, "msisdn": record.msisdn, "k": _key(record.k, include_keys),
        "opc": _key(record.opc, include_keys), "amf": record.amf.hex(), "sqn": record.sqn,
        "private_identities": [_impi(impi) for impi in record.private_identities],
        "apns": [_apn(apn) for apn in record.apns], "ambr_ul": record.ambr_ul,
        "ambr_dl": record.ambr_dl, "access_restriction": record.access_restriction,
        "mme_host": record.mme_host, "mme_realm": record.mme_realm,
    }
    dumped: dict[str, Any] = SubscriberSchema().dump(document)
    return dumped

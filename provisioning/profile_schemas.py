"""Schemas of service profiles and application servers (TS 29.228 Annex B.2; Annex E XML).

An initial filter criteria is structured JSON, not XML::

    {"priority": 0, "application_server": "tas", "profile_part_indicator": null,
     "trigger_point": {"condition_type_cnf": false, "spts": [
         {"group": 0, "condition_negated": false, "method": "INVITE"},
         {"group": 0, "sip_header": {"header": "Event", "content": "^reg"}},
         {"group": 1, "session_case": 0}]}}

Each SPT holds exactly one condition: ``method``, ``request_uri``,
``sip_header`` (header + optional content regex), ``session_case`` (0
ORIGINATING, 1 TERMINATING_REGISTERED, 2 TERMINATING_UNREGISTERED, 3
ORIGINATING_UNREGISTERED, 4 ORIGINATING_CDIV) or ``session_description``
(SDP line + optional content regex). In CNF the SPTs of one group are ORed
and the groups ANDed; in DNF the reverse (TS 29.228 Annex C). Requests name
the application server; responses expand it (name, server_name,
default_handling 0 SESSION_CONTINUED / 1 SESSION_TERMINATED, service_info).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from hss.identities import (
    ApplicationServerSpec,
    FilterCriteriaSpec,
    ServiceProfileRecord,
    ServiceProfileSpec,
    TriggerSpec,
)
from hss.models import DefaultHandling, SptKind

__all__ = [
    "ApplicationServerSchema", "ApplicationServerUpdateSchema", "ServiceProfileDocumentSchema",
    "ServiceProfileSchema", "ServiceProfileUpdateSchema", "application_server_document",
    "application_server_spec_of", "service_profile_document", "service_profile_spec_of",
]

_NAME = validate.Regexp(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}\Z",
                        error="must be 1-100 of A-Z a-z 0-9 _ . : -")
_SHORT = validate.Length(min=1, max=255)
_CONDITIONS = ("method", "request_uri", "sip_header", "session_case", "session_description")
MAX_IFCS = 64
MAX_SPTS = 64


def _regex(value: str | None) -> None:
    if value is None:
        return
    try:
        re.compile(value)
    except re.error as exc:
        raise SchemaError(f"not a valid regular expression: {exc}") from None


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class HeaderSchema(_Strict):
    """SIPHeader: a header name and an optional regex on its value."""

    header = fields.String(required=True, validate=_SHORT)
    content = fields.String(load_default=None, allow_none=True, validate=[_SHORT, _regex])


class SdpLineSchema(_Strict):
    """SessionDescription: an SDP line type (e.g. ``m``) and an optional regex."""

    line = fields.String(required=True, validate=_SHORT)
    content = fields.String(load_default=None, allow_none=True, validate=[_SHORT, _regex])


class SptSchema(_Strict):
    """A service point trigger: exactly one condition (module docstring)."""

    group = fields.Integer(load_default=0, strict=True, validate=validate.Range(0, 2**31 - 1))
    condition_negated = fields.Boolean(load_default=False)
    method = fields.String(validate=validate.Regexp(r"[A-Za-z0-9.!%*_+`'~-]+\Z",
                                                    error="must be a SIP method token"))
    request_uri = fields.String(validate=_SHORT)
    sip_header = fields.Nested(HeaderSchema)
    session_case = fields.Integer(strict=True, validate=validate.Range(0, 4))
    session_description = fields.Nested(SdpLineSchema)
    registration_type = fields.Integer(load_default=None, allow_none=True, strict=True,
                                       validate=validate.Range(0, 2),
                                       metadata={"description": "0 initial, 1 re-, 2 de-"})

    @validates_schema
    def _one_condition(self, data: Mapping[str, Any], **_: Any) -> None:
        given = [name for name in _CONDITIONS if data.get(name) is not None]
        if len(given) != 1:
            raise SchemaError(f"exactly one of {', '.join(_CONDITIONS)} is required",
                              field_name=given[1] if len(given) > 1 else "method")


class TriggerPointSchema(_Strict):
    """The trigger point: SPTs in conjunctive (CNF) or disjunctive (DNF) normal form."""

    condition_type_cnf = fields.Boolean(load_default=True)
    spts = fields.List(fields.Nested(SptSchema), required=True,
                       validate=validate.Length(min=1, max=MAX_SPTS))


class IfcSchema(_Strict):
    """An initial filter criteria naming its application server."""

    priority = fields.Integer(required=True, strict=True, validate=validate.Range(0, 2**31 - 1))
    application_server = fields.String(required=True, validate=_NAME,
                                       metadata={"description": "name of an application server"})
    trigger_point = fields.Nested(TriggerPointSchema, load_default=None, allow_none=True)
    profile_part_indicator = fields.Integer(load_default=None, allow_none=True, strict=True,
                                            validate=validate.Range(0, 1))


def _check_priorities(data: Mapping[str, Any]) -> None:
    priorities = [ifc["priority"] for ifc in data.get("ifcs") or []]
    if len(set(priorities)) != len(priorities):
        raise SchemaError("iFC priorities must be unique", field_name="ifcs")


class ServiceProfileSchema(_Strict):
    """``POST /api/v1/service-profiles``."""

    name = fields.String(required=True, validate=_NAME)
    ifcs = fields.List(fields.Nested(IfcSchema), load_default=list,
                       validate=validate.Length(max=MAX_IFCS))

    @validates_schema
    def _unique(self, data: Mapping[str, Any], **_: Any) -> None:
        _check_priorities(data)


class ServiceProfileUpdateSchema(_Strict):
    """``PUT /api/v1/service-profiles/<name>``: the new iFC list (``name`` optional)."""

    name = fields.String(validate=_NAME)
    ifcs = fields.List(fields.Nested(IfcSchema), required=True,
                       validate=validate.Length(max=MAX_IFCS))

    @validates_schema
    def _unique(self, data: Mapping[str, Any], **_: Any) -> None:
        _check_priorities(data)


class ApplicationServerUpdateSchema(_Strict):
    """``PUT /api/v1/application-servers/<name>`` (``name`` optional)."""

    name = fields.String(validate=_NAME)
    server_name = fields.String(required=True, validate=_SHORT,
                                metadata={"description": "sip: or sips: URI of the AS"})
    default_handling = fields.Integer(load_default=0, strict=True, validate=validate.OneOf(
        [0, 1]), metadata={"description": "0 SESSION_CONTINUED, 1 SESSION_TERMINATED"})
    service_info = fields.String(load_default=None, allow_none=True,
                                 validate=validate.Length(max=1024))
    include_register_request = fields.Boolean(load_default=False)
    include_register_response = fields.Boolean(load_default=False)


class ApplicationServerSchema(ApplicationServerUpdateSchema):
    """``POST /api/v1/application-servers`` and every AS in responses."""

    name = fields.String(required=True, validate=_NAME)


class IfcDocumentSchema(Schema):
    """An iFC as read back: the application server expanded."""

    priority = fields.Integer()
    application_server = fields.Nested(ApplicationServerSchema)
    trigger_point = fields.Nested(TriggerPointSchema, allow_none=True)
    profile_part_indicator = fields.Integer(allow_none=True)


class ServiceProfileDocumentSchema(Schema):
    """A service profile as read back."""

    name = fields.String()
    ifcs = fields.List(fields.Nested(IfcDocumentSchema))


# --------------------------------------------------------------------------- conversions

def application_server_spec_of(data: Mapping[str, Any], name: str) -> ApplicationServerSpec:
    """The store's spec from a loaded AS body."""
    return ApplicationServerSpec(name, data["server_name"],
                                 DefaultHandling(data["default_handling"]),
                                 data.get("service_info"), data["include_register_request"],
                                 data["include_register_response"])


def application_server_document(spec: ApplicationServerSpec) -> dict[str, Any]:
    """The JSON of an application server."""
    return {"name": spec.name, "server_name": spec.server_name,
            "default_handling": int(spec.default_handling), "service_info": spec.service_info,
            "include_register_request": spec.include_register_request,
            "include_register_response": spec.include_register_response}


def _trigger(spt: Mapping[str, Any]) -> TriggerSpec:
    base = {"group": spt["group"], "negated": spt["condition_negated"],
            "registration_type": spt.get("registration_type")}
    if spt.get("method") is not None:
        return TriggerSpec(SptKind.METHOD, spt["method"], **base)
    if spt.get("request_uri") is not None:
        return TriggerSpec(SptKind.REQUEST_URI, spt["request_uri"], **base)
    if spt.get("session_case") is not None:
        return TriggerSpec(SptKind.SESSION_CASE, str(spt["session_case"]), **base)
    if spt.get("sip_header") is not None:
        header = spt["sip_header"]
        return TriggerSpec(SptKind.SIP_HEADER, header["content"], header["header"], **base)
    line = spt["session_description"]
    return TriggerSpec(SptKind.SESSION_DESCRIPTION, line["content"], line["line"], **base)


def service_profile_spec_of(data: Mapping[str, Any], name: str) -> ServiceProfileSpec:
    """The store's spec from a loaded profile body."""
    criteria = []
    for ifc in data["ifcs"]:
        point = ifc.get("trigger_point")
        triggers = tuple(_trigger(spt) for spt in point["spts"]) if point else ()
        criteria.append(FilterCriteriaSpec(
            ifc["priority"], ifc["application_server"], triggers,
            point["condition_type_cnf"] if point else True, ifc.get("profile_part_indicator")))
    return ServiceProfileSpec(name, tuple(criteria))


def _spt_document(spt: TriggerSpec) -> dict[str, Any]:
    document: dict[str, Any] = {"group": spt.group, "condition_negated": spt.negated}
    if spt.kind == SptKind.METHOD:
        document["method"] = spt.value
    elif spt.kind == SptKind.REQUEST_URI:
        document["request_uri"] = spt.value
    elif spt.kind == SptKind.SESSION_CASE:
        document["session_case"] = int(spt.value or 0)
    elif spt.kind == SptKind.SIP_HEADER:
        document["sip_header"] = {"header": spt.header, "content": spt.value}
    else:
        document["session_description"] = {"line": spt.header, "content": spt.value}
    document["registration_type"] = spt.registration_type
    return document


def service_profile_document(record: ServiceProfileRecord) -> dict[str, Any]:
    """The JSON of a service profile, iFCs by priority."""
    return {"name": record.name, "ifcs": [
        {"priority": ifc.priority,
         "application_server": application_server_document(ifc.application_server),
         "trigger_point": {"condition_type_cnf": ifc.condition_type_cnf,
                           "spts": [_spt_document(spt) for spt in ifc.triggers]}
         if ifc.triggers else None,
         "profile_part_indicator": ifc.profile_part_indicator}
        for ifc in record.filter_criteria]}

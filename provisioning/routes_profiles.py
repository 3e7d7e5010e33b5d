"""``/api/v1/service-profiles`` and ``/api/v1/application-servers`` (TS 29.228 Annex B).

Service profiles: POST (201), GET list, GET one, PUT (replace the iFCs),
DELETE (409 while a public identity uses it), and the read-only
``GET /service-profiles/<name>/xml``: the profile rendered as the
IMSSubscription XML of TS 29.228 Annex E that SAA/PPR carry, for the
identities given as ``?impi=`` and ``?impu=`` (default ``user@<domain>`` and
``sip:user@<domain>``). Application servers: POST, GET list, GET one, PUT,
DELETE (409 while an iFC names it). iFC JSON: :mod:`provisioning.profile_schemas`.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, current_app, jsonify, request

from hss import profiles
from hss.cx import subscription_of
from hss.identities import DEFAULT_DOMAIN, ImpuLookup, ImpuRecord, normalize_impu
from hss.models import ValidationError
from ims.diameter.userdata import build_ims_subscription
from provisioning.profile_schemas import (
    ApplicationServerSchema,
    ApplicationServerUpdateSchema,
    ServiceProfileSchema,
    ServiceProfileUpdateSchema,
    application_server_document,
    application_server_spec_of,
    service_profile_document,
    service_profile_spec_of,
)
from provisioning.web import API_PREFIX, ApiError, load_body, optional_actions, store

__all__ = ["rest_field", "shared_objects"]

log = logging.getLogger(__name__)

shared_objects = Blueprint("shared_objects", __name__, url_prefix=API_PREFIX)

_STORE_PATHS = ((re.compile(r"^filter_criteria"), "ifcs"),
                (re.compile(r"\.triggers\["), ".trigger_point.spts["))


def rest_field(field: str) -> str:
    """The store's field path in the API's terms (``filter_criteria[0]`` -> ``ifcs[0]``)."""
    for pattern, replacement in _STORE_PATHS:
        field = pattern.sub(replacement, field)
    return field


def _store_error(exc: ValidationError) -> ApiError:
    field = rest_field(exc.field)
    return ApiError(400, f"{field}: {exc.reason}", field)


def _same_name(data: dict[str, object], name: str) -> None:
    if data.get("name", name) != name:
        raise ApiError(400, "name: differs from the name in the path (renaming is not "
                            "supported)", "name")


# --------------------------------------------------------------------------- service profiles

@shared_objects.post("/service-profiles")
def create_profile() -> tuple[Response, int, dict[str, str]]:
    data = load_body(ServiceProfileSchema())
    try:
        record = profiles.create_service_profile(store(), service_profile_spec_of(data, data["name"]))
    except ValidationError as exc:
        raise _store_error(exc) from None
    log.info("created service profile %s", record.name)
    location = f"{API_PREFIX}/service-profiles/{record.name}"
    return jsonify(service_profile_document(record)), 201, {"Location": location}


@shared_objects.get("/service-profiles")
def list_profiles() -> Response:
    return jsonify({"service_profiles": [service_profile_document(record)
                                         for record in profiles.list_service_profiles(store())]})


@shared_objects.get("/service-profiles/<name>")
def show_profile(name: str) -> Response:
    return jsonify(service_profile_document(store().service_profile(name)))


@shared_objects.put("/service-profiles/<name>")
def replace_profile(name: str) -> Response:
    data = load_body(ServiceProfileUpdateSchema())
    _same_name(data, name)
    try:
        record = profiles.replace_service_profile(store(), service_profile_spec_of(data, name))
    except ValidationError as exc:
        raise _store_error(exc) from None
    log.info("replaced the iFCs of service profile %s", name)
    document = service_profile_document(record)
    document["notifications"] = _push_to_served_users(name)
    return jsonify(document)


def _push_to_served_users(name: str) -> list[dict[str, object]]:
    """PPR to the S-CSCF of every registered user of profile ``name`` (TS 29.228 §6.1.7)."""
    actions = optional_actions()
    if actions is None:
        return []
    done: list[dict[str, object]] = []
    for impi in profiles.impis_served_with_profile(store(), name):
        result = actions.push_profile(impi)
        if not result.ok:
            log.warning("push_profile for %s failed: %s", impi, result.detail)
        done.append({"action": "push_profile", "target": impi, "ok": result.ok,
                     "detail": result.detail, "result_code": result.result_code})
    return done


@shared_objects.delete("/service-profiles/<name>")
def delete_profile(name: str) -> tuple[str, int]:
    profiles.delete_service_profile(store(), name)
    log.info("deleted service profile %s", name)
    return "", 204


@shared_objects.get("/service-profiles/<name>/xml")
def profile_xml(name: str) -> Response:
    record = store().service_profile(name)
    domain = current_app.config.get("IMS_DOMAIN") or DEFAULT_DOMAIN
    impi = request.args.get("impi", f"user@{domain}")
    try:
        impu = normalize_impu(request.args.get("impu", f"sip:user@{domain}"))
    except ValidationError as exc:
        raise ApiError(400, f"impu: {exc.reason}", "impu") from None
    member = ImpuRecord(impu, False, name)
    found = ImpuLookup(member, impi, "", (member,))
    xml = build_ims_subscription(subscription_of(found, {name: record}))
    return Response(xml, mimetype="application/xml")


# --------------------------------------------------------------------------- application servers

@shared_objects.post("/application-servers")
def create_server() -> tuple[Response, int, dict[str, str]]:
    data = load_body(ApplicationServerSchema())
    spec = store().add_application_server(application_server_spec_of(data, data["name"]))
    log.info("created application server %s", spec.name)
    location = f"{API_PREFIX}/application-servers/{spec.name}"
    return jsonify(application_server_document(spec)), 201, {"Location": location}


@shared_objects.get("/application-servers")
def list_servers() -> Response:
    return jsonify({"application_servers": [
        application_server_document(spec) for spec in profiles.list_application_servers(store())]})


@shared_objects.get("/application-servers/<name>")
def show_server(name: str) -> Response:
    return jsonify(application_server_document(profiles.application_server(store(), name)))


@shared_objects.put("/application-servers/<name>")
def replace_server(name: str) -> Response:
    data = load_body(ApplicationServerUpdateSchema())
    _same_name(data, name)
    spec = profiles.update_application_server(store(), application_server_spec_of(data, name))
    log.info("updated application server %s", name)
    return jsonify(application_server_document(spec))


@shared_objects.delete("/application-servers/<name>")
def delete_server(name: str) -> tuple[str, int]:
    profiles.delete_application_server(store(), name)
    log.info("deleted application server %s", name)
    return "", 204

"""The provisioning REST API over the HSS store (TS 23.008 data; issue 3 part 5).

Routes (all under bearer-token auth, JSON in and out), by module:

* :mod:`provisioning.routes_subscribers`: ``POST/GET /api/v1/subscribers``
  (``?q=`` searches IMSI, MSISDN, IMPI and IMPUs in SQL),
  ``GET/PATCH/DELETE /api/v1/subscribers/<imsi>``. K and OPc are masked in
  every response except ``GET /api/v1/subscribers/<imsi>?include_keys=true``.
* :mod:`provisioning.routes_profiles`: ``/api/v1/service-profiles`` (iFCs as
  structured JSON; ``/<name>/xml`` renders TS 29.228 User-Data) and
  ``/api/v1/application-servers``.
* :mod:`provisioning.routes_actions`: ``POST .../deregister`` (RTR) and
  ``POST .../push-profile`` (PPR) through the injected
  :class:`provisioning.actions.NetworkActions`; 503 when none is attached.
* ``GET /api/v1/openapi.json``: the OpenAPI 3 document (:mod:`provisioning.openapi`).

Errors are ``{"error": ..., "field": ...}``: 400 validation (the field at
fault, e.g. ``ifcs[0].trigger_point.spts[1].method``), 401 no or wrong
token, 404 unknown, 409 already provisioned / still in use / not
registered, 413 body too large, 502 the S-CSCF refused, 503 store
unavailable or no Diameter client. GET never changes state.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from hss.models import (
    ConflictError,
    NotFoundError,
    StoreError,
    StoreUnavailable,
    ValidationError,
)
from hss.store import Store
from provisioning.actions import NetworkActions
from provisioning.openapi import build_openapi
from provisioning.routes_actions import network_actions
from provisioning.routes_profiles import shared_objects
from provisioning.routes_subscribers import subscribers
from provisioning.web import API_PREFIX, ApiError

__all__ = ["API_PREFIX", "MAX_BODY", "ApiError", "build_openapi", "create_app"]

log = logging.getLogger(__name__)

#: Largest request body accepted (checked before any parsing).
MAX_BODY = 64 * 1024
#: The request field a NotFoundError of each kind points at.
_NOT_FOUND_FIELD = {"IMSI": "imsi", "IMPU": "impu", "IMPI": "impi",
                    "service profile": "name", "application server": "name"}

api = Blueprint("provisioning", __name__, url_prefix=API_PREFIX)


@api.get("/openapi.json")
def openapi() -> Response:
    document: dict[str, Any] = current_app.extensions["ims_openapi"]
    return jsonify(document)


def _error(status: int, message: str, field: str | None = None) -> tuple[Response, int]:
    return jsonify({"error": message, "field": field}), status


# --------------------------------------------------------------------------- auth and errors

def _check_token() -> tuple[Response, int] | None:
    expected: str = current_app.config["IMS_REST_TOKEN"]
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             expected.encode()):
        response, status = _error(401, "missing or wrong bearer token", "Authorization")
        response.headers["WWW-Authenticate"] = 'Bearer realm="ims-provisioning"'
        return response, status
    return None


def _on_store_error(exc: StoreError) -> tuple[Response, int]:
    if isinstance(exc, ValidationError):
        return _error(400, str(exc), exc.field)
    if isinstance(exc, ConflictError):
        return _error(409, str(exc), exc.field)
    if isinstance(exc, NotFoundError):
        return _error(404, str(exc), _NOT_FOUND_FIELD.get(exc.kind, exc.kind))
    if isinstance(exc, StoreUnavailable):
        return _error(503, "subscriber store unavailable")
    log.error("store error: %s", exc)
    return _error(500, str(exc))


def _on_api_error(exc: ApiError) -> tuple[Response, int]:
    return _error(exc.status, exc.message, exc.field)


def _on_http_error(exc: HTTPException) -> tuple[Response, int]:
    response, status = _error(exc.code or 500, exc.description or exc.name)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value  # e.g. Allow on 405
    return response, status


# --------------------------------------------------------------------------- factory

def create_app(store: Store, token: str, *, domain: str | None = None,
               actions: NetworkActions | None = None) -> Flask:
    """The provisioning Flask app over ``store``.

    Args:
        store: the HSS store (migrated).
        token: the bearer token every request must carry (config ``hss.rest_token``).
        domain: home domain for generated identities when a body gives none.
        actions: the HSS's Diameter client for RTR/PPR/IDR/CLR; without it the
            action routes answer 503 and PATCH/DELETE notify nobody.

    Raises:
        ValueError: an empty token (the API would be open to anyone).
    """
    if not token:
        raise ValueError("the REST token must not be empty")
    app = Flask("provisioning")
    app.config.update(IMS_REST_TOKEN=token, IMS_DOMAIN=domain, MAX_CONTENT_LENGTH=MAX_BODY)
    app.extensions["ims_store"] = store
    app.extensions["ims_actions"] = actions
    app.extensions["ims_openapi"] = build_openapi()
    app.before_request(_check_token)
    app.register_error_handler(StoreError, _on_store_error)
    app.register_error_handler(ApiError, _on_api_error)
    app.register_error_handler(HTTPException, _on_http_error)
    for blueprint in (api, subscribers, shared_objects, network_actions):
        app.register_blueprint(blueprint)
    return app

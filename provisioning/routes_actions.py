"""Network actions on a subscriber, always POST (they change state in the network).

* ``POST /api/v1/subscribers/<imsi>/deregister`` (body ``{"reason": "..."}``):
  RTR to the S-CSCF for every IMPI with assigned public identities
  (TS 29.228 §6.2, Deregistration-Reason); 409 when the user is not
  registered at any S-CSCF.
* ``POST /api/v1/subscribers/<imsi>/push-profile``: PPR with the current
  User-Data (TS 29.228 §6.1.3); 409 likewise.

Both answer 503 when no Diameter client is attached to the API, 404 for an
unknown IMSI and 502 when the S-CSCF refuses or does not answer.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify
from marshmallow import Schema, fields, validate

from provisioning.actions import ActionResult
from provisioning.routes_subscribers import assigned_impis
from provisioning.web import API_PREFIX, ApiError, actions, load_body, store

__all__ = ["DeregisterSchema", "network_actions"]

log = logging.getLogger(__name__)

network_actions = Blueprint("network_actions", __name__, url_prefix=API_PREFIX)


class DeregisterSchema(Schema):
    """Body of ``deregister``: the reason told to the S-CSCF and the UE."""

    class Meta:
        unknown = "raise"

    reason = fields.String(load_default="deregistered by the operator",
                           validate=validate.Length(min=1, max=255))


def _registered(imsi: str) -> list[tuple[str, list[str]]]:
    found = assigned_impis(store().get_subscriber(imsi))
    if not found:
        raise ApiError(409, f"subscriber {imsi} is not registered at any S-CSCF", "imsi")
    return found


def _answer(results: list[dict[str, Any]]) -> tuple[Response, int]:
    ok = all(item["ok"] for item in results)
    document: dict[str, Any] = {"ok": ok, "results": results}
    if not ok:
        document.update(error="the S-CSCF refused or did not answer", field=None)
    return jsonify(document), 200 if ok else 502


def _result(impi: str, impus: list[str], result: ActionResult) -> dict[str, Any]:
    return {"impi": impi, "impus": impus, "ok": result.ok, "detail": result.detail,
            "result_code": result.result_code}


@network_actions.post("/subscribers/<imsi>/deregister")
def deregister(imsi: str) -> tuple[Response, int]:
    client = actions()
    reason = load_body(DeregisterSchema(), empty_ok=True)["reason"]
    results = []
    for impi, impus in _registered(imsi):
        log.info("deregistering %s (%s): %s", impi, ", ".join(impus), reason)
        results.append(_result(impi, impus, client.deregister(impi, impus, reason)))
    return _answer(results)


@network_actions.post("/subscribers/<imsi>/push-profile")
def push_profile(imsi: str) -> tuple[Response, int]:
    client = actions()
    results = []
    for impi, impus in _registered(imsi):
        log.info("pushing the profile of %s", impi)
        results.append(_result(impi, impus, client.push_profile(impi)))
    return _answer(results)

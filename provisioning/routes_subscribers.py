"""``/api/v1/subscribers``: create, list/search, read, update (PATCH), delete.

``GET /subscribers/<imsi>`` masks K and OPc (last 4 hex digits) unless the
caller explicitly asks for them with ``?include_keys=true``. PATCH returns
the subscriber, the names of the fields that changed and the network
notifications made: ``eps_data_changed`` (IDR to the MME) when EPS data
changed, ``push_profile`` (PPR) for each IMPI with an assigned S-CSCF when
the IMS profile changed. DELETE calls ``subscriber_deleted`` (CLR) just
before removing the rows, while the serving MME is still known.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from hss.identities import SubscriberRecord
from hss.models import RegistrationState
from hss.updates import UpdateResult, search_subscribers, update_subscriber
from provisioning.actions import ActionResult
from provisioning.schemas import (
    MAX_PAGE,
    SubscriberCreateSchema,
    SubscriberUpdateSchema,
    changes_of,
    subscriber_document,
    subscriber_spec,
)
from provisioning.web import (
    API_PREFIX,
    bool_arg,
    int_arg,
    load_body,
    optional_actions,
    store,
)

__all__ = ["assigned_impis", "subscribers"]

log = logging.getLogger(__name__)

subscribers = Blueprint("subscribers", __name__, url_prefix=API_PREFIX)


@subscribers.post("/subscribers")
def create_subscriber() -> tuple[Response, int, dict[str, str]]:
    data = load_body(SubscriberCreateSchema())
    domain = current_app.config.get("IMS_DOMAIN")
    if data.get("domain") is None and domain:
        data["domain"] = domain
    record = store().add_subscriber(subscriber_spec(data))
    log.info("provisioned subscriber %s", record.imsi)
    location = f"{API_PREFIX}/subscribers/{record.imsi}"
    return jsonify(subscriber_document(record)), 201, {"Location": location}


@subscribers.get("/subscribers")
def list_subscribers() -> Response:
    limit = int_arg("limit", 100, 1, MAX_PAGE)
    offset = int_arg("offset", 0, 0, 2**31 - 1)
    query = request.args.get("q", "").strip()
    if query:
        page = search_subscribers(store(), query, limit + 1, offset)
    else:
        page = store().list_subscribers(offset=offset, limit=limit + 1)
    more = len(page) > limit
    document = {"subscribers": [subscriber_document(item) for item in page[:limit]],
                "limit": limit, "offset": offset, "next_offset": offset + limit if more else None}
    return jsonify(document)


@subscribers.get("/subscribers/<imsi>")
def show_subscriber(imsi: str) -> Response:
    include_keys = bool_arg("include_keys")
    record = store().get_subscriber(imsi)
    if include_keys:
        log.warning("K/OPc of %s read over the REST API", imsi)
    return jsonify(subscriber_document(record, include_keys=include_keys))


@subscribers.patch("/subscribers/<imsi>")
def patch_subscriber(imsi: str) -> Response:
    changes = changes_of(load_body(SubscriberUpdateSchema()))
    result = update_subscriber(store(), imsi, changes)
    log.info("updated subscriber %s: %s", imsi, ", ".join(sorted(result.changed)) or "nothing")
    return jsonify({"subscriber": subscriber_document(result.subscriber),
                    "changed": sorted(result.changed), "notifications": _notify(result)})


@subscribers.delete("/subscribers/<imsi>")
def delete_subscriber(imsi: str) -> tuple[str, int]:
    actions = optional_actions()
    if actions is not None:
        store().get_subscriber(imsi)  # 404 before telling the network
        _log_result("subscriber_deleted", imsi, actions.subscriber_deleted(imsi))
    store().delete_subscriber(imsi)
    log.info("deleted subscriber %s", imsi)
    return "", 204


def assigned_impis(record: SubscriberRecord) -> list[tuple[str, list[str]]]:
    """Each IMPI with the IMPUs that have an S-CSCF assigned (registered or unregistered)."""
    found = []
    for impi in record.private_identities:
        impus = [impu.impu for impu in impi.impus
                 if impu.registration.scscf is not None
                 and impu.registration.state != RegistrationState.NOT_REGISTERED]
        if impus:
            found.append((impi.impi, impus))
    return found


def _notify(result: UpdateResult) -> list[dict[str, Any]]:
    actions = optional_actions()
    if actions is None:
        return []
    done = []
    imsi = result.subscriber.imsi
    if result.eps_changed:
        done.append(_log_result("eps_data_changed", imsi, actions.eps_data_changed(imsi)))
    if result.ims_changed:
        for impi, _ in assigned_impis(result.subscriber):
            done.append(_log_result("push_profile", impi, actions.push_profile(impi)))
    return done


def _log_result(action: str, target: str, result: ActionResult) -> dict[str, Any]:
    if not result.ok:
        log.warning("%s for %s failed: %s", action, target, result.detail)
    return {"action": action, "target": target, "ok": result.ok, "detail": result.detail,
            "result_code": result.result_code}

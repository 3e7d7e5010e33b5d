"""Helpers shared by the route modules of the provisioning API.

:class:`ApiError` is a 4xx/5xx answer raised from a route; :func:`load_body`
loads a JSON object through a marshmallow schema and names the first field
at fault (``ifcs[0].trigger_point.spts[1].method``); :func:`store` and
:func:`actions` return what :func:`provisioning.api.create_app` attached.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError

from hss.store import Store
from provisioning.actions import NetworkActions
from provisioning.schemas import first_error

__all__ = ["API_PREFIX", "ApiError", "actions", "int_arg", "load_body", "store"]

API_PREFIX = "/api/v1"


class ApiError(Exception):
    """An error answer raised from request handling."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def store() -> Store:
    """The HSS store of the running app."""
    found: Store = current_app.extensions["ims_store"]
    return found


def actions() -> NetworkActions:
    """The attached Diameter client; 503 when the app has none."""
    found: NetworkActions | None = current_app.extensions.get("ims_actions")
    if found is None:
        raise ApiError(503, "no Diameter client is attached to the provisioning API: "
                            "network actions are unavailable")
    return found


def optional_actions() -> NetworkActions | None:
    """The attached Diameter client, or None."""
    found: NetworkActions | None = current_app.extensions.get("ims_actions")
    return found


def load_body(schema: Schema, *, empty_ok: bool = False) -> dict[str, Any]:
    """The request's JSON object loaded through ``schema`` (400 naming the field)."""
    body = request.get_json(silent=True)
    if body is None and empty_ok and not request.get_data():
        body = {}
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object", "body")
    try:
        loaded: dict[str, Any] = schema.load(body)
    except SchemaError as exc:
        field, message = first_error(exc.messages)
        raise ApiError(400, f"{field}: {message}", field) from None
    return loaded


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """An integer query argument in ``low..high`` (400 naming it otherwise)."""
    text = request.args.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"{name}: must be an integer", name) from None
    if not low <= value <= high:
        raise ApiError(400, f"{name}: must be in {low}..{high}", name)
    return value


def bool_arg(name: str) -> bool:
    """A boolean query argument: ``true``/``1``/``yes`` or ``false``/``0``/``no`` (default)."""
    text = request.args.get(name, "false").lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise ApiError(400, f"{name}: must be true or false", name)

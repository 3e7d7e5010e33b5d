"""Applications in CER/CEA (RFC 6733 §5.3, §6.11; TS 29.229 §7.2, TS 29.329 §7.2, TS 29.272 §7.1.8).

Which applications a peer advertised (:func:`advertised_applications`),
how ``/status`` names them (:func:`application_name`) and how ours are
advertised to 3GPP peers: inside ``Vendor-Specific-Application-Id`` with
Vendor-Id 10415 instead of as bare ``Auth-Application-Id``
(:func:`advertise_vendor_apps`). The public names are also importable from
:mod:`ims.diameter.node`.
"""

from __future__ import annotations

from typing import Any

from diameter.message.avp.grouped import VendorSpecificApplicationId

from .peers import APP_RELAY
from .settings import APP_CX, APP_S6A, APP_SH, VENDOR_3GPP

__all__ = [
    "APPLICATION_NAMES", "advertise_vendor_apps", "advertised_applications", "application_name",
]

#: Names of the applications ``/status`` shows (TS 29.229 §7.2, TS 29.329 §7.2, TS 29.272 §7.1.8).
APPLICATION_NAMES = {APP_CX: "Cx", APP_SH: "Sh", APP_S6A: "S6a", APP_RELAY: "relay"}


def application_name(app_id: int) -> str:
    """``Cx``, ``Sh``, ``S6a``, ``relay`` or the decimal id."""
    return APPLICATION_NAMES.get(app_id, str(app_id))


def advertised_applications(message: Any) -> tuple[int, ...]:
    """Every application id a CER/CEA names: Auth-/Acct-Application-Id, also inside
    Vendor-Specific-Application-Id (RFC 6733 §5.3, §6.11), in order, without repeats."""
    ids = [*(message.auth_application_id or []), *(message.acct_application_id or [])]
    for vendor_app in message.vendor_specific_application_id or []:
        ids += [app for app in (getattr(vendor_app, "auth_application_id", None),
                                getattr(vendor_app, "acct_application_id", None))
                if app is not None]
    return tuple(dict.fromkeys(int(app) for app in ids))


def advertise_vendor_apps(message: Any, vendor_apps: tuple[int, ...]) -> None:
    """Move 3GPP application ids into Vendor-Specific-Application-Id (TS 29.229 §7.2)."""
    plain = list(message.auth_application_id or [])
    moved = [app for app in plain if app in vendor_apps]
    message.auth_application_id = [app for app in plain if app not in vendor_apps]
    message.vendor_specific_application_id = [
        VendorSpecificApplicationId(vendor_id=VENDOR_3GPP, auth_application_id=app)
        for app in moved
    ]

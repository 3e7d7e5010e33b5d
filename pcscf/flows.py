"""Flows on the P-CSCF's protected ports (TS 33.203 §7.1; TS 24.229 §5.2). Pure.

An SA set carries four flows, each on one port pair::

    UE port-c ──▶ P-CSCF port-s   requests from the UE (the protected REGISTER first)
    UE port-c ◀── P-CSCF port-s   the responses to them
    UE port-s ◀── P-CSCF port-c   requests to the UE (NOTIFY, terminating, in-dialog)
    UE port-s ──▶ P-CSCF port-c   the UE's responses to them

:func:`classify_arrival` says which flow a message on a protected port
belongs to (anything else is dropped); :func:`request_route` is where a
request to the UE goes. Responses need no rule here: the transport sends a
response back to the source of its request from the port it arrived on, and
switches a large request to TCP (RFC 3261 §18.1.1) within the same port pair.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ims.ipsec.keys import XfrmPlan
from ims.sip.errors import SipError
from ims.sip.message import Request
from ims.sip.proxy import LocalIdentity
from ims.sip.uri import SipUri


@dataclass(frozen=True, slots=True)
class Route:
    """Where a request to the UE leaves from and goes to."""

    local_port: int
    remote_host: str
    remote_port: int
    transport: str


def request_route(plan: XfrmPlan, ue_transport: str = "udp") -> Route:
    """A request to the UE: P-CSCF port-c to UE port-s (TS 33.203 §7.1).

    NOTIFY, OPTIONS, terminating and in-dialog requests alike; TCP when the
    UE registered over TCP (the SA selector covers both transports).
    """
    transport = "tcp" if ue_transport == "tcp" else "udp"
    return Route(plan.port_pc, plan.ue_host, plan.port_us, transport)


class Arrival(enum.Enum):
    """How a message reached the P-CSCF (TS 33.203 §7.1)."""

    UNPROTECTED = "unprotected"
    """On an ordinary port: only an initial or unprotected REGISTER is served."""
    REQUEST_ON_PORT_S = "request-on-port-s"
    """From the UE's port-c into our port-s: a protected request."""
    RESPONSE_ON_PORT_C = "response-on-port-c"
    """From the UE's port-s into our port-c: a response to our request."""
    STRAY = "stray"
    """On a protected port but not from this plan's UE ports: drop and count."""


def classify_arrival(plan: XfrmPlan | None, src_host: str, src_port: int,
                     local_port: int, protected_ports: frozenset[int]) -> Arrival:
    """Classify a message by its source and the local port it arrived on.

    ``protected_ports`` are all pool ports; ``plan`` is the SA set of the UE
    at ``src_host`` whose port-s or port-c equals ``local_port`` (None if none).
    """
    if local_port not in protected_ports:
        return Arrival.UNPROTECTED
    if plan is None or src_host != plan.ue_host:
        return Arrival.STRAY
    if (local_port, src_port) == (plan.port_ps, plan.port_uc):
        return Arrival.REQUEST_ON_PORT_S
    if (local_port, src_port) == (plan.port_pc, plan.port_us):
        return Arrival.RESPONSE_ON_PORT_C
    return Arrival.STRAY


def record_route_facing_ue(req: Request, identity: LocalIdentity, port_s: int) -> bool:
    """Make our topmost Record-Route, the one the UE will use, name our port-s.

    A request toward the UE carries our Record-Route (RFC 3261 §16.6 step
    4); the UE sends its in-dialog requests there, and over IPsec they must
    reach port-s to be protected (TS 33.203 §7.1). A single value (shared by
    both sides) becomes two (RFC 5658 ``r2``): port-s facing the UE on top,
    the original facing the core below; with two, the top one changes.

    Returns:
        True when a Record-Route of ours was changed.
    """
    try:
        routes = req.record_routes
    except SipError:
        return False
    if not routes or not identity.is_local(routes[0].uri):
        return False
    top = routes[0].uri
    assert isinstance(top, SipUri)  # is_local holds only for SIP URIs
    facing_ue = top.copy()
    facing_ue.port = port_s
    facing_ue.params.set("r2", "on")
    req.pop_first("record-route")
    if "r2" not in top.params:  # single: keep it for the core side, as the lower value
        core_side = top.copy()
        core_side.params.set("r2", "on")
        req.add("Record-Route", f"<{core_side}>", first=True)
    req.add("Record-Route", f"<{facing_ue}>", first=True)
    return True

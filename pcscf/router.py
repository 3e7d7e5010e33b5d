"""P-CSCF routing decisions (TS 24.229 §5.2): pure, no I/O, no clock.

* REGISTER (TS 24.229 §5.2.2.1): the sec-agree step first (a pluggable
  :class:`SecAgree`: :class:`pcscf.ipsec.IpsecSecAgree` with kernel SAs, or
  :class:`SecAgreeUnavailable`, which answers ``Require: sec-agree`` with 420
  and ``Unsupported: sec-agree``, RFC 3261 §8.2.2.3), then the P-CSCF adds its Path (RFC 3327 §5.1) with
  ``Supported: path``, P-Visited-Network-ID (RFC 7315 §4.3) and a
  P-Charging-Vector icid (RFC 7315 §4.6), drops any P-Asserted-Identity from
  the UE (RFC 3325 §5) and sends the request to the home I-CSCF.
* 401 to REGISTER: ``ik``/``ck`` are taken out before the UE sees them and
  handed to the sec-agree step (TS 24.229 §5.2.2.1, TS 33.203 §7).
* Originating requests of a registered UE (TS 24.229 §5.2.6.3): the UE's
  Route set is replaced by its Service-Route (RFC 3608 §6) on initial
  requests; P-Asserted-Identity is the P-Preferred-Identity when it is one
  of the registered identities, else the default IMPU (RFC 3325 §9.1,
  TS 24.229 §5.2.6.3.3). Anything but REGISTER from an unregistered UE: 403.
* Terminating requests (TS 24.229 §5.2.6.4): sent to the cached contact's
  UE over the transport and address it registered from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ims.sip.events import Peer
from ims.sip.headers.auth import Challenge, remove_challenge_keys
from ims.sip.headers.nameaddr import NameAddr, parse_name_addr
from ims.sip.headers.option import option_tags, requires, supports
from ims.sip.headers.pheaders import preferred_identities
from ims.sip.message import Request, Response, make_response
from ims.sip.proxy import Target
from ims.sip.uri import SipUri

from .registrar import ContactCache, Registration

SEC_AGREE = "sec-agree"

#: Methods answered hop by hop or never routed as originating (RFC 3261 §9, §17.1.1.3).
_HOP_METHODS = frozenset({"ACK", "CANCEL"})


class SecAgree(Protocol):
    """The sec-agree step of registration (RFC 3329, TS 33.203 §7).

    :class:`pcscf.ipsec.IpsecSecAgree` implements it with kernel SAs;
    :class:`SecAgreeUnavailable` refuses sec-agree.
    """

    def check_register(self, req: Request, source: Peer) -> Response | None:
        """A response that ends the REGISTER here, or None to forward it."""
        ...

    def challenge(self, req: Request, source: Peer, keys: Sequence[Challenge],
                  resp: Response | None = None) -> None:
        """The 401 ``resp`` carried ``keys`` (ik/ck), now removed from it; it has not left
        yet, so SAs are installed and Security-Server added here (TS 33.203 §7.1)."""
        ...

    def final(self, req: Request, resp: Response, source: Peer) -> None:
        """A final response to ``req`` has left toward the UE (TS 33.203 §7.4)."""
        ...

    def sweep(self) -> None:
        """Periodic: expire what timed out."""
        ...

    def accepts(self, peer: Peer) -> bool:
        """Whether a message that arrived on a protected port came over a live SA flow."""
        ...

    def toward_ue(self, req: Request, peer: Peer) -> Peer:
        """Where a request leaving toward ``peer`` really goes (the UE's newest SA set)."""
        ...

    def server_port(self, ue_host: str) -> int | None:
        """Our port-s of the UE's newest confirmed SA set (None without one)."""
        ...


class SecAgreeUnavailable:
    """No IPsec yet: ``Require: sec-agree`` is refused (RFC 3261 §8.2.2.3).

    The keys of each UE's last challenge are kept for when IPsec comes.
    """

    def __init__(self, keep: int = 10000) -> None:
        self.keep = keep
        self.keys: dict[tuple[str, int], tuple[Challenge, ...]] = {}

    def check_register(self, req: Request, source: Peer) -> Response | None:
        if requires(req, SEC_AGREE) or SEC_AGREE in option_tags(req, "proxy-require"):
            return make_response(req, 420, "Bad Extension",
                                 headers=(("Unsupported", SEC_AGREE),))
        return None

    def challenge(self, req: Request, source: Peer, keys: Sequence[Challenge],
                  resp: Response | None = None) -> None:
        if len(self.keys) >= self.keep:
            self.keys.pop(next(iter(self.keys)))
        self.keys[(source.host, source.port)] = tuple(keys)

    def final(self, req: Request, resp: Response, source: Peer) -> None:
        """Nothing to confirm without SAs."""

    def sweep(self) -> None:
        """Nothing expires without SAs."""

    def accepts(self, peer: Peer) -> bool:
        """No protected ports are open without SAs: nothing is accepted there."""
        return False

    def toward_ue(self, req: Request, peer: Peer) -> Peer:
        """Without SAs a request goes where routing sent it."""
        return peer

    def server_port(self, ue_host: str) -> int | None:
        """No SA sets, no protected ports."""
        return None


@dataclass(frozen=True, slots=True)
class PcscfSettings:
    """What the decisions need from the configuration."""

    path: str
    """Our Path value, ``<sip:term@pcscf...;lr>`` (RFC 3327 §5.1)."""
    icscf: SipUri
    """Where REGISTERs go (TS 24.229 §5.2.2.1)."""
    visited_network_id: str
    """P-Visited-Network-ID value (RFC 7315 §4.3)."""
    own_uri: str = ""
    """Our SIP URI by name (reg-event From/Contact/P-Asserted-Identity, TS 24.229 §5.2.3),
    with the Path's host so the S-CSCF knows us as the UE's P-CSCF."""


def path_value(host: str, port: int) -> str:
    """Our Path entry: ``<sip:term@host:port;lr>``; ``term`` marks requests to the UE."""
    return f"<sip:term@{host}:{port};lr>"


def is_our_path(popped: Sequence[str]) -> bool:
    """True when a Route we removed was our Path entry (a request toward the UE)."""
    for value in popped:
        uri = parse_name_addr(value).uri
        if isinstance(uri, SipUri) and uri.user == "term":
            return True
    return False


# -- REGISTER ------------------------------------------------------------------------
def prepare_register(req: Request, settings: PcscfSettings, icid: str) -> Target:
    """Add Path, P-Visited-Network-ID, P-Charging-Vector; target the I-CSCF (§5.2.2.1)."""
    req.remove("p-asserted-identity")
    req.add("Path", settings.path, first=True)
    if not supports(req, "path"):
        req.add("Supported", "path")
    req.set("P-Visited-Network-ID", settings.visited_network_id)
    if not req.has("p-charging-vector"):
        req.set("P-Charging-Vector", f"icid-value={icid}")
    return Target(next_hop=settings.icscf)


def strip_challenge_keys(resp: Response) -> list[Challenge]:
    """Remove ik/ck from a 401 to REGISTER; return the challenges with their keys."""
    found = remove_challenge_keys(resp)
    return [ch for ch in found if ch.has_keys]


# -- originating ---------------------------------------------------------------------
def asserted_identity(req: Request, reg: Registration) -> NameAddr | None:
    """P-Preferred-Identity when registered, else the default IMPU (TS 24.229 §5.2.6.3.3).

    Raises:
        SipParseError: a malformed P-Preferred-Identity.
    """
    for preferred in preferred_identities(req):
        owned = reg.owns(preferred.uri)
        if owned is not None:
            return owned
    return reg.default_impu


def originating_target(req: Request, reg: Registration) -> Target:
    """Assert the identity; preload the Service-Route on initial requests (RFC 3608 §6)."""
    identity = asserted_identity(req, reg)
    req.remove("p-preferred-identity")
    req.remove("p-asserted-identity")
    if identity is not None:
        req.set("P-Asserted-Identity", f"<{identity.uri}>")
    if req.to.tag is not None:
        return Target()
    req.remove("route")
    return Target(routes=reg.service_route)


# -- the whole decision ------------------------------------------------------------------
def forbidden(req: Request) -> Response:
    """TS 24.229 §5.2.6.3.1: requests from an unregistered UE are refused."""
    return make_response(req, 403, "Forbidden - Not Registered")


def route_request(req: Request, source: Peer | None, popped: Sequence[str], *,
                  cache: ContactCache, now: float, for_self: bool) -> Target | Response | None:
    """Where a non-REGISTER request goes (None: the proxy's default routing).

    Args:
        req: the request after Route pre-processing (RFC 3261 §16.4).
        source: where it came from (None for an ACK).
        popped: our Route values removed from it.
        cache: the registration cache.
        now: the current time.
        for_self: the request is addressed to the P-CSCF itself.
    """
    if req.method in _HOP_METHODS or source is None:
        return None
    reg = cache.for_ue(source, now)
    if reg is not None:  # first: a UE never bypasses its S-CSCF toward another contact
        return originating_target(req, reg)
    found = cache.for_contact(req.uri, now)
    if found is not None:
        return Target(peer=found[0].ue)
    if is_our_path(popped):
        return make_response(req, 480, "Temporarily Unavailable - Not Registered Here")
    if for_self:
        return None
    return forbidden(req)

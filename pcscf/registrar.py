"""The P-CSCF's registration cache, learnt from the 200 OK to REGISTER (TS 24.229 §5.2.2).

Pure: every entry point takes ``now``. For each UE (keyed by the address
and transport its REGISTER came from, TS 24.229 §5.2.2.1) the cache holds
the contacts it registered with their granted expiry and ``+sip.instance``
(RFC 5626 §4.1), the Service-Route (RFC 3608 §6) to preload on its
originating requests, and the registered implicit set from
P-Associated-URI (RFC 7315 §4.1), the first being the default IMPU used in
P-Asserted-Identity (RFC 3325 §9.1, TS 24.229 §5.2.6.3.3).

A re-REGISTER's 200 OK replaces the UE's entry; a contact with expiry 0 is
removed; :meth:`ContactCache.expire` drops what ran out; a reg-event
``terminated`` drops the registration (TS 24.229 §5.2.3). A registration
that ended by expiry or reg-event lingers for :data:`LINGER` seconds on the
terminating side only (:meth:`ContactCache.for_contact`): the S-CSCF's
NOTIFY telling the UE about that end (``expired``, ``deactivated``) comes
after it, and must still reach the UE.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from ims.sip.events import Peer
from ims.sip.headers.nameaddr import NameAddr
from ims.sip.headers.option import contact_expiry
from ims.sip.headers.pheaders import associated_uris, service_routes
from ims.sip.message import Request, Response
from ims.sip.uri import SipUri, Uri, uri_equal

#: Expiry assumed for a contact the 200 OK lists without one (RFC 3261 §10.2.4 default).
DEFAULT_EXPIRES = 3600
#: Seconds an ended registration stays reachable for requests toward the UE.
LINGER = 30.0


def identity_key(uri: Uri) -> str:
    """A comparable form of an IMPU: scheme, user and host, lower case, no parameters."""
    if isinstance(uri, SipUri):
        user = f"{uri.user}@" if uri.user else ""
        return f"sip:{user}{uri.host}".lower()
    return str(uri).split(";")[0].lower()


@dataclass(frozen=True, slots=True)
class Binding:
    """One registered contact of a UE."""

    contact: NameAddr
    expires_at: float
    instance: str | None = None


@dataclass(slots=True)
class Registration:
    """What the P-CSCF knows about one registered UE."""

    ue: Peer
    """Where the REGISTER came from: responses and terminating requests go there."""
    registered_impu: str
    """The To URI of the REGISTER."""
    associated: tuple[NameAddr, ...]
    """P-Associated-URI: the registered implicit set, default IMPU first."""
    service_route: tuple[str, ...]
    """Service-Route values, top first (RFC 3608 §6)."""
    bindings: list[Binding] = field(default_factory=list)

    @property
    def default_impu(self) -> NameAddr | None:
        """The default public identity (TS 24.229 §5.2.2.1: first P-Associated-URI)."""
        return self.associated[0] if self.associated else None

    def owns(self, uri: Uri) -> NameAddr | None:
        """The registered identity equal to ``uri`` (sip or tel form), None if not ours."""
        key = identity_key(uri)
        return next((a for a in self.associated if identity_key(a.uri) == key), None)

    def binding_for(self, uri: Uri) -> Binding | None:
        """The binding whose contact URI is ``uri`` (RFC 3261 §19.1.4)."""
        return next((b for b in self.bindings if uri_equal(b.contact.uri, uri)), None)

    @property
    def expires_at(self) -> float:
        return max((b.expires_at for b in self.bindings), default=0.0)


def ue_key(peer: Peer) -> tuple[str, str, int]:
    """Cache key of a UE: transport, address, port of its requests.

    Over IPsec the transport is left out: the UE sends from its port-c over
    UDP or TCP alike, both through the same SA (TS 33.203 §7.1).
    """
    return "esp" if peer.local_port is not None else peer.transport, peer.host, peer.port


def _registered_contacts(register: Request, ok: Response, now: float) -> list[Binding]:
    """The REGISTER's contacts as the 200 OK grants them (RFC 3261 §10.3 step 8).

    The 200 lists every binding of the IMPU, other UEs' too: only those this
    UE sent are kept.
    """
    sent = list(register.contacts) if register.get_all("contact") != ["*"] else []
    granted = ok.contacts if ok.has("contact") else []
    found: list[Binding] = []
    for contact in sent:
        match = next((g for g in granted if uri_equal(g.uri, contact.uri)), None)
        if match is None:
            continue
        expires = contact_expiry(match, ok)
        expires = DEFAULT_EXPIRES if expires is None else expires
        if expires > 0:
            found.append(Binding(contact, now + expires, contact.instance_id))
    return found


class ContactCache:
    """Registered UEs by source address and by contact (see the module docstring)."""

    def __init__(self) -> None:
        self._by_ue: dict[tuple[str, str, int], Registration] = {}
        self._lingering: dict[tuple[str, str, int], tuple[Registration, float]] = {}

    def __len__(self) -> int:
        return len(self._by_ue)

    def __iter__(self) -> Iterator[Registration]:
        return iter(list(self._by_ue.values()))

    def update(self, register: Request, ok: Response, ue: Peer, now: float) -> Registration | None:
        """Learn from the 2xx to ``register`` sent by ``ue`` (TS 24.229 §5.2.2.1).

        Returns:
            The UE's registration, or None when nothing stays registered
            (deregistration, every contact at expiry 0).

        Raises:
            SipParseError: a malformed Contact, Service-Route or P-Associated-URI.
        """
        key = ue_key(ue)
        if not register.has("contact"):  # a query: nothing changes (RFC 3261 §10.2.3)
            return self._by_ue.get(key)
        bindings = _registered_contacts(register, ok, now)
        if not bindings:
            self._by_ue.pop(key, None)
            return None
        reg = Registration(
            ue, str(register.to.uri), tuple(associated_uris(ok)),
            tuple(str(r) for r in service_routes(ok)), bindings,
        )
        self._by_ue[key] = reg
        return reg

    def for_ue(self, peer: Peer, now: float) -> Registration | None:
        """The live registration of the UE sending from ``peer`` (originating side)."""
        reg = self._by_ue.get(ue_key(peer))
        if reg is None or reg.expires_at <= now:
            return None
        return reg

    def for_contact(self, uri: Uri, now: float) -> tuple[Registration, Binding] | None:
        """The registration holding contact ``uri`` (terminating side)."""
        for reg in self._by_ue.values():
            binding = reg.binding_for(uri)
            if binding is not None and binding.expires_at > now:
                return reg, binding
        for reg, until in self._lingering.values():
            binding = reg.binding_for(uri)
            if binding is not None and until > now:
                return reg, binding
        return None

    def for_identity(self, uri: Uri) -> list[Registration]:
        """Every registration whose implicit set holds ``uri``."""
        return [reg for reg in self._by_ue.values() if reg.owns(uri) is not None]

    def drop_identity(self, uri: Uri, now: float | None = None) -> int:
        """Forget every registration holding ``uri`` (reg-event ``terminated``); count them.

        With ``now`` they linger (terminating side) until ``now + LINGER``.
        """
        dropped = [k for k, reg in self._by_ue.items() if reg.owns(uri) is not None]
        for key in dropped:
            reg = self._by_ue.pop(key)
            if now is not None:
                self._lingering[key] = (reg, now + LINGER)
        return len(dropped)

    def expire(self, now: float) -> list[Registration]:
        """Drop expired contacts and registrations left without one; return those dropped."""
        self._lingering = {k: v for k, v in self._lingering.items() if v[1] > now}
        gone: list[Registration] = []
        for key, reg in list(self._by_ue.items()):
            kept = [b for b in reg.bindings if b.expires_at > now]
            if not kept:
                self._lingering[key] = (replace(reg, bindings=list(reg.bindings)), now + LINGER)
            reg.bindings = kept
            if not kept:
                gone.append(self._by_ue.pop(key))
        return gone

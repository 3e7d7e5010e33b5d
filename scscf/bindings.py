"""S-CSCF registration state behind a small store interface.

A :class:`Registration` is what the S-CSCF keeps per implicit registration
set (TS 23.228 §5.2.1a, TS 24.229 §5.4.1.2): the IMPI, the public
identities of the set (``sip:`` and ``tel:`` forms of one user are both
members, so either finds the record), the contacts bound to the set (RFC
3261 §10.3: URI, absolute expiry, Call-ID/CSeq of the REGISTER that last
touched it, ``+sip.instance`` and feature tags, Path, where the REGISTER
came from and via which P-CSCF), the cached service profile (the Cx
User-Data of TS 29.228 §6.6, parsed) and the registration state.

:class:`BindingStore` is the interface the registrar orchestrator uses;
:class:`MemoryBindingStore` is the in-memory implementation (bindings are
lost on restart; a shared, persistent store comes later). Times are plain
floats handed in by the caller: nothing here reads a clock.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from ims.diameter.userdata import IMSSubscription, PublicIdentity, ServiceProfile
from ims.sip.errors import SipParseError
from ims.sip.uri import SipUri, TelUri, parse_uri, uri_equal


class RegState(enum.Enum):
    """Registration state of a set (TS 29.228 §6.1.2, TS 24.229 §5.4.1.2)."""

    NOT_REGISTERED = "not-registered"
    REGISTERED = "registered"


def identity_key(identity: str) -> str:
    """A comparison key for a public identity, parameters and case removed.

    ``tel:+1-555`` becomes ``tel:+1555`` (RFC 3966 §4 visual separators);
    ``sip:User@Host;user=phone`` becomes ``sip:User@host`` (RFC 3261 §19.1.4:
    user part case-sensitive, host not). Unparseable text is kept lowered.
    """
    try:
        uri = parse_uri(identity.strip().strip("<>"))
    except SipParseError:
        return identity.strip().lower()
    if isinstance(uri, TelUri):
        return f"tel:{uri.digits}"
    if isinstance(uri, SipUri):
        user = f"{uri.user}@" if uri.user is not None else ""
        return f"{uri.scheme}:{user}{uri.host.lower()}"
    return str(uri).lower()


@dataclass(slots=True)
class Binding:
    """One Contact bound to an implicit registration set (RFC 3261 §10.3 step 7)."""

    uri: str
    """The Contact URI as registered (parameters of the URI kept)."""
    expires_at: float
    """Absolute expiry time, on the caller's clock."""
    call_id: str
    cseq: int
    """Call-ID and CSeq of the REGISTER that last set this binding (§10.3 step 7)."""
    instance_id: str | None = None
    """``+sip.instance`` (RFC 5626 §4.1), without quotes and angle brackets."""
    feature_tags: dict[str, str | None] = field(default_factory=dict)
    """Contact feature tags (RFC 3840), e.g. ``+g.3gpp.icsi-ref``."""
    path: tuple[str, ...] = ()
    """The Path header values of the REGISTER (RFC 3327 §5.3)."""
    received: str | None = None
    """Where the REGISTER came from (``host:port``), as told by the transport."""
    transport: str | None = None
    pcscf: str | None = None
    """The P-CSCF the UE registered through (TS 24.229 §5.4.1.2.2)."""
    event: str = "registered"
    """Last reginfo event for this contact (RFC 3680 §5.1)."""

    def remaining(self, now: float) -> int:
        """Whole seconds left before expiry, never negative."""
        return max(0, int(self.expires_at - now))

    def same_contact(self, uri: str, instance_id: str | None) -> bool:
        """RFC 3261 §10.3 step 7 (URI comparison) and RFC 5626 §6 (instance-id)."""
        if instance_id is not None and self.instance_id is not None:
            return instance_id == self.instance_id
        try:
            return uri_equal(parse_uri(self.uri), parse_uri(uri))
        except SipParseError:
            return self.uri == uri


@dataclass(slots=True)
class Registration:
    """The S-CSCF record of one implicit registration set (TS 24.229 §5.4.1.2)."""

    impi: str
    impus: tuple[str, ...]
    """Identities of the implicit set, the registered one first until User-Data names them."""
    state: RegState = RegState.NOT_REGISTERED
    bindings: list[Binding] = field(default_factory=list)
    user_data: str | None = None
    """The User-Data XML last received (SAA or PPR), TS 29.228 §6.6."""
    subscription: IMSSubscription | None = None
    """The parsed User-Data."""

    @property
    def keys(self) -> frozenset[str]:
        """Comparison keys of every identity of the set."""
        return frozenset(identity_key(i) for i in self.impus)

    def has_identity(self, identity: str) -> bool:
        return identity_key(identity) in self.keys

    def profile(self) -> ServiceProfile | None:
        """The service profile holding the registered identities, if known."""
        if self.subscription is None:
            return None
        keys = self.keys
        for profile in self.subscription.service_profiles:
            if any(identity_key(p.identity) in keys for p in profile.public_identities):
                return profile
        return None

    def identities(self) -> tuple[PublicIdentity, ...]:
        """The set's PublicIdentity entries (barring included), in profile order."""
        profile = self.profile()
        if profile is None:
            return tuple(PublicIdentity(i) for i in self.impus)
        return profile.public_identities

    def associated_uris(self) -> list[str]:
        """Non-barred identities, default first (TS 24.229 §5.4.1.2.2 P-Associated-URI)."""
        return [p.identity for p in self.identities() if not p.barred]

    def active_bindings(self, now: float) -> list[Binding]:
        """Bindings not yet expired at ``now``."""
        return [b for b in self.bindings if b.expires_at > now]

    def copy(self) -> Registration:
        """A copy whose binding list can change independently."""
        return dataclasses.replace(
            self, bindings=[dataclasses.replace(b) for b in self.bindings]
        )


class BindingStore(Protocol):
    """Where registration records live; any identity of a set finds its record."""

    def get(self, identity: str) -> Registration | None:
        """The record whose implicit set holds ``identity`` (sip: or tel: form)."""

    def put(self, record: Registration) -> None:
        """Store ``record`` under every identity of its set (replacing older links)."""

    def delete(self, record: Registration) -> None:
        """Forget ``record`` and all its identity links."""

    def by_impi(self, impi: str) -> list[Registration]:
        """Every record of one private identity."""

    def all(self) -> list[Registration]:
        """Every record, once each."""


class MemoryBindingStore:
    """A :class:`BindingStore` in a dict: lost when the S-CSCF restarts."""

    def __init__(self) -> None:
        self._by_key: dict[str, Registration] = {}

    def get(self, identity: str) -> Registration | None:
        return self._by_key.get(identity_key(identity))

    def put(self, record: Registration) -> None:
        self._unlink(lambda r: r is record or _same_set(r, record))
        for key in record.keys:
            self._by_key[key] = record

    def delete(self, record: Registration) -> None:
        self._unlink(lambda r: r is record)

    def by_impi(self, impi: str) -> list[Registration]:
        return [r for r in self.all() if r.impi == impi]

    def all(self) -> list[Registration]:
        return list(_unique(self._by_key.values()))

    def _unlink(self, match: _Matcher) -> None:
        for key in [k for k, r in self._by_key.items() if match(r)]:
            del self._by_key[key]


class _Matcher(Protocol):
    def __call__(self, record: Registration, /) -> bool: ...


def _same_set(a: Registration, b: Registration) -> bool:
    return a.impi == b.impi and bool(a.keys & b.keys)


def _unique(records: Iterable[Registration]) -> Iterable[Registration]:
    seen: set[int] = set()
    for record in records:
        if id(record) not in seen:
            seen.add(id(record))
            yield record

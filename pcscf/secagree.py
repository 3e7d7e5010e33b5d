"""P-CSCF security agreement for IMS AKA with IPsec: TS 33.203 §7, RFC 3329. Pure.

No sockets, no netlink, no clock (``now`` is passed in). The kernel side,
:mod:`ims.ipsec.xfrm`, only sees :class:`XfrmPlan` values through the
:class:`InstallPlan` / :class:`RemovePlan` actions returned here.

Negotiation (TS 33.203 §7.1, §7.2; RFC 3329 §2.3.1)
    The unprotected REGISTER carries ``Security-Client`` with one
    ``ipsec-3gpp`` mechanism per algorithm pair (handsets offer all six).
    :func:`choose_offer` takes the first pair of the configured preference
    list that the UE offers (the UE's ``q`` breaks ties). The 401 carries a
    ``Security-Server`` with exactly that one mechanism and the P-CSCF's
    SPIs and ports, so the UE has nothing left to choose and both ends build
    the same SAs. The protected REGISTER must echo it in ``Security-Verify``
    (RFC 3329 §2.3.1 step 5), else 494.

Ports (TS 33.203 §7.1, §7.4): rule used here
    The protected ports are *shared between UEs*: an SA set is told apart by
    the UE's address and ports, which are in every SA and policy selector.
    Within one UE address, each live SA set takes a distinct pool *index*
    ``i`` and uses ``port-s = ipsec_port_s + i``, ``port-c = ipsec_port_c + i``
    (:class:`ProtectedPortPool`, lowest free index). The old and new sets of a
    re-registration (§7.4) therefore never share a selector, even when the
    UE keeps its own ports, and a pool of two serves any number of UEs.

SPIs and the ownership marker
    :class:`SpiAllocator` hands out the P-CSCF's inbound SPIs from a range
    above the IANA-reserved 1-255 (RFC 4303 §2.1), unique among live SAs,
    with a rotating cursor so a released SPI is not handed out again until
    the whole range has been walked. Each plan gets a ``reqid`` block of
    four from :data:`REQID_BASE` (:class:`ReqidAllocator`); every SA and
    policy of a plan carries its reqid, so start-up cleanup touches only
    reqids for which :func:`is_our_reqid` holds.

Flow rules on the protected ports (TS 33.203 §7.1): :mod:`pcscf.flows`.

Per-UE state (TS 33.203 §7.4): :mod:`pcscf.sessions`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# EspAlgorithms, XfrmPlan are re-exported for the P-CSCF modules.
from ims.ipsec.keys import EspAlgorithms as EspAlgorithms
from ims.ipsec.keys import XfrmPlan as XfrmPlan
from ims.sip.errors import SipParseError
from ims.sip.headers.auth import credentials
from ims.sip.headers.params import split_list
from ims.sip.headers.security import (
    ENCRYPTION_ALGORITHMS,
    INTEGRITY_ALGORITHMS,
    SecurityMechanism,
    format_security_mechanisms,
    parse_security_mechanisms,
    same_mechanisms,
)
from ims.sip.message import Message, Request, Response, make_response

SEC_AGREE = "sec-agree"
#: TS 33.203 Annex H / TS 24.229 §7.2A.7: the only mode and protocol used.
PROT_ESP = "esp"
MODE_TRANS = "trans"
#: RFC 4303 §2.1: SPIs 1-255 are reserved by IANA, 0 is never an SA.
SPI_RESERVED_MAX = 255
#: First and last SPI the P-CSCF hands out (inside 32 bits, above the reserved block).
SPI_FIRST = 0x00010000
SPI_LAST = 0x7FFFFFFF
#: Ownership marker: reqids REQID_BASE .. REQID_BASE + 4*REQID_SLOTS - 1 are ours ("IM").
REQID_BASE = 0x494D0000
REQID_SLOTS = 0x4000
SAS_PER_PLAN = 4
#: Security-Server q-value (RFC 3329 §2.2); a single mechanism, so it only informs.
SERVER_Q = 0.1

#: Default preference: strongest first; every Annex H pair, so any handset matches.
DEFAULT_PREFERENCE: tuple[tuple[str, str], ...] = (
    ("hmac-sha-1-96", "aes-cbc"),
    ("hmac-md5-96", "aes-cbc"),
    ("hmac-sha-1-96", "des-ede3-cbc"),
    ("hmac-md5-96", "des-ede3-cbc"),
    ("hmac-sha-1-96", "null"),
    ("hmac-md5-96", "null"),
)


class SecAgreeError(ValueError):
    """A sec-agree defect, with the SIP status that answers it (RFC 3329 §2.3.1: 494)."""

    def __init__(self, message: str, status_hint: int = 494) -> None:
        super().__init__(message)
        self.status_hint = status_hint


class PoolExhausted(SecAgreeError):
    """No SPI, reqid or protected port left; answered 503 (RFC 3261 §21.5.4)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 503)


# -- negotiation (TS 33.203 §7.1, §7.2, Annex H) -------------------------------
@dataclass(frozen=True, slots=True)
class Offer:
    """One acceptable ``ipsec-3gpp`` mechanism of a Security-Client (TS 33.203 Annex H)."""

    alg: str
    """Integrity algorithm, ``hmac-md5-96`` or ``hmac-sha-1-96``."""
    ealg: str
    """Encryption algorithm; an absent ``ealg`` reads ``null`` (TS 33.203 §7.1)."""
    spi_c: int
    """SPI of the UE's inbound SA at its port-c (spi_uc)."""
    spi_s: int
    """SPI of the UE's inbound SA at its port-s (spi_us)."""
    port_c: int
    """The UE's protected client port (port_uc)."""
    port_s: int
    """The UE's protected server port (port_us)."""
    q: float | None = None
    """The UE's preference (RFC 3329 §2.2)."""


def offer_from_mechanism(mech: SecurityMechanism) -> Offer:
    """Validate one mechanism as an IMS IPsec offer (TS 33.203 Annex H, §7.1).

    Raises:
        SecAgreeError: not ``ipsec-3gpp``, unknown algorithm, ``prot`` other
            than esp, ``mod`` other than trans, a missing SPI or port, an SPI
            in the reserved 0-255 or port 0.
        SipParseError: an out-of-range number or q-value.
    """
    if not mech.is_ipsec_3gpp:
        raise SecAgreeError(f"mechanism {mech.mechanism!r} is not ipsec-3gpp")
    alg, ealg = mech.alg, mech.ealg or "null"
    if alg not in INTEGRITY_ALGORITHMS or ealg not in ENCRYPTION_ALGORITHMS:
        raise SecAgreeError(f"unsupported algorithms alg={alg!r} ealg={ealg!r}")
    if mech.prot not in (None, PROT_ESP) or mech.mod not in (None, MODE_TRANS):
        raise SecAgreeError(f"unsupported prot={mech.prot!r} mod={mech.mod!r}")
    spi_c, spi_s, port_c, port_s = mech.spi_c, mech.spi_s, mech.port_c, mech.port_s
    if spi_c is None or spi_s is None or port_c is None or port_s is None:
        raise SecAgreeError("spi-c, spi-s, port-c and port-s are all required")
    if min(spi_c, spi_s) <= SPI_RESERVED_MAX or min(port_c, port_s) == 0:
        raise SecAgreeError(f"reserved SPI or port 0 in {mech}")
    return Offer(alg, ealg, spi_c, spi_s, port_c, port_s, mech.q)


def parse_offers(mechs: Iterable[SecurityMechanism]) -> list[Offer]:
    """The acceptable offers among ``mechs``, in order; defective ones are skipped.

    RFC 3329 §2.2 lets a client list several mechanisms; other mechanism
    names (``digest``, ``tls``) and malformed ``ipsec-3gpp`` entries are
    ignored so the rest can still be chosen.
    """
    offers = []
    for mech in mechs:
        try:
            offers.append(offer_from_mechanism(mech))
        except (SecAgreeError, SipParseError):
            continue
    return offers


def read_security_client(req: Message) -> list[SecurityMechanism]:
    """The Security-Client mechanisms of ``req`` (RFC 3329 §2.2), [] when absent.

    Raises:
        SecAgreeError: the header is malformed (494).
    """
    try:
        return parse_security_mechanisms(req.header_values("security-client"))
    except SipParseError as exc:
        raise SecAgreeError(f"malformed Security-Client: {exc}") from exc


def choose_offer(offers: Sequence[Offer], preference: Sequence[tuple[str, str]]
                 = DEFAULT_PREFERENCE) -> Offer | None:
    """The offer of the first preferred (alg, ealg) pair the UE offers (TS 33.203 §7.2).

    Among offers of the same pair the highest ``q`` wins (an absent q counts
    as 1, RFC 3261 §20.10), then the first listed. None: nothing in common.
    """
    for pair in preference:
        matching = [o for o in offers if (o.alg, o.ealg) == pair]
        if matching:
            return max(matching, key=lambda o: 1.0 if o.q is None else o.q)
    return None


# -- allocation (TS 33.203 §7.1, §7.4) -----------------------------------------
class _IdRange:
    """Integers of ``[first, last]`` unique among live holders, handed out round-robin."""

    def __init__(self, first: int, last: int, what: str) -> None:
        if first > last:
            raise ValueError(f"empty {what} range {first}..{last}")
        self.first, self.last, self.what = first, last, what
        self._cursor = first
        self._live: set[int] = set()

    def allocate(self, avoid: Iterable[int] = ()) -> int:
        """The next free value after the last one handed out.

        Raises:
            PoolExhausted: every value is live or in ``avoid``.
        """
        taken = self._live | set(avoid)
        size = self.last - self.first + 1
        if len(self._live) >= size:
            raise PoolExhausted(f"no {self.what} left")
        for step in range(min(size, len(taken) + 1)):
            value = self.first + (self._cursor - self.first + step) % size
            if value not in taken:
                self._live.add(value)
                self._cursor = self.first + (value - self.first + 1) % size
                return value
        raise PoolExhausted(f"no {self.what} left")

    def release(self, value: int) -> None:
        """Free ``value`` once its SA is gone (unknown values are ignored)."""
        self._live.discard(value)

    def is_live(self, value: int) -> bool:
        return value in self._live

    @property
    def live(self) -> frozenset[int]:
        return frozenset(self._live)


class SpiAllocator(_IdRange):
    """The P-CSCF's inbound SPIs (spi_pc, spi_ps): TS 33.203 §7.1, RFC 4303 §2.1.

    An SPI is live from :meth:`allocate` until :meth:`release`; it is never
    handed out while live, and the rotating cursor delays reuse further.
    """

    def __init__(self, first: int = SPI_FIRST, last: int = SPI_LAST) -> None:
        if first <= SPI_RESERVED_MAX or last > 2**32 - 1:
            raise ValueError("SPIs must lie in 256..2**32-1 (RFC 4303 §2.1)")
        super().__init__(first, last, "SPI")


class ReqidAllocator(_IdRange):
    """Reqid blocks (four per plan) that mark the SAs and policies this P-CSCF owns."""

    def __init__(self, slots: int = REQID_SLOTS) -> None:
        super().__init__(0, slots - 1, "reqid block")

    def allocate_reqid(self) -> int:
        """The first reqid of a new block of :data:`SAS_PER_PLAN`."""
        return REQID_BASE + SAS_PER_PLAN * self.allocate()

    def release_reqid(self, reqid: int) -> None:
        self.release((reqid - REQID_BASE) // SAS_PER_PLAN)


def is_our_reqid(reqid: int, slots: int = REQID_SLOTS) -> bool:
    """Whether an SA or policy with ``reqid`` belongs to this P-CSCF (start-up cleanup)."""
    return REQID_BASE <= reqid < REQID_BASE + SAS_PER_PLAN * slots


@dataclass(frozen=True, slots=True)
class ProtectedPorts:
    """The P-CSCF's protected ports of one SA set (TS 33.203 §7.1 port_ps, port_pc)."""

    index: int
    port_s: int
    port_c: int


class ProtectedPortPool:
    """Per UE address, a distinct pool index for each live SA set (see module docstring).

    ``port-s = first_s + index`` and ``port-c = first_c + index``; the lowest
    index the UE address does not hold is taken, so a UE alternates between
    index 0 and 1 across re-registrations (TS 33.203 §7.4).
    """

    def __init__(self, first_s: int = 5100, first_c: int = 6100, size: int = 10) -> None:
        if size < 1 or max(first_s, first_c) + size - 1 > 65535:
            raise ValueError("protected port pool outside 1..65535")
        if first_s < first_c + size and first_c < first_s + size:
            raise ValueError("port-s and port-c pools overlap")
        self.first_s, self.first_c, self.size = first_s, first_c, size
        self._held: dict[str, set[int]] = {}

    def allocate(self, ue_host: str) -> ProtectedPorts:
        """Ports for a new SA set of ``ue_host``.

        Raises:
            PoolExhausted: the UE address already holds every index.
        """
        held = self._held.setdefault(ue_host, set())
        for index in range(self.size):
            if index not in held:
                held.add(index)
                return ProtectedPorts(index, self.first_s + index, self.first_c + index)
        raise PoolExhausted(f"{ue_host} holds all {self.size} protected port pairs")

    def release(self, ue_host: str, index: int) -> None:
        held = self._held.get(ue_host, set())
        held.discard(index)
        if not held:
            self._held.pop(ue_host, None)

    def held(self, ue_host: str) -> frozenset[int]:
        return frozenset(self._held.get(ue_host, ()))


# -- the plan handed to ims.ipsec.xfrm (TS 33.203 §7.1) ----------------------------
def build_plan(ue_host: str, pcscf_host: str, offer: Offer, spi_pc: int, spi_ps: int,
               ports: ProtectedPorts, reqid: int, algorithms: EspAlgorithms) -> XfrmPlan:
    """The SA set for ``offer`` with the P-CSCF's SPIs and ports (TS 33.203 §7.1).

    ``algorithms`` comes from :func:`ims.ipsec.keys.esp_algorithms` (Annex I).
    """
    return XfrmPlan(
        ue_host, pcscf_host, offer.port_c, offer.port_s, ports.port_c, ports.port_s,
        offer.spi_c, offer.spi_s, spi_pc, spi_ps, offer.alg, offer.ealg,
        algorithms, reqid, ports.index,
    )


# -- headers (RFC 3329 §2.3.1; TS 24.229 §5.2.2.1, §7.2A.2) --------------------
def build_security_server(plan: XfrmPlan) -> SecurityMechanism:
    """The one ``Security-Server`` mechanism of the 401 (TS 33.203 §7.1, Annex H).

    It repeats the chosen algorithms with the P-CSCF's SPIs and ports.
    """
    return SecurityMechanism.ipsec_3gpp(
        alg=plan.alg, ealg=plan.ealg, spi_c=plan.spi_pc, spi_s=plan.spi_ps,
        port_c=plan.port_pc, port_s=plan.port_ps, prot=PROT_ESP, mod=MODE_TRANS, q=SERVER_Q,
    )


def add_security_server(resp: Response, mechs: Sequence[SecurityMechanism]) -> None:
    """Write ``Security-Server`` into the 401 going to the UE (RFC 3329 §2.3.1 step 2)."""
    resp.set("Security-Server", format_security_mechanisms(mechs))


def check_security_verify(req: Request, sent: Sequence[SecurityMechanism]) -> Response | None:
    """494 unless Security-Verify equals the Security-Server sent (RFC 3329 §2.3.1 step 5).

    A malformed or absent Security-Verify is a mismatch too. The 494 carries
    ``Require: sec-agree`` and the Security-Server list again (RFC 3329 §2.3.1).
    """
    try:
        received = parse_security_mechanisms(req.header_values("security-verify"))
    except SipParseError:
        received = []
    if same_mechanisms(received, sent):
        return None
    return make_response(req, 494, "Security Agreement Required", headers=(
        ("Require", SEC_AGREE), ("Security-Server", format_security_mechanisms(sent))))


def _drop_tag(msg: Message, header: str, tag: str) -> None:
    kept = [t for v in msg.header_values(header) for t in split_list(v) if t.lower() != tag]
    if kept:
        msg.set(header, ", ".join(kept))
    else:
        msg.remove(header)


def strip_sec_agree(req: Request) -> None:
    """Keep sec-agree at the P-CSCF before forwarding (TS 24.229 §5.2.2.1; RFC 3329 §2.3.1).

    Removes ``sec-agree`` from Require and Proxy-Require (dropping a header
    left empty) and the Security-Client and Security-Verify headers.
    """
    for header in ("require", "proxy-require"):
        if any(t.lower() == SEC_AGREE for v in req.header_values(header)
               for t in split_list(v)):
            _drop_tag(req, header, SEC_AGREE)
    req.remove("security-client")
    req.remove("security-verify")


def mark_integrity_protected(req: Request, protected: bool) -> None:
    """Set ``integrity-protected`` in the REGISTER's Authorization (TS 24.229 §5.2.2.1).

    ``no`` on the unprotected REGISTER, ``yes`` on one that arrived over
    the SAs (TS 24.229 §7.2A.2). ``ip-assoc-*`` belongs to GPRS-IMS-Bundled
    authentication and is never written here. A REGISTER without
    Authorization is left alone.

    Raises:
        SipParseError: a malformed Authorization.
    """
    creds = credentials(req, "authorization")
    if not creds:
        return
    value = "yes" if protected else "no"
    req.remove("authorization")
    for cred in creds:
        cred.integrity_protected = value
        req.add("Authorization", str(cred))

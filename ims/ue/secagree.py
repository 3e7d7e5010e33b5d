"""The UE side of the security agreement for IMS AKA with IPsec: TS 33.203 §7, RFC 3329. Pure.

TS 24.229 (Release 17) §5.1.1.2, §5.1.1.4, §5.1.1.6 with TS 33.203 §7.1-§7.4.
No sockets, no netlink: the asyncio glue (:mod:`ims.ue.client`) carries out
the :class:`InstallSas` / :class:`RemoveSas` actions returned here.

Theory of operation
-------------------
The UE owns two protected ports, ``port_uc`` (client) and ``port_us``
(server), fixed for its lifetime, and draws two fresh inbound SPIs
(``spi_uc``, ``spi_us``) for every REGISTER transaction it starts
(:meth:`UeSecAgree.start_register`). Every REGISTER carries
``Security-Client`` with one ``ipsec-3gpp`` mechanism per offered
(alg, ealg) pair, ``Require: sec-agree`` and ``Proxy-Require: sec-agree``
(TS 24.229 §5.1.1.2.1, RFC 3329 §2.3.1 step 1)::

    UE                                   P-CSCF
    REGISTER (unprotected, Security-Client) ---> ordinary port
    <--- 401 (Security-Server: spi-c, spi-s, port-c, port-s, alg, ealg)
    [on_challenge: choose the highest q (RFC 3329 §2.3.1 step 3),
     build the XfrmPlan with IK/CK (Annex I), InstallSas]
    REGISTER (port_uc -> port_ps over the new SAs,
              Security-Client again, Security-Verify = Security-Server)
    <--- 200 OK   [on_final: the new set becomes current, RemoveSas(old)]

A re-registration goes over the current set; a new challenge builds a new
set (new SPIs) that replaces the current one only after the 200 OK
(TS 33.203 §7.4). The 200 OK to a de-registration removes every set.
Requests between registrations use the current set (port_uc -> port_ps).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ims.ipsec.keys import XfrmPlan, esp_algorithms
from ims.ipsec.spec import kernel_spec
from ims.ipsec.xfrm import XfrmSpec
from ims.sip.errors import SipParseError
from ims.sip.headers.security import (
    ENCRYPTION_ALGORITHMS,
    INTEGRITY_ALGORITHMS,
    SecurityMechanism,
    format_security_mechanisms,
    parse_security_mechanisms,
)
from ims.sip.message import Message

__all__ = [
    "SEC_AGREE",
    "UE_REQID_BASE",
    "InstallSas",
    "RemoveSas",
    "SaAction",
    "UeOffer",
    "UeSaSet",
    "UeSecAgree",
    "UeSecAgreeError",
    "build_security_client",
    "choose_server",
    "offered_pairs",
    "plan_from_server",
    "read_security_server",
    "sec_agree_headers",
    "ue_spec",
]

SEC_AGREE = "sec-agree"
#: TS 33.203 Annex H / TS 24.229 §7.2A.7: the only protocol and mode used.
PROT_ESP = "esp"
MODE_TRANS = "trans"
#: RFC 4303 §2.1: SPIs 1-255 are reserved by IANA, 0 is never an SA.
SPI_RESERVED_MAX = 255
#: The UE draws its SPIs from the upper half of the 32-bit space (the P-CSCF's
#: allocator uses 0x00010000-0x7fffffff), so a capture tells the two apart.
UE_SPI_FIRST = 0x80000000
UE_SPI_LAST = 0xFFFFFFFF
#: Reqids of the UE's SAs and policies ("UE"), blocks of four per set.
UE_REQID_BASE = 0x55450000
UE_REQID_SLOTS = 0x4000
SAS_PER_SET = 4

#: The UE's default offer: every TS 33.203 Annex H pair, strongest first
#: (handsets offer all six, field notes).
DEFAULT_PAIRS: tuple[tuple[str, str], ...] = tuple(
    (alg, ealg) for alg in ("hmac-sha-1-96", "hmac-md5-96")
    for ealg in ("aes-cbc", "des-ede3-cbc", "null")
)


class UeSecAgreeError(ValueError):
    """A 401 whose Security-Server the UE cannot use (RFC 3329 §2.3.1)."""


def random_spi() -> int:
    """A random SPI in the UE's range (outside the reserved 1-255, RFC 4303 §2.1)."""
    return UE_SPI_FIRST + secrets.randbelow(UE_SPI_LAST - UE_SPI_FIRST + 1)


def random_reqid() -> int:
    """The first reqid of a random block of four in the UE's range."""
    return UE_REQID_BASE + SAS_PER_SET * secrets.randbelow(UE_REQID_SLOTS)


def offered_pairs(alg: str | None = None, ealg: str | None = None) -> tuple[tuple[str, str], ...]:
    """The (alg, ealg) pairs to offer: all six, or those matching a configured alg/ealg.

    Raises:
        UeSecAgreeError: an algorithm TS 33.203 Annex H does not name.
    """
    if alg is not None and alg not in INTEGRITY_ALGORITHMS:
        raise UeSecAgreeError(f"unknown integrity algorithm {alg!r}")
    if ealg is not None and ealg not in ENCRYPTION_ALGORITHMS:
        raise UeSecAgreeError(f"unknown encryption algorithm {ealg!r}")
    return tuple(p for p in DEFAULT_PAIRS
                 if alg in (None, p[0]) and ealg in (None, p[1]))


@dataclass(frozen=True, slots=True)
class UeOffer:
    """The UE's half of a Security-Client (TS 33.203 §7.1): inbound SPIs and protected ports."""

    spi_uc: int
    """SPI of the UE's inbound SA at port_uc (``spi-c``)."""
    spi_us: int
    """SPI of the UE's inbound SA at port_us (``spi-s``)."""
    port_uc: int
    """The UE's protected client port (``port-c``)."""
    port_us: int
    """The UE's protected server port (``port-s``)."""


def build_security_client(offer: UeOffer, pairs: Iterable[tuple[str, str]]
                          ) -> list[SecurityMechanism]:
    """One ``ipsec-3gpp`` mechanism per pair, ``prot=esp;mod=trans`` (TS 33.203 Annex H)."""
    return [SecurityMechanism.ipsec_3gpp(
        alg=alg, ealg=ealg, spi_c=offer.spi_uc, spi_s=offer.spi_us,
        port_c=offer.port_uc, port_s=offer.port_us, prot=PROT_ESP, mod=MODE_TRANS)
        for alg, ealg in pairs]


def read_security_server(msg: Message) -> list[SecurityMechanism]:
    """The Security-Server mechanisms of a 401 (RFC 3329 §2.3.1 step 2), in order.

    Raises:
        UeSecAgreeError: absent or malformed.
    """
    try:
        mechs = parse_security_mechanisms(msg.header_values("security-server"))
    except SipParseError as exc:
        raise UeSecAgreeError(f"malformed Security-Server: {exc}") from exc
    if not mechs:
        raise UeSecAgreeError("the 401 carries no Security-Server")
    return mechs


def choose_server(mechs: Sequence[SecurityMechanism],
                  pairs: Sequence[tuple[str, str]]) -> SecurityMechanism:
    """The ``ipsec-3gpp`` mechanism with the highest q (RFC 3329 §2.3.1 step 3).

    An absent q counts as 1; ties go to the first listed.

    Raises:
        UeSecAgreeError: no ipsec-3gpp mechanism; the chosen one names an
            alg/ealg pair we did not offer, a prot/mod other than esp/trans,
            lacks an SPI or port, or has an SPI in the reserved 0-255.
        SipParseError: a bad q-value.
    """
    ipsec = [m for m in mechs if m.is_ipsec_3gpp]
    if not ipsec:
        raise UeSecAgreeError("Security-Server names no ipsec-3gpp mechanism")
    best = max(ipsec, key=lambda m: 1.0 if m.q is None else m.q)  # max keeps the first
    if (best.alg, best.ealg or "null") not in pairs:
        raise UeSecAgreeError(f"Security-Server chose alg={best.alg!r} ealg={best.ealg!r}, "
                              "which we did not offer")
    if best.prot not in (None, PROT_ESP) or best.mod not in (None, MODE_TRANS):
        raise UeSecAgreeError(f"unsupported prot={best.prot!r} mod={best.mod!r}")
    numbers = (best.spi_c, best.spi_s, best.port_c, best.port_s)
    if any(n is None or n == 0 for n in numbers):
        raise UeSecAgreeError("Security-Server lacks spi-c, spi-s, port-c or port-s")
    if min(best.spi_c or 0, best.spi_s or 0) <= SPI_RESERVED_MAX:
        raise UeSecAgreeError(f"reserved SPI in {best}")
    return best


def plan_from_server(server: SecurityMechanism, offer: UeOffer, ik: bytes, ck: bytes,
                     ue_host: str, pcscf_host: str, reqid: int) -> XfrmPlan:
    """The SA set of TS 33.203 §7.1 from the chosen mechanism, our offer and IK/CK.

    ``server`` must come from :func:`choose_server`. ESP keys per Annex I.

    Raises:
        ValueError: IK or CK not 128 bits.
    """
    alg, ealg = server.alg or "", server.ealg or "null"
    return XfrmPlan(
        ue_host, pcscf_host, offer.port_uc, offer.port_us,
        server.port_c or 0, server.port_s or 0, offer.spi_uc, offer.spi_us,
        server.spi_c or 0, server.spi_s or 0, alg, ealg,
        esp_algorithms(alg, ealg, ik, ck), reqid, 0,
    )


def ue_spec(plan: XfrmPlan, owner: str) -> XfrmSpec:
    """The UE's kernel view of ``plan``: its four SAs and policies (in at the UE's ports)."""
    return kernel_spec(plan, owner, plan.ue_host)


def sec_agree_headers(client: Sequence[SecurityMechanism],
                      verify: Sequence[SecurityMechanism] = ()) -> list[tuple[str, str]]:
    """Security-Client, Security-Verify (when given), Require and Proxy-Require: sec-agree.

    TS 24.229 §5.1.1.2.1 and §5.1.1.5.1; RFC 3329 §2.3.1 steps 1 and 4:
    Security-Verify repeats the Security-Server received, verbatim.
    """
    headers = [("Security-Client", format_security_mechanisms(client))]
    if verify:
        headers.append(("Security-Verify", format_security_mechanisms(verify)))
    return [*headers, ("Require", SEC_AGREE), ("Proxy-Require", SEC_AGREE)]


# -- the UE's SA sets (TS 33.203 §7.4) -----------------------------------------
@dataclass(frozen=True, slots=True)
class UeSaSet:
    """One negotiated SA set: the plan and the Security-Server it came from."""

    plan: XfrmPlan
    server: tuple[SecurityMechanism, ...]
    """The whole Security-Server list received (echoed in Security-Verify)."""
    owner: str
    """The :class:`~ims.ipsec.xfrm.XfrmSpec` owner name of this set."""

    @property
    def spec(self) -> XfrmSpec:
        return ue_spec(self.plan, self.owner)


@dataclass(frozen=True, slots=True)
class InstallSas:
    """Install this set's SAs and policies before the protected REGISTER leaves (§7.1)."""

    sa_set: UeSaSet


@dataclass(frozen=True, slots=True)
class RemoveSas:
    """Remove this set's SAs and policies."""

    sa_set: UeSaSet


SaAction = InstallSas | RemoveSas


class UeSecAgree:
    """The UE's sec-agree state: events in, SA actions out (see the module docstring).

    ``new_spi`` and ``new_reqid`` are injected for deterministic tests.
    """

    def __init__(
        self, *, ue_host: str, pcscf_host: str, port_uc: int, port_us: int,
        pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS, owner: str = "ue",
        new_spi: Callable[[], int] = random_spi, new_reqid: Callable[[], int] = random_reqid,
    ) -> None:
        if not pairs:
            raise UeSecAgreeError("no algorithm pair to offer")
        self.ue_host, self.pcscf_host = ue_host, pcscf_host
        self.port_uc, self.port_us = port_uc, port_us
        self.pairs = tuple(pairs)
        self.owner = owner
        self.new_spi, self.new_reqid = new_spi, new_reqid
        self.offer = UeOffer(0, 0, port_uc, port_us)
        self.pending: UeSaSet | None = None
        self.current: UeSaSet | None = None
        self._sets = 0

    @property
    def sending(self) -> UeSaSet | None:
        """The set requests go over: the pending one while it is being confirmed, else current."""
        return self.pending or self.current

    @property
    def live_plans(self) -> list[XfrmPlan]:
        """The plans of every installed set (pending and current)."""
        return [s.plan for s in (self.pending, self.current) if s is not None]

    def start_register(self) -> None:
        """A new REGISTER transaction: fresh SPIs, unused by any live set (TS 33.203 §7.4)."""
        live = {p.spi_uc for p in self.live_plans} | {p.spi_us for p in self.live_plans}
        spis: list[int] = []
        while len(spis) < 2:
            spi = self.new_spi()
            if spi > SPI_RESERVED_MAX and spi not in live and spi not in spis:
                spis.append(spi)
        self.offer = UeOffer(spis[0], spis[1], self.port_uc, self.port_us)

    def security_client(self) -> list[SecurityMechanism]:
        """The Security-Client of the current offer."""
        return build_security_client(self.offer, self.pairs)

    def headers(self) -> list[tuple[str, str]]:
        """The sec-agree headers of the next REGISTER (Security-Verify once a set exists)."""
        sa_set = self.sending
        return sec_agree_headers(self.security_client(), sa_set.server if sa_set else ())

    def on_challenge(self, resp: Message, ik: bytes, ck: bytes) -> list[SaAction]:
        """A 401 with Security-Server: a new pending set (replacing an unconfirmed one).

        Raises:
            UeSecAgreeError: no usable Security-Server (see :func:`choose_server`).
            ValueError: IK or CK not 128 bits.
        """
        try:
            mechs = read_security_server(resp)
            server = choose_server(mechs, self.pairs)
        except SipParseError as exc:
            raise UeSecAgreeError(f"malformed Security-Server: {exc}") from exc
        plan = plan_from_server(server, self.offer, ik, ck, self.ue_host, self.pcscf_host,
                                self.new_reqid())
        self._sets += 1
        actions = self._drop_pending()
        self.pending = UeSaSet(plan, tuple(mechs), f"{self.owner}#{self._sets}")
        return [*actions, InstallSas(self.pending)]

    def on_final(self, status: int, deregistration: bool) -> list[SaAction]:
        """A final non-401 response to a REGISTER (TS 33.203 §7.4).

        2xx: the pending set becomes current and the old one goes; 2xx to a
        de-registration removes every set; any other status drops the pending set.
        """
        if status >= 300:
            return self._drop_pending()
        if deregistration:
            return self.close()
        if self.pending is None:
            return []
        old, self.current, self.pending = self.current, self.pending, None
        return [RemoveSas(old)] if old is not None else []

    def close(self) -> list[SaAction]:
        """Remove every set (de-registration, shutdown)."""
        actions = self._drop_pending()
        old, self.current = self.current, None
        return actions + ([RemoveSas(old)] if old is not None else [])

    def _drop_pending(self) -> list[SaAction]:
        old, self.pending = self.pending, None
        return [RemoveSas(old)] if old is not None else []

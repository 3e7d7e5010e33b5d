"""Per-UE sec-agree state of the P-CSCF: events in, SA-set actions out (TS 33.203 §7.4). Pure.

:class:`SecAgreeSession` holds one UE address's *pending* set (installed
with the 401) and *current* set (confirmed by the 200 OK) and says, as
:class:`InstallPlan` / :class:`RemovePlan` actions, what the kernel side
(:mod:`pcscf.ipsec`) must do. :class:`SecAgreeResources` are the SPI, reqid
and protected-port allocators every session of one P-CSCF shares. The
negotiation rules it applies are in :mod:`pcscf.secagree`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ims.ipsec.keys import XfrmPlan, esp_algorithms
from ims.sip.headers.security import SecurityMechanism
from ims.sip.message import Request, Response, make_response

from .secagree import (
    DEFAULT_PREFERENCE,
    Offer,
    PoolExhausted,
    ProtectedPortPool,
    ReqidAllocator,
    SecAgreeError,
    SpiAllocator,
    build_plan,
    build_security_server,
    check_security_verify,
    choose_offer,
    parse_offers,
    read_security_client,
)


@dataclass(frozen=True, slots=True)
class InstallPlan:
    """Install this SA set before the 401 leaves (TS 33.203 §7.1 step 3)."""

    plan: XfrmPlan


@dataclass(frozen=True, slots=True)
class RemovePlan:
    """Remove this SA set, after the response that triggered it has left."""

    plan: XfrmPlan


PlanAction = InstallPlan | RemovePlan


@dataclass(slots=True)
class SecAgreeResources:
    """The allocators every :class:`SecAgreeSession` of one P-CSCF shares."""

    pcscf_host: str
    ports: ProtectedPortPool
    spis: SpiAllocator = field(default_factory=SpiAllocator)
    reqids: ReqidAllocator = field(default_factory=ReqidAllocator)
    preference: tuple[tuple[str, str], ...] = DEFAULT_PREFERENCE
    pending_lifetime: float = 240.0
    """How long an unconfirmed SA set lives (TS 24.229 reg-await-auth, 128*T1 = 64 s, plus margin)."""
    expiry_grace: float = 30.0
    """Seconds an active SA set outlives its registration (TS 33.203 §7.1: SA lifetime)."""
    pcscf_ipv6_host: str | None = None
    """Our IPv6 address, for UEs on IPv6 (``pcscf_host`` is the IPv4 one)."""

    @property
    def pcscf_hosts(self) -> tuple[str, ...]:
        """Every address of ours an SA may name."""
        return (self.pcscf_host,) + ((self.pcscf_ipv6_host,) if self.pcscf_ipv6_host else ())

    def local_host_for(self, ue_host: str) -> str:
        """Our address of the UE's family (the SA's other end, TS 33.203 §7.1)."""
        if ":" in ue_host and self.pcscf_ipv6_host:
            return self.pcscf_ipv6_host
        return self.pcscf_host

    @property
    def protected_ports(self) -> frozenset[int]:
        p = self.ports
        return frozenset(range(p.first_s, p.first_s + p.size)) | frozenset(
            range(p.first_c, p.first_c + p.size))

    def new_plan(self, ue_host: str, offer: Offer, ik: bytes, ck: bytes) -> XfrmPlan:
        """Allocate SPIs, ports and a reqid block and build the plan.

        Raises:
            PoolExhausted: nothing left; every allocation so far is undone.
            ValueError: IK or CK not 128 bits.
        """
        algorithms = esp_algorithms(offer.alg, offer.ealg, ik, ck)
        avoid = (offer.spi_c, offer.spi_s)
        ports = self.ports.allocate(ue_host)
        spis: list[int] = []
        try:
            spis += [self.spis.allocate(avoid), self.spis.allocate(avoid)]
            reqid = self.reqids.allocate_reqid()
        except PoolExhausted:
            self.ports.release(ue_host, ports.index)
            for spi in spis:
                self.spis.release(spi)
            raise
        return build_plan(ue_host, self.local_host_for(ue_host), offer, spis[0], spis[1], ports, reqid,
                          algorithms)

    def release(self, plan: XfrmPlan) -> None:
        """Free what ``plan`` held."""
        self.spis.release(plan.spi_pc)
        self.spis.release(plan.spi_ps)
        self.reqids.release_reqid(plan.reqid)
        self.ports.release(plan.ue_host, plan.port_index)


@dataclass(slots=True)
class _SaSet:
    plan: XfrmPlan
    server: SecurityMechanism
    offer: Offer
    keys: tuple[bytes, bytes]
    expires_at: float


class SecAgreeSession:
    """Sec-agree state of one UE address: events in, plan actions out (TS 33.203 §7.4).

    * :meth:`receive_register` - a REGISTER from the UE (its Security-Client,
      or the Security-Verify check of a protected one);
    * :meth:`challenge` - the 401 with IK/CK: a new *pending* set (installed
      now, so the UE can send the protected REGISTER over it);
    * :meth:`registered` - the 200 OK: the pending set becomes *active*, the
      old active one is removed (after the 200 OK leaves); expires 0 removes all;
    * :meth:`failed` - any other final answer: the pending set goes;
    * :meth:`handle_timer` - unconfirmed or expired sets go.

    Requests toward the UE always use :attr:`active`, the newest confirmed set.
    """

    def __init__(self, ue_host: str, resources: SecAgreeResources) -> None:
        self.ue_host = ue_host
        self.res = resources
        self.offer: Offer | None = None
        self.pending: _SaSet | None = None
        self.current: _SaSet | None = None

    @property
    def active(self) -> XfrmPlan | None:
        """The SA set for everything sent to the UE (TS 33.203 §7.4)."""
        return self.current.plan if self.current else None

    def plan_on_port(self, local_port: int) -> XfrmPlan | None:
        """The live set whose port-s or port-c is ``local_port`` (newest first)."""
        sa_set = self._set_on_port(local_port)
        return sa_set.plan if sa_set else None

    def receive_register(self, req: Request, local_port: int | None) -> Response | None:
        """Check a REGISTER; a response ends it here, None lets it through.

        Unprotected (``local_port`` None): its Security-Client replaces any
        earlier offer (the SAs must come from the REGISTER being answered).
        Protected (``local_port`` is the pool port it arrived on): Security-Verify
        must equal the Security-Server of the set owning that port (RFC 3329
        §2.3.1), else 494; so is a protected REGISTER on a port with no set.
        """
        if local_port is not None:
            sa_set = self._set_on_port(local_port)
            return check_security_verify(req, [sa_set.server] if sa_set else [])
        try:
            mechs = read_security_client(req)
        except SecAgreeError:
            return make_response(req, 494, "Security Agreement Required")
        self.offer = choose_offer(parse_offers(mechs), self.res.preference)
        if mechs and self.offer is None:
            return make_response(req, 494, "Security Agreement Required")
        return None

    def challenge(self, ik: bytes, ck: bytes, now: float
                  ) -> tuple[SecurityMechanism | None, list[PlanAction]]:
        """The 401 brought IK/CK: the Security-Server for it and the plan actions.

        The current set is reused when neither the offer nor the keys
        changed; otherwise a new pending set replaces any earlier one.

        Raises:
            PoolExhausted: no SPI, reqid or port left (answer 503).
            ValueError: IK or CK not 128 bits.
        """
        offer, self.offer = self.offer, None
        if offer is None:
            return None, []
        cur = self.current
        if cur is not None and cur.offer == offer and cur.keys == (ik, ck):
            return cur.server, self._drop_pending()
        actions = self._drop_pending()
        plan = self.res.new_plan(self.ue_host, offer, ik, ck)
        server = build_security_server(plan)
        self.pending = _SaSet(plan, server, offer, (ik, ck), now + self.res.pending_lifetime)
        return server, [*actions, InstallPlan(plan)]

    def registered(self, expires: int, now: float) -> list[PlanAction]:
        """200 OK to REGISTER; run the actions after it has left (TS 33.203 §7.4)."""
        if expires <= 0:
            return self.close()
        if self.pending is None:
            if self.current is not None:
                self.current.expires_at = now + expires + self.res.expiry_grace
            return []
        old, self.current, self.pending = self.current, self.pending, None
        self.current.expires_at = now + expires + self.res.expiry_grace
        return self._remove(old)

    def failed(self) -> list[PlanAction]:
        """A final non-2xx to the protected REGISTER: drop the pending set."""
        return self._drop_pending()

    def handle_timer(self, now: float) -> list[PlanAction]:
        """Remove a pending set never confirmed, or an active set past its registration."""
        actions: list[PlanAction] = []
        if self.pending is not None and now >= self.pending.expires_at:
            actions += self._drop_pending()
        if self.current is not None and now >= self.current.expires_at:
            old, self.current = self.current, None
            actions += self._remove(old)
        return actions

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` has something to do, None when idle."""
        times = [s.expires_at for s in (self.pending, self.current) if s is not None]
        return min(times) if times else None

    def close(self) -> list[PlanAction]:
        """Remove every set of this UE (de-registration, failed auth, shutdown)."""
        actions = self._drop_pending()
        old, self.current = self.current, None
        return actions + self._remove(old)

    def _set_on_port(self, local_port: int) -> _SaSet | None:
        for sa_set in (self.pending, self.current):
            if sa_set and local_port in (sa_set.plan.port_ps, sa_set.plan.port_pc):
                return sa_set
        return None

    def _drop_pending(self) -> list[PlanAction]:
        old, self.pending = self.pending, None
        return self._remove(old)

    def _remove(self, sa_set: _SaSet | None) -> list[PlanAction]:
        if sa_set is None:
            return []
        self.res.release(sa_set.plan)
        return [RemovePlan(sa_set.plan)]


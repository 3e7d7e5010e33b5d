"""P-CSCF IPsec wiring (TS 33.203 §7, RFC 3329): modes, and sec-agree over the kernel.

Modes (``[pcscf] ipsec``)
    :func:`probe` asks the kernel once at start whether it can hold ESP SAs
    (:meth:`ims.ipsec.xfrm.XfrmPort.probe_esp`); ``off`` never touches XFRM.
    :func:`select_sec_agree` then picks the sec-agree step the router uses:

    * ESP available (``optional`` or ``required``): :class:`IpsecSecAgree`;
    * ``optional`` without ESP, or ``off``: :class:`NoIpsec` (plain SIP;
      ``Require: sec-agree`` gets 420 + ``Unsupported: sec-agree``);
    * ``required`` without ESP: :class:`IpsecUnavailable` is raised, the
      P-CSCF refuses to start.

:class:`IpsecSecAgree` is the adapter between the pure per-UE machines of
:mod:`pcscf.sessions` and an :class:`~ims.ipsec.xfrm.XfrmPort`:

1. ``check_register``: an unprotected REGISTER's Security-Client is taken
   (494 if unusable); a REGISTER from the UE's port-c of a live SA set is the
   protected one, its Security-Verify is checked (494 on mismatch). Then
   sec-agree is stripped and ``integrity-protected`` marked (TS 24.229 §5.2.2.1).
2. ``challenge`` (the 401, before it leaves): IK/CK become a new SA set,
   installed in the kernel now, and ``Security-Server`` is added to the 401.
3. ``final`` (after the final response left): the 200 OK confirms the new
   set and removes the old one (TS 33.203 §7.4); a failure drops the pending set.
4. ``sweep``: unconfirmed or expired sets go.

Every installed set is written to the ``esp_keys_file`` when one is configured.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ims.ipsec.keys import AkaKeyError, XfrmPlan, keys_from_challenges
from ims.ipsec.spec import kernel_spec
from ims.ipsec.xfrm import ReqidRange, XfrmError, XfrmPort, XfrmSpec
from ims.sip.errors import SipError
from ims.sip.events import Peer
from ims.sip.headers.auth import Challenge
from ims.sip.headers.option import contact_expiry, requires
from ims.sip.message import Request, Response, make_response
from ims.transport.rules import bare_host, rewrite_top_via

from . import flows, sessions
from . import secagree as sa
from .ipsec_ops import EspKeysFile, sa_rows
from .router import SEC_AGREE, SecAgreeUnavailable

logger = logging.getLogger(__name__)

#: The reqids of :mod:`pcscf.secagree`'s allocator: the start-up cleanup marker.
MARKER = ReqidRange(sa.REQID_BASE, sa.REQID_BASE + sa.SAS_PER_PLAN * sa.REQID_SLOTS - 1)
NO_ESP_REASON = "the kernel cannot hold ESP SAs (load esp4 and xfrm_user)"


class IpsecUnavailable(RuntimeError):
    """``ipsec = "required"`` on a kernel without ESP: the P-CSCF must not start."""


@dataclass(frozen=True, slots=True)
class IpsecStatus:
    """What the start-up probe found, as ``/status`` shows it under ``ipsec``."""

    mode: str
    kernel_esp: bool | None
    """None when ``off`` (never probed)."""
    reason: str

    @property
    def active(self) -> bool:
        return self.mode != "off" and bool(self.kernel_esp)

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "kernel_esp": self.kernel_esp, "reason": self.reason}


def probe(mode: str, xfrm: Callable[[], XfrmPort]) -> IpsecStatus:
    """Probe the kernel for ESP unless ``mode`` is off (``xfrm`` is only called then)."""
    if mode == "off":
        return IpsecStatus(mode, None, "ipsec = off: XFRM is not used")
    try:
        esp = xfrm().probe_esp()
    except (XfrmError, OSError) as exc:
        return IpsecStatus(mode, False, f"XFRM netlink refused the probe: {exc}")
    if not esp:
        return IpsecStatus(mode, False, NO_ESP_REASON)
    return IpsecStatus(mode, True, "the kernel holds ESP SAs")


def require_usable(status: IpsecStatus) -> None:
    """Raise :class:`IpsecUnavailable` for ``required`` without ESP; log the outcome."""
    if status.mode == "required" and not status.kernel_esp:
        raise IpsecUnavailable(f"ipsec = \"required\" but {status.reason}; "
                               "set [pcscf] ipsec = \"optional\" or \"off\" to serve without IPsec")
    level = logging.WARNING if status.mode != "off" and not status.kernel_esp else logging.INFO
    logger.log(level, "IPsec mode %s, kernel ESP %s: %s", status.mode,
               status.kernel_esp, status.reason)


def select_sec_agree(status: IpsecStatus, resources: sessions.SecAgreeResources,
                     xfrm: Callable[[], XfrmPort], keys_file: str = ""
                     ) -> IpsecSecAgree | NoIpsec:
    """The sec-agree step for the probed mode (see the module docstring).

    Raises:
        IpsecUnavailable: ``required`` on a kernel without ESP.
    """
    require_usable(status)
    if not status.active:
        return NoIpsec(status)
    return IpsecSecAgree(resources, xfrm(), required=status.mode == "required",
                         keys_file=EspKeysFile(keys_file) if keys_file else None)


#: Seconds a removed set's SAs outlive the closing of its TCP connections.
FLOW_CLOSE_GRACE = 0.5


def plan_spec(plan: XfrmPlan) -> XfrmSpec:
    """The P-CSCF's kernel view of a sec-agree plan: four SAs, one policy each (TS 33.203 §7.1)."""
    return kernel_spec(plan, owner_of(plan), plan.pcscf_host)


def owner_of(plan: XfrmPlan) -> str:
    """The XFRM owner key of one SA set: UE address and reqid block."""
    return f"{plan.ue_host}/0x{plan.reqid:08x}"


class NoIpsec(SecAgreeUnavailable):
    """Plain SIP (``off``, or ``optional`` without ESP): 420 to ``Require: sec-agree``.

    The missing kernel support is logged once, on the first refusal.
    """

    def __init__(self, status: IpsecStatus) -> None:
        super().__init__()
        self.status = status
        self._logged = False

    def check_register(self, req: Request, source: Peer) -> Response | None:
        refusal = super().check_register(req, source)
        if refusal is not None and not self._logged and self.status.mode != "off":
            self._logged = True
            logger.warning("REGISTER with Require: sec-agree answered 420: %s",
                           self.status.reason)
        if refusal is None:
            sa.strip_sec_agree(req)
        return refusal


@dataclass(slots=True)
class _Counters:
    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys((
        "ipsec_sets_installed", "ipsec_sets_removed", "ipsec_install_failures",
        "ipsec_verify_failures", "ipsec_pool_exhausted"), 0))


class IpsecSecAgree:
    """Sec-agree with kernel SAs (see the module docstring).

    Args:
        resources: the shared SPI, reqid and port allocators.
        xfrm: the kernel (or :class:`~ims.ipsec.xfrm.FakeXfrm`).
        required: refuse REGISTERs without Security-Client (421).
        keys_file: where to write the ESP keys (None: nowhere).
        clock: monotonic seconds.
    """

    def __init__(self, resources: sessions.SecAgreeResources, xfrm: XfrmPort, *,
                 required: bool = False, keys_file: EspKeysFile | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.res = resources
        self.xfrm = xfrm
        self.required = required
        self.keys_file = keys_file
        self.clock = clock
        self.sessions: dict[str, sessions.SecAgreeSession] = {}
        self.installed: dict[str, XfrmSpec] = {}
        self.counters = _Counters().values
        #: Closes the TCP connections of a set's flows, returning how many (the app's
        #: transport); the set's SAs then stay ``flow_grace`` seconds longer, so the
        #: FIN exchange still travels inside ESP. None: SAs go at once.
        self.close_flows: Callable[[XfrmPlan], int] | None = None
        self.flow_grace = FLOW_CLOSE_GRACE
        self._retiring: dict[str, tuple[str, asyncio.TimerHandle]] = {}

    # -- start and stop ---------------------------------------------------------------
    def start(self) -> int:
        """Remove SAs and policies an earlier run left behind (our marker only)."""
        removed = self.xfrm.cleanup_stale(MARKER)
        if removed:
            logger.info("IPsec start-up: removed %d stale SAs/policies", removed)
        self._write_keys()
        return removed

    def close(self) -> None:
        """Remove every UE's SAs (shutdown; the transport has closed its connections)."""
        self.close_flows = None
        for session in list(self.sessions.values()):
            self._run(session.close())
        self.sessions.clear()
        for owner in list(self._retiring):
            self._remove_now(owner)

    # -- the router's SecAgree protocol ------------------------------------------------
    def check_register(self, req: Request, source: Peer) -> Response | None:
        """Security-Client / Security-Verify of a REGISTER; a response ends it here."""
        session = self.sessions.get(source.host)
        if session is not None and source.local_port is not None:
            plan = session.plan_on_port(source.local_port)  # the gate checked the UE's port-c
            if plan is not None:
                return self._protected(req, session, source.local_port)
        if not req.has("security-client"):
            return self._plain(req)
        session = session or self.sessions.setdefault(
            source.host, sessions.SecAgreeSession(source.host, self.res))
        refusal = session.receive_register(req, None)
        if refusal is None:
            _forward(req, protected=False)
        return refusal

    def challenge(self, req: Request, source: Peer, keys: Sequence[Challenge],
                  resp: Response | None = None) -> None:
        """Install the new SA set and add Security-Server to the 401 (before it leaves).

        When the set cannot be had (no port pair or SPI left, the kernel
        refused it, unusable IK/CK) the 401 becomes a 503: the UE asked for
        sec-agree and cannot send its protected REGISTER without SAs.
        """
        session = self.sessions.get(source.host)
        if session is None or session.offer is None or resp is None:
            return
        try:
            found = keys_from_challenges(keys)
            if found is None:
                return
            server, actions = session.challenge(*found, self.clock())
        except sa.PoolExhausted as exc:
            self.counters["ipsec_pool_exhausted"] += 1
            logger.error("no SA set for %s: %s", source.host, exc)
            _unavailable(resp, "no IPsec SA set left")
            return
        except (AkaKeyError, ValueError) as exc:
            logger.warning("401 for %s has unusable IK/CK: %s", source.host, exc)
            _unavailable(resp, "IPsec keys unusable")
            return
        if not self._run(actions):
            _unavailable(resp, "IPsec SAs could not be installed")
        elif server is not None:
            sa.add_security_server(resp, [server])

    def final(self, req: Request, resp: Response, source: Peer) -> None:
        """A final response to a REGISTER has left: confirm or drop SA sets (§7.4)."""
        session = self.sessions.get(source.host)
        if session is None or resp.status == 401 or resp.status < 200:
            return
        if resp.status < 300:
            actions = session.registered(_granted_expiry(req, resp), self.clock())
        else:
            actions = session.failed()
        session.offer = None  # an offer only lives until its 401 (RFC 3329 §2.3.1)
        self._run(actions)
        self._forget_idle(source.host)

    def sweep(self) -> None:
        """Timers: unconfirmed pending sets and expired active sets go."""
        now = self.clock()
        for host, session in list(self.sessions.items()):
            deadline = session.get_timer()
            if deadline is not None and deadline <= now:
                self._run(session.handle_timer(now))
            self._forget_idle(host)

    # -- flows on the protected ports (TS 33.203 §7.1) ------------------------------------
    def accepts(self, peer: Peer) -> bool:
        """The transport's gate: a live set's UE port-c → our port-s, or UE port-s → our port-c.

        Anything else arriving on a protected port was not carried by an SA of
        that flow (the kernel drops unprotected packets matching a selector;
        this catches the other ports) and is dropped; the transport counts it
        (``dropped_unprotected``).
        """
        session = self.sessions.get(peer.host)
        plan = session.plan_on_port(peer.local_port) \
            if session is not None and peer.local_port is not None else None
        arrival = flows.classify_arrival(plan, peer.host, peer.port, peer.local_port or 0,
                                      self.res.protected_ports)
        return arrival in (flows.Arrival.REQUEST_ON_PORT_S, flows.Arrival.RESPONSE_ON_PORT_C)

    def toward_ue(self, req: Request, peer: Peer) -> Peer:
        """A request to a UE with an active SA set leaves from our port-c to its port-s.

        NOTIFY, OPTIONS, terminating and in-dialog requests alike, always over
        the newest confirmed set (TS 33.203 §7.4). The UE is told by its
        registration (a peer that came over an SA) or by its protected ports;
        another peer on the same address is left alone. TCP when the UE registered
        over TCP; a large request switches to TCP in the transport (RFC 3261
        §18.1.1), still through the SA. Our Via names port-c, where the UE
        sends its responses.
        """
        session = self.sessions.get(peer.host)
        plan = session.active if session is not None else None
        if plan is None:
            return peer
        if peer.local_port is None and peer.port not in (plan.port_uc, plan.port_us):
            return peer  # not the UE (a lab core may share the UE's address)
        route = flows.request_route(plan, peer.transport)
        try:
            via = req.top_via
            rewrite_top_via(req, route.transport, bare_host(via.host), route.local_port)
        except SipError as exc:
            logger.warning("request to %s has no usable Via: %s", peer.host, exc.reason)
        return Peer(route.transport, route.remote_host, route.remote_port, None, route.local_port)

    def server_port(self, ue_host: str) -> int | None:
        """Our port-s of the UE's newest confirmed SA set (its in-dialog requests go there)."""
        session = self.sessions.get(ue_host)
        plan = session.active if session is not None else None
        return plan.port_ps if plan is not None else None

    # -- status ------------------------------------------------------------------------
    def sa_status(self) -> list[dict[str, Any]]:
        """Our SAs from the kernel, per UE (addresses, ports, SPIs, algorithms, counters)."""
        return sa_rows(self.xfrm.list_sas(), MARKER, self.res.pcscf_hosts, time.time())

    # -- internals ---------------------------------------------------------------------
    def _plain(self, req: Request) -> Response | None:
        if self.required:
            return make_response(req, 421, "Extension Required",
                                 headers=(("Require", SEC_AGREE),))
        if requires(req, SEC_AGREE):  # sec-agree required but nothing offered
            return make_response(req, 494, "Security Agreement Required")
        sa.strip_sec_agree(req)
        return None

    def _protected(self, req: Request, session: sessions.SecAgreeSession,
                   local_port: int) -> Response | None:
        refusal = session.receive_register(req, local_port)
        if refusal is not None:
            self.counters["ipsec_verify_failures"] += 1
            return refusal
        if req.has("security-client"):  # a re-registration offers the next set (§7.4)
            refusal = session.receive_register(req, None)
            if refusal is not None:
                return refusal
        _forward(req, protected=True)
        return None

    def _run(self, actions: Sequence[sessions.PlanAction]) -> bool:
        """Apply plan actions to the kernel; False when an install failed (it is undone)."""
        ok = True
        for action in actions:
            if isinstance(action, sessions.InstallPlan):
                ok = self._install(action.plan) and ok
            else:
                self._remove(action.plan)
        self._write_keys()
        return ok

    def _install(self, plan: XfrmPlan) -> bool:
        for owner, (host, _) in list(self._retiring.items()):
            if host == plan.ue_host:  # a set of that UE still retiring may hold these selectors
                self._remove_now(owner)
        spec = plan_spec(plan)
        try:
            self.xfrm.apply(spec)
        except (XfrmError, ValueError) as exc:
            self.counters["ipsec_install_failures"] += 1
            logger.error("SA set for %s not installed: %s", plan.ue_host, exc)
            session = self.sessions.get(plan.ue_host)
            if session is not None:
                session.failed()
            return False
        self.installed[spec.owner] = spec
        self.counters["ipsec_sets_installed"] += 1
        logger.info("SA set %s installed (%s/%s)", spec.owner, plan.alg, plan.ealg)
        return True

    def _remove(self, plan: XfrmPlan) -> None:
        owner = owner_of(plan)
        if self.installed.pop(owner, None) is None:
            return
        if self.close_flows is not None and self.close_flows(plan):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                pass
            else:  # the connections' FIN exchange first, inside ESP
                handle = loop.call_later(self.flow_grace, self._remove_now, owner)
                self._retiring[owner] = (plan.ue_host, handle)
                return
        self._remove_now(owner)

    def _remove_now(self, owner: str) -> None:
        retiring = self._retiring.pop(owner, None)
        if retiring is not None:
            retiring[1].cancel()
        try:
            self.xfrm.remove(owner)
        except XfrmError as exc:
            logger.error("SA set %s not removed: %s", owner, exc)
            return
        self.counters["ipsec_sets_removed"] += 1
        logger.info("SA set %s removed", owner)

    def _forget_idle(self, host: str) -> None:
        session = self.sessions.get(host)
        if session is not None and session.get_timer() is None and session.offer is None:
            del self.sessions[host]

    def _write_keys(self) -> None:
        if self.keys_file is None:
            return
        try:
            self.keys_file.write(self.installed.values())
        except OSError as exc:
            logger.error("ESP keys file %s not written: %s", self.keys_file.path, exc)


def _unavailable(resp: Response, why: str) -> None:
    """Turn the 401 on its way to the UE into a 503 saying why (RFC 3261 §21.5.4)."""
    resp.status = 503
    resp.reason = f"Service Unavailable - {why}"
    resp.remove("www-authenticate")
    resp.set("Retry-After", "60")


def _forward(req: Request, protected: bool) -> None:
    """Strip sec-agree and mark ``integrity-protected`` (TS 24.229 §5.2.2.1)."""
    sa.strip_sec_agree(req)
    try:
        sa.mark_integrity_protected(req, protected)
    except SipError as exc:
        logger.info("Authorization not marked: %s", exc)


def _granted_expiry(req: Request, ok: Response) -> int:
    """The registration's lifetime from the 200 OK (0 for a de-registration)."""
    try:
        asked = [contact_expiry(c, req) for c in req.contacts]
        if asked and all(value == 0 for value in asked):
            return 0
        granted = [contact_expiry(c, ok) for c in ok.contacts]
    except SipError:
        return 0
    values = [value for value in granted if value is not None]
    return max(values) if values else (0 if not ok.contacts else 3600)

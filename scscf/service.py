"""S-CSCF registrar and reg-event orchestrator (TS 24.229 §5.4.1, §5.4.2; TS 29.228 §6).

Theory of operation
-------------------
:class:`RegistrarService` is the thin async layer between the SIP proxy
service, the HSS and the pure decisions of :mod:`scscf.registrar`,
:mod:`scscf.auth` and :mod:`scscf.regevent`. Its ports are injected: ``cx``
(a :class:`~ims.diameter.client.CxPort`), ``notify`` (sends one in-dialog
NOTIFY) and ``clock`` (wall-clock seconds: expiries end up in Date and
reginfo). Retransmitted REGISTERs never reach it: the server transaction
absorbs them.

* REGISTER: ``handle_register`` decides; CHALLENGE sends MAR and stores the
  vector *before* the 401 is returned; ASSIGN sends SAR (REGISTRATION,
  RE_REGISTRATION, USER_DEREGISTRATION), stores the outcome, answers 200 and
  NOTIFYs every reg subscriber; AUTH_FAILURE sends SAR AUTHENTICATION_FAILURE
  and answers 403.
* A request for a user registered here: ``terminate`` retargets it to the
  user's newest contact by its Path, or answers 480 (TS 24.229 §5.4.3.3,
  :mod:`scscf.terminating`).
* SUBSCRIBE to ``reg``: ``handle_subscribe`` decides; the 200 is followed by
  a full-state NOTIFY.
* :meth:`sweep` (run every second by the app): expired contacts go
  (SAR TIMEOUT_DEREGISTRATION when the last one does), expired challenges
  and subscriptions too.
* RTR deregisters and sends ``terminated`` NOTIFYs; PPR replaces the profile.

Every Diameter failure becomes the SIP response TS 24.229 §5.4.1.2 names
(403 for an unknown or refused user, 500 otherwise, 504 when the HSS does
not answer): a REGISTER never hangs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ims.diameter.client import CxPort, DiameterTimeout, DiameterUnreachable
from ims.diameter.cx import Ppr, Rtr, ServerAssignmentType
from ims.diameter.results import (
    SUCCESS,
    AvpError,
    CxExperimentalResult,
    Result,
    ResultCode,
)
from ims.diameter.userdata import UserDataError
from ims.sip.errors import SipError, SipParseError
from ims.sip.message import Request, Response, make_response
from ims.sip.proxy import Target, copy_request
from ims.sip.uri import parse_uri
from scscf.auth import (
    AuthChallengeStore,
    PendingChallenge,
    Verdict,
    digest_credentials,
    identify,
    pending_from_item,
)
from scscf.bindings import Binding, BindingStore, MemoryBindingStore, Registration, RegState
from scscf.regevent import (
    RegEventConfig,
    Subscription,
    SubscriptionTable,
    build_subscribe_response,
    expired_subscriptions,
    handle_subscribe,
    notify_registration,
)
from scscf.registrar import (
    Action,
    RegisterDecision,
    RegistrarConfig,
    SarRequest,
    apply_ppr,
    apply_saa,
    build_failure,
    build_register_ok,
    build_unauthorized,
    deregister_identities,
    expire,
    handle_register,
    next_expiry,
)
from scscf.terminating import terminating_target, wants_lookup

logger = logging.getLogger(__name__)

#: Sends one in-dialog NOTIFY; returns the final status, None when nothing answered.
NotifyPort = Callable[[Request], Awaitable[int | None]]

#: What :meth:`RegistrarService.route` hands the proxy (None: its default routing).
RouteDecision = Coroutine[Any, Any, Response] | Target | Response | None

_HSS_ERRORS = (DiameterTimeout, DiameterUnreachable, AvpError)

#: Cx results answered 403 (TS 24.229 §5.4.1.2.1, TS 29.228 §6.1.2, §6.3).
_FORBIDDEN: dict[tuple[int, bool], str] = {
    (CxExperimentalResult.DIAMETER_ERROR_USER_UNKNOWN, True): "unknown user",
    (CxExperimentalResult.DIAMETER_ERROR_IDENTITIES_DONT_MATCH, True):
        "private and public identities do not match",
    (CxExperimentalResult.DIAMETER_ERROR_IDENTITY_NOT_REGISTERED, True): "identity not registered",
    (CxExperimentalResult.DIAMETER_ERROR_ROAMING_NOT_ALLOWED, True): "roaming not allowed",
    (CxExperimentalResult.DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED, True):
        "authentication scheme not supported",
    (ResultCode.DIAMETER_AUTHORIZATION_REJECTED, False): "authorization rejected by the HSS",
    (ResultCode.DIAMETER_AUTHENTICATION_REJECTED, False): "authentication rejected by the HSS",
}

COUNTER_NAMES = (
    "register_received", "challenges_sent", "registrations", "reregistrations",
    "deregistrations", "auth_failures", "expired_contacts", "network_deregistrations",
    "subscriptions", "notifies_sent", "notifies_failed", "cx_errors", "cx_timeouts",
    "terminating_routed", "terminating_unavailable",
)


def cx_failure(result: Result, command: str) -> tuple[int, str]:
    """The SIP status and reason for an unsuccessful Cx answer."""
    refused = _FORBIDDEN.get((result.code, result.experimental))
    if refused is not None:
        return 403, f"Forbidden - {refused}"
    return 500, f"Server Internal Error - HSS answered {command} with {result.code}"


def new_tag() -> str:
    """A fresh To/From tag (RFC 3261 §19.3: at least 32 random bits)."""
    return secrets.token_hex(8)


class RegistrarService:
    """The S-CSCF's registrar, reg-event notifier and Cx server side (see above).

    Args:
        cx: the HSS (MAR, SAR).
        notify: sends a NOTIFY built here.
        config: registrar settings (server URI, realm, expiry bounds).
        regevent: reg-event settings (default from ``config.server_uri``).
        store: registration records (default: in memory).
        clock: wall-clock seconds.
    """

    def __init__(self, cx: CxPort, notify: NotifyPort, config: RegistrarConfig,
                 regevent: RegEventConfig | None = None, *, store: BindingStore | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.cx = cx
        self.notify = notify
        self.config = config
        self.regevent = regevent or RegEventConfig(server_uri=config.server_uri)
        self.store: BindingStore = store if store is not None else MemoryBindingStore()
        self.challenges = AuthChallengeStore()
        self.subscriptions = SubscriptionTable()
        self.clock = clock
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- entry point from the proxy ------------------------------------------------
    def route(self, req: Request, originating: bool = False) -> RouteDecision:
        """The proxy's route hook: REGISTER and reg SUBSCRIBEs are ours, the rest is proxied.

        A request for a user registered here is retargeted to the user's
        contact (TS 24.229 §5.4.3.3, :mod:`scscf.terminating`); ``originating``
        says it came in on our Service-Route (``orig``, §5.4.3.2).
        """
        if req.method == "REGISTER":
            return self.register(req)
        if req.method == "SUBSCRIBE" and self._is_reg_subscribe(req):
            return self.subscribe(req)
        if wants_lookup(req, originating):
            return self.terminate(req)
        return None

    def terminate(self, req: Request) -> Target | Response | None:
        """Terminating routing (TS 24.229 §5.4.3.3); None when the R-URI is not ours."""
        record = self._record(req.uri_text)
        if record is None:
            return None
        try:
            target = terminating_target(req, record, self.clock())
        except SipParseError as exc:
            logger.warning("unusable contact for %s: %s", req.uri_text, exc)
            target = None
        if target is None:
            self.counters["terminating_unavailable"] += 1
            return make_response(req, 480, "Temporarily Unavailable - not registered",
                                 to_tag=new_tag())
        self.counters["terminating_routed"] += 1
        return target

    def _is_reg_subscribe(self, req: Request) -> bool:
        if (req.get("event") or "").split(";")[0].strip().lower() != "reg":
            return False
        return self.subscriptions.find(req) is not None or self._record(str(req.uri)) is not None

    def _record(self, identity: str) -> Registration | None:
        try:
            return self.store.get(identity)
        except SipParseError:
            return None

    # -- REGISTER ---------------------------------------------------------------------
    async def register(self, req: Request) -> Response:
        """Answer a REGISTER (TS 24.229 §5.4.1.2); never raises for HSS trouble."""
        self.counters["register_received"] += 1
        now = self.clock()
        tag = new_tag()
        record = self._record(str(req.to.uri)) if req.has("to") else None
        decision = handle_register(record, req, now, self.config, self._take_pending(req, now))
        try:
            return await self._carry_out(req, record, decision, tag, now)
        except DiameterTimeout:
            self.counters["cx_timeouts"] += 1
            return make_response(req, 504, "Server Time-out - no answer from the HSS", to_tag=tag)
        except DiameterUnreachable:
            self.counters["cx_errors"] += 1
            return make_response(req, 500, "Server Internal Error - HSS unreachable", to_tag=tag)
        except AvpError as exc:
            self.counters["cx_errors"] += 1
            return make_response(req, 500, f"Server Internal Error - bad HSS answer ({exc})",
                                 to_tag=tag)

    def _take_pending(self, req: Request, now: float) -> PendingChallenge | Verdict | None:
        """The challenge the REGISTER's nonce answers (removed: nonces are single-use)."""
        try:
            creds = digest_credentials(req)
            impi = identify(req)
        except SipParseError:
            return None
        if creds is None or not creds.nonce:
            return None
        return self.challenges.take(creds.nonce, impi, now)

    async def _carry_out(self, req: Request, record: Registration | None,
                         decision: RegisterDecision, tag: str, now: float) -> Response:
        if decision.action is Action.CHALLENGE:
            return await self._challenge(req, decision, tag, now)
        if decision.action is Action.AUTH_FAILURE:
            return await self._auth_failure(req, decision, tag)
        if decision.action is Action.ASSIGN:
            return await self._assign(req, record, decision, tag, now)
        if decision.action is Action.QUERY:
            return build_register_ok(req, record, now, self.config, tag)
        return build_failure(req, decision, tag)

    async def _challenge(self, req: Request, decision: RegisterDecision, tag: str,
                         now: float) -> Response:
        """MAR, store the vector, then 401 (TS 24.229 §5.4.1.2.1)."""
        mar = decision.mar
        assert mar is not None
        maa = await self.cx.mar(mar.impi, mar.impu, self.config.server_uri, 1, mar.resync)
        if not maa.answer.result.is_success or not maa.auth_items:
            return self._refused(req, maa.answer.result, "MAR", tag)
        try:
            pending = pending_from_item(maa.auth_items[0], mar.impi, mar.impu, self.config.realm,
                                        now, nonce=secrets.token_urlsafe(18))
        except ValueError as exc:
            logger.warning("unusable vector for %s: %s", mar.impi, exc)
            return make_response(req, 500, "Server Internal Error - unusable vector", to_tag=tag)
        self.challenges.add(pending)  # before the 401 leaves: a fast UE finds it
        self.counters["challenges_sent"] += 1
        return build_unauthorized(req, pending, tag, decision.stale)

    def _refused(self, req: Request, result: Result, command: str, tag: str) -> Response:
        self.counters["cx_errors"] += 1
        status, reason = cx_failure(result, command)
        logger.info("%s for %s refused by the HSS (%d): %d", command, req.to.uri, result.code,
                    status)
        return make_response(req, status, reason, to_tag=tag)

    async def _auth_failure(self, req: Request, decision: RegisterDecision, tag: str) -> Response:
        """SAR AUTHENTICATION_FAILURE, then 403 (TS 24.229 §5.4.1.2.3)."""
        self.counters["auth_failures"] += 1
        if decision.sar is not None:
            await self._sar_quietly(decision.sar)
        return build_failure(req, decision, tag)

    async def _sar_quietly(self, sar: SarRequest) -> None:
        """A SAR whose outcome changes nothing for the UE: failures are only logged."""
        try:
            saa = await self.cx.sar(sar.impi, sar.impus, self.config.server_uri,
                                    sar.assignment_type, sar.user_data_already_available)
        except _HSS_ERRORS as exc:
            self.counters["cx_errors"] += 1
            logger.warning("SAR %s for %s failed: %s", sar.assignment_type.name, sar.impi, exc)
            return
        if not saa.answer.result.is_success:
            self.counters["cx_errors"] += 1
            logger.warning("SAR %s for %s answered %d", sar.assignment_type.name, sar.impi,
                           saa.answer.result.code)

    async def _assign(self, req: Request, record: Registration | None,
                      decision: RegisterDecision, tag: str, now: float) -> Response:
        """SAR, store, 200 OK, NOTIFY (TS 24.229 §5.4.1.2.2, §5.4.1.4)."""
        sar = decision.sar
        assert sar is not None
        saa = await self.cx.sar(sar.impi, sar.impus, self.config.server_uri,
                                sar.assignment_type, sar.user_data_already_available)
        if not saa.answer.result.is_success:
            return self._refused(req, saa.answer.result, "SAR", tag)
        outcome = apply_saa(record, decision, saa.user_data, now)
        if outcome.status != 200:
            return build_failure(req, outcome, tag)
        self._count_assignment(sar.assignment_type)
        if outcome.record is None:
            if record is not None:
                self.store.delete(record)
                self._notify_all(_deregistered(record), outcome.removed, now)
        else:
            self.store.put(outcome.record)
            self._notify_all(outcome.record, outcome.removed, now)
        return build_register_ok(req, outcome.record, now, self.config, tag)

    def _count_assignment(self, kind: ServerAssignmentType) -> None:
        names = {ServerAssignmentType.REGISTRATION: "registrations",
                 ServerAssignmentType.RE_REGISTRATION: "reregistrations",
                 ServerAssignmentType.USER_DEREGISTRATION: "deregistrations"}
        if kind in names:
            self.counters[names[kind]] += 1

    # -- reg-event ----------------------------------------------------------------------
    async def subscribe(self, req: Request) -> Response:
        """Answer a SUBSCRIBE to ``reg`` and send the full-state NOTIFY (TS 24.229 §5.4.2.1)."""
        now = self.clock()
        existing = self.subscriptions.find(req)
        target = req
        if existing is not None:  # a refresh is addressed to our Contact, not the IMPU
            target = copy_request(req)
            target.uri = parse_uri(existing.impu)
        record = self._record(str(target.uri))
        decision = handle_subscribe(record, target, now, self.regevent, new_tag(), existing)
        sub = decision.subscription
        if decision.status == 200 and sub is not None and record is not None:
            if existing is None:
                self.counters["subscriptions"] += 1
            terminated = (decision.notify_state or "").startswith("terminated")
            self._notify(sub, record, now, reason="timeout" if terminated else None)
        return build_subscribe_response(req, decision)

    def _notify_all(self, record: Registration, removed: tuple[Binding, ...], now: float,
                    reason: str | None = None) -> None:
        """NOTIFY every subscription to the record's implicit set (RFC 3680 §5.2)."""
        for sub in self.subscriptions.for_record(record):
            self._notify(sub, record, now, removed=removed, reason=reason)

    def _notify(self, sub: Subscription, record: Registration, now: float, *,
                removed: tuple[Binding, ...] = (), reason: str | None = None) -> None:
        req, advanced = notify_registration(sub, record, now, removed=removed, reason=reason,
                                            server_uri=self.config.server_uri)
        if (req.get("subscription-state") or "").startswith("terminated"):
            self.subscriptions.remove(sub)
        else:
            self.subscriptions.put(advanced)
        self._spawn(self._deliver(req))

    async def _deliver(self, req: Request) -> None:
        try:
            status = await self.notify(req)
        except (SipError, OSError) as exc:
            status = None
            logger.info("NOTIFY to %s not sent: %s", req.uri_text, exc)
        key = "notifies_sent" if status is not None and status < 300 else "notifies_failed"
        self.counters[key] += 1

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the NOTIFYs in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- timers ---------------------------------------------------------------------------
    async def sweep(self) -> None:
        """Expire contacts, challenges and subscriptions (RFC 3261 §10.3, RFC 6665 §4.2.2)."""
        now = self.clock()
        self.challenges.expire(now)
        for record in self.store.all():
            due = next_expiry(record)
            if due is not None and due <= now:
                await self._expire(record, now)
        for sub in expired_subscriptions(self.subscriptions.all(), now):
            watched = self._record(sub.impu)
            if watched is None:
                self.subscriptions.remove(sub)
            else:
                self._notify(sub, watched, now, reason="timeout")

    async def _expire(self, record: Registration, now: float) -> None:
        removal = expire(record, now)
        self.counters["expired_contacts"] += len(removal.removed)
        if removal.record is not None:
            self.store.put(removal.record)
            self._notify_all(removal.record, removal.removed, now)
            return
        self.store.delete(record)
        self._notify_all(_deregistered(record), removal.removed, now)
        if removal.sar is not None:  # SAR TIMEOUT_DEREGISTRATION, TS 24.229 §5.4.1.7
            await self._sar_quietly(removal.sar)

    # -- the HSS's requests ------------------------------------------------------------
    async def on_rtr(self, rtr: Rtr) -> Result:
        """Registration-Termination (TS 29.228 §6.1.3, TS 24.229 §5.4.1.5): deregister, NOTIFY."""
        now = self.clock()
        for record in self.store.by_impi(rtr.user_name):
            removal = deregister_identities(record, rtr.public_identities)
            if removal.record is not None:
                continue
            self.counters["network_deregistrations"] += 1
            self.store.delete(record)
            self._notify_all(_deregistered(record), removal.removed, now, reason="deactivated")
        return SUCCESS

    async def on_ppr(self, ppr: Ppr) -> Result:
        """Push-Profile (TS 29.228 §6.1.4): replace the stored service profile."""
        records = self.store.by_impi(ppr.user_name)
        if not records:
            return Result.of(CxExperimentalResult.DIAMETER_ERROR_USER_UNKNOWN)
        if ppr.user_data is None:
            return SUCCESS
        try:
            fresh = [apply_ppr(record, ppr.user_data) for record in records]
        except UserDataError as exc:
            logger.warning("PPR for %s: bad User-Data: %s", ppr.user_name, exc)
            return Result.of(ResultCode.DIAMETER_UNABLE_TO_COMPLY)
        for record in fresh:
            self.store.put(record)
        return SUCCESS

    # -- status ----------------------------------------------------------------------------
    def registrations(self) -> list[dict[str, Any]]:
        """Registered identities and contacts, for ``/status`` and ``ims-cli registrations``."""
        now = self.clock()
        return [{"impi": r.impi, "impus": list(r.associated_uris()),
                 "contacts": [{"uri": b.uri, "expires": b.remaining(now), "pcscf": b.pcscf}
                              for b in r.active_bindings(now)]}
                for r in self.store.all() if r.state is RegState.REGISTERED]


def _deregistered(record: Registration) -> Registration:
    """The record as a NOTIFY after deregistration describes it: no contacts left."""
    return dataclasses.replace(record.copy(), state=RegState.NOT_REGISTERED, bindings=[])

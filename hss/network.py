"""The HSS as a Diameter client: RTR/PPR on Cx, CLR/IDR/DSR on S6a.

Theory of operation
-------------------
The provisioning API changes the store and then tells the network through
:class:`provisioning.actions.NetworkActions`; :class:`HssNetworkActions`
implements it with the HSS-initiated procedures:

* ``deregister``: Registration-Termination-Request (TS 29.228 §6.1.3,
  TS 29.229 §6.1.9) to the S-CSCF assigned to the IMPI, Destination-Host
  the Origin-Host it registered from, Deregistration-Reason
  PERMANENT_TERMINATION with the operator's reason, the IMPUs listed in
  Public-Identity. Only an RTA with 2001 deregisters them in the store
  (the assignment is removed, TS 29.228 §6.1.3.1).
* ``push_profile``: Push-Profile-Request (TS 29.228 §6.1.4, TS 29.229
  §6.1.11) with the current IMSSubscription User-Data of each assigned
  implicit registration set (and Charging-Information where configured).
* ``eps_data_changed``: Insert-Subscriber-Data-Request (TS 29.272
  §5.2.2.1) with the whole Subscription-Data to the registered MME; when no
  APN is left, Delete-Subscriber-Data-Request (§5.2.2.2) withdrawing the
  complete APN-Configuration-Profile instead.
* ``subscriber_deleted``: Cancel-Location-Request (§5.2.1.2),
  Cancellation-Type SUBSCRIPTION_WITHDRAWAL, to the registered MME.
* :meth:`HssNetworkActions.mme_changed` is the S6a ULR hook: CLR with
  MME_UPDATE_PROCEDURE to the previous MME, sent from a thread after the
  ULA (§5.2.1.1.3).

Nothing here raises to the caller: a peer that is not connected, does not
answer within the timeout or answers malformed is an ``ok=False``
:class:`~provisioning.actions.ActionResult` naming what went wrong.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from diameter.message import Message

from hss.cx import CxStore, user_data
from hss.identities import ImpuRecord, SubscriberRecord
from hss.models import NotFoundError, RegistrationState, StoreUnavailable
from hss.s6a import subscription_data
from ims.diameter import cx, s6a
from ims.diameter.node import APP_CX, APP_S6A, DiameterTimeout, DiameterUnreachable
from ims.diameter.results import AvpError, Envelope, Origin, Result, ResultCode
from provisioning.actions import ActionResult

__all__ = ["HssNetworkActions", "NetworkStore", "RequestSender"]

log = logging.getLogger(__name__)

#: Seconds to wait for an answer before giving up (RFC 6733 Tx).
ANSWER_TIMEOUT = 10.0

_SUCCESS = Result(int(ResultCode.DIAMETER_SUCCESS))


class RequestSender(Protocol):
    """What the actions need from :class:`ims.diameter.node.DiameterNode`."""

    def send_request(self, app_id: int, message: Message,  # noqa: D102
                     timeout: float = ANSWER_TIMEOUT) -> Message: ...


class NetworkStore(CxStore, Protocol):
    """What the actions need from :class:`hss.store.Store` (the Cx handlers' needs)."""


class _Failed(Exception):
    """An action that ends before or instead of an answer (internal)."""

    def __init__(self, detail: str, code: int | None = None) -> None:
        super().__init__(detail)
        self.result = ActionResult(False, detail, code)


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a request goes: the peer's Origin-Host and realm."""

    host: str
    realm: str


class HssNetworkActions:
    """The HSS's Diameter client side, as :class:`provisioning.actions.NetworkActions`.

    Args:
        store: the subscriber store.
        origin: our Origin-Host and Origin-Realm.
        sender: the node requests go through (may be attached later).
        timeout: seconds to wait for each answer.
        charging: Charging-Information pushed with PPR, where configured.
    """

    def __init__(self, store: NetworkStore, origin: Origin, sender: RequestSender | None = None,
                 *, timeout: float = ANSWER_TIMEOUT,
                 charging: cx.ChargingInformation | None = None) -> None:
        self._store = store
        self._origin = origin
        self._sender = sender
        self._timeout = timeout
        self._charging = charging
        self._sessions = itertools.count(1)
        self._epoch = int(time.time()) & 0xFFFFFFFF

    def attach(self, sender: RequestSender) -> None:
        """Send through ``sender`` from now on (the node is built after the handlers)."""
        self._sender = sender

    # -- NetworkActions ---------------------------------------------------------
    def deregister(self, impi: str, impus: list[str], reason: str) -> ActionResult:
        """RTR for ``impi``/``impus`` to their S-CSCF; on 2001 deregister them in the store."""
        return self._guard(lambda: self._deregister(impi, impus, reason))

    def push_profile(self, impi: str) -> ActionResult:
        """PPR with the current User-Data of each assigned implicit set of ``impi``."""
        return self._guard(lambda: self._push_profile(impi))

    def eps_data_changed(self, imsi: str) -> ActionResult:
        """IDR with the new Subscription-Data (or DSR when no APN is left) to the MME."""
        return self._guard(lambda: self._eps_data_changed(imsi))

    def subscriber_deleted(self, imsi: str) -> ActionResult:
        """CLR (SUBSCRIPTION_WITHDRAWAL) to the MME registered for ``imsi``."""
        return self._guard(lambda: self._cancel_registered(imsi))

    def mme_changed(self, imsi: str, host: str, realm: str | None) -> None:
        """S6a ULR hook: CLR (MME_UPDATE_PROCEDURE) to the previous MME, from a thread."""
        target = _Target(host, realm or self._origin.realm)
        kind = s6a.CancellationType.MME_UPDATE_PROCEDURE
        thread = threading.Thread(target=self._cancel_logged, args=(imsi, target, kind),
                                  name=f"clr-{imsi}", daemon=True)
        thread.start()

    # -- Cx ---------------------------------------------------------------------
    def _deregister(self, impi: str, impus: list[str], reason: str) -> ActionResult:
        record = self._store.identities_for_impi(impi)
        wanted = [impu for impu in record.impus if impu.impu in impus] or list(record.impus)
        target = _scscf_of(wanted)
        rtr = cx.Rtr(self._envelope(target), impi, cx.ReasonCode.PERMANENT_TERMINATION,
                     reason, tuple(impus))
        answer = cx.read_rta(self._send(APP_CX, cx.build_rtr(rtr), "RTA", target))
        result = self._result("RTA", target, answer.answer.result)
        if result.ok:
            for impu in dict.fromkeys(impus or [impu.impu for impu in wanted]):
                self._store.set_registration(impu, RegistrationState.NOT_REGISTERED)
        return result

    def _push_profile(self, impi: str) -> ActionResult:
        record = self._store.identities_for_impi(impi)
        assigned = [group for group in record.implicit_sets if _assigned(group)]
        if not assigned:
            raise _Failed(f"no S-CSCF assigned to {impi}")
        results = [self._push_set(impi, group) for group in assigned]
        failed = [result for result in results if not result.ok]
        return failed[0] if failed else results[0]

    def _push_set(self, impi: str, group: tuple[ImpuRecord, ...]) -> ActionResult:
        target = _scscf_of(group)
        xml = user_data(self._store, self._store.lookup_impu(group[0].impu))
        ppr = cx.Ppr(self._envelope(target), impi, xml, self._charging)
        answer = cx.read_ppa(self._send(APP_CX, cx.build_ppr(ppr), "PPA", target))
        return self._result("PPA", target, answer.answer.result)

    # -- S6a --------------------------------------------------------------------
    def _eps_data_changed(self, imsi: str) -> ActionResult:
        subscriber = self._store.get_subscriber(imsi)
        target = _mme_of(subscriber, self._origin)
        if target is None:
            return ActionResult(True, f"no MME registered for {imsi}: nothing to update")
        if not subscriber.apns:
            flags = s6a.DsrFlags.COMPLETE_APN_CONFIGURATION_PROFILE_WITHDRAWAL
            dsr = s6a.Dsr(self._envelope(target), imsi, flags)
            answer = s6a.read_dsa(self._send(APP_S6A, s6a.build_dsr(dsr), "DSA", target))
            return self._result("DSA", target, answer.answer.result)
        idr = s6a.Idr(self._envelope(target), imsi, subscription_data(subscriber))
        answer_idr = s6a.read_ida(self._send(APP_S6A, s6a.build_idr(idr), "IDA", target))
        return self._result("IDA", target, answer_idr.answer.result)

    def _cancel_registered(self, imsi: str) -> ActionResult:
        target = _mme_of(self._store.get_subscriber(imsi), self._origin)
        if target is None:
            return ActionResult(True, f"no MME registered for {imsi}: nothing to cancel")
        return self._cancel(imsi, target, s6a.CancellationType.SUBSCRIPTION_WITHDRAWAL)

    def _cancel(self, imsi: str, target: _Target, kind: s6a.CancellationType) -> ActionResult:
        clr = s6a.Clr(self._envelope(target), imsi, kind)
        answer = s6a.read_cla(self._send(APP_S6A, s6a.build_clr(clr), "CLA", target))
        return self._result("CLA", target, answer.answer.result)

    def _cancel_logged(self, imsi: str, target: _Target, kind: s6a.CancellationType) -> None:
        result = self._guard(lambda: self._cancel(imsi, target, kind))
        level = logging.INFO if result.ok else logging.WARNING
        log.log(level, "CLR for %s to previous MME %s: %s", imsi, target.host, result.detail)

    # -- plumbing ---------------------------------------------------------------
    def _guard(self, action: Callable[[], ActionResult]) -> ActionResult:
        """Run ``action``; every failure becomes an ``ok=False`` result."""
        try:
            return action()
        except _Failed as failed:
            return failed.result
        except AvpError as exc:
            return ActionResult(False, f"malformed answer: {exc}")
        except NotFoundError as exc:
            return ActionResult(False, f"unknown: {exc}")
        except StoreUnavailable as exc:
            log.error("subscriber store unavailable: %s", exc)
            return ActionResult(False, f"subscriber store unavailable: {exc}")

    def _envelope(self, target: _Target) -> Envelope:
        """A fresh Session-Id (RFC 6733 §8.8) and the routing AVPs towards ``target``."""
        session = f"{self._origin.host};{self._epoch};{next(self._sessions)}"
        return Envelope(session, self._origin.host, self._origin.realm, target.realm,
                        target.host)

    def _send(self, app_id: int, message: Message, answer_name: str, target: _Target) -> Message:
        """Send and wait; a missing peer, timeout or malformed answer is :class:`_Failed`."""
        if self._sender is None:
            raise _Failed("the HSS Diameter node is not running")
        try:
            return self._sender.send_request(app_id, message, self._timeout)
        except DiameterUnreachable as exc:
            raise _Failed(f"{target.host} is not connected: {exc}") from exc
        except DiameterTimeout as exc:
            raise _Failed(f"no {answer_name} from {target.host}: {exc}") from exc

    @staticmethod
    def _result(name: str, target: _Target, result: Result) -> ActionResult:
        ok = result == _SUCCESS or result == Result(int(ResultCode.DIAMETER_SUCCESS), True)
        kind = "Experimental-Result" if result.experimental else "Result-Code"
        return ActionResult(ok, f"{name} {kind} {result.code} from {target.host}", result.code)


def _assigned(group: tuple[ImpuRecord, ...]) -> bool:
    return any(impu.registration.scscf is not None
               and impu.registration.state != RegistrationState.NOT_REGISTERED
               for impu in group)


def _scscf_of(impus: list[ImpuRecord] | tuple[ImpuRecord, ...]) -> _Target:
    """The Diameter peer of the S-CSCF assigned to ``impus`` (TS 29.228 §6.1.2.1)."""
    for impu in impus:
        scscf = impu.registration.scscf
        if scscf is not None and scscf.host:
            return _Target(scscf.host, scscf.realm or scscf.host.partition(".")[2])
    raise _Failed("no S-CSCF Diameter host stored for " + ", ".join(i.impu for i in impus))


def _mme_of(subscriber: SubscriberRecord, origin: Origin) -> _Target | None:
    if not subscriber.mme_host:
        return None
    return _Target(subscriber.mme_host, subscriber.mme_realm or origin.realm)

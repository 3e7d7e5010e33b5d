"""S6a handlers of the HSS (TS 29.272 §5.2.1.1 ULR, §5.2.1.3 PUR, §5.2.3.1 AIR; Rel-17).

Parse → decide → build, as in :mod:`hss.cx`: ``answer_<msg>`` reads the
request with :mod:`ims.diameter.s6a`, ``handle_<msg>`` decides from the
store and returns the answer dataclass, ``build_<msg>`` makes the message.
An unknown IMSI is Experimental-Result 5001 DIAMETER_ERROR_USER_UNKNOWN
(TS 29.272 §7.4.3); a store failure is base Result-Code 5012.

When a ULR comes from a new MME, the ``mme_changed`` hook (see
:meth:`hss.network.HssNetworkActions.mme_changed`) sends CLR to the previous
one asynchronously, after the ULA (§5.2.1.1.3, §5.2.1.2); IDR/DSR/CLR on
provisioning changes live in :mod:`hss.network`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from diameter.message import Message

from hss.cx import Refused, guarded
from hss.identities import ApnConfig, SubscriberRecord
from hss.models import AuthSchemeError
from hss.store import MAX_BATCH
from ims.auth.aka import EutranVector
from ims.diameter import s6a
from ims.diameter.results import (
    Answer,
    Origin,
    Result,
    ResultCode,
    S6aExperimentalResult,
)

log = logging.getLogger(__name__)

_OK = Result.of(ResultCode.DIAMETER_SUCCESS)
_UNKNOWN = Result.of(S6aExperimentalResult.DIAMETER_ERROR_USER_UNKNOWN)
_NO_AUTH_DATA = Result.of(S6aExperimentalResult.DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE)

#: RAND (16) || AUTS (14), Re-Synchronization-Info (TS 29.272 §7.3.15).
RESYNC_LEN = 30


class S6aStore(Protocol):
    """What the S6a handlers need from :class:`hss.store.Store`."""

    def get_subscriber(self, imsi: str) -> SubscriberRecord: ...  # noqa: D102

    def update_mme(self, imsi: str, host: str | None,  # noqa: D102
                   realm: str | None) -> tuple[str | None, str | None]: ...


class S6aVectors(Protocol):
    """What AIR needs from :class:`hss.vectors.VectorService`."""

    def eutran_vectors(self, imsi: str, count: int,  # noqa: D102
                       plmn: bytes) -> list[EutranVector]: ...
    def resync(self, identity: str, rand: bytes, auts: bytes) -> bool: ...  # noqa: D102


# -- AIR (TS 29.272 §5.2.3.1.3) ---------------------------------------------
def handle_air(vectors: S6aVectors, air: s6a.Air, origin: Origin) -> s6a.Aia:
    """E-UTRAN vectors for ``air`` (resynchronising first when AUTS came)."""
    def decide() -> s6a.Aia:
        if len(air.visited_plmn_id) != 3:
            raise Refused(Result.of(ResultCode.DIAMETER_INVALID_AVP_VALUE))
        if air.resync_info is not None:
            _resync(vectors, air.user_name, air.resync_info)
        count = min(max(air.number_of_vectors, 1), MAX_BATCH)
        try:
            found = vectors.eutran_vectors(air.user_name, count, air.visited_plmn_id)
        except AuthSchemeError as exc:
            log.info("s6a: no AKA keys for %s: %s", air.user_name, exc)
            raise Refused(_NO_AUTH_DATA) from exc
        items = tuple(s6a.EutranVector(v.rand, v.xres, v.autn, v.kasme, item_number=number)
                      for number, v in enumerate(found, 1))
        return s6a.Aia(Answer.to(air.envelope, origin, _OK), items)
    return guarded(origin, air.envelope.session_id, decide, s6a.Aia, unknown=_UNKNOWN)


def _resync(vectors: S6aVectors, imsi: str, info: bytes) -> None:
    """TS 33.102 §6.3.5: a bad MAC-S is refused (SQN untouched) with 4181."""
    if len(info) != RESYNC_LEN:
        raise Refused(Result.of(ResultCode.DIAMETER_INVALID_AVP_VALUE))
    if not vectors.resync(imsi, info[:16], info[16:]):
        raise Refused(_NO_AUTH_DATA)


def answer_air(vectors: S6aVectors, origin: Origin, request: Message) -> Message:
    """Parse, decide, build an AIA."""
    return s6a.build_aia(request, handle_air(vectors, s6a.read_air(request), origin))


#: The ULR hook: (IMSI, previous MME host, its realm) when a new MME registers.
MmeChanged = Callable[[str, str, str | None], None]


# -- ULR (TS 29.272 §5.2.1.1.3) ---------------------------------------------
def handle_ulr(store: S6aStore, ulr: s6a.Ulr, origin: Origin,
               mme_changed: MmeChanged | None = None) -> s6a.Ula:
    """Record the MME and answer with the subscription (unless Skip-Subscriber-Data).

    A different MME than the one stored gets ``mme_changed`` called with the
    previous one, which cancels the location there (§5.2.1.1.3: CLR).
    """
    def decide() -> s6a.Ula:
        subscriber = store.get_subscriber(ulr.user_name)
        previous = store.update_mme(ulr.user_name, ulr.envelope.origin_host,
                                    ulr.envelope.origin_realm)
        if previous[0] is not None and previous[0] != ulr.envelope.origin_host:
            log.info("s6a: %s moved from MME %s to %s", ulr.user_name, previous[0],
                     ulr.envelope.origin_host)
            if mme_changed is not None:
                mme_changed(ulr.user_name, previous[0], previous[1])
        answer = Answer.to(ulr.envelope, origin, _OK)
        flags = s6a.UlaFlags.SEPARATION_INDICATION
        if ulr.flags & s6a.UlrFlags.SKIP_SUBSCRIBER_DATA:
            return s6a.Ula(answer, flags)
        return s6a.Ula(answer, flags, subscription_data(subscriber))
    return guarded(origin, ulr.envelope.session_id, decide, s6a.Ula, unknown=_UNKNOWN)


def subscription_data(subscriber: SubscriberRecord) -> s6a.SubscriptionData:
    """Subscription-Data of TS 29.272 §7.3.2 from the stored subscriber."""
    apns = tuple(_apn(apn) for apn in subscriber.apns)
    default = next((apn.context_id for apn in subscriber.apns if apn.is_default),
                   apns[0].context_identifier if apns else 0)
    profile = s6a.ApnProfile(default, apns) if apns else None
    return s6a.SubscriptionData(
        msisdn=subscriber.msisdn,
        subscriber_status=s6a.SubscriberStatus.SERVICE_GRANTED,
        network_access_mode=s6a.NetworkAccessMode.ONLY_PACKET,
        access_restriction_data=subscriber.access_restriction,
        ambr=s6a.Ambr(subscriber.ambr_ul, subscriber.ambr_dl),
        apn_profile=profile,
    )


def _apn(apn: ApnConfig) -> s6a.ApnConfiguration:
    """APN-Configuration (TS 29.272 §7.3.35) with its EPS QoS and AMBR."""
    arp = s6a.Arp(
        apn.arp_priority,
        s6a.PreEmptionCapability.ENABLED if apn.arp_preemption_capability
        else s6a.PreEmptionCapability.DISABLED,
        s6a.PreEmptionVulnerability.ENABLED if apn.arp_preemption_vulnerability
        else s6a.PreEmptionVulnerability.DISABLED,
    )
    return s6a.ApnConfiguration(apn.context_id, apn.name, s6a.PdnType(int(apn.pdn_type)),
                                s6a.EpsQos(apn.qci, arp), s6a.Ambr(apn.ambr_ul, apn.ambr_dl))


def answer_ulr(store: S6aStore, origin: Origin, request: Message,
               mme_changed: MmeChanged | None = None) -> Message:
    """Parse, decide, build a ULA."""
    return s6a.build_ula(request, handle_ulr(store, s6a.read_ulr(request), origin, mme_changed))


# -- PUR (TS 29.272 §5.2.1.3.3) ---------------------------------------------
def handle_pur(store: S6aStore, pur: s6a.Pur, origin: Origin) -> s6a.Pua:
    """Forget the MME when it is the one registered; otherwise keep it (§5.2.1.3.3)."""
    def decide() -> s6a.Pua:
        subscriber = store.get_subscriber(pur.user_name)
        if subscriber.mme_host == pur.envelope.origin_host:
            store.update_mme(pur.user_name, None, None)
            return s6a.Pua(Answer.to(pur.envelope, origin, _OK), s6a.PuaFlags.FREEZE_M_TMSI)
        return s6a.Pua(Answer.to(pur.envelope, origin, _OK), s6a.PuaFlags(0))
    return guarded(origin, pur.envelope.session_id, decide, s6a.Pua, unknown=_UNKNOWN)


def answer_pur(store: S6aStore, origin: Origin, request: Message) -> Message:
    """Parse, decide, build a PUA."""
    return s6a.build_pua(request, handle_pur(store, s6a.read_pur(request), origin))


@dataclass(frozen=True)
class S6aHandlers:
    """The S6a request handlers bound to a store, its vectors and our origin."""

    store: S6aStore
    vectors: S6aVectors
    origin: Origin
    mme_changed: MmeChanged | None = None
    """Called when a ULR comes from a new MME (CLR to the previous one)."""

    def table(self) -> dict[int, Callable[[Message], Message]]:
        """Command code → handler (TS 29.272 §7.2: ULR 316, AIR 318, PUR 321)."""
        return {
            316: lambda request: answer_ulr(self.store, self.origin, request, self.mme_changed),
            318: lambda request: answer_air(self.vectors, self.origin, request),
            321: lambda request: answer_pur(self.store, self.origin, request),
        }

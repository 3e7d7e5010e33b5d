"""Sh handlers of the HSS (TS 29.328 §6.1.1-§6.1.2, TS 29.329 §6.1; Rel-17).

Parse → decide → build, as in :mod:`hss.cx`. UDR serves IMSPublicIdentity,
MSISDN, IMSUserState, S-CSCFName and RepositoryData (TS 29.328 §7.1-§7.6);
PUR writes RepositoryData, the transparent data an application server keeps
per user, with the Sequence-Number rule of TS 29.328 §6.1.2.1. Other
Data-Reference values get 5102 DIAMETER_ERROR_USER_DATA_CANNOT_BE_READ (UDR)
or 5103 DIAMETER_ERROR_USER_DATA_CANNOT_BE_MODIFIED (PUR) (TS 29.329 §6.2).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from diameter.message import Message

from hss.cx import Refused, guarded
from hss.identities import ImpuLookup, RepositoryDataRecord, SubscriberRecord
from hss.models import OutOfSyncError, RegistrationState
from ims.diameter import sh
from ims.diameter.results import Answer, Origin, Result, ResultCode, ShExperimentalResult

log = logging.getLogger(__name__)

_OK = Result.of(ResultCode.DIAMETER_SUCCESS)
_UNKNOWN = Result.of(ShExperimentalResult.DIAMETER_ERROR_USER_UNKNOWN)
_STATES = {
    RegistrationState.NOT_REGISTERED: sh.ImsUserState.NOT_REGISTERED,
    RegistrationState.REGISTERED: sh.ImsUserState.REGISTERED,
    RegistrationState.UNREGISTERED: sh.ImsUserState.REGISTERED_UNREG_SERVICES,
}
_READABLE = {sh.DataReference.REPOSITORY_DATA, sh.DataReference.IMS_PUBLIC_IDENTITY,
             sh.DataReference.IMS_USER_STATE, sh.DataReference.S_CSCF_NAME,
             sh.DataReference.MSISDN}


class ShStore(Protocol):
    """What the Sh handlers need from :class:`hss.store.Store`."""

    def lookup_impu(self, impu: str) -> ImpuLookup: ...  # noqa: D102
    def get_subscriber(self, imsi: str) -> SubscriberRecord: ...  # noqa: D102

    def repository_data(self, impu: str,  # noqa: D102
                        service_indication: str) -> RepositoryDataRecord | None: ...

    def put_repository_data(self, impu: str, service_indication: str,  # noqa: D102
                            sequence_number: int, data: bytes | None) -> None: ...


def _identify(store: ShStore, identity: sh.ShUserIdentity) -> ImpuLookup:
    """The IMPU named by User-Identity; an MSISDN names ``tel:+<MSISDN>`` (TS 29.328 §7.3)."""
    if identity.public_identity is not None:
        return store.lookup_impu(identity.public_identity)
    return store.lookup_impu(f"tel:+{identity.msisdn}")


# -- UDR (TS 29.328 §6.1.1) -------------------------------------------------
def handle_udr(store: ShStore, udr: sh.Udr, origin: Origin) -> sh.Uda:
    """The Sh-Data for ``udr``'s Data-References."""
    def decide() -> sh.Uda:
        if any(ref not in _READABLE for ref in udr.data_references):
            raise Refused(Result.of(ShExperimentalResult.DIAMETER_ERROR_USER_DATA_CANNOT_BE_READ))
        found = _identify(store, udr.user_identity)
        data = _sh_data(store, found, udr)
        if data == sh.ShData():
            raise Refused(Result.of(ShExperimentalResult.DIAMETER_USER_DATA_NOT_AVAILABLE))
        return sh.Uda(Answer.to(udr.envelope, origin, _OK), sh.build_sh_data(data))
    return guarded(origin, udr.envelope.session_id, decide, sh.Uda, unknown=_UNKNOWN)


def _sh_data(store: ShStore, found: ImpuLookup, udr: sh.Udr) -> sh.ShData:
    refs = set(udr.data_references)
    registration = found.impu.registration
    identities = (tuple(member.impu for member in found.implicit_set)
                  if sh.DataReference.IMS_PUBLIC_IDENTITY in refs else ())
    msisdn = (store.get_subscriber(found.imsi).msisdn
              if sh.DataReference.MSISDN in refs else None)
    scscf = (registration.scscf.name if registration.scscf is not None
             and sh.DataReference.S_CSCF_NAME in refs else None)
    state = _STATES[registration.state] if sh.DataReference.IMS_USER_STATE in refs else None
    repository = (_repository(store, found.impu.impu, udr.service_indications)
                  if sh.DataReference.REPOSITORY_DATA in refs else ())
    return sh.ShData(public_identities=identities, msisdns=(msisdn,) if msisdn else (),
                     repository_data=repository, scscf_name=scscf, ims_user_state=state)


def _repository(store: ShStore, impu: str,
                indications: tuple[bytes, ...]) -> tuple[sh.RepositoryData, ...]:
    found = []
    for indication in indications:
        record = store.repository_data(impu, indication.decode(errors="replace"))
        if record is not None:
            found.append(sh.RepositoryData(record.service_indication, record.sequence_number,
                                           record.data.decode(errors="replace")))
    return tuple(found)


def answer_udr(store: ShStore, origin: Origin, request: Message) -> Message:
    """Parse, decide, build a UDA."""
    return sh.build_uda(request, handle_udr(store, sh.read_udr(request), origin))


# -- PUR (TS 29.328 §6.1.2) -------------------------------------------------
def handle_pur(store: ShStore, pur: sh.Pur, origin: Origin) -> sh.Pua:
    """Write the RepositoryData of ``pur`` (create, update or, without ServiceData, delete)."""
    def decide() -> sh.Pua:
        if pur.data_reference != sh.DataReference.REPOSITORY_DATA:
            raise Refused(Result.of(
                ShExperimentalResult.DIAMETER_ERROR_USER_DATA_CANNOT_BE_MODIFIED))
        found = _identify(store, pur.user_identity)
        items = _parse(pur.user_data).repository_data
        if len(items) != 1:
            raise Refused(Result.of(ShExperimentalResult.DIAMETER_ERROR_USER_DATA_NOT_RECOGNIZED))
        item = items[0]
        data = None if item.service_data is None else item.service_data.encode()
        try:
            store.put_repository_data(found.impu.impu, item.service_indication,
                                      item.sequence_number, data)
        except OutOfSyncError as exc:
            log.info("sh: PUR out of sync: %s", exc)
            raise Refused(Result.of(
                ShExperimentalResult.DIAMETER_ERROR_TRANSPARENT_DATA_OUT_OF_SYNC)) from exc
        data_id = sh.RepositoryDataId(item.service_indication.encode(), item.sequence_number)
        return sh.Pua(Answer.to(pur.envelope, origin, _OK), data_id,
                      sh.DataReference.REPOSITORY_DATA)
    return guarded(origin, pur.envelope.session_id, decide, sh.Pua, unknown=_UNKNOWN)


def _parse(xml: str) -> sh.ShData:
    try:
        return sh.parse_sh_data(xml)
    except sh.ShDataError as exc:
        log.info("sh: PUR User-Data refused: %s", exc)
        raise Refused(Result.of(
            ShExperimentalResult.DIAMETER_ERROR_USER_DATA_NOT_RECOGNIZED)) from exc


def answer_pur(store: ShStore, origin: Origin, request: Message) -> Message:
    """Parse, decide, build a PUA."""
    return sh.build_pua(request, handle_pur(store, sh.read_pur(request), origin))


@dataclass(frozen=True)
class ShHandlers:
    """The Sh request handlers bound to a store and our origin."""

    store: ShStore
    origin: Origin

    def table(self) -> dict[int, Callable[[Message], Message]]:
        """Command code → handler (TS 29.329 §6.1: UDR 306, PUR 307)."""
        return {
            306: lambda request: answer_udr(self.store, self.origin, request),
            307: lambda request: answer_pur(self.store, self.origin, request),
        }

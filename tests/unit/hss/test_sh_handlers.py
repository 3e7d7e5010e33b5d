"""Sh handler decisions against a real SQLite store (TS 29.328 §6.1.1-§6.1.2, TS 29.329 §6.2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hss import sh as hsh
from hss.identities import ScscfAssignment, SubscriberSpec
from hss.models import RegistrationState
from hss.store import Store
from ims.diameter import sh
from ims.diameter.results import Envelope, Origin, Result

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMPU = f"sip:+10000001@{DOMAIN}"
ORIGIN = Origin(f"hss.{DOMAIN}", DOMAIN)
AS = Envelope("as;1", f"as.{DOMAIN}", DOMAIN, DOMAIN)
REF = sh.DataReference


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    instance = Store(sqlite_url)
    instance.upgrade()
    instance.add_subscriber(SubscriberSpec(imsi="001010000000001",
                                           k="465b5ce8b199b49faa5f0a2ee238a6bc",
                                           opc="cd63cb71954a9f4e48a5994e37a02baf",
                                           msisdn="10000001"))
    try:
        yield instance
    finally:
        instance.close()


def udr(refs: tuple[sh.DataReference, ...], msisdn: str | None = None,
        indications: tuple[bytes, ...] = ()) -> sh.Udr:
    who = sh.ShUserIdentity(msisdn=msisdn) if msisdn else sh.ShUserIdentity(IMPU)
    return sh.Udr(AS, who, refs, indications)


def test_udr_identities_msisdn_state_and_scscf(store: Store) -> None:
    store.set_registration(IMPU, RegistrationState.REGISTERED,
                           scscf=ScscfAssignment(f"sip:scscf.{DOMAIN}"))
    refs = (REF.IMS_PUBLIC_IDENTITY, REF.MSISDN, REF.IMS_USER_STATE, REF.S_CSCF_NAME)
    answer = hsh.handle_udr(store, udr(refs), ORIGIN)
    assert answer.answer.result == Result(2001) and answer.user_data is not None
    data = sh.parse_sh_data(answer.user_data)
    assert set(data.public_identities) == {IMPU, "tel:+10000001", f"sip:001010000000001@{DOMAIN}"}
    assert data.msisdns == ("10000001",)
    assert data.ims_user_state == sh.ImsUserState.REGISTERED
    assert data.scscf_name == f"sip:scscf.{DOMAIN}"


def test_udr_by_msisdn_and_unknown_user(store: Store) -> None:
    found = hsh.handle_udr(store, udr((REF.IMS_USER_STATE,), msisdn="10000001"), ORIGIN)
    assert found.user_data is not None
    assert sh.parse_sh_data(found.user_data).ims_user_state == sh.ImsUserState.NOT_REGISTERED
    unknown = hsh.handle_udr(store, udr((REF.IMS_USER_STATE,), msisdn="999"), ORIGIN)
    assert unknown.answer.result == Result(5001, experimental=True)


def test_udr_unreadable_reference_is_5102(store: Store) -> None:
    answer = hsh.handle_udr(store, udr((REF.LOCATION_INFORMATION,)), ORIGIN)
    assert answer.answer.result == Result(5102, experimental=True)


def test_pur_then_udr_repository_data_and_out_of_sync(store: Store) -> None:
    def pur(sequence: int, body: str) -> sh.Pua:
        xml = sh.build_sh_data(sh.ShData(repository_data=(
            sh.RepositoryData("mmtel", sequence, body),)))
        return hsh.handle_pur(store, sh.Pur(AS, sh.ShUserIdentity(IMPU), REF.REPOSITORY_DATA,
                                            xml), ORIGIN)

    created = pur(0, "<cdiv>on</cdiv>")
    assert created.answer.result == Result(2001)
    assert created.repository_data_id == sh.RepositoryDataId(b"mmtel", 0)
    assert pur(0, "<cdiv>again</cdiv>").answer.result == Result(5105, experimental=True)
    assert pur(1, "<cdiv>off</cdiv>").answer.result == Result(2001)
    answer = hsh.handle_udr(store, udr((REF.REPOSITORY_DATA,), indications=(b"mmtel",)), ORIGIN)
    assert answer.user_data is not None
    (repo,) = sh.parse_sh_data(answer.user_data).repository_data
    assert (repo.service_indication, repo.sequence_number) == ("mmtel", 1)
    assert repo.service_data == "<cdiv>off</cdiv>"
    missing = hsh.handle_udr(store, udr((REF.REPOSITORY_DATA,), indications=(b"x",)), ORIGIN)
    assert missing.answer.result == Result(4100, experimental=True)

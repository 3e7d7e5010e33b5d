"""S6a handler decisions against a real SQLite store (TS 29.272 §5.2.1.1, §5.2.1.3, §5.2.3.1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hss import s6a as hs6a
from hss.identities import SubscriberSpec
from hss.store import Store
from hss.vectors import VectorService
from ims.auth.aka import AMF_SEPARATION_BIT, make_auts, plmn_id, usim_check
from ims.diameter import s6a
from ims.diameter.results import Envelope, Origin, Result

IMSI = "001010000000001"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")  # TS 35.208 test set 1
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
PLMN = plmn_id("001", "01")
EPC = "epc.mnc001.mcc001.3gppnetwork.org"
ORIGIN = Origin(f"hss.{EPC}", EPC)
MME = Envelope("mme;1;1", f"mme.{EPC}", EPC, EPC)


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    instance = Store(sqlite_url)
    instance.upgrade()
    instance.add_subscriber(SubscriberSpec(imsi=IMSI, k=K.hex(), opc=OPC.hex(), msisdn="10000001"))
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def vectors(store: Store) -> VectorService:
    return VectorService(store)


def test_air_vectors_carry_the_separation_bit_and_validate(vectors: VectorService) -> None:
    answer = hs6a.handle_air(vectors, s6a.Air(MME, IMSI, PLMN, number_of_vectors=2), ORIGIN)
    assert answer.answer.result == Result(2001)
    assert [v.item_number for v in answer.vectors] == [1, 2]
    vector = answer.vectors[0]
    assert vector.autn[6] & AMF_SEPARATION_BIT
    assert len(vector.kasme) == 32
    usim = usim_check(K, OPC, vector.rand, vector.autn, 0, require_separation_bit=True)
    assert usim.ok and usim.res == vector.xres


def test_air_unknown_imsi_is_5001(vectors: VectorService) -> None:
    answer = hs6a.handle_air(vectors, s6a.Air(MME, "001019999999999", PLMN), ORIGIN)
    assert answer.answer.result == Result(5001, experimental=True)
    assert answer.vectors == ()


def test_air_resync_good_and_bad_auts(vectors: VectorService) -> None:
    first = hs6a.handle_air(vectors, s6a.Air(MME, IMSI, PLMN), ORIGIN).vectors[0]
    auts = make_auts(K, OPC, first.rand, 1 << 30)
    good = hs6a.handle_air(vectors, s6a.Air(MME, IMSI, PLMN, resync_info=first.rand + auts),
                           ORIGIN)
    assert good.answer.result == Result(2001)
    assert usim_check(K, OPC, good.vectors[0].rand, good.vectors[0].autn, 1 << 30).ok
    bad = hs6a.handle_air(vectors, s6a.Air(MME, IMSI, PLMN,
                                           resync_info=first.rand + auts[:-1] + b"\0"), ORIGIN)
    assert bad.answer.result == Result(4181, experimental=True)


def test_air_store_failure_is_5012(tmp_path: Path) -> None:
    broken = Store(f"sqlite:///{tmp_path}")
    answer = hs6a.handle_air(VectorService(broken), s6a.Air(MME, IMSI, PLMN), ORIGIN)
    assert answer.answer.result == Result(5012)
    broken.close()


def test_ulr_returns_subscription_with_ims_apn_and_records_the_mme(store: Store) -> None:
    answer = hs6a.handle_ulr(store, s6a.Ulr(MME, IMSI, PLMN), ORIGIN)
    assert answer.answer.result == Result(2001)
    data = answer.subscription
    assert data is not None and data.apn_profile is not None
    assert data.msisdn == "10000001"
    apns = {apn.apn: apn for apn in data.apn_profile.configurations}
    assert set(apns) == {"internet", "ims"}
    assert apns["ims"].qos.qci == 5 and apns["internet"].qos.qci == 9
    assert data.apn_profile.context_identifier == apns["internet"].context_identifier
    assert store.get_subscriber(IMSI).mme_host == MME.origin_host


def test_ulr_skip_subscriber_data_and_unknown(store: Store) -> None:
    flags = s6a.UlrFlags.S6A_S6D_INDICATOR | s6a.UlrFlags.SKIP_SUBSCRIBER_DATA
    answer = hs6a.handle_ulr(store, s6a.Ulr(MME, IMSI, PLMN, flags=flags), ORIGIN)
    assert (answer.answer.result, answer.subscription) == (Result(2001), None)
    unknown = hs6a.handle_ulr(store, s6a.Ulr(MME, "001019999999999", PLMN), ORIGIN)
    assert unknown.answer.result == Result(5001, experimental=True)


def test_pur_clears_the_registered_mme_only(store: Store) -> None:
    hs6a.handle_ulr(store, s6a.Ulr(MME, IMSI, PLMN), ORIGIN)
    other = Envelope("mme2;1", f"mme2.{EPC}", EPC, EPC)
    assert hs6a.handle_pur(store, s6a.Pur(other, IMSI), ORIGIN).answer.result == Result(2001)
    assert store.get_subscriber(IMSI).mme_host == MME.origin_host
    answer = hs6a.handle_pur(store, s6a.Pur(MME, IMSI), ORIGIN)
    assert answer.flags == s6a.PuaFlags.FREEZE_M_TMSI
    assert store.get_subscriber(IMSI).mme_host is None

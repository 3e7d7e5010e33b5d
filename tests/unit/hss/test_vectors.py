"""The HSS AuC: vectors and resynchronisation through the store (TS 33.102 §6.3, TS 33.401 §6.1)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from hss.identities import SubscriberSpec
from hss.store import AuthSchemeError, NotFoundError, Store, ValidationError
from hss.vectors import VectorService
from ims.auth.aka import (
    AMF_SEPARATION_BIT,
    UsimStatus,
    generate_eutran_vector,
    generate_vector,
    make_auts,
    plmn_id,
    usim_check,
)
from ims.auth.sqn import IND_EPS, IND_IMS, SqnArray, make_sqn, split_sqn

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMSI = "001010000000001"
IMPI = f"{IMSI}@{DOMAIN}"
# TS 35.208 §4.3.1, Test Set 1 (K, OPc, AMF; RAND as the first drawn RAND).
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
AMF = bytes.fromhex("b9b9")
RAND = bytes.fromhex("23553cbe9637a89d218ae64dae47bf35")
PLMN = plmn_id("001", "01")


class Rands:
    """RAND source: TS 35.208 set 1 RAND, then RAND with its last octet counting up."""

    def __init__(self) -> None:
        self.drawn: list[bytes] = []

    def __call__(self, size: int) -> bytes:
        assert size == 16
        value = RAND[:-1] + bytes([(RAND[-1] + len(self.drawn)) % 256])
        self.drawn.append(value)
        return value


@pytest.fixture
def rands() -> Rands:
    return Rands()


@pytest.fixture
def service(store: Store, rands: Rands) -> Iterator[VectorService]:
    store.add_subscriber(SubscriberSpec(imsi=IMSI, k=K.hex(), opc=OPC.hex(), amf=AMF.hex(),
                                        msisdn="15551234", sqn=make_sqn(100, 0)))
    yield VectorService(store, random=rands)


def test_ims_vectors_use_provisioned_amf_and_ind_ims(service: VectorService, store: Store,
                                                     rands: Rands) -> None:
    vectors = service.ims_vectors(IMPI, 2)
    sqns = [make_sqn(101, IND_IMS), make_sqn(102, IND_IMS)]
    assert vectors == [generate_vector(K, OPC, AMF, sqn, rand)
                       for sqn, rand in zip(sqns, rands.drawn, strict=True)]
    assert vectors[0].autn[6:8] == AMF
    assert store.get_subscriber(IMSI).sqn == sqns[-1]


def test_first_ims_vector_matches_ts35208_set1_outputs(service: VectorService) -> None:
    (vector,) = service.ims_vectors(IMPI)
    # TS 35.208 §4.3.1: f2 (RES), f3 (CK), f4 (IK), f5 (AK) depend only on K, OPc, RAND.
    assert vector.rand == RAND
    assert vector.xres.hex() == "a54211d5e3ba50bf"
    assert vector.ck.hex() == "b40ba9a3c58b2a05bbf0d987b21bf8cb"
    assert vector.ik.hex() == "f769bcd751044604127672711c6d3441"
    assert vector.ak.hex() == "aa689c648370"


def test_usim_accepts_the_ims_vectors_in_order(service: VectorService) -> None:
    usim = SqnArray.starting_at(make_sqn(100, 0))
    for vector in service.ims_vectors(IMPI, 3):
        result = usim_check(K, OPC, vector.rand, vector.autn, usim.is_fresh, sqn_ms=usim.highest)
        assert result.status is UsimStatus.SUCCESS
        assert result.res == vector.xres
        assert result.sqn is not None and split_sqn(result.sqn)[1] == IND_IMS
        usim = usim.accept(result.sqn)


def test_eutran_vectors_set_the_separation_bit_and_ind_eps(service: VectorService,
                                                           rands: Rands) -> None:
    vectors = service.eutran_vectors(IMSI, 2, PLMN)
    sqns = [make_sqn(101, IND_EPS), make_sqn(102, IND_EPS)]
    assert vectors == [generate_eutran_vector(K, OPC, AMF, sqn, rand, PLMN)
                       for sqn, rand in zip(sqns, rands.drawn, strict=True)]
    assert all(vector.autn[6] & AMF_SEPARATION_BIT for vector in vectors)
    assert all(len(vector.kasme) == 32 for vector in vectors)


def test_eps_and_ims_vectors_interleaved_stay_fresh_for_the_usim(service: VectorService) -> None:
    """IND keeps an unused EPS vector fresh after IMS vectors were consumed (Annex C.2.2)."""
    eps = service.eutran_vectors(IMSI, 1, PLMN)[0]
    ims = service.ims_vectors(IMPI, 2)
    usim = SqnArray.starting_at(make_sqn(100, 0))
    for vector in ims:
        result = usim_check(K, OPC, vector.rand, vector.autn, usim.is_fresh, sqn_ms=usim.highest)
        assert result.ok and result.sqn is not None
        usim = usim.accept(result.sqn)
    late = usim_check(K, OPC, eps.rand, eps.autn, usim.is_fresh, sqn_ms=usim.highest,
                      require_separation_bit=True)
    assert late.status is UsimStatus.SUCCESS


def test_resync_with_good_auts_makes_the_next_vector_fresh(service: VectorService,
                                                           store: Store) -> None:
    sqn_ms = make_sqn(5000, IND_IMS)  # the USIM is far ahead (e.g. another HSS)
    stale = service.ims_vectors(IMPI)[0]
    usim = SqnArray.starting_at(sqn_ms)
    rejected = usim_check(K, OPC, stale.rand, stale.autn, usim.is_fresh, sqn_ms=usim.highest)
    assert rejected.status is UsimStatus.SYNC_FAILURE and rejected.auts is not None
    assert service.resync(IMPI, stale.rand, rejected.auts) is True
    assert store.get_subscriber(IMSI).sqn == make_sqn(5001, IND_IMS)
    fresh = service.ims_vectors(IMPI)[0]
    assert usim_check(K, OPC, fresh.rand, fresh.autn, usim.is_fresh,
                      sqn_ms=usim.highest).status is UsimStatus.SUCCESS


def test_resync_by_imsi_resets_with_ind_eps(service: VectorService, store: Store) -> None:
    auts = make_auts(K, OPC, RAND, make_sqn(777, IND_IMS))
    assert service.resync(IMSI, RAND, auts) is True
    assert store.get_subscriber(IMSI).sqn == make_sqn(778, IND_EPS)


def test_resync_with_bad_mac_s_is_rejected_and_leaves_sqn(
        service: VectorService, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    auts = bytearray(make_auts(K, OPC, RAND, make_sqn(9000, IND_IMS)))
    auts[-1] ^= 0x01
    assert service.resync(IMPI, RAND, bytes(auts)) is False
    assert store.get_subscriber(IMSI).sqn == make_sqn(100, 0)
    (entry,) = store.resync_history(IMSI)
    assert (entry.accepted, entry.sqn_ms) == (False, None)
    assert "MAC-S does not verify" in caplog.text


def test_resync_behind_the_hss_keeps_sqn(service: VectorService, store: Store) -> None:
    auts = make_auts(K, OPC, RAND, make_sqn(50, IND_IMS))
    assert service.resync(IMPI, RAND, auts) is True
    assert store.get_subscriber(IMSI).sqn == make_sqn(100, 0)


@pytest.mark.parametrize(("rand", "auts", "field"), [
    (RAND[:15], bytes(14), "rand"), (RAND, bytes(13), "auts")])
def test_resync_checks_lengths(service: VectorService, rand: bytes, auts: bytes,
                               field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        service.resync(IMPI, rand, auts)
    assert caught.value.field == field


@pytest.mark.parametrize("count", [0, 33])
def test_vector_count_is_bounded(service: VectorService, count: int) -> None:
    with pytest.raises(ValidationError) as caught:
        service.ims_vectors(IMPI, count)
    assert caught.value.field == "count"


def test_eutran_vectors_need_a_three_octet_plmn(service: VectorService) -> None:
    with pytest.raises(ValidationError) as caught:
        service.eutran_vectors(IMSI, 1, b"\x00\xf1")
    assert caught.value.field == "plmn"


def test_unknown_identities_are_not_found(service: VectorService) -> None:
    with pytest.raises(NotFoundError):
        service.ims_vectors(f"001019999999999@{DOMAIN}")
    with pytest.raises(NotFoundError):
        service.eutran_vectors("001019999999999", 1, PLMN)
    with pytest.raises(NotFoundError):
        service.resync("001019999999999", RAND, bytes(14))


def test_digest_identity_gets_ha1_and_no_vectors(service: VectorService, store: Store) -> None:
    store.add_subscriber(SubscriberSpec(imsi="001010000000002", msisdn="4242",
                                        impi="bob@example.org", digest_password="pw"))
    credentials = service.digest_credentials("bob@example.org")
    assert credentials.ha1 == hashlib.md5(f"bob@example.org:{DOMAIN}:pw".encode()).hexdigest()
    assert credentials.ha1 not in repr(credentials)
    with pytest.raises(AuthSchemeError):
        service.ims_vectors("bob@example.org")

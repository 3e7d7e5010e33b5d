"""Cx handler decisions against a real SQLite store (TS 29.228 §6.1-§6.3, TS 29.229 §6.2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hss import cx as hcx
from hss.identities import ImpuSpec, SubscriberSpec
from hss.models import RegistrationState
from hss.store import Store
from hss.vectors import VectorService
from ims.auth.aka import make_auts, usim_check
from ims.diameter import cx
from ims.diameter.cx import ServerAssignmentType as Sat
from ims.diameter.cx import UserAuthorizationType as Uat
from ims.diameter.results import Envelope, Origin, Result
from ims.diameter.userdata import parse_ims_subscription

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMSI = "001010000000001"
IMPI = f"{IMSI}@{DOMAIN}"
IMPU = f"sip:+10000001@{DOMAIN}"
BARRED = f"sip:{IMSI}@{DOMAIN}"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")  # TS 35.208 test set 1
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
SCSCF = f"sip:scscf.{DOMAIN}:6060"
ORIGIN = Origin(f"hss.{DOMAIN}", DOMAIN)
ENV = Envelope("icscf;1;1", f"icscf.{DOMAIN}", DOMAIN, DOMAIN)


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


def exp(code: int) -> Result:
    return Result(code, experimental=True)


def uar(impu: str = IMPU, impi: str = IMPI, kind: Uat = Uat.REGISTRATION) -> cx.Uar:
    return cx.Uar(ENV, impi, impu, DOMAIN, kind)


def mar(scheme: str = cx.AuthScheme.AKAV1_MD5, count: int = 1, impi: str = IMPI,
        authorization: bytes | None = None) -> cx.Mar:
    return cx.Mar(ENV, impi, IMPU, SCSCF, cx.AuthDataItem(scheme, authorization=authorization),
                  count)


def sar(kind: Sat, impus: tuple[str, ...] = (IMPU,)) -> cx.Sar:
    return cx.Sar(ENV, SCSCF, kind, impus, IMPI)


def test_uar_first_registration_returns_capabilities(store: Store) -> None:
    answer = hcx.handle_uar(store, uar(), ORIGIN)
    assert answer.answer.result == exp(2001)
    assert answer.server_name is None
    assert answer.server_capabilities == cx.ServerCapabilities()
    assert (answer.answer.origin_host, answer.answer.session_id) == (ORIGIN.host, "icscf;1;1")


def test_uar_after_sar_is_subsequent_with_server_name(store: Store) -> None:
    assert hcx.handle_sar(store, sar(Sat.REGISTRATION), ORIGIN).answer.result.code == 2001
    answer = hcx.handle_uar(store, uar(), ORIGIN)
    assert (answer.answer.result, answer.server_name) == (exp(2002), SCSCF)


def test_uar_unregistered_service_is_2003(store: Store) -> None:
    hcx.handle_sar(store, sar(Sat.UNREGISTERED_USER), ORIGIN)
    answer = hcx.handle_uar(store, uar(), ORIGIN)
    assert (answer.answer.result, answer.server_name) == (exp(2003), SCSCF)


def test_uar_unknown_and_mismatching_identities(store: Store) -> None:
    assert hcx.handle_uar(store, uar(impu=f"sip:nobody@{DOMAIN}"), ORIGIN).answer.result == exp(5001)
    assert hcx.handle_uar(store, uar(impi=f"nobody@{DOMAIN}"), ORIGIN).answer.result == exp(5001)
    store.add_subscriber(SubscriberSpec(imsi="001010000000002", k=K.hex(), opc=OPC.hex(),
                                        msisdn="10000002"))
    other = f"001010000000002@{DOMAIN}"
    assert hcx.handle_uar(store, uar(impi=other), ORIGIN).answer.result == exp(5002)


def test_uar_barred_only_set_is_authorization_rejected(store: Store) -> None:
    store.add_subscriber(SubscriberSpec(imsi="001010000000003", k=K.hex(), opc=OPC.hex(),
                                        impus=(ImpuSpec(f"sip:barred@{DOMAIN}", barred=True),)))
    answer = hcx.handle_uar(store, uar(f"sip:barred@{DOMAIN}", f"001010000000003@{DOMAIN}"), ORIGIN)
    assert answer.answer.result == Result(5003, experimental=False)


def test_uar_deregistration_of_unregistered_user_is_5003_experimental(store: Store) -> None:
    answer = hcx.handle_uar(store, uar(kind=Uat.DE_REGISTRATION), ORIGIN)
    assert answer.answer.result == exp(5003)


def test_store_failure_is_5012_never_5001(tmp_path: Path) -> None:
    broken = Store(f"sqlite:///{tmp_path}")  # a directory: every query fails
    answer = hcx.handle_uar(broken, uar(), ORIGIN)
    assert answer.answer.result == Result(5012, experimental=False)
    broken.close()


def test_mar_vectors_validate_on_the_usim_and_record_the_scscf(store: Store,
                                                                vectors: VectorService) -> None:
    answer = hcx.handle_mar(store, vectors, mar(count=3), ORIGIN)
    assert answer.answer.result == Result(2001)
    assert (answer.number_auth_items, answer.user_name) == (3, IMPI)
    assert [item.item_number for item in answer.auth_items] == [1, 2, 3]
    item = answer.auth_items[0]
    assert item.scheme == "Digest-AKAv1-MD5" and item.rand and item.autn
    usim = usim_check(K, OPC, item.rand, item.autn, 0)
    assert usim.ok and usim.res == item.authorization
    assert (usim.ck, usim.ik) == (item.confidentiality_key, item.integrity_key)
    registration = store.lookup_impu(IMPU).impu.registration
    assert registration.state == RegistrationState.NOT_REGISTERED
    assert registration.scscf is not None and registration.scscf.name == SCSCF
    assert hcx.handle_uar(store, uar(), ORIGIN).server_name == SCSCF


def test_mar_resync_from_auts_makes_the_next_vector_fresh(store: Store,
                                                          vectors: VectorService) -> None:
    first = hcx.handle_mar(store, vectors, mar(), ORIGIN).auth_items[0]
    assert first.rand and first.autn
    sqn_ms = 1 << 30
    auts = make_auts(K, OPC, first.rand, sqn_ms)
    after = hcx.handle_mar(store, vectors, mar(authorization=first.rand + auts), ORIGIN)
    assert after.answer.result == Result(2001)
    item = after.auth_items[0]
    assert item.rand and item.autn
    assert usim_check(K, OPC, item.rand, item.autn, sqn_ms).ok


def test_mar_resync_with_bad_mac_s_is_refused(store: Store, vectors: VectorService) -> None:
    first = hcx.handle_mar(store, vectors, mar(), ORIGIN).auth_items[0]
    assert first.rand
    auts = bytearray(make_auts(K, OPC, first.rand, 1 << 30))
    auts[-1] ^= 1
    answer = hcx.handle_mar(store, vectors, mar(authorization=first.rand + bytes(auts)), ORIGIN)
    assert answer.answer.result == Result(4001)
    assert answer.auth_items == ()


def test_mar_sip_digest_returns_ha1_only(store: Store, vectors: VectorService) -> None:
    store.add_subscriber(SubscriberSpec(imsi="001010000000004", msisdn="10000004",
                                        digest_password="secret"))
    impi = f"001010000000004@{DOMAIN}"
    request = cx.Mar(ENV, impi, f"sip:+10000004@{DOMAIN}", SCSCF,
                     cx.AuthDataItem(cx.AuthScheme.UNKNOWN))
    answer = hcx.handle_mar(store, vectors, request, ORIGIN)
    assert answer.answer.result == Result(2001)
    (item,) = answer.auth_items
    assert item.scheme == "SIP Digest" and item.digest is not None
    assert item.authenticate is None and item.authorization is None
    assert len(item.digest.ha1) == 32 and item.digest.realm == DOMAIN
    aka = cx.Mar(ENV, impi, f"sip:+10000004@{DOMAIN}", SCSCF,
                 cx.AuthDataItem(cx.AuthScheme.AKAV1_MD5))
    assert hcx.handle_mar(store, vectors, aka, ORIGIN).answer.result == exp(5006)


def test_sar_registration_returns_profile_with_non_barred_first(store: Store) -> None:
    answer = hcx.handle_sar(store, sar(Sat.REGISTRATION, (BARRED,)), ORIGIN)
    assert (answer.answer.result, answer.user_name) == (Result(2001), IMPI)
    assert answer.user_data is not None
    profile = parse_ims_subscription(answer.user_data)
    assert profile.private_id == IMPI
    identities = profile.service_profiles[0].public_identities
    assert not identities[0].barred
    assert {(i.identity, i.barred) for i in identities} == {
        (BARRED, True), (IMPU, False), ("tel:+10000001", False)}
    assert store.lookup_impu(IMPU).impu.registration.state == RegistrationState.REGISTERED


def test_sar_deregistration_clears_the_assignment(store: Store) -> None:
    hcx.handle_sar(store, sar(Sat.REGISTRATION), ORIGIN)
    answer = hcx.handle_sar(store, sar(Sat.USER_DEREGISTRATION), ORIGIN)
    assert (answer.answer.result, answer.user_data) == (Result(2001), None)
    registration = store.lookup_impu(IMPU).impu.registration
    assert (registration.state, registration.scscf) == (RegistrationState.NOT_REGISTERED, None)
    assert hcx.handle_uar(store, uar(), ORIGIN).answer.result == exp(2001)


def test_sar_unknown_user_is_5001(store: Store) -> None:
    answer = hcx.handle_sar(store, sar(Sat.REGISTRATION, (f"sip:x@{DOMAIN}",)), ORIGIN)
    assert answer.answer.result == exp(5001)


def test_lir_registered_and_unregistered(store: Store) -> None:
    lir = cx.Lir(ENV, IMPU)
    unregistered = hcx.handle_lir(store, lir, ORIGIN)
    assert unregistered.answer.result == exp(2003)
    assert unregistered.server_capabilities == cx.ServerCapabilities()
    hcx.handle_sar(store, sar(Sat.REGISTRATION), ORIGIN)
    registered = hcx.handle_lir(store, lir, ORIGIN)
    assert (registered.answer.result, registered.server_name) == (Result(2001), SCSCF)
    assert hcx.handle_lir(store, cx.Lir(ENV, "tel:+999"), ORIGIN).answer.result == exp(5001)

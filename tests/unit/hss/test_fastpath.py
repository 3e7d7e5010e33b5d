"""The store fast path (hss.fastpath) gives the same answers as the ORM path, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hss import cx as hcx
from hss.fastpath import FastPath
from hss.identities import RegistrationRecord, ScscfAssignment, SubscriberSpec
from hss.models import AuthSchemeError, NotFoundError, RegistrationState, StoreError
from hss.store import SEQ_MAX, Store
from hss.vectors import VectorService
from ims.auth.sqn import IND_EPS, IND_IMS, make_sqn, split_sqn
from ims.diameter import cx
from ims.diameter.results import Envelope, Origin

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMSI = "001010000000001"
IMPI = f"{IMSI}@{DOMAIN}"
IMPU = f"sip:+10000001@{DOMAIN}"
K = "465b5ce8b199b49faa5f0a2ee238a6bc"  # TS 35.208 test set 1
OPC = "cd63cb71954a9f4e48a5994e37a02baf"
SCSCF = ScscfAssignment(f"sip:scscf.{DOMAIN}:6060", f"scscf.{DOMAIN}", DOMAIN)
ORIGIN = Origin(f"hss.{DOMAIN}", DOMAIN)
ENV = Envelope("scscf;1;1", f"scscf.{DOMAIN}", DOMAIN, DOMAIN)


@pytest.fixture
def fast(store: Store) -> FastPath:
    store.add_subscriber(SubscriberSpec(imsi=IMSI, k=K, opc=OPC, msisdn="10000001"))
    store.add_subscriber(SubscriberSpec(imsi="001010000000002", msisdn="10000002",
                                        digest_password="secret"))
    return FastPath(store)


def test_impu_context_matches_lookup_impu(store: Store, fast: FastPath) -> None:
    for registered in (False, True):
        if registered:
            store.set_registration(IMPU, RegistrationState.NOT_REGISTERED, impi=IMPI, scscf=SCSCF)
        found = store.lookup_impu(IMPU.upper().replace("SIP:", "sip:"))
        context = fast.impu_context(IMPU.replace(DOMAIN, DOMAIN.upper()))
        assert context is not None
        assert (context.impu, context.impi, context.state) == (
            found.impu.impu, found.impi, found.impu.registration.state)
        assert [m.impu for m in context.members] == [m.impu for m in found.implicit_set]
        assert [m.scscf for m in context.members] == [
            m.registration.scscf for m in found.implicit_set]
        assert context.assigned_to(SCSCF) is registered
        assert not context.assigned_to(replace(SCSCF, host="other"))


def test_impu_context_unknown_or_malformed_is_none(fast: FastPath) -> None:
    assert fast.impu_context(f"sip:nobody@{DOMAIN}") is None
    assert fast.impu_context("not a uri") is None


def test_allocate_matches_the_orm_path(store: Store, fast: FastPath) -> None:
    by_imsi = fast.allocate(IND_EPS, 2, imsi=IMSI)
    by_impi = fast.allocate(IND_IMS, 1, impi=IMPI.replace(DOMAIN, DOMAIN.upper()))
    assert by_imsi is not None and by_impi is not None
    assert by_imsi.keys == store.auth_keys(IMSI) == store.auth_keys_for_impi(IMPI)
    assert by_impi.keys == by_imsi.keys
    orm = store.allocate_sqns(IMSI, IND_IMS, 1)
    assert by_imsi.sqns == (make_sqn(1, IND_EPS), make_sqn(2, IND_EPS))
    assert by_impi.sqns == (make_sqn(3, IND_IMS),)
    assert orm == [make_sqn(4, IND_IMS)]
    assert store.get_subscriber(IMSI).sqn == make_sqn(4, IND_IMS)


def test_allocate_refuses_what_the_orm_path_refuses(store: Store, fast: FastPath) -> None:
    assert fast.allocate(IND_EPS, 1, imsi="001019999999999") is None
    assert fast.allocate(IND_IMS, 1, impi=f"nobody@{DOMAIN}") is None
    assert fast.allocate(IND_IMS, 1, impi=f"001010000000002@{DOMAIN}") is None
    with pytest.raises(AuthSchemeError):
        store.auth_keys_for_impi(f"001010000000002@{DOMAIN}")
    store.resync_sqn(IMSI, make_sqn(SEQ_MAX - 2, 0), IND_EPS)
    before = store.get_subscriber(IMSI).sqn
    assert fast.allocate(IND_EPS, 2, imsi=IMSI) is None
    with pytest.raises(StoreError):
        store.allocate_sqns(IMSI, IND_EPS, 2)
    assert store.get_subscriber(IMSI).sqn == before
    assert split_sqn(before)[0] == SEQ_MAX - 1


def test_vector_service_errors_are_unchanged(store: Store, fast: FastPath) -> None:
    vectors = VectorService(store)
    with pytest.raises(NotFoundError):
        vectors.eutran_vectors("001019999999999", 1, b"\x00\xf1\x10")
    with pytest.raises(NotFoundError):
        vectors.ims_vectors(f"nobody@{DOMAIN}")
    with pytest.raises(AuthSchemeError):
        vectors.ims_vectors(f"001010000000002@{DOMAIN}")
    assert len(vectors.ims_vectors(IMPI, 3)) == 3


@pytest.mark.parametrize("impi, impu", [
    (IMPI, IMPU), (f"nobody@{DOMAIN}", IMPU), (IMPI, f"sip:nobody@{DOMAIN}"),
    (IMPI, f"sip:+10000002@{DOMAIN}"), (f"001010000000002@{DOMAIN}", f"sip:+10000002@{DOMAIN}"),
])
def test_handle_mar_fast_equals_orm(store: Store, fast: FastPath, impi: str, impu: str) -> None:
    vectors = VectorService(store, random=lambda n: bytes(n))
    for scheme in (cx.AuthScheme.AKAV1_MD5, cx.AuthScheme.UNKNOWN):
        request = cx.Mar(ENV, impi, impu, SCSCF.name, cx.AuthDataItem(scheme), 1)
        slow = hcx.handle_mar(store, vectors, request, ORIGIN)
        quick = hcx.handle_mar(store, vectors, request, ORIGIN, fast)
        assert quick.answer == slow.answer
        assert len(quick.auth_items) == len(slow.auth_items)
        assert [i.scheme for i in quick.auth_items] == [i.scheme for i in slow.auth_items]
        registration = store.lookup_impu(IMPU).impu.registration
        if impi == IMPI and impu == IMPU:
            assert registration.scscf == SCSCF and registration.impi == IMPI


def test_handle_mar_fast_keeps_a_registered_users_scscf(store: Store, fast: FastPath) -> None:
    store.set_registration(IMPU, RegistrationState.REGISTERED, impi=IMPI, scscf=SCSCF)
    request = cx.Mar(ENV, IMPI, IMPU, "sip:other.example", cx.AuthDataItem(cx.AuthScheme.AKAV1_MD5), 1)
    assert hcx.handle_mar(store, VectorService(store), request, ORIGIN, fast).answer.result.code == 2001
    registration = store.lookup_impu(IMPU).impu.registration
    assert (registration.state, registration.scscf) == (RegistrationState.REGISTERED, SCSCF)


def test_assign_writes_what_set_registration_writes(store: Store, fast: FastPath) -> None:
    expected = RegistrationRecord(RegistrationState.NOT_REGISTERED, IMPI, SCSCF)
    context = fast.impu_context(IMPU)
    assert context is not None and all(m.state is None for m in context.members)
    assert fast.assign(context, SCSCF)  # every row inserted
    assert [m.registration for m in store.lookup_impu(IMPU).implicit_set] == [expected] * 3
    other = replace(SCSCF, name="sip:other.example")
    store.set_registration(IMPU, RegistrationState.REGISTERED, impi=IMPI, scscf=other)
    context = fast.impu_context(IMPU)
    assert context is not None and fast.assign(context, SCSCF)  # every row updated
    assert [m.registration for m in store.lookup_impu(IMPU).implicit_set] == [expected] * 3


def test_assign_after_a_concurrent_insert_leaves_it_to_the_store(store: Store,
                                                                fast: FastPath) -> None:
    stale = fast.impu_context(IMPU)
    assert stale is not None
    store.set_registration(IMPU, RegistrationState.REGISTERED, impi=IMPI, scscf=SCSCF)
    assert not fast.assign(stale, replace(SCSCF, name="sip:other.example"))
    registration = store.lookup_impu(IMPU).impu.registration
    assert (registration.state, registration.scscf) == (RegistrationState.REGISTERED, SCSCF)

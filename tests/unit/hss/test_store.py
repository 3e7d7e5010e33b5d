"""The HSS subscriber store on a real SQLite file and a real PostgreSQL (TS 23.008, TS 33.102 C.1)."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hss.identities import (
    ApplicationServerSpec,
    FilterCriteriaSpec,
    ImpuSpec,
    ScscfAssignment,
    ServiceProfileSpec,
    SubscriberSpec,
    TriggerSpec,
)
from hss.models import Base, DefaultHandling, RegistrationState, SptKind
from hss.store import (
    AuthSchemeError,
    ConflictError,
    NotFoundError,
    OutOfSyncError,
    Store,
    StoreError,
    StoreUnavailable,
    ValidationError,
)
from ims.auth.sqn import IND_EPS, IND_IMS, make_sqn, next_sqn, sqn_after_resync

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMSI = "001010000000001"
MSISDN = "15551234"
IMPI = f"{IMSI}@{DOMAIN}"
# TS 35.208 §4.3.1, Test Set 1.
K_HEX = "465b5ce8b199b49faa5f0a2ee238a6bc"
OP_HEX = "cdc202d5123e20f62b6d676ac72cb318"
OPC_HEX = "cd63cb71954a9f4e48a5994e37a02baf"


def spec(**changes: object) -> SubscriberSpec:
    values: dict[str, object] = {"imsi": IMSI, "k": K_HEX, "opc": OPC_HEX, "msisdn": MSISDN}
    values.update(changes)
    return SubscriberSpec(**values)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- schema

def test_migrated_schema_matches_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_reaches_head_and_is_idempotent(store: Store) -> None:
    store.upgrade()
    assert store.current_revision() == "0001"
    assert store.service_profile("default").filter_criteria == ()


def test_sqlite_runs_wal_with_foreign_keys(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()


# --------------------------------------------------------------------------- subscribers

def test_add_subscriber_generates_the_identity_set(store: Store) -> None:
    record = store.add_subscriber(spec())
    (impi,) = record.private_identities
    assert impi.impi == IMPI
    assert [(u.impu, u.barred, u.service_profile) for u in impi.impus] == [
        (f"sip:{IMSI}@{DOMAIN}", True, "default"),
        (f"tel:+{MSISDN}", False, "default"),
        (f"sip:+{MSISDN}@{DOMAIN}", False, "default"),
    ]
    assert len(impi.implicit_sets) == 1
    assert record.k == bytes.fromhex(K_HEX)
    assert record.opc == bytes.fromhex(OPC_HEX)
    assert (record.amf, record.sqn, record.msisdn) == (b"\x80\x00", 0, MSISDN)
    assert [(a.name, a.context_id, a.qci, a.arp_priority, a.is_default) for a in record.apns] == [
        ("internet", 1, 9, 8, True), ("ims", 2, 5, 1, False)]


def test_get_subscriber_reads_back_what_was_added(store: Store) -> None:
    added = store.add_subscriber(spec())
    assert store.get_subscriber(IMSI) == added


def test_op_is_converted_to_opc(store: Store) -> None:
    record = store.add_subscriber(spec(opc=None, op=OP_HEX))
    assert record.opc == bytes.fromhex(OPC_HEX)


def test_subscriber_without_msisdn_gets_an_unbarred_imsi_identity(store: Store) -> None:
    record = store.add_subscriber(spec(msisdn=None))
    assert [(u.impu, u.barred) for u in record.private_identities[0].impus] == [
        (f"sip:{IMSI}@{DOMAIN}", False)]


def test_list_subscribers_orders_by_imsi_and_pages(store: Store) -> None:
    for imsi, msisdn in (("001010000000003", "103"), ("001010000000002", "102"),
                         ("001010000000001", "101")):
        store.add_subscriber(spec(imsi=imsi, msisdn=msisdn))
    assert [s.imsi for s in store.list_subscribers()] == [
        "001010000000001", "001010000000002", "001010000000003"]
    assert [s.imsi for s in store.list_subscribers(offset=1, limit=1)] == ["001010000000002"]


def test_delete_subscriber_removes_its_identities(store: Store) -> None:
    store.add_subscriber(spec())
    store.delete_subscriber(IMSI)
    with pytest.raises(NotFoundError):
        store.get_subscriber(IMSI)
    with pytest.raises(NotFoundError):
        store.lookup_impu(f"tel:+{MSISDN}")
    with pytest.raises(NotFoundError):
        store.identities_for_impi(IMPI)
    store.add_subscriber(spec())  # every unique value is free again
    with pytest.raises(NotFoundError):
        store.delete_subscriber("001019999999999")


@pytest.mark.parametrize(("changes", "field"), [
    ({"k": "465b5ce8b199b49faa5f0a2ee238a6b"}, "k"),
    ({"k": "465b5ce8b199b49faa5f0a2ee238a6bcd0"}, "k"),
    ({"opc": "zz63cb71954a9f4e48a5994e37a02baf"}, "opc"),
    ({"opc": None}, "opc"),
    ({"op": OP_HEX}, "opc"),
    ({"op": "cdc2", "opc": None}, "op"),
    ({"k": None}, "k"),
    ({"amf": "80"}, "amf"),
    ({"imsi": "00101abc"}, "imsi"),
    ({"msisdn": "12a4"}, "msisdn"),
    ({"sqn": 1 << 48}, "sqn"),
    ({"domain": "bad domain"}, "domain"),
    ({"impus": (ImpuSpec("mailto:x@y"),)}, "impus[0]"),
    ({"service_profile": "gold"}, "service_profile"),
])
def test_invalid_fields_are_named(store: Store, changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        store.add_subscriber(spec(**changes))
    assert caught.value.field == field
    assert store.list_subscribers() == []


@pytest.mark.parametrize(("changes", "field"), [
    ({}, "imsi"),
    ({"imsi": "001010000000002"}, "msisdn"),
    ({"imsi": "001010000000002", "msisdn": "999", "impi": IMPI}, "impi"),
    ({"imsi": "001010000000002", "msisdn": "999",
      "impus": (ImpuSpec(f"tel:+{MSISDN}"),)}, "impus"),
])
def test_duplicates_are_rejected_naming_the_field(store: Store, changes: dict[str, object],
                                                  field: str) -> None:
    store.add_subscriber(spec())
    with pytest.raises(ConflictError) as caught:
        store.add_subscriber(spec(**changes))
    assert caught.value.field == field


# --------------------------------------------------------------------------- lookups

def test_lookup_impu_normalises_scheme_host_and_parameters(store: Store) -> None:
    store.add_subscriber(spec())
    found = store.lookup_impu(f"SIP:+{MSISDN}@IMS.MNC001.MCC001.3GPPNETWORK.ORG;user=phone")
    assert found.impu.impu == f"sip:+{MSISDN}@{DOMAIN}"
    assert (found.impi, found.imsi) == (IMPI, IMSI)
    assert [u.impu for u in found.implicit_set] == [
        f"sip:{IMSI}@{DOMAIN}", f"tel:+{MSISDN}", f"sip:+{MSISDN}@{DOMAIN}"]


@pytest.mark.parametrize("impu", ["tel:+19999", "not a uri", "sip:nobody@example.org"])
def test_lookup_of_unknown_or_malformed_impu_is_not_found(store: Store, impu: str) -> None:
    store.add_subscriber(spec())
    with pytest.raises(NotFoundError) as caught:
        store.lookup_impu(impu)
    assert caught.value.kind == "IMPU"


def test_identities_for_impi_ignores_realm_case(store: Store) -> None:
    store.add_subscriber(spec())
    record = store.identities_for_impi(f"{IMSI}@IMS.mnc001.mcc001.3gppnetwork.org")
    assert record.impi == IMPI
    assert record.imsi == IMSI
    assert len(record.impus) == 3


def test_auth_keys_by_imsi_and_by_impi(store: Store) -> None:
    store.add_subscriber(spec(amf="b9b9"))
    by_imsi = store.auth_keys(IMSI)
    assert store.auth_keys_for_impi(IMPI) == by_imsi
    assert (by_imsi.imsi, by_imsi.k.hex(), by_imsi.opc.hex(), by_imsi.amf) == (
        IMSI, K_HEX, OPC_HEX, b"\xb9\xb9")
    assert K_HEX not in repr(by_imsi)


def test_digest_identity_stores_ha1_and_refuses_aka(store: Store) -> None:
    store.add_subscriber(spec(imsi="001010000000009", k=None, opc=None, msisdn="4242",
                              impi="alice@example.org", digest_password="secret"))
    credentials = store.digest_credentials("alice@example.org")
    expected = hashlib.md5(f"alice@example.org:{DOMAIN}:secret".encode()).hexdigest()
    assert (credentials.realm, credentials.ha1) == (DOMAIN, expected)
    with pytest.raises(AuthSchemeError):
        store.auth_keys_for_impi("alice@example.org")
    with pytest.raises(AuthSchemeError):
        store.auth_keys("001010000000009")


def test_aka_identity_has_no_digest_credentials(store: Store) -> None:
    store.add_subscriber(spec())
    with pytest.raises(AuthSchemeError):
        store.digest_credentials(IMPI)


# --------------------------------------------------------------------------- infrastructure errors

def test_unreachable_postgresql_is_unavailable_not_unknown() -> None:
    store = Store("postgresql+psycopg://hss@/hss?host=/nonexistent-ims-socket&port=1")
    with pytest.raises(StoreUnavailable) as caught:
        store.get_subscriber(IMSI)
    assert not isinstance(caught.value, NotFoundError)
    store.close()


def test_corrupt_sqlite_file_is_unavailable_not_unknown(tmp_path: object) -> None:
    path = f"{tmp_path}/garbage.sqlite"
    with open(path, "wb") as handle:
        handle.write(b"this is not an sqlite database" * 100)
    store = Store(f"sqlite:///{path}")
    with pytest.raises(StoreUnavailable):
        store.auth_keys_for_impi(IMPI)
    with pytest.raises(StoreUnavailable):
        store.upgrade()
    store.close()


# --------------------------------------------------------------------------- SQN

def test_allocated_sqns_increment_seq_and_carry_ind(store: Store) -> None:
    store.add_subscriber(spec(sqn=make_sqn(41, 7)))
    assert store.next_vector_sqn(IMSI, IND_IMS) == make_sqn(42, IND_IMS)
    assert store.next_vector_sqn(IMSI, IND_EPS) == make_sqn(43, IND_EPS)
    assert store.allocate_sqns(IMSI, IND_IMS, 3) == [make_sqn(s, IND_IMS) for s in (44, 45, 46)]
    assert store.get_subscriber(IMSI).sqn == make_sqn(46, IND_IMS)


def test_allocation_follows_next_sqn(store: Store) -> None:
    current = make_sqn(1000, 3)
    store.add_subscriber(spec(sqn=current))
    for ind in (IND_IMS, IND_EPS, IND_IMS):
        current = next_sqn(current, ind)
        assert store.next_vector_sqn(IMSI, ind) == current


def test_allocation_for_unknown_imsi_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.next_vector_sqn(IMSI, IND_IMS)


@pytest.mark.parametrize(("ind", "count", "field"), [(32, 1, "ind"), (-1, 1, "ind"),
                                                     (1, 0, "count"), (1, 33, "count")])
def test_allocation_arguments_are_checked(store: Store, ind: int, count: int, field: str) -> None:
    store.add_subscriber(spec())
    with pytest.raises(ValidationError) as caught:
        store.allocate_sqns(IMSI, ind, count)
    assert caught.value.field == field


def test_exhausted_seq_is_refused_without_changing_sqn(store: Store) -> None:
    last = make_sqn((1 << 43) - 1, 0)
    store.add_subscriber(spec(sqn=last))
    with pytest.raises(StoreError) as caught:
        store.next_vector_sqn(IMSI, IND_IMS)
    assert not isinstance(caught.value, NotFoundError)
    assert store.get_subscriber(IMSI).sqn == last


def test_resync_moves_sqn_past_sqn_ms(store: Store) -> None:
    store.add_subscriber(spec(sqn=make_sqn(10, IND_IMS)))
    sqn_ms = make_sqn(500, IND_EPS)
    after = store.resync_sqn(IMSI, sqn_ms, IND_IMS, rand=b"r" * 16, auts=b"a" * 14)
    assert after == make_sqn(501, IND_IMS) == sqn_after_resync(sqn_ms, make_sqn(10, 1))
    assert store.get_subscriber(IMSI).sqn == after
    assert store.next_vector_sqn(IMSI, IND_IMS) == make_sqn(502, IND_IMS)
    (entry,) = store.resync_history(IMSI)
    assert (entry.accepted, entry.sqn_ms, entry.sqn_before, entry.sqn_after) == (
        True, sqn_ms, make_sqn(10, IND_IMS), after)


def test_resync_never_moves_sqn_backwards(store: Store) -> None:
    ahead = make_sqn(900, IND_IMS)
    store.add_subscriber(spec(sqn=ahead))
    sqn_ms = make_sqn(800, IND_IMS)
    assert store.resync_sqn(IMSI, sqn_ms, IND_IMS) == ahead == sqn_after_resync(sqn_ms, ahead)
    assert store.get_subscriber(IMSI).sqn == ahead


def test_failed_resync_is_logged_and_leaves_sqn(store: Store) -> None:
    store.add_subscriber(spec(sqn=make_sqn(7, IND_IMS)))
    store.record_failed_resync(IMSI, b"r" * 16, b"a" * 14)
    assert store.get_subscriber(IMSI).sqn == make_sqn(7, IND_IMS)
    (entry,) = store.resync_history(IMSI)
    assert (entry.accepted, entry.sqn_ms, entry.sqn_after) == (False, None, make_sqn(7, 1))


def test_resync_log_keeps_the_last_twenty(store: Store) -> None:
    store.add_subscriber(spec())
    for seq in range(25):
        store.resync_sqn(IMSI, make_sqn(seq * 10, 0), IND_IMS)
    history = store.resync_history(IMSI)
    assert len(history) == 20
    assert history[0].sqn_ms == make_sqn(240, 0)
    assert history[-1].sqn_ms == make_sqn(50, 0)


THREADS = 8
PER_THREAD = 200


def test_parallel_allocation_never_duplicates_an_sqn(store_url: str, store: Store) -> None:
    """8 workers, each with its own engine (like 8 HSS processes), 200 SQNs each."""
    store.add_subscriber(spec())
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def worker(index: int) -> None:
        own = Store(store_url)
        try:
            barrier.wait()
            results[index] = [own.next_vector_sqn(IMSI, index % 2) for _ in range(PER_THREAD)]
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    allocated = [sqn for sqns in results.values() for sqn in sqns]
    assert len(allocated) == len(set(allocated)) == THREADS * PER_THREAD
    assert sorted(sqn >> 5 for sqn in allocated) == list(range(1, THREADS * PER_THREAD + 1))
    for index, sqns in results.items():
        assert {sqn & 0x1F for sqn in sqns} == {index % 2}
        assert sqns == sorted(sqns)
    assert store.get_subscriber(IMSI).sqn == max(allocated)


def test_naive_read_then_write_would_duplicate(store_url: str, store: Store) -> None:
    """Why allocation is one statement: two read-then-write clients interleaved."""
    store.add_subscriber(spec())
    plain = sa.create_engine(store_url)  # the driver's default transaction handling
    select_sqn = sa.text("SELECT sqn FROM subscription WHERE imsi = :imsi")
    write_sqn = sa.text("UPDATE subscription SET sqn = :sqn WHERE imsi = :imsi")
    with plain.connect() as first, plain.connect() as second:
        read_first = first.execute(select_sqn, {"imsi": IMSI}).scalar_one()
        read_second = second.execute(select_sqn, {"imsi": IMSI}).scalar_one()
        allocated = []
        for connection, current in ((first, read_first), (second, read_second)):
            allocated.append(next_sqn(current, IND_IMS))
            connection.execute(write_sqn, {"sqn": allocated[-1], "imsi": IMSI})
            connection.commit()
    plain.dispose()
    assert allocated[0] == allocated[1] == make_sqn(1, IND_IMS)


# --------------------------------------------------------------------------- Cx / S6a state

def test_registration_applies_to_the_implicit_set(store: Store) -> None:
    store.add_subscriber(spec())
    scscf = ScscfAssignment(f"sip:scscf.{DOMAIN}:6060", f"scscf.{DOMAIN}", DOMAIN)
    updated = store.set_registration(f"sip:{IMSI}@{DOMAIN}", RegistrationState.REGISTERED,
                                     impi=IMPI, scscf=scscf)
    assert updated == (f"sip:{IMSI}@{DOMAIN}", f"tel:+{MSISDN}", f"sip:+{MSISDN}@{DOMAIN}")
    for member in store.lookup_impu(f"tel:+{MSISDN}").implicit_set:
        assert member.registration.state is RegistrationState.REGISTERED
        assert member.registration.scscf == scscf
        assert member.registration.impi == IMPI
    store.set_registration(f"tel:+{MSISDN}", RegistrationState.NOT_REGISTERED)
    registration = store.lookup_impu(f"sip:{IMSI}@{DOMAIN}").impu.registration
    assert (registration.state, registration.scscf, registration.impi) == (
        RegistrationState.NOT_REGISTERED, None, None)


def test_registration_of_unknown_impu_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.set_registration("tel:+1", RegistrationState.REGISTERED)


def test_update_mme_returns_the_previous_one(store: Store) -> None:
    stamp = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    clocked = Store(store.engine.url.render_as_string(hide_password=False), clock=lambda: stamp)
    clocked.add_subscriber(spec())
    assert clocked.update_mme(IMSI, "mme1.epc", "epc.realm") == (None, None)
    assert clocked.update_mme(IMSI, "mme2.epc", "epc.realm") == ("mme1.epc", "epc.realm")
    record = clocked.get_subscriber(IMSI)
    assert (record.mme_host, record.mme_realm) == ("mme2.epc", "epc.realm")
    clocked.close()


# --------------------------------------------------------------------------- Sh repository data

def test_repository_data_follows_sequence_numbers(store: Store) -> None:
    store.add_subscriber(spec())
    impu = f"sip:+{MSISDN}@{DOMAIN}"
    assert store.repository_data(impu, "mmtel") is None
    with pytest.raises(OutOfSyncError):
        store.put_repository_data(impu, "mmtel", 1, b"<x/>")
    store.put_repository_data(impu, "mmtel", 0, b"<a/>")
    with pytest.raises(OutOfSyncError):
        store.put_repository_data(impu, "mmtel", 0, b"<b/>")
    store.put_repository_data(impu, "mmtel", 1, b"<b/>")
    record = store.repository_data(impu, "mmtel")
    assert record is not None
    assert (record.sequence_number, record.data) == (1, b"<b/>")
    store.put_repository_data(impu, "mmtel", 2, None)
    assert store.repository_data(impu, "mmtel") is None


def test_repository_sequence_wraps_from_65535_to_1(store: Store) -> None:
    store.add_subscriber(spec())
    impu = f"tel:+{MSISDN}"
    store.put_repository_data(impu, "si", 0, b"0")
    with store.engine.begin() as connection:  # stand in for 65535 updates
        connection.exec_driver_sql("UPDATE repository_data SET sequence_number = 65535")
    with pytest.raises(OutOfSyncError):
        store.put_repository_data(impu, "si", 65536, b"x")
    store.put_repository_data(impu, "si", 1, b"1")
    record = store.repository_data(impu, "si")
    assert record is not None and record.sequence_number == 1


# --------------------------------------------------------------------------- shared objects

def _gold_profile() -> ServiceProfileSpec:
    return ServiceProfileSpec("gold", (
        FilterCriteriaSpec(10, "tas", (
            TriggerSpec(SptKind.METHOD, "INVITE"),
            TriggerSpec(SptKind.SESSION_CASE, "0", group=1),
            TriggerSpec(SptKind.SIP_HEADER, "urn%3Aurn-7", header="Accept-Contact",
                        negated=True, group=1),
        ), condition_type_cnf=True, profile_part_indicator=0),
        FilterCriteriaSpec(20, "tas", (
            TriggerSpec(SptKind.METHOD, "REGISTER", registration_type=0b011),)),
    ))


def test_service_profile_round_trip(store: Store) -> None:
    tas = ApplicationServerSpec("tas", "sip:tas.example.org:5070",
                                DefaultHandling.SESSION_TERMINATED, "svc",
                                include_register_request=True)
    store.add_application_server(tas)
    store.add_service_profile(_gold_profile())
    profile = store.service_profile("gold")
    assert [ifc.priority for ifc in profile.filter_criteria] == [10, 20]
    first = profile.filter_criteria[0]
    assert first.application_server == tas
    assert (first.condition_type_cnf, first.profile_part_indicator) == (True, 0)
    assert first.triggers == _gold_profile().filter_criteria[0].triggers
    assert profile.filter_criteria[1].triggers[0].registration_type == 0b011


def test_profile_in_use_cannot_be_deleted(store: Store) -> None:
    store.add_application_server(ApplicationServerSpec("tas", "sip:tas.example.org"))
    store.add_service_profile(_gold_profile())
    store.add_subscriber(spec(service_profile="gold"))
    assert store.lookup_impu(f"tel:+{MSISDN}").impu.service_profile == "gold"
    with pytest.raises(ConflictError):
        store.delete_service_profile("gold")
    store.delete_subscriber(IMSI)
    store.delete_service_profile("gold")
    with pytest.raises(NotFoundError):
        store.service_profile("gold")


def test_profile_with_unknown_application_server_is_rejected(store: Store) -> None:
    with pytest.raises(ValidationError) as caught:
        store.add_service_profile(_gold_profile())
    assert caught.value.field == "application_server"


def test_duplicate_application_server_is_a_conflict(store: Store) -> None:
    store.add_application_server(ApplicationServerSpec("tas", "sip:tas.example.org"))
    with pytest.raises(ConflictError):
        store.add_application_server(ApplicationServerSpec("tas", "sip:other.example.org"))

"""scscf.bindings: identity keys, records and the in-memory store."""

from __future__ import annotations

from scscf_fixtures import DOMAIN, IMPI, IMPU_IMSI, IMPU_SIP, IMPU_TEL, user_data

from ims.diameter.userdata import parse_ims_subscription
from scscf.bindings import Binding, MemoryBindingStore, Registration, RegState, identity_key


def _record() -> Registration:
    return Registration(
        IMPI, (IMPU_SIP, IMPU_IMSI, IMPU_TEL), RegState.REGISTERED,
        [Binding("sip:ue@10.0.0.1:5060", 200.0, "c1", 2, instance_id="urn:gsma:imei:1")],
        user_data(), parse_ims_subscription(user_data()),
    )


def test_identity_key_normalises_forms() -> None:
    assert identity_key("tel:+1-555-0001") == "tel:+15550001"
    assert identity_key(f"<sip:+15550001@{DOMAIN.upper()};user=phone>") == f"sip:+15550001@{DOMAIN}"
    assert identity_key("not a uri") == "not a uri"


def test_store_finds_record_by_any_identity_of_the_set() -> None:
    store = MemoryBindingStore()
    record = _record()
    store.put(record)
    assert store.get("tel:+1-555-0001") is record
    assert store.get(IMPU_SIP + ";user=phone") is record
    assert store.get(IMPU_IMSI) is record
    assert store.get(f"sip:someone@{DOMAIN}") is None
    assert store.all() == [record] and store.by_impi(IMPI) == [record]


def test_put_replaces_and_delete_unlinks() -> None:
    store = MemoryBindingStore()
    old = Registration(IMPI, (IMPU_IMSI,))
    store.put(old)
    new = _record()
    store.put(new)
    assert store.get(IMPU_IMSI) is new and store.all() == [new]
    store.delete(new)
    assert store.get(IMPU_TEL) is None and store.all() == []


def test_record_views() -> None:
    record = _record()
    assert record.associated_uris() == [IMPU_SIP, IMPU_TEL]
    assert [b.uri for b in record.active_bindings(199.0)] == ["sip:ue@10.0.0.1:5060"]
    assert record.active_bindings(200.0) == []
    assert record.bindings[0].remaining(150.5) == 49
    copy = record.copy()
    copy.bindings[0].expires_at = 1.0
    assert record.bindings[0].expires_at == 200.0


def test_same_contact_by_uri_or_instance() -> None:
    binding = _record().bindings[0]
    assert binding.same_contact("sip:ue@10.0.0.1:5060", None)
    assert binding.same_contact("sip:other@10.9.9.9", "urn:gsma:imei:1")
    assert not binding.same_contact("sip:ue@10.0.0.1:5061", None)

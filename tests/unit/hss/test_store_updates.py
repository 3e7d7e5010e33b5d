"""hss.updates and hss.profiles on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest

from hss import profiles
from hss.identities import (
    DEFAULT_APNS,
    ApplicationServerSpec,
    FilterCriteriaSpec,
    ServiceProfileSpec,
    SubscriberSpec,
    TriggerSpec,
)
from hss.models import AuthScheme, DefaultHandling, SptKind
from hss.store import ConflictError, NotFoundError, Store, ValidationError
from hss.updates import SubscriberChanges, search_subscribers, update_subscriber
from ims.auth.milenage import compute_opc

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMSI = "001010000000001"
MSISDN = "15551234"
K_HEX = "465b5ce8b199b49faa5f0a2ee238a6bc"
OP_HEX = "cdc202d5123e20f62b6d676ac72cb318"
OPC_HEX = "cd63cb71954a9f4e48a5994e37a02baf"
TEL = f"tel:+{MSISDN}"


def add(store: Store, imsi: str = IMSI, msisdn: str = MSISDN) -> None:
    store.add_subscriber(SubscriberSpec(imsi=imsi, k=K_HEX, opc=OPC_HEX, msisdn=msisdn))


def add_profile(store: Store, name: str = "voice") -> None:
    store.add_application_server(ApplicationServerSpec("tas", "sip:tas.ims.example:5060"))
    store.add_service_profile(ServiceProfileSpec(name, (FilterCriteriaSpec(
        0, "tas", (TriggerSpec(SptKind.METHOD, "INVITE"),)),)))


def test_scalar_and_eps_changes_report_what_changed(store: Store) -> None:
    add(store)
    result = update_subscriber(store, IMSI, SubscriberChanges(
        msisdn="15559999", amf="9001", sqn=64, ambr_ul=5000, access_restriction=32))
    record = result.subscriber
    assert (record.msisdn, record.amf, record.sqn, record.ambr_ul, record.ambr_dl,
            record.access_restriction) == ("15559999", bytes.fromhex("9001"), 64, 5000,
                                           100_000_000, 32)
    assert result.changed == {"msisdn", "amf", "sqn", "ambr_ul", "access_restriction"}
    assert result.eps_changed and not result.ims_changed
    assert store.get_subscriber(IMSI).msisdn == "15559999"


def test_unchanged_values_are_not_reported(store: Store) -> None:
    add(store)
    result = update_subscriber(store, IMSI, SubscriberChanges(msisdn=MSISDN, amf="8000",
                                                              apns=DEFAULT_APNS))
    assert result.changed == frozenset() and not result.eps_changed


def test_apns_are_replaced(store: Store) -> None:
    add(store)
    apn = DEFAULT_APNS[0]
    result = update_subscriber(store, IMSI, SubscriberChanges(apns=(apn,)))
    assert result.changed == {"apns"} and result.eps_changed
    assert [a.name for a in store.get_subscriber(IMSI).apns] == ["internet"]


def test_keys_opc_and_op(store: Store) -> None:
    add(store)
    new_k = "00112233445566778899aabbccddeeff"
    result = update_subscriber(store, IMSI, SubscriberChanges(k=new_k, op=OP_HEX))
    keys = store.auth_keys(IMSI)
    assert keys.k.hex() == new_k
    assert keys.opc == compute_opc(bytes.fromhex(new_k), bytes.fromhex(OP_HEX))
    assert result.changed == {"k", "opc"} and not result.eps_changed
    update_subscriber(store, IMSI, SubscriberChanges(opc=OPC_HEX))
    assert store.auth_keys(IMSI).opc.hex() == OPC_HEX


@pytest.mark.parametrize(("changes", "field"), [
    ({"k": "00"}, "k"), ({"k": K_HEX}, "opc"), ({"opc": "zz" * 16}, "opc"),
    ({"opc": OPC_HEX, "op": OP_HEX}, "opc"), ({"amf": "12345"}, "amf"), ({"sqn": -1}, "sqn"),
    ({"msisdn": "12"}, "msisdn"), ({"ambr_dl": 2**32}, "ambr_dl"),
    ({"barring": {"tel:+1999": True}}, "barring.tel:+1999"),
    ({"barring": {"bogus": True}}, "barring.bogus"),
    ({"service_profiles": {TEL: "nope"}}, f"service_profiles.{TEL}"),
    ({"auth_scheme": AuthScheme.DIGEST}, "digest_password"),
    ({"auth_scheme": AuthScheme.AKA, "digest_password": "x"}, "digest_password"),
    ({"digest_password": ""}, "digest_password"),
])
def test_invalid_changes_name_the_field_and_change_nothing(
        store: Store, changes: dict[str, object], field: str) -> None:
    add(store)
    before = store.get_subscriber(IMSI)
    with pytest.raises(ValidationError) as caught:
        update_subscriber(store, IMSI, SubscriberChanges(**changes))  # type: ignore[arg-type]
    assert caught.value.field == field
    assert store.get_subscriber(IMSI) == before


def test_unknown_subscriber_and_taken_msisdn(store: Store) -> None:
    add(store)
    add(store, "001010000000002", "15550002")
    with pytest.raises(NotFoundError):
        update_subscriber(store, "001019999999999", SubscriberChanges(amf="0000"))
    with pytest.raises(ConflictError) as caught:
        update_subscriber(store, IMSI, SubscriberChanges(msisdn="15550002"))
    assert caught.value.field == "msisdn"


def test_barring_and_profile_assignment_are_ims_changes(store: Store) -> None:
    add(store)
    add_profile(store)
    result = update_subscriber(store, IMSI, SubscriberChanges(
        barring={TEL: True}, service_profiles={TEL: "voice"}))
    assert result.changed == {"barring", "service_profiles"} and result.ims_changed
    impus = result.subscriber.private_identities[0].impus
    assert [(i.impu, i.barred, i.service_profile) for i in impus] == [
        (f"sip:{IMSI}@{DOMAIN}", True, "voice"), (TEL, True, "voice"),
        (f"sip:+{MSISDN}@{DOMAIN}", False, "voice")]


def test_digest_password_stored_as_ha1_and_back_to_aka(store: Store) -> None:
    add(store)
    impi = f"{IMSI}@{DOMAIN}"
    result = update_subscriber(store, IMSI, SubscriberChanges(digest_password="secret"))
    assert result.changed == {"auth_scheme"}
    expected = hashlib.md5(f"{impi}:{DOMAIN}:secret".encode()).hexdigest()
    assert store.digest_credentials(impi).ha1 == expected
    update_subscriber(store, IMSI, SubscriberChanges(auth_scheme=AuthScheme.AKA))
    assert store.auth_keys_for_impi(impi).k.hex() == K_HEX


def test_search_in_sql(store: Store) -> None:
    add(store)
    add(store, "001010000000002", "15550002")
    assert [r.imsi for r in search_subscribers(store, "0002")] == ["001010000000002"]
    assert [r.imsi for r in search_subscribers(store, "+1555123")] == [IMSI]
    assert [r.imsi for r in search_subscribers(store, "IMS.MNC001")] == [
        IMSI, "001010000000002"]
    assert [r.imsi for r in search_subscribers(store, "ims", limit=1, offset=1)] == [
        "001010000000002"]
    assert search_subscribers(store, "%") == []


def test_service_profile_replace_list_assign_delete(store: Store) -> None:
    add(store)
    add_profile(store)
    store.add_application_server(ApplicationServerSpec("voicemail", "sip:vm.ims.example"))
    new = ServiceProfileSpec("voice", (
        FilterCriteriaSpec(0, "voicemail", (TriggerSpec(SptKind.SESSION_CASE, "2"),)),
        FilterCriteriaSpec(5, "tas", (TriggerSpec(SptKind.SIP_HEADER, "reg", "Event", 1,
                                                  True),), condition_type_cnf=False)))
    record = profiles.replace_service_profile(store, new)
    assert [(f.priority, f.application_server.name) for f in record.filter_criteria] == [
        (0, "voicemail"), (5, "tas")]
    assert record.filter_criteria[1].triggers == (
        TriggerSpec(SptKind.SIP_HEADER, "reg", "Event", 1, True),)
    assert [p.name for p in profiles.list_service_profiles(store)] == ["default", "voice"]
    assert profiles.assign_service_profile(store, TEL, "voice") == (
        f"sip:{IMSI}@{DOMAIN}", TEL, f"sip:+{MSISDN}@{DOMAIN}")
    with pytest.raises(ConflictError) as caught:
        profiles.delete_service_profile(store, "voice")
    assert "still used by public identity" in str(caught.value)
    profiles.assign_service_profile(store, TEL, "default")
    profiles.delete_service_profile(store, "voice")
    with pytest.raises(NotFoundError):
        profiles.delete_service_profile(store, "voice")


def test_replace_unknown_profile_or_server(store: Store) -> None:
    add_profile(store)
    with pytest.raises(NotFoundError):
        profiles.replace_service_profile(store, ServiceProfileSpec("nope"))
    with pytest.raises(ValidationError) as caught:
        profiles.replace_service_profile(store, ServiceProfileSpec(
            "voice", (FilterCriteriaSpec(1, "ghost"),)))
    assert caught.value.field == "filter_criteria[0].application_server"
    with pytest.raises(NotFoundError):
        profiles.assign_service_profile(store, "tel:+1999", "voice")


def test_application_server_crud(store: Store) -> None:
    add_profile(store)
    updated = profiles.update_application_server(store, ApplicationServerSpec(
        "tas", "sip:tas2.ims.example", DefaultHandling.SESSION_TERMINATED, "info"))
    assert profiles.application_server(store, "tas") == updated
    assert updated.default_handling is DefaultHandling.SESSION_TERMINATED
    assert [s.name for s in profiles.list_application_servers(store)] == ["tas"]
    with pytest.raises(ConflictError) as caught:
        profiles.delete_application_server(store, "tas")
    assert caught.value.field == "application_server"
    profiles.replace_service_profile(store, ServiceProfileSpec("voice"))
    profiles.delete_application_server(store, "tas")
    with pytest.raises(NotFoundError):
        profiles.application_server(store, "tas")
    with pytest.raises(NotFoundError):
        profiles.update_application_server(store, ApplicationServerSpec("tas", "sip:x.y"))

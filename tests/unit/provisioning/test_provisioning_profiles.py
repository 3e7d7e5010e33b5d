"""Service profiles, application servers and subscriber PATCH over a real SQLite store."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from hss.store import Store
from ims.diameter.userdata import SessionCase, parse_ims_subscription
from provisioning.api import create_app

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"
IMSI = "001010000000001"
TAS = {"name": "tas", "server_name": "sip:tas.ims.example:5060", "default_handling": 1,
       "service_info": "mmtel"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    instance = Store(f"sqlite:///{tmp_path / 'hss.sqlite'}")
    instance.upgrade()
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def client(store: Store) -> FlaskClient:
    app = create_app(store, TOKEN)
    test_client = app.test_client()
    assert test_client.post("/api/v1/application-servers", json=TAS,
                            headers=AUTH).status_code == 201
    return test_client


def profile(**changes: Any) -> dict[str, Any]:
    return {"name": "voice", "ifcs": [{
        "priority": 0, "application_server": "tas",
        "trigger_point": {"condition_type_cnf": False, "spts": [
            {"group": 0, "method": "INVITE"},
            {"group": 0, "condition_negated": True,
             "sip_header": {"header": "Event", "content": "^reg"}},
            {"group": 1, "session_case": 1},
            {"group": 1, "request_uri": "sip:vm@ims.example"},
            {"group": 2, "session_description": {"line": "m", "content": "audio"}}]}}],
        **changes}


def call(client: FlaskClient, method: str, path: str, document: Any = None) -> Any:
    return client.open(f"/api/v1{path}", method=method, json=document, headers=AUTH)


def test_profile_crud_round_trip(client: FlaskClient) -> None:
    created = call(client, "POST", "/service-profiles", profile())
    assert created.status_code == 201
    assert created.headers["Location"] == "/api/v1/service-profiles/voice"
    [ifc] = created.get_json()["ifcs"]
    assert ifc["application_server"] == {**TAS, "include_register_request": False,
                                         "include_register_response": False}
    spts = ifc["trigger_point"]["spts"]
    assert ifc["trigger_point"]["condition_type_cnf"] is False
    assert spts[0] == {"group": 0, "condition_negated": False, "method": "INVITE",
                       "registration_type": None}
    assert spts[1]["sip_header"] == {"header": "Event", "content": "^reg"}
    assert spts[1]["condition_negated"] is True
    assert spts[2]["session_case"] == 1 and spts[3]["request_uri"] == "sip:vm@ims.example"
    assert spts[4]["session_description"] == {"line": "m", "content": "audio"}
    assert call(client, "GET", "/service-profiles/voice").get_json() == created.get_json()
    names = [p["name"] for p in call(client, "GET", "/service-profiles").get_json()[
        "service_profiles"]]
    assert names == ["default", "voice"]
    replaced = call(client, "PUT", "/service-profiles/voice", {"ifcs": [
        {"priority": 7, "application_server": "tas", "profile_part_indicator": 1}]})
    assert replaced.status_code == 200
    assert replaced.get_json()["ifcs"] == [{
        "priority": 7, "application_server": replaced.get_json()["ifcs"][0]["application_server"],
        "trigger_point": None, "profile_part_indicator": 1}]
    assert call(client, "DELETE", "/service-profiles/voice").status_code == 204
    assert call(client, "GET", "/service-profiles/voice").status_code == 404


def test_profile_xml_is_ts_29228_user_data(client: FlaskClient) -> None:
    call(client, "POST", "/service-profiles", profile())
    answer = client.get("/api/v1/service-profiles/voice/xml?impu=tel:%2B15550001",
                        headers=AUTH)
    assert answer.status_code == 200 and answer.mimetype == "application/xml"
    parsed = parse_ims_subscription(answer.get_data())
    assert parsed.private_id == f"user@{DOMAIN}"
    [block] = parsed.service_profiles
    assert block.public_identities[0].identity == "tel:+15550001"
    [ifc] = block.ifcs
    assert ifc.application_server.server_name == "sip:tas.ims.example:5060"
    assert ifc.application_server.service_info == "mmtel"
    assert ifc.trigger_point is not None and not ifc.trigger_point.condition_type_cnf
    assert ifc.trigger_point.spts[2].session_case is SessionCase.TERMINATING_REGISTERED
    root = ET.fromstring(answer.get_data())
    assert root.findtext("ServiceProfile/InitialFilterCriteria/ApplicationServer/"
                         "DefaultHandling") == "1"
    assert client.get("/api/v1/service-profiles/nope/xml", headers=AUTH).status_code == 404
    bad = client.get("/api/v1/service-profiles/voice/xml?impu=bogus", headers=AUTH)
    assert (bad.status_code, bad.get_json()["field"]) == (400, "impu")


SPT = "ifcs[0].trigger_point.spts"


@pytest.mark.parametrize(("spt", "field"), [
    ({"method": "IN VITE"}, f"{SPT}[1].method"),
    ({}, f"{SPT}[1].method"),
    ({"method": "INVITE", "session_case": 0}, f"{SPT}[1].session_case"),
    ({"session_case": 5}, f"{SPT}[1].session_case"),
    ({"session_case": "0"}, f"{SPT}[1].session_case"),
    ({"sip_header": {"content": "x"}}, f"{SPT}[1].sip_header.header"),
    ({"sip_header": {"header": "Event", "content": "(("}}, f"{SPT}[1].sip_header.content"),
    ({"session_description": {"line": "m", "content": "[a"}},
     f"{SPT}[1].session_description.content"),
    ({"method": "INVITE", "group": -1}, f"{SPT}[1].group"),
    ({"method": "INVITE", "registration_type": 3}, f"{SPT}[1].registration_type"),
    ({"method": "INVITE", "bogus": 1}, f"{SPT}[1].bogus"),
])
def test_spt_validation_names_the_field(client: FlaskClient, spt: dict[str, Any],
                                        field: str) -> None:
    document = profile()
    document["ifcs"][0]["trigger_point"]["spts"] = [{"method": "INVITE"}, spt]
    answer = call(client, "POST", "/service-profiles", document)
    assert answer.status_code == 400
    assert answer.get_json()["field"] == field
    assert answer.get_json()["error"].startswith(field)


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": "bad name"}, "name"),
    ({"name": None}, "name"),
    ({"ifcs": [{"priority": 0}]}, "ifcs[0].application_server"),
    ({"ifcs": [{"application_server": "tas"}]}, "ifcs[0].priority"),
    ({"ifcs": [{"priority": 0, "application_server": "ghost"}]}, "ifcs[0].application_server"),
    ({"ifcs": [{"priority": 1, "application_server": "tas"},
               {"priority": 1, "application_server": "tas"}]}, "ifcs"),
    ({"ifcs": [{"priority": 0, "application_server": "tas", "profile_part_indicator": 2}]},
     "ifcs[0].profile_part_indicator"),
    ({"ifcs": [{"priority": 0, "application_server": "tas",
                "trigger_point": {"spts": []}}]}, "ifcs[0].trigger_point.spts"),
    ({"ifcs": "x"}, "ifcs"),
])
def test_profile_validation_names_the_field(client: FlaskClient, changes: dict[str, Any],
                                            field: str) -> None:
    answer = call(client, "POST", "/service-profiles", profile(**changes))
    assert (answer.status_code, answer.get_json()["field"]) == (400, field)


def test_profile_conflicts_and_missing(client: FlaskClient) -> None:
    assert call(client, "POST", "/service-profiles", profile()).status_code == 201
    again = call(client, "POST", "/service-profiles", profile())
    assert (again.status_code, again.get_json()["field"]) == (409, "name")
    for method, path, document in (("GET", "/service-profiles/nope", None),
                                   ("PUT", "/service-profiles/nope", {"ifcs": []}),
                                   ("DELETE", "/service-profiles/nope", None)):
        answer = call(client, method, path, document)
        assert (answer.status_code, answer.get_json()["field"]) == (404, "name")
    renamed = call(client, "PUT", "/service-profiles/voice", {"name": "other", "ifcs": []})
    assert (renamed.status_code, renamed.get_json()["field"]) == (400, "name")
    missing = call(client, "PUT", "/service-profiles/voice", {})
    assert (missing.status_code, missing.get_json()["field"]) == (400, "ifcs")


def test_profile_in_use_is_409_until_unassigned(client: FlaskClient) -> None:
    call(client, "POST", "/service-profiles", profile())
    assert call(client, "POST", "/subscribers", {
        "imsi": IMSI, "k": K, "opc": OPC, "msisdn": "15550001",
        "service_profile": "voice"}).status_code == 201
    busy = call(client, "DELETE", "/service-profiles/voice")
    assert busy.status_code == 409 and "still used by public identity" in busy.get_json()["error"]
    server_busy = call(client, "DELETE", "/application-servers/tas")
    assert (server_busy.status_code, server_busy.get_json()["field"]) == (
        409, "application_server")
    patched = call(client, "PATCH", f"/subscribers/{IMSI}",
                   {"service_profiles": {"tel:+15550001": "default"}})
    assert patched.get_json()["changed"] == ["service_profiles"]
    assert call(client, "DELETE", "/service-profiles/voice").status_code == 204
    assert call(client, "DELETE", "/application-servers/tas").status_code == 204


def test_application_server_crud(client: FlaskClient) -> None:
    assert call(client, "GET", "/application-servers/tas").get_json()["default_handling"] == 1
    updated = call(client, "PUT", "/application-servers/tas", {
        "server_name": "sips:tas2.ims.example", "include_register_request": True})
    assert updated.status_code == 200
    assert updated.get_json() == {"name": "tas", "server_name": "sips:tas2.ims.example",
                                  "default_handling": 0, "service_info": None,
                                  "include_register_request": True,
                                  "include_register_response": False}
    listed = call(client, "GET", "/application-servers").get_json()["application_servers"]
    assert listed == [updated.get_json()]
    dup = call(client, "POST", "/application-servers", TAS)
    assert (dup.status_code, dup.get_json()["field"]) == (409, "name")
    assert call(client, "GET", "/application-servers/nope").status_code == 404
    assert call(client, "PUT", "/application-servers/nope",
                {"server_name": "sip:a.b"}).status_code == 404
    assert call(client, "DELETE", "/application-servers/nope").status_code == 404


@pytest.mark.parametrize(("document", "field"), [
    ({**TAS, "server_name": "http://x"}, "server_name"),
    ({**TAS, "default_handling": 2}, "default_handling"),
    ({**TAS, "name": ""}, "name"),
    ({k: v for k, v in TAS.items() if k != "server_name"}, "server_name"),
    ({**TAS, "extra": 1}, "extra"),
])
def test_application_server_validation(client: FlaskClient, document: dict[str, Any],
                                       field: str) -> None:
    document = {**document, "name": document.get("name", "x") or ""}
    if field != "name":
        document["name"] = "as2"
    answer = call(client, "POST", "/application-servers", document)
    assert (answer.status_code, answer.get_json()["field"]) == (400, field)


# --------------------------------------------------------------------------- PATCH subscriber

def add_subscriber(client: FlaskClient) -> None:
    assert call(client, "POST", "/subscribers", {
        "imsi": IMSI, "k": K, "opc": OPC, "msisdn": "15550001"}).status_code == 201


def test_patch_changes_and_reports(client: FlaskClient, store: Store) -> None:
    add_subscriber(client)
    answer = call(client, "PATCH", f"/subscribers/{IMSI}", {
        "msisdn": "15550009", "amf": "9000", "sqn": 96, "ambr_dl": 1000,
        "barring": {"tel:+15550001": True}, "apns": [
            {"name": "internet", "context_id": 1, "qci": 9, "arp_priority": 8,
             "is_default": True}]})
    assert answer.status_code == 200
    document = answer.get_json()
    assert document["changed"] == ["ambr_dl", "amf", "apns", "barring", "msisdn", "sqn"]
    assert document["notifications"] == []
    assert document["subscriber"]["msisdn"] == "15550009"
    assert document["subscriber"]["k"] == "*" * 28 + K[-4:]
    record = store.get_subscriber(IMSI)
    assert (record.msisdn, record.amf.hex(), record.sqn, record.ambr_dl) == (
        "15550009", "9000", 96, 1000)
    assert [a.name for a in record.apns] == ["internet"]
    assert record.private_identities[0].impus[1].barred is True


def test_patch_keys_and_include_keys(client: FlaskClient) -> None:
    add_subscriber(client)
    new_k, new_opc = "00" * 16, "11" * 16
    answer = call(client, "PATCH", f"/subscribers/{IMSI}", {"k": new_k, "opc": new_opc})
    assert answer.get_json()["changed"] == ["k", "opc"]
    assert new_k not in answer.get_data(as_text=True)
    masked = client.get(f"/api/v1/subscribers/{IMSI}", headers=AUTH).get_json()
    assert masked["k"] == "*" * 28 + "0000"
    full = client.get(f"/api/v1/subscribers/{IMSI}?include_keys=true", headers=AUTH).get_json()
    assert (full["k"], full["opc"]) == (new_k, new_opc)
    bad = client.get(f"/api/v1/subscribers/{IMSI}?include_keys=maybe", headers=AUTH)
    assert (bad.status_code, bad.get_json()["field"]) == (400, "include_keys")


@pytest.mark.parametrize(("document", "field"), [
    ({"k": "00"}, "k"), ({"k": K}, "opc"), ({"opc": "xyz"}, "opc"), ({"amf": "1"}, "amf"),
    ({"sqn": -1}, "sqn"), ({"sqn": "1"}, "sqn"), ({"msisdn": "1"}, "msisdn"),
    ({"ambr_ul": 2**32}, "ambr_ul"), ({"apns": [{"name": "x"}]}, "apns[0].arp_priority"),
    ({"barring": {"tel:+1999": True}}, "barring.tel:+1999"),
    ({"barring": {"tel:+15550001": "maybe"}}, "barring.tel:+15550001.value"),
    ({"service_profiles": {"tel:+15550001": "ghost"}}, "service_profiles.tel:+15550001"),
    ({"auth_scheme": "md5"}, "auth_scheme"), ({"auth_scheme": "digest"}, "digest_password"),
    ({"digest_password": ""}, "digest_password"), ({"imsi": "1"}, "imsi"),
])
def test_patch_validation_names_the_field(client: FlaskClient, document: dict[str, Any],
                                          field: str) -> None:
    add_subscriber(client)
    answer = call(client, "PATCH", f"/subscribers/{IMSI}", document)
    assert answer.status_code == 400
    assert answer.get_json()["field"] == field


def test_patch_unknown_conflict_and_body(client: FlaskClient) -> None:
    add_subscriber(client)
    assert call(client, "POST", "/subscribers", {"imsi": "001010000000002", "k": K, "opc": OPC,
                                                 "msisdn": "15550002"}).status_code == 201
    taken = call(client, "PATCH", f"/subscribers/{IMSI}", {"msisdn": "15550002"})
    assert (taken.status_code, taken.get_json()["field"]) == (409, "msisdn")
    unknown = call(client, "PATCH", "/subscribers/001019999999999", {"amf": "0000"})
    assert (unknown.status_code, unknown.get_json()["field"]) == (404, "imsi")
    not_object = call(client, "PATCH", f"/subscribers/{IMSI}", [1])
    assert (not_object.status_code, not_object.get_json()["field"]) == (400, "body")


def test_search_goes_through_sql(client: FlaskClient) -> None:
    add_subscriber(client)
    found = client.get("/api/v1/subscribers?q=TEL:%2B1555", headers=AUTH).get_json()
    assert [s["imsi"] for s in found["subscribers"]] == [IMSI]
    assert client.get("/api/v1/subscribers?q=nobody",
                      headers=AUTH).get_json()["subscribers"] == []


def test_openapi_covers_every_new_route(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json", headers=AUTH).get_json()["paths"]
    assert set(paths["/api/v1/subscribers/{imsi}"]) >= {"get", "patch", "delete"}
    assert set(paths["/api/v1/service-profiles"]) >= {"get", "post"}
    assert set(paths["/api/v1/service-profiles/{name}"]) >= {"get", "put", "delete"}
    assert set(paths["/api/v1/service-profiles/{name}/xml"]) == {"get", "parameters"}
    assert set(paths["/api/v1/application-servers/{name}"]) >= {"get", "put", "delete"}
    assert set(paths["/api/v1/subscribers/{imsi}/deregister"]) == {"post", "parameters"}
    assert set(paths["/api/v1/subscribers/{imsi}/push-profile"]) == {"post", "parameters"}
    params = paths["/api/v1/subscribers/{imsi}"]["get"]["parameters"]
    assert params[0]["name"] == "include_keys"

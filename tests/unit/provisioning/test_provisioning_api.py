"""provisioning.api: the REST API through Flask's test client over a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from hss.store import Store
from provisioning.api import create_app

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"
IMSI = "001010000000001"


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
    return create_app(store, TOKEN).test_client()


def body(**changes: Any) -> dict[str, Any]:
    return {"imsi": IMSI, "k": K, "opc": OPC, "amf": "8000", "msisdn": "15550001", **changes}


def post(client: FlaskClient, document: Any) -> Any:
    return client.post("/api/v1/subscribers", json=document, headers=AUTH)


def test_create_show_list_delete(client: FlaskClient, store: Store) -> None:
    created = post(client, body(sqn=32))
    assert created.status_code == 201
    assert created.headers["Location"] == f"/api/v1/subscribers/{IMSI}"
    document = created.get_json()
    assert (document["imsi"], document["msisdn"], document["amf"], document["sqn"]) == (
        IMSI, "15550001", "8000", 32)
    assert document["k"] == "*" * 28 + "a6bc" and document["opc"] == "*" * 28 + "2baf"
    assert K not in created.get_data(as_text=True) and OPC not in created.get_data(as_text=True)
    [impi] = document["private_identities"]
    assert impi["impi"] == f"{IMSI}@{DOMAIN}" and impi["auth_scheme"] == "aka"
    assert [(i["impu"], i["barred"]) for i in impi["implicit_sets"][0]] == [
        (f"sip:{IMSI}@{DOMAIN}", True), ("tel:+15550001", False),
        (f"sip:+15550001@{DOMAIN}", False)]
    assert [apn["name"] for apn in document["apns"]] == ["internet", "ims"]
    # the row really is in the SQLite file, keys intact
    stored = store.get_subscriber(IMSI)
    assert (stored.k, stored.opc, stored.sqn) == (bytes.fromhex(K), bytes.fromhex(OPC), 32)

    shown = client.get(f"/api/v1/subscribers/{IMSI}", headers=AUTH)
    assert shown.status_code == 200 and shown.get_json() == document

    listed = client.get("/api/v1/subscribers", headers=AUTH).get_json()
    assert [item["imsi"] for item in listed["subscribers"]] == [IMSI]
    assert (listed["limit"], listed["offset"], listed["next_offset"]) == (100, 0, None)

    deleted = client.delete(f"/api/v1/subscribers/{IMSI}", headers=AUTH)
    assert deleted.status_code == 204 and deleted.get_data() == b""
    assert client.get(f"/api/v1/subscribers/{IMSI}", headers=AUTH).status_code == 404
    assert store.list_subscribers() == []


def test_op_is_converted_and_identities_can_be_given(client: FlaskClient, store: Store) -> None:
    created = post(client, body(opc=None, op="cdc202d5123e20f62b6d676ac72cb318", msisdn=None,
                                impus=[{"impu": "sip:alice@example.org"}]))
    assert created.status_code == 201, created.get_json()
    # TS 35.208 test set 1: OP cdc2..b318 with K 465b..a6bc gives OPc cd63..2baf
    assert store.get_subscriber(IMSI).opc == bytes.fromhex(OPC)
    impus = created.get_json()["private_identities"][0]["implicit_sets"][0]
    assert [(i["impu"], i["barred"]) for i in impus] == [("sip:alice@example.org", False)]


def test_configured_domain_is_used(store: Store) -> None:
    client = create_app(store, TOKEN, domain="ims.example.net").test_client()
    document = post(client, body()).get_json()
    assert document["private_identities"][0]["impi"] == f"{IMSI}@ims.example.net"


@pytest.mark.parametrize(("changes", "field"), [
    ({"k": "00"}, "k"),
    ({"k": "zz" * 16}, "k"),
    ({"opc": "11" * 15}, "opc"),
    ({"op": "22" * 16}, "opc"),
    ({"amf": "80"}, "amf"),
    ({"imsi": "12ab"}, "imsi"),
    ({"imsi": 1234567}, "imsi"),
    ({"msisdn": "12"}, "msisdn"),
    ({"sqn": "10"}, "sqn"),
    ({"sqn": -1}, "sqn"),
    ({"impus": [{"barred": True}]}, "impus[0].impu"),
    ({"impus": [{"impu": "mailto:x"}]}, "impus[0]"),
    ({"apns": [{"name": "internet", "context_id": 1, "qci": 0, "arp_priority": 1}]},
     "apns[0].qci"),
    ({"colour": "blue"}, "colour"),
])
def test_each_validation_error_names_the_field(client: FlaskClient, store: Store,
                                               changes: dict[str, Any], field: str) -> None:
    answer = post(client, body(**changes))
    assert answer.status_code == 400
    error = answer.get_json()
    assert error["field"] == field and error["error"].startswith(f"{field}:")
    assert store.list_subscribers() == []


def test_missing_imsi_and_bad_body(client: FlaskClient) -> None:
    document = body()
    del document["imsi"]
    assert post(client, document).get_json() == {
        "error": "imsi: Missing data for required field.", "field": "imsi"}
    for raw in (b"not json", b"[1, 2]"):
        answer = client.post("/api/v1/subscribers", data=raw, headers=AUTH,
                             content_type="application/json")
        assert answer.status_code == 400 and answer.get_json()["field"] == "body"


def test_oversized_body_is_refused_before_parsing(client: FlaskClient) -> None:
    answer = client.post("/api/v1/subscribers", data=b"{" + b" " * 70_000 + b"}",
                         headers=AUTH, content_type="application/json")
    assert answer.status_code == 413 and "error" in answer.get_json()


def test_duplicates_conflict_naming_the_field(client: FlaskClient) -> None:
    assert post(client, body()).status_code == 201
    again = post(client, body())
    assert again.status_code == 409 and again.get_json()["field"] == "imsi"
    same_msisdn = post(client, body(imsi="001010000000002"))
    assert same_msisdn.status_code == 409 and same_msisdn.get_json()["field"] == "msisdn"


def test_unknown_subscriber_is_404(client: FlaskClient) -> None:
    for method in (client.get, client.delete):
        answer = method("/api/v1/subscribers/001019999999999", headers=AUTH)
        assert answer.status_code == 404
        assert answer.get_json() == {"error": "unknown IMSI '001019999999999'",
                                     "field": "imsi"}


def test_pagination_and_search(client: FlaskClient) -> None:
    for n in range(5):
        assert post(client, body(imsi=f"00101000000000{n}", msisdn=f"1555000{n}")).status_code == 201
    page = client.get("/api/v1/subscribers?limit=2&offset=1", headers=AUTH).get_json()
    assert [item["imsi"] for item in page["subscribers"]] == [
        "001010000000001", "001010000000002"]
    assert page["next_offset"] == 3
    last = client.get("/api/v1/subscribers?limit=2&offset=4", headers=AUTH).get_json()
    assert [item["imsi"] for item in last["subscribers"]] == ["001010000000004"]
    assert last["next_offset"] is None
    found = client.get("/api/v1/subscribers?q=tel:%2B15550003", headers=AUTH).get_json()
    assert [item["imsi"] for item in found["subscribers"]] == ["001010000000003"]
    for query, field in (("limit=0", "limit"), ("limit=x", "limit"), ("offset=-1", "offset")):
        answer = client.get(f"/api/v1/subscribers?{query}", headers=AUTH)
        assert answer.status_code == 400 and answer.get_json()["field"] == field


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer"])
def test_every_route_requires_the_token(client: FlaskClient, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    for method, path in (("POST", "/api/v1/subscribers"), ("GET", "/api/v1/subscribers"),
                         ("GET", f"/api/v1/subscribers/{IMSI}"),
                         ("DELETE", f"/api/v1/subscribers/{IMSI}"),
                         ("GET", "/api/v1/openapi.json")):
        answer = client.open(path, method=method, headers=headers, json=body())
        assert answer.status_code == 401, (method, path)
        assert answer.get_json()["field"] == "Authorization"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_store_failure_is_503(tmp_path: Path) -> None:
    unmigrated = Store(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    client = create_app(unmigrated, TOKEN).test_client()
    answer = client.get("/api/v1/subscribers", headers=AUTH)
    assert answer.status_code == 503
    assert answer.get_json() == {"error": "subscriber store unavailable", "field": None}
    unmigrated.close()


def test_wrong_method_is_json_405(client: FlaskClient) -> None:
    answer = client.put("/api/v1/subscribers", headers=AUTH)
    assert answer.status_code == 405 and "POST" in answer.headers["Allow"]
    assert "error" in answer.get_json()


def test_openapi_document_lists_paths_and_schemas(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json", headers=AUTH).get_json()
    assert document["openapi"] == "3.0.3"
    assert document["paths"]["/api/v1/subscribers"].keys() == {"get", "post"}
    assert document["paths"]["/api/v1/subscribers/{imsi}"].keys() >= {"get", "delete"}
    assert "/api/v1/openapi.json" in document["paths"]
    schemas = document["components"]["schemas"]
    assert {"Subscriber", "SubscriberCreate", "SubscriberList", "Error"} <= schemas.keys()
    assert schemas["SubscriberCreate"]["required"] == ["imsi"]
    assert "k" in schemas["SubscriberCreate"]["properties"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_empty_token_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="token"):
        create_app(store, "")

"""Network actions (deregister, push-profile) and PATCH/DELETE hooks over a real SQLite store.

A recording fake implements :class:`provisioning.actions.NetworkActions`; the
real RTR path to an S-CSCF is tested end to end elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from hss.identities import ScscfAssignment
from hss.models import RegistrationState
from hss.store import Store
from provisioning.actions import ActionResult, NetworkActions
from provisioning.api import create_app

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMSI = "001010000000001"
IMPI = f"{IMSI}@{DOMAIN}"
IMPUS = [f"sip:{IMSI}@{DOMAIN}", "tel:+15550001", f"sip:+15550001@{DOMAIN}"]
SCSCF = ScscfAssignment("sip:scscf.ims.example:6060", "scscf.ims.example", DOMAIN)


@dataclass
class RecordingActions:
    """Records every call; answers ``ok``."""

    ok: bool = True
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def _answer(self) -> ActionResult:
        return ActionResult(self.ok, "RTA 2001" if self.ok else "no answer",
                            2001 if self.ok else None)

    def deregister(self, impi: str, impus: list[str], reason: str) -> ActionResult:
        self.calls.append(("deregister", impi, ",".join(impus), reason))
        return self._answer()

    def push_profile(self, impi: str) -> ActionResult:
        self.calls.append(("push_profile", impi))
        return self._answer()

    def eps_data_changed(self, imsi: str) -> ActionResult:
        self.calls.append(("eps_data_changed", imsi))
        return self._answer()

    def subscriber_deleted(self, imsi: str) -> ActionResult:
        self.calls.append(("subscriber_deleted", imsi))
        return self._answer()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    instance = Store(f"sqlite:///{tmp_path / 'hss.sqlite'}")
    instance.upgrade()
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def fake() -> RecordingActions:
    return RecordingActions()


@pytest.fixture
def client(store: Store, fake: RecordingActions) -> FlaskClient:
    actions: NetworkActions = fake
    test_client = create_app(store, TOKEN, actions=actions).test_client()
    assert test_client.post("/api/v1/subscribers", headers=AUTH, json={
        "imsi": IMSI, "k": "00" * 16, "opc": "11" * 16, "msisdn": "15550001"}).status_code == 201
    return test_client


def register(store: Store) -> None:
    store.set_registration(IMPUS[0], RegistrationState.REGISTERED, impi=IMPI, scscf=SCSCF)


def post(client: FlaskClient, action: str, json: object = None, imsi: str = IMSI) -> object:
    return client.post(f"/api/v1/subscribers/{imsi}/{action}", json=json, headers=AUTH)


def test_deregister_calls_rtr_for_the_registered_set(client: FlaskClient, store: Store,
                                                     fake: RecordingActions) -> None:
    register(store)
    answer = client.post(f"/api/v1/subscribers/{IMSI}/deregister", headers=AUTH,
                         json={"reason": "SIM replaced"})
    assert answer.status_code == 200
    assert answer.get_json() == {"ok": True, "results": [
        {"impi": IMPI, "impus": IMPUS, "ok": True, "detail": "RTA 2001", "result_code": 2001}]}
    assert fake.calls == [("deregister", IMPI, ",".join(IMPUS), "SIM replaced")]


def test_deregister_without_body_uses_the_default_reason(client: FlaskClient, store: Store,
                                                         fake: RecordingActions) -> None:
    register(store)
    answer = client.post(f"/api/v1/subscribers/{IMSI}/deregister", headers=AUTH)
    assert answer.status_code == 200
    assert fake.calls[0][3] == "deregistered by the operator"


@pytest.mark.parametrize(("body", "field"), [
    ({"reason": ""}, "reason"), ({"reason": 5}, "reason"), ({"why": "x"}, "why"), ([1], "body"),
])
def test_deregister_body_validation(client: FlaskClient, store: Store, fake: RecordingActions,
                                    body: object, field: str) -> None:
    register(store)
    answer = client.post(f"/api/v1/subscribers/{IMSI}/deregister", headers=AUTH, json=body)
    assert (answer.status_code, answer.get_json()["field"]) == (400, field)
    assert fake.calls == []


@pytest.mark.parametrize("action", ["deregister", "push-profile"])
def test_not_registered_is_409(client: FlaskClient, fake: RecordingActions,
                               action: str) -> None:
    answer = client.post(f"/api/v1/subscribers/{IMSI}/{action}", headers=AUTH, json={})
    assert answer.status_code == 409
    assert answer.get_json() == {"error": f"subscriber {IMSI} is not registered at any S-CSCF",
                                 "field": "imsi"}
    assert fake.calls == []


@pytest.mark.parametrize("action", ["deregister", "push-profile"])
def test_unknown_subscriber_is_404(client: FlaskClient, action: str) -> None:
    answer = client.post(f"/api/v1/subscribers/001019999999999/{action}", headers=AUTH,
                         json={})
    assert (answer.status_code, answer.get_json()["field"]) == (404, "imsi")


@pytest.mark.parametrize("action", ["deregister", "push-profile"])
def test_actions_are_post_only(client: FlaskClient, action: str) -> None:
    answer = client.get(f"/api/v1/subscribers/{IMSI}/{action}", headers=AUTH)
    assert answer.status_code == 405


@pytest.mark.parametrize("action", ["deregister", "push-profile"])
def test_without_a_diameter_client_actions_are_503(store: Store, action: str) -> None:
    client = create_app(store, TOKEN).test_client()
    answer = client.post(f"/api/v1/subscribers/{IMSI}/{action}", headers=AUTH, json={})
    assert answer.status_code == 503
    assert "no Diameter client is attached" in answer.get_json()["error"]


def test_push_profile_and_refusal_is_502(client: FlaskClient, store: Store,
                                         fake: RecordingActions) -> None:
    register(store)
    answer = client.post(f"/api/v1/subscribers/{IMSI}/push-profile", headers=AUTH)
    assert answer.status_code == 200 and fake.calls == [("push_profile", IMPI)]
    fake.ok = False
    refused = client.post(f"/api/v1/subscribers/{IMSI}/push-profile", headers=AUTH)
    assert refused.status_code == 502
    assert refused.get_json()["ok"] is False
    assert refused.get_json()["results"][0]["detail"] == "no answer"


def test_patch_tells_the_mme_and_the_scscf(client: FlaskClient, store: Store,
                                           fake: RecordingActions) -> None:
    register(store)
    answer = client.patch(f"/api/v1/subscribers/{IMSI}", headers=AUTH, json={
        "ambr_ul": 1234, "barring": {"tel:+15550001": True}})
    assert answer.get_json()["changed"] == ["ambr_ul", "barring"]
    assert fake.calls == [("eps_data_changed", IMSI), ("push_profile", IMPI)]
    assert [n["action"] for n in answer.get_json()["notifications"]] == [
        "eps_data_changed", "push_profile"]


def test_patch_of_auc_data_notifies_nobody(client: FlaskClient, fake: RecordingActions) -> None:
    answer = client.patch(f"/api/v1/subscribers/{IMSI}", headers=AUTH, json={"sqn": 64})
    assert answer.get_json()["changed"] == ["sqn"] and fake.calls == []


def test_ims_change_without_registration_sends_no_ppr(client: FlaskClient,
                                                      fake: RecordingActions) -> None:
    client.patch(f"/api/v1/subscribers/{IMSI}", headers=AUTH,
                 json={"barring": {"tel:+15550001": True}})
    assert fake.calls == []


def test_delete_calls_the_clr_hook_first(client: FlaskClient, store: Store,
                                         fake: RecordingActions) -> None:
    assert client.delete(f"/api/v1/subscribers/{IMSI}", headers=AUTH).status_code == 204
    assert fake.calls == [("subscriber_deleted", IMSI)]
    assert client.delete(f"/api/v1/subscribers/{IMSI}", headers=AUTH).status_code == 404
    assert fake.calls == [("subscriber_deleted", IMSI)]


def test_replacing_a_profile_pushes_it_to_each_registered_user(
        client: FlaskClient, store: Store, fake: RecordingActions) -> None:
    register(store)
    answer = client.put("/api/v1/service-profiles/default", headers=AUTH, json={"ifcs": []})
    assert answer.status_code == 200
    assert fake.calls == [("push_profile", IMPI)]
    assert [(n["action"], n["target"]) for n in answer.get_json()["notifications"]] == [
        ("push_profile", IMPI)]


def test_replacing_a_profile_of_unregistered_users_pushes_nothing(
        client: FlaskClient, fake: RecordingActions) -> None:
    answer = client.put("/api/v1/service-profiles/default", headers=AUTH, json={"ifcs": []})
    assert answer.status_code == 200 and answer.get_json()["notifications"] == []
    assert fake.calls == []

"""Registration flows end to end: UE -> P-CSCF -> I-CSCF -> S-CSCF -> HSS (TS 24.229 §5.1.1, §5.4.1).

One ``ims-cli run`` for the module, with ``[scscf] min_expires = 1`` in the
config overlay so a UE may ask for a few seconds and watch its binding
expire. Every scenario reads as numbered steps (Open5GS ``tests/volte``
style); the UEs are :class:`ims.ue.client.UserEquipment` on real sockets,
the subscribers are provisioned and changed through the REST API, and the
S-CSCF's view is read from its ``/status`` (``ims-cli status --json``) and
``ims-cli registrations``. Every wait is bounded; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

import pytest
from imscore import CoreProcess, Ports, Subscriber

from ims.auth.sqn import IND_IMS, make_sqn
from ims.sip.headers.auth import challenges
from ims.sip.message import Request, Response
from ims.transport.stack import ClientResult
from ims.ue.client import UeConfig, UserEquipment
from ims.ue.register import (
    Deregistered,
    FlowAction,
    Registered,
    RegistrationFailed,
    SendRegister,
    answer_challenge,
    build_register,
)
from ims.ue.subscribe import NotifyOutcome, RegContact, RegInfo

pytestmark = pytest.mark.e2e

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
TOKEN = "ims-lab-token-change-me"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
WRONG_K = bytes.fromhex("00112233445566778899aabbccddeeff")
#: Bound of one SIP exchange or one registration.
WAIT = 30.0
#: Bound of waiting for an expiry / a NOTIFY / a status change.
LONG_WAIT = 60.0
_imsis = itertools.count(1)
T = TypeVar("T")


# -- the core and the REST API ------------------------------------------------------------------
@pytest.fixture(scope="module")
def flow_ports() -> Ports:
    return Ports.pick()


@pytest.fixture(scope="module")
def flow_core(tmp_path_factory: pytest.TempPathFactory, flow_ports: Ports) -> Iterator[CoreProcess]:
    """``ims-cli run`` with a low Min-Expires (expiry tests ask for a few seconds)."""
    text = flow_ports.config_text().replace("[scscf]\n", "[scscf]\nmin_expires = 1\n", 1)
    process = CoreProcess(tmp_path_factory.mktemp("flows"), text)
    process.start()
    try:
        process.wait_up()
        yield process
    finally:
        process.stop()


def rest(ports: Ports, method: str, path: str, body: object = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{ports.rest}/api/v1{path}",
        data=None if body is None else json.dumps(body).encode(), method=method,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return reply.status, json.loads(reply.read() or b"null")


def provision(ports: Ports, **extra: object) -> Subscriber:
    imsi = f"00101{next(_imsis) + 8300000000:010d}"
    subscriber = Subscriber(imsi, f"5{imsi[-8:]}")
    status, _ = rest(ports, "POST", "/subscribers", {
        "imsi": imsi, "msisdn": subscriber.msisdn, "k": K.hex(), "opc": OPC.hex(), **extra})
    assert status == 201
    return subscriber


def ue_config(ports: Ports, sub: Subscriber, **changes: Any) -> UeConfig:
    settings: dict[str, Any] = {"pcscf": ("127.0.0.1", ports.sip["pcscf"]), "expires": 600}
    settings.update(changes)
    return UeConfig(sub.impi, sub.impu, settings.pop("k", K), OPC, **settings)


def scscf_records(core: CoreProcess, impi: str) -> list[dict[str, Any]]:
    """The S-CSCF's ``/status`` registrations of ``impi``."""
    registrations: list[dict[str, Any]] = core.process_status("scscf")["registrations"]
    return [r for r in registrations if r["impi"] == impi]


def counter(core: CoreProcess, name: str, key: str) -> float:
    value: float = core.process_status(name)["counters"][key]
    return value


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, 4 * LONG_WAIT)
    return asyncio.run(bounded())


class RecordingUe(UserEquipment):
    """A UE that keeps every REGISTER it sends and every final response it gets."""

    def __init__(self, config: UeConfig) -> None:
        self.steps: list[str] = []
        super().__init__(config, on_step=self.steps.append)
        self.sent: list[Request] = []
        self.received: list[Response] = []

    def _keep(self, actions: list[FlowAction]) -> list[FlowAction]:
        self.sent += [a.request for a in actions if isinstance(a, SendRegister)]
        return actions

    async def _drive(self, actions: list[FlowAction]) -> Registered | Deregistered | \
            RegistrationFailed:
        return await super()._drive(self._keep(actions))

    def _feed(self, result: ClientResult) -> list[FlowAction]:
        if isinstance(result, Response):
            self.received.append(result)
        return self._keep(super()._feed(result))


async def registered(ue: UserEquipment, expires: int | None = None) -> Registered:
    result = await asyncio.wait_for(ue.register(expires), WAIT)
    assert isinstance(result, Registered), result
    return result


async def next_notify(ue: UserEquipment, want: Any = None) -> NotifyOutcome:
    """The next NOTIFY (answered 200) for which ``want(reginfo)`` holds."""
    async def wait() -> NotifyOutcome:
        while True:
            outcome = await ue.notifies.get()
            assert outcome.status == 200, outcome
            if want is None or (outcome.reginfo is not None and want(outcome.reginfo)):
                return outcome
    return await asyncio.wait_for(wait(), LONG_WAIT)


def contacts_of(info: RegInfo, uri_part: str) -> list[RegContact]:
    return [c for r in info.registrations for c in r.contacts if uri_part in c.uri]


async def wait_gone(core: CoreProcess, impi: str) -> None:
    for _ in range(int(LONG_WAIT * 10)):
        if not await asyncio.to_thread(scscf_records, core, impi):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{impi} still registered at the S-CSCF after {LONG_WAIT} s")


# -- re-registration, deregistration, expiry ------------------------------------------------------
def test_reregistration_same_call_id_challenged_again_new_expiry(
        flow_core: CoreProcess, flow_ports: Ports) -> None:
    sub = provision(flow_ports)

    async def scenario() -> None:
        async with RecordingUe(ue_config(flow_ports, sub)) as ue:
            # 1. UE registers with Expires 600: REGISTER -> 401 -> REGISTER -> 200
            first = await registered(ue, 600)
            assert 0 < first.binding.expires <= 600
            assert [r.status for r in ue.received] == [401, 200]
            # 2. UE re-registers with Expires 1200 on the same Call-ID, CSeq + 1
            again = await registered(ue, 1200)
            # 3. expects a new challenge (default: re-REGISTERs are challenged) and a 200
            assert [r.status for r in ue.received] == [401, 200, 401, 200]
            assert len({r.call_id for r in ue.sent}) == 1
            assert [r.cseq.seq for r in ue.sent] == [1, 2, 3, 4]
            assert ue.received[0].get("www-authenticate") != ue.received[2].get("www-authenticate")
            # 4. the 200 grants the new expiry, above what the first one granted
            assert 600 < again.binding.expires <= 1200
            records = await asyncio.to_thread(scscf_records, flow_core, sub.impi)
            assert len(records) == 1 and len(records[0]["contacts"]) == 1
            assert 600 < records[0]["contacts"][0]["expires"] <= 1200

    run(scenario())
    assert counter(flow_core, "scscf", "registrar_reregistrations") >= 1


def test_deregistration_removes_the_binding(flow_core: CoreProcess, flow_ports: Ports) -> None:
    sub = provision(flow_ports)

    async def scenario() -> None:
        async with UserEquipment(ue_config(flow_ports, sub)) as ue:
            # 1. UE registers; the S-CSCF lists its contact
            await registered(ue)
            records = await asyncio.to_thread(scscf_records, flow_core, sub.impi)
            assert [c["uri"] for c in records[0]["contacts"]] == [ue.contact]
            # 2. UE sends REGISTER with Expires: 0 -> expects 200
            gone = await asyncio.wait_for(ue.deregister(), WAIT)
            assert isinstance(gone, Deregistered), gone
            # 3. the S-CSCF no longer lists the IMPI; a request now gets 403 at the P-CSCF
            assert await asyncio.to_thread(scscf_records, flow_core, sub.impi) == []
            answer = await asyncio.wait_for(ue.send_request("MESSAGE", sub.identities[1]), WAIT)
            assert isinstance(answer, Response) and answer.status == 403

    run(scenario())


def test_expiry_drops_the_binding_and_notifies_expired(
        flow_core: CoreProcess, flow_ports: Ports) -> None:
    sub = provision(flow_ports)

    async def scenario() -> None:
        async with UserEquipment(ue_config(flow_ports, sub)) as ue:
            # 1. UE registers asking for 4 s (Min-Expires is 1 in this core)
            result = await registered(ue, 4)
            assert 0 < result.binding.expires <= 4
            # 2. UE subscribes to reg -> 2xx and a NOTIFY with its contact active
            answer = await asyncio.wait_for(ue.subscribe_reg(), WAIT)
            assert isinstance(answer, Response) and 200 <= answer.status < 300
            await next_notify(ue, lambda i: any(
                c.state == "active" for c in contacts_of(i, ue.contact)))
            # 3. nobody refreshes: the S-CSCF drops the binding ...
            await wait_gone(flow_core, sub.impi)
            # 4. ... and the UE gets a NOTIFY with its contact terminated, event "expired"
            await next_notify(ue, lambda i: any(
                c.state == "terminated" and c.event == "expired"
                for c in contacts_of(i, ue.contact)))

    run(scenario())
    assert counter(flow_core, "scscf", "registrar_expired_contacts") >= 1


# -- authentication failures and resynchronisation --------------------------------------------------
def test_wrong_k_mac_failure_reported_gets_403(flow_core: CoreProcess, flow_ports: Ports) -> None:
    sub = provision(flow_ports)
    before = counter(flow_core, "scscf", "registrar_auth_failures")

    async def scenario() -> RegistrationFailed | Registered:
        async with RecordingUe(ue_config(flow_ports, sub, k=WRONG_K)) as ue:
            # 1. UE sends REGISTER -> expects 401; its AUTN check fails (MAC)
            # 2. UE sends REGISTER with an empty response, no auts -> expects 403
            result = await asyncio.wait_for(ue.register(), WAIT)
            assert any("MAC failure" in step for step in ue.steps), ue.steps
            last = ue.sent[-1].get("authorization") or ""
            assert 'response=""' in last and "auts" not in last
            return result

    result = run(scenario())
    assert isinstance(result, RegistrationFailed) and result.status == 403, result
    assert "MAC failure" in result.reason
    # 3. no binding at the S-CSCF, the failure counted
    assert scscf_records(flow_core, sub.impi) == []
    assert counter(flow_core, "scscf", "registrar_auth_failures") >= before + 1


def test_wrong_res_without_autn_check_gets_403(flow_core: CoreProcess, flow_ports: Ports) -> None:
    sub = provision(flow_ports)

    async def scenario() -> RegistrationFailed | Registered:
        config = ue_config(flow_ports, sub, k=WRONG_K, trust_network=True)
        async with RecordingUe(config) as ue:
            # 1. UE sends REGISTER -> 401; skips the AUTN check, answers RES from its wrong K
            result = await asyncio.wait_for(ue.register(), WAIT)
            assert any("AUTN check skipped" in step for step in ue.steps), ue.steps
            assert [r.status for r in ue.received] == [401, 403]
            return result

    # 2. expects 403 and no binding
    result = run(scenario())
    assert isinstance(result, RegistrationFailed) and result.status == 403, result
    assert scscf_records(flow_core, sub.impi) == []


def test_ue_sqn_ahead_of_hss_resynchronises(flow_core: CoreProcess, flow_ports: Ports) -> None:
    sub = provision(flow_ports, sqn=32)
    ue_sqn = make_sqn(5000, IND_IMS)  # far ahead of the HSS's SEQ for IMS vectors

    async def scenario() -> None:
        async with RecordingUe(ue_config(flow_ports, sub, sqn=ue_sqn)) as ue:
            # 1. UE sends REGISTER -> 401 with an SQN the ISIM finds stale
            # 2. UE sends REGISTER with auts -> expects a fresh 401 (HSS resynchronised)
            # 3. UE answers with RES -> expects 200
            await registered(ue)
            assert any("synchronisation failure" in step for step in ue.steps), ue.steps
            assert "auts=" in (ue.sent[1].get("authorization") or "")
            assert [r.status for r in ue.received] == [401, 401, 200]
            assert ue.isim.sqn_ms > ue_sqn

    run(scenario())
    assert len(scscf_records(flow_core, sub.impi)) == 1


def test_unknown_impi_gets_403(flow_core: CoreProcess, flow_ports: Ports) -> None:
    ghost = Subscriber("001019876543210", "59876543210")

    async def scenario() -> RegistrationFailed | Registered:
        async with UserEquipment(ue_config(flow_ports, ghost)) as ue:
            return await asyncio.wait_for(ue.register(), WAIT)

    result = run(scenario())
    assert isinstance(result, RegistrationFailed) and result.status == 403, result
    assert scscf_records(flow_core, ghost.impi) == []


def test_every_identity_barred_gets_403(flow_core: CoreProcess, flow_ports: Ports) -> None:
    sub = provision(flow_ports)
    # 1. every IMPU of the implicit set barred through the REST API
    status, _ = rest(flow_ports, "PATCH", f"/subscribers/{sub.imsi}",
                     {"barring": dict.fromkeys(sub.identities, True)})
    assert status == 200

    async def scenario() -> RegistrationFailed | Registered:
        async with UserEquipment(ue_config(flow_ports, sub)) as ue:
            return await asyncio.wait_for(ue.register(), WAIT)

    # 2. UE sends REGISTER -> expects 403, no binding
    result = run(scenario())
    assert isinstance(result, RegistrationFailed) and result.status == 403, result
    assert scscf_records(flow_core, sub.impi) == []


# -- several contacts, binding query ---------------------------------------------------------------
async def query_bindings(ue: UserEquipment) -> Response:
    """A REGISTER without Contact on the UE's registration (RFC 3261 §10.2.3), answering a 401."""
    flow, authorization = ue.flow, None
    for _ in range(2):
        flow.cseq += 1
        req = build_register(
            ue.ue, expires=600, call_id=flow.call_id, cseq=flow.cseq,
            branch=f"z9hG4bK{secrets.token_hex(8)}", from_tag=flow.from_tag,
            contact=ue.contact, transport=ue.config.transport, authorization=authorization)
        req.remove("contact")
        req.remove("expires")
        result = await asyncio.wait_for(ue.stack.send_request(req, ue.pcscf), WAIT)
        assert isinstance(result, Response), result
        if result.status != 401:
            return result
        challenge = next(c for c in challenges(result) if c.is_digest)
        authorization = answer_challenge(challenge, ue.ue, ue.isim, uri=f"sip:{DOMAIN}",
                                         cnonce=secrets.token_hex(8)).credentials
    raise AssertionError("the binding query was challenged twice")


def test_two_contacts_for_one_impu_and_binding_query(
        flow_core: CoreProcess, flow_ports: Ports) -> None:
    sub = provision(flow_ports)

    async def scenario() -> None:
        first = UserEquipment(ue_config(flow_ports, sub, instance_id=f"urn:uuid:{uuid.uuid4()}"))
        second = UserEquipment(ue_config(flow_ports, sub, instance_id=f"urn:uuid:{uuid.uuid4()}"))
        async with first, second:
            # 1. two UEs with the same IMPI/IMPU but their own contacts register in turn
            await registered(first)
            await registered(second)
            records = await asyncio.to_thread(scscf_records, flow_core, sub.impi)
            assert len(records) == 1
            assert {c["uri"] for c in records[0]["contacts"]} == {first.contact, second.contact}
            # 2. UE 1 sends REGISTER without Contact -> expects 200 listing both bindings
            answer = await query_bindings(first)
            assert answer.status == 200, answer
            assert {str(c.uri) for c in answer.contacts} == {first.contact, second.contact}
            assert all(c.expires is not None and c.expires > 0 for c in answer.contacts)

    run(scenario())




# -- reg-event -----------------------------------------------------------------------------------
def test_reg_event_active_then_terminated_after_rest_deregister(
        flow_core: CoreProcess, flow_ports: Ports) -> None:
    sub = provision(flow_ports)

    async def scenario() -> None:
        async with UserEquipment(ue_config(flow_ports, sub)) as ue:
            # 1. UE registers, then SUBSCRIBEs to reg -> expects 2xx
            await registered(ue)
            answer = await asyncio.wait_for(ue.subscribe_reg(), WAIT)
            assert isinstance(answer, Response) and 200 <= answer.status < 300, answer
            # 2. expects a full-state NOTIFY with its contact active
            first = await next_notify(ue)
            assert first.reginfo is not None and first.reginfo.state == "full"
            mine = contacts_of(first.reginfo, ue.contact)
            assert mine and all(c.state == "active" for c in mine), first.reginfo
            # 3. the operator deregisters the subscriber through the REST API (RTR)
            status, _ = await asyncio.to_thread(
                rest, flow_ports, "POST", f"/subscribers/{sub.imsi}/deregister", {})
            assert status == 200
            # 4. expects a NOTIFY with the registration and the contact terminated
            last = await next_notify(ue, lambda i: any(
                r.state == "terminated" for r in i.registrations))
            assert last.reginfo is not None
            assert last.reginfo.version > first.reginfo.version
            gone = contacts_of(last.reginfo, ue.contact)
            assert gone and all(c.state == "terminated" for c in gone), last.reginfo
            await wait_gone(flow_core, sub.impi)

    run(scenario())
    assert counter(flow_core, "scscf", "registrar_network_deregistrations") >= 1


# -- requests after registration ------------------------------------------------------------------
def test_p_asserted_identity_on_a_request_after_registration(
        flow_core: CoreProcess, flow_ports: Ports) -> None:
    alice, bob = provision(flow_ports), provision(flow_ports)

    async def scenario() -> None:
        async with UserEquipment(ue_config(flow_ports, alice)) as a, \
                UserEquipment(ue_config(flow_ports, bob)) as b:
            # 1. A and B register
            granted = await registered(a)
            await registered(b)
            # 2. A sends MESSAGE (Service-Route preloaded, P-Preferred-Identity its IMSI IMPU)
            #    addressed to B's registered contact -> P-CSCF -> S-CSCF -> B (addressed to
            #    B's IMPU: test_message_to_a_registered_impu_reaches_its_contact)
            answer = await asyncio.wait_for(a.send_request(
                "MESSAGE", b.contact, body=b"hello", content_type="text/plain"), WAIT)
            assert isinstance(answer, Response) and answer.status == 200, answer
            # 3. B gets it with P-Asserted-Identity = A's default IMPU (first P-Associated-URI),
            #    the UE's P-Preferred-Identity replaced
            got = await asyncio.wait_for(b.requests.get(), WAIT)
            assert got.method == "MESSAGE" and got.body == b"hello"
            assert got.get_all("p-asserted-identity") == [f"<{granted.binding.associated_uris[0]}>"]
            assert not got.has("p-preferred-identity")

    run(scenario())


def test_message_to_a_registered_impu_reaches_its_contact(
        flow_core: CoreProcess, flow_ports: Ports) -> None:
    """Terminating routing at the S-CSCF (TS 24.229 §5.4.3.3): IMPU -> registered contact."""
    alice, bob = provision(flow_ports), provision(flow_ports)

    async def scenario() -> None:
        async with UserEquipment(ue_config(flow_ports, alice)) as a, \
                UserEquipment(ue_config(flow_ports, bob)) as b:
            # 1. A and B register
            granted = await registered(a)
            await registered(b)
            # 2. A sends MESSAGE to B's sip:+MSISDN IMPU (S-CSCF -> I-CSCF LIR -> S-CSCF
            #    terminating -> B's Path -> P-CSCF -> B) and to B's tel: IMPU (the originating
            #    S-CSCF serves it as terminating itself); each answered 200 by B
            for target in (bob.identities[2], bob.identities[1]):
                answer = await asyncio.wait_for(a.send_request(
                    "MESSAGE", target, body=target.encode(), content_type="text/plain"), WAIT)
                assert isinstance(answer, Response) and answer.status == 200, (target, answer)
                # 3. B gets it with P-Asserted-Identity = A's default IMPU and
                #    P-Called-Party-ID = the IMPU A addressed
                got = await asyncio.wait_for(b.requests.get(), WAIT)
                assert got.method == "MESSAGE" and got.body == target.encode()
                assert got.get_all("p-asserted-identity") == [
                    f"<{granted.binding.associated_uris[0]}>"]
                assert got.get("p-called-party-id") == f"<{target}>"

    run(scenario())


def test_request_from_a_provisioned_but_unregistered_ue_gets_403(
        flow_core: CoreProcess, flow_ports: Ports) -> None:
    sub = provision(flow_ports)

    async def scenario() -> ClientResult:
        async with UserEquipment(ue_config(flow_ports, sub)) as ue:
            # 1. UE sends MESSAGE without registering -> expects 403 from the P-CSCF
            return await asyncio.wait_for(ue.send_request("MESSAGE", sub.identities[1]), WAIT)

    before = counter(flow_core, "pcscf", "sip_rejected_unregistered")
    answer = run(scenario())
    assert isinstance(answer, Response) and answer.status == 403, answer
    assert counter(flow_core, "pcscf", "sip_rejected_unregistered") >= before + 1


# -- ims-cli registrations and status --------------------------------------------------------------
def ims_cli(core: CoreProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ims.cli", *args, "--config", str(core.config)],
        cwd=core.workdir, capture_output=True, text=True, timeout=LONG_WAIT, check=False)


def test_ims_cli_registrations_and_status_counters(
        flow_core: CoreProcess, flow_ports: Ports) -> None:
    sub = provision(flow_ports)

    async def scenario() -> tuple[str, Registered]:
        async with UserEquipment(ue_config(flow_ports, sub)) as ue:
            # 1. UE registers; the operator lists registrations while it is registered
            result = await registered(ue)
            return ue.contact, result

    contact, result = run(scenario())
    listing = ims_cli(flow_core, "registrations", "--json")
    assert listing.returncode == 0, listing.stderr
    rows = [r for r in json.loads(listing.stdout)["registrations"] if r["impi"] == sub.impi]
    assert len(rows) == 1
    row = rows[0]
    assert row["contact"] == contact
    assert row["impus"] == list(result.binding.associated_uris)
    assert 0 < row["expires"] <= 600
    assert row["pcscf"] == result.binding.path[0]
    assert row["scscf"] == f"sip:scscf.{DOMAIN}:{flow_ports.sip['scscf']}"
    # 2. the table shows the same row
    table = ims_cli(flow_core, "registrations")
    assert table.returncode == 0 and table.stdout.startswith("IMPI")
    line = next(text for text in table.stdout.splitlines() if sub.impi in text)
    assert contact in line and f"sip:scscf.{DOMAIN}" in line
    # 3. registration counters in ims-cli status
    status = ims_cli(flow_core, "status")
    assert "registrar_registrations=" in status.stdout
    assert "sip_registrations_cached=" in status.stdout
    assert counter(flow_core, "scscf", "registrar_registrations") >= 1

"""scscf.registrar: REGISTER decisions, SAA application, 200 OK, expiry, RTR/PPR."""

from __future__ import annotations

from scscf_fixtures import (
    DOMAIN,
    IMPI,
    IMPU_IMSI,
    IMPU_SIP,
    IMPU_TEL,
    PCSCF_PATH,
    UE_CONTACT,
    item,
    register,
    ue_authorization,
    user_data,
    vector,
)

from ims.auth.aka import make_auts
from ims.auth.digest import auts_param
from ims.diameter.cx import ServerAssignmentType as SAT
from ims.diameter.cx import UserDataAlreadyAvailable
from ims.sip.headers.auth import challenges
from ims.sip.headers.pheaders import associated_uris, path, service_routes
from ims.sip.message import Request
from scscf.auth import AuthChallengeStore, PendingChallenge, pending_from_item
from scscf.bindings import Registration, RegState
from scscf.registrar import (
    Action,
    RegisterDecision,
    RegistrarConfig,
    apply_ppr,
    apply_saa,
    build_register_ok,
    build_unauthorized,
    deregister_identities,
    expire,
    handle_register,
    next_expiry,
)

CONFIG = RegistrarConfig(realm=DOMAIN, min_expires=60, max_expires=3600)
NOW = 1000.0


def _pending(impu: str = IMPU_IMSI) -> PendingChallenge:
    return pending_from_item(item(), IMPI, impu, DOMAIN, NOW)


def _answer(record: Registration | None, req_kw: dict[str, object] | None = None,
            config: RegistrarConfig = CONFIG, now: float = NOW,
            res: bytes | None = None) -> tuple[RegisterDecision, Request]:
    """Challenge then answer with the right RES; returns the second decision."""
    kw = dict(req_kw or {})
    impu = str(kw.get("impu", IMPU_IMSI))
    pending = pending_from_item(item(), IMPI, impu, DOMAIN, now)
    auth = ue_authorization(pending.nonce, vector().xres if res is None else res)
    kw.setdefault("cseq", 2)
    req = register(auth=auth, **kw)  # type: ignore[arg-type]
    return handle_register(record, req, now, config, pending), req


def _registered(contacts: list[str] | None = None, now: float = NOW) -> Registration:
    decision, _ = _answer(None, {"contacts": contacts} if contacts else None, now=now)
    outcome = apply_saa(None, decision, user_data(), now)
    assert outcome.record is not None
    return outcome.record


def test_first_register_without_credentials_needs_mar_then_401() -> None:
    decision = handle_register(None, register(), NOW, CONFIG)
    assert decision.action is Action.CHALLENGE
    assert decision.mar is not None and decision.mar.impi == IMPI and decision.mar.resync is None
    pending = _pending()
    store = AuthChallengeStore()
    store.add(pending)  # stored before the 401 goes out
    resp = build_unauthorized(register(), pending, "s1")
    assert resp.status == 401 and resp.to.tag == "s1"
    challenge = challenges(resp)[0]
    assert challenge.nonce == pending.nonce and challenge.qop == ["auth"]
    assert challenge.ik == vector().ik.hex()


def test_no_authorization_header_challenges_with_derived_impi() -> None:
    req = register(auth=[("X-Nothing", "1")])
    decision = handle_register(None, req, NOW, CONFIG)
    assert decision.action is Action.CHALLENGE and decision.impi == IMPI


def test_valid_answer_gives_sar_registration_and_binding() -> None:
    decision, _ = _answer(None)
    assert decision.action is Action.ASSIGN and decision.sar is not None
    assert decision.sar.assignment_type is SAT.REGISTRATION
    assert decision.sar.user_data_already_available is (
        UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE)
    assert decision.update is not None
    (binding,) = decision.update.bindings
    assert binding.uri == UE_CONTACT
    assert binding.expires_at == NOW + 3600  # 600000 asked, max applied
    assert binding.path == (PCSCF_PATH,) and binding.pcscf == PCSCF_PATH
    assert binding.received == "10.45.0.2:5062" and binding.transport == "UDP"
    assert (binding.call_id, binding.cseq, binding.event) == ("reg-1", 2, "registered")


def test_200_ok_contents() -> None:
    decision, req = _answer(None)
    outcome = apply_saa(None, decision, user_data(), NOW)
    assert outcome.status == 200 and outcome.record is not None
    assert outcome.record.state is RegState.REGISTERED
    resp = build_register_ok(req, outcome.record, NOW + 10, CONFIG, "s2")
    assert resp.status == 200
    assert [str(p) for p in path(resp)] == [PCSCF_PATH]
    (route,) = service_routes(resp)
    assert str(route.uri) == f"{CONFIG.server_uri};lr;orig"
    # barred IMSI IMPU left out; the default (first non-barred) first
    assert [str(a.uri) for a in associated_uris(resp)] == [IMPU_SIP, IMPU_TEL]
    (contact,) = resp.contacts
    assert str(contact.uri) == UE_CONTACT and contact.expires == 3590
    assert resp.get("date", "").endswith("GMT")


def test_all_identities_barred_gives_403() -> None:
    decision, _ = _answer(None)
    outcome = apply_saa(None, decision, user_data(barred_all=True), NOW)
    assert outcome.status == 403 and "barred" in outcome.reason and outcome.record is None


def test_wrong_res_and_mac_failure_give_403_and_sar_auth_failure() -> None:
    wrong = bytes(b ^ 1 for b in vector().xres)
    decision, _ = _answer(None, res=wrong)
    assert (decision.action, decision.status) == (Action.AUTH_FAILURE, 403)
    assert decision.sar is not None and decision.sar.assignment_type is SAT.AUTHENTICATION_FAILURE
    pending = _pending()
    req = register(auth=ue_authorization(pending.nonce, None), cseq=2)
    mac = handle_register(None, req, NOW, CONFIG, pending)
    assert mac.action is Action.AUTH_FAILURE and "network authentication" in mac.reason


def test_auts_triggers_resync_mar() -> None:
    pending = _pending()
    auts = make_auts(bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc"),
                     bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf"), vector().rand, 7)
    req = register(auth=ue_authorization(pending.nonce, None, auts=auts_param(auts)), cseq=2)
    decision = handle_register(None, req, NOW, CONFIG, pending)
    assert decision.action is Action.CHALLENGE and decision.mar is not None
    assert decision.mar.resync == (vector().rand, auts)


def test_reused_or_foreign_nonce_challenges_again() -> None:
    store = AuthChallengeStore()
    pending = _pending()
    store.add(pending)
    req = register(auth=ue_authorization(pending.nonce, vector().xres), cseq=2)
    assert handle_register(None, req, NOW, CONFIG, store.take(pending.nonce, IMPI, NOW)).action \
        is Action.ASSIGN
    again = handle_register(None, req, NOW, CONFIG, store.take(pending.nonce, IMPI, NOW))
    assert again.action is Action.CHALLENGE
    other_impu = handle_register(None, req, NOW, CONFIG, _pending(impu=IMPU_TEL))
    assert other_impu.action is Action.CHALLENGE


def test_pixel_split_authorization_registers() -> None:
    pending = _pending()
    req = register(auth=ue_authorization(pending.nonce, vector().xres, split=True), cseq=2)
    assert handle_register(None, req, NOW, CONFIG, pending).action is Action.ASSIGN


def test_reregistration_challenges_by_default_then_re_registration_with_udaa() -> None:
    record = _registered()
    first = handle_register(record, register(cseq=3), NOW + 100, CONFIG)
    assert first.action is Action.CHALLENGE
    decision, _ = _answer(record, {"cseq": 4}, now=NOW + 100)
    assert decision.sar is not None and decision.sar.assignment_type is SAT.RE_REGISTRATION
    assert decision.sar.user_data_already_available is (
        UserDataAlreadyAvailable.USER_DATA_ALREADY_AVAILABLE)
    assert decision.update is not None and decision.update.bindings[0].event == "refreshed"


def test_integrity_protected_reregistration_may_skip_challenge() -> None:
    record = _registered()
    auth = [("Authorization", f'Digest username="{IMPI}", realm="{DOMAIN}", uri="sip:{DOMAIN}", '
             'nonce="", response="", integrity-protected="yes"')]
    req = register(auth=auth, cseq=5, expires=600)
    lax = RegistrarConfig(realm=DOMAIN, challenge_reregistration=False)
    decision = handle_register(record, req, NOW + 50, lax)
    assert decision.action is Action.ASSIGN and decision.update is not None
    assert decision.update.bindings[0].event == "shortened"
    assert handle_register(record, req, NOW + 50, CONFIG).action is Action.CHALLENGE


def test_tel_form_finds_same_set() -> None:
    record = _registered()
    assert record.has_identity(IMPU_TEL) and record.has_identity(IMPU_SIP + ";user=phone")
    decision, _ = _answer(record, {"impu": IMPU_TEL, "cseq": 4})
    assert decision.sar is not None and decision.sar.assignment_type is SAT.RE_REGISTRATION


def test_interval_too_brief_gives_423_with_min_expires() -> None:
    decision, _ = _answer(None, {"expires": 30})
    assert (decision.action, decision.status) == (Action.RESPOND, 423)
    assert decision.headers == (("Min-Expires", "60"),)


def test_expires_as_contact_param_wins() -> None:
    decision, _ = _answer(None, {"contacts": [f"<{UE_CONTACT}>;expires=120"], "expires": None})
    assert decision.update is not None and decision.update.bindings[0].expires_at == NOW + 120


def test_several_contacts_and_query() -> None:
    second = "sip:001010000000001@10.45.0.3:5060"
    record = _registered([f"<{UE_CONTACT}>", f"<{second}>;expires=300"])
    assert [b.uri for b in record.bindings] == [UE_CONTACT, second]
    query = handle_register(record, register(contacts=[], cseq=9), NOW + 1,
                            RegistrarConfig(realm=DOMAIN, challenge_reregistration=False))
    assert query.action is Action.CHALLENGE  # still authenticated first
    decision, req = _answer(record, {"contacts": []}, now=NOW + 1)
    assert decision.action is Action.QUERY
    resp = build_register_ok(req, record, NOW + 1, CONFIG, "t")
    assert {(str(c.uri), c.expires) for c in resp.contacts} == {(UE_CONTACT, 3599), (second, 299)}


def test_expires_zero_removes_one_then_last_deregisters() -> None:
    second = "sip:001010000000001@10.45.0.3:5060"
    record = _registered([f"<{UE_CONTACT}>", f"<{second}>"])
    decision, _ = _answer(record, {"contacts": [f"<{second}>"], "expires": 0, "cseq": 4})
    assert decision.sar is not None and decision.sar.assignment_type is SAT.RE_REGISTRATION
    assert decision.update is not None
    assert [b.uri for b in decision.update.removed] == [second]
    record = apply_saa(record, decision, None, NOW).record
    assert record is not None and [b.uri for b in record.bindings] == [UE_CONTACT]
    last, _ = _answer(record, {"expires": 0, "cseq": 6})
    assert last.sar is not None and last.sar.assignment_type is SAT.USER_DEREGISTRATION
    assert last.sar.impus == (IMPU_SIP, IMPU_IMSI, IMPU_TEL)
    outcome = apply_saa(record, last, None, NOW)
    assert outcome.record is None and outcome.removed[0].event == "unregistered"


def test_star_removes_all_only_with_expires_zero() -> None:
    record = _registered()
    bad, _ = _answer(record, {"contacts": ["*"], "expires": 3600, "cseq": 4})
    assert bad.status == 400
    decision, _ = _answer(record, {"contacts": ["*"], "expires": 0, "cseq": 4})
    assert decision.sar is not None and decision.sar.assignment_type is SAT.USER_DEREGISTRATION


def test_out_of_order_cseq_rejected() -> None:
    record = _registered()
    pending = _pending()
    req = register(auth=ue_authorization(pending.nonce, vector().xres), cseq=1)
    decision = handle_register(record, req, NOW, CONFIG, pending)
    assert decision.status == 500


def test_expiry_timer_removes_and_deregisters() -> None:
    second = "sip:001010000000001@10.45.0.3:5060"
    record = _registered([f"<{UE_CONTACT}>", f"<{second}>;expires=300"])
    assert next_expiry(record) == NOW + 300
    assert expire(record, NOW + 299).removed == ()
    partial = expire(record, NOW + 300)
    assert [b.uri for b in partial.removed] == [second] and partial.sar is None
    assert partial.record is not None and len(partial.record.bindings) == 1
    final = expire(partial.record, NOW + 3600)
    assert final.record is None and final.removed[0].event == "expired"
    assert final.sar is not None and final.sar.assignment_type is SAT.TIMEOUT_DEREGISTRATION


def test_rtr_deregisters_named_set() -> None:
    record = _registered()
    assert deregister_identities(record, ["sip:nobody@" + DOMAIN]).removed == ()
    removal = deregister_identities(record, [IMPU_TEL])
    assert removal.record is None and removal.removed[0].event == "deactivated"
    assert deregister_identities(record, []).record is None


def test_ppr_replaces_profile() -> None:
    record = _registered()
    updated = apply_ppr(record, user_data(barred_all=True))
    assert updated.associated_uris() == [] and record.associated_uris() == [IMPU_SIP, IMPU_TEL]

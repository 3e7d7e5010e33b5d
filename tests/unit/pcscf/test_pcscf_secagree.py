"""P-CSCF sec-agree (TS 33.203 §7, Annex H, Annex I; RFC 3329 §2.3.1): pure decisions."""

from __future__ import annotations

from pathlib import Path

import pytest
from pcscf_messages import register

from ims.ipsec import keys as ipsec_keys
from ims.sip.headers.auth import credentials, parse_challenge
from ims.sip.headers.security import parse_security_mechanism, parse_security_mechanisms
from ims.sip.message import Response
from pcscf.flows import Arrival, classify_arrival, request_route
from pcscf.secagree import (
    DEFAULT_PREFERENCE,
    REQID_BASE,
    Offer,
    PoolExhausted,
    ProtectedPortPool,
    ReqidAllocator,
    SecAgreeError,
    SpiAllocator,
    XfrmPlan,
    add_security_server,
    build_security_server,
    check_security_verify,
    choose_offer,
    is_our_reqid,
    mark_integrity_protected,
    offer_from_mechanism,
    parse_offers,
    read_security_client,
    strip_sec_agree,
)
from pcscf.sessions import InstallPlan, RemovePlan, SecAgreeResources, SecAgreeSession

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "ts33203" / "esp_keys.txt"
UE_HOST, PCSCF_HOST = "10.45.0.2", "10.45.0.1"
IK = bytes.fromhex("f769bcd751044604127672711c6d3441")  # TS 35.208 test set 1, f4
CK = bytes.fromhex("b40ba9a3c58b2a05bbf0d987b21bf8cb")  # TS 35.208 test set 1, f3
IK2 = bytes.fromhex("9744871ad32bf9bbd1dd5ce54e3e2e5a")  # TS 35.208 test set 19, f4
CK2 = bytes.fromhex("5349fbe098649f948f5d2e973a81c00f")  # TS 35.208 test set 19, f3


def client_header(port_c: int = 51000, port_s: int = 51001, spi_c: int = 3001,
                  spi_s: int = 3002) -> str:
    """A Security-Client as handsets send it: all six pairs, md5 first."""
    offers = [
        f"ipsec-3gpp;alg={alg};ealg={ealg};spi-c={spi_c};spi-s={spi_s};"
        f"port-c={port_c};port-s={port_s};prot=esp;mod=trans"
        for alg in ("hmac-md5-96", "hmac-sha-1-96")
        for ealg in ("des-ede3-cbc", "aes-cbc", "null")
    ]
    return "Security-Client: " + ", ".join(offers)


def load_records(path: Path) -> list[dict[str, str]]:
    records: list[dict[str, str]] = [{}]
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            records.append({}) if records[-1] else None
            continue
        key, _, value = line.partition("=")
        records[-1][key.strip()] = value.strip()
    return [r for r in records if r]


# -- Annex I keys ---------------------------------------------------------------
@pytest.mark.parametrize("record", load_records(VECTORS), ids=lambda r: r["COUNT"])
def test_annex_i_vectors(record: dict[str, str]) -> None:
    ik, ck = bytes.fromhex(record["IK"]), bytes.fromhex(record["CK"])
    assert ipsec_keys.integrity_key("hmac-md5-96", ik).hex() == record["HMAC_MD5_96"]
    assert ipsec_keys.integrity_key("hmac-sha-1-96", ik).hex() == record["HMAC_SHA_1_96"]
    assert ipsec_keys.encryption_key("aes-cbc", ck).hex() == record["AES_CBC"]
    assert ipsec_keys.encryption_key("des-ede3-cbc", ck).hex() == record["DES_EDE3_CBC"]
    assert ipsec_keys.encryption_key("null", ck).hex() == record["NULL"]


def test_vector_file_has_three_records() -> None:
    assert [r["COUNT"] for r in load_records(VECTORS)] == ["0", "1", "2"]


def test_key_lengths_and_des_layout() -> None:
    assert len(ipsec_keys.integrity_key("hmac-sha-1-96", IK)) * 8 == 160
    des = ipsec_keys.encryption_key("des-ede3-cbc", CK)
    assert len(des) * 8 == 192
    assert des[:8] == des[16:] == CK[:8] and des[8:16] == CK[8:]


def test_esp_algorithms_kernel_names() -> None:
    algs = ipsec_keys.esp_algorithms("hmac-sha-1-96", "aes-cbc", IK, CK)
    assert (algs.auth_name, algs.auth_trunc_bits, algs.enc_name) == ("hmac(sha1)", 96, "cbc(aes)")
    algs = ipsec_keys.esp_algorithms("hmac-md5-96", "null", IK, CK)
    assert (algs.auth_name, algs.enc_name, algs.enc_key) == ("hmac(md5)", "ecb(cipher_null)", b"")
    algs = ipsec_keys.esp_algorithms("hmac-md5-96", "des-ede3-cbc", IK, CK)
    assert algs.enc_name == "cbc(des3_ede)" and algs.auth_key == IK


@pytest.mark.parametrize("call", [
    lambda: ipsec_keys.integrity_key("hmac-sha-256", IK),
    lambda: ipsec_keys.encryption_key("aes-gcm", CK),
    lambda: ipsec_keys.integrity_key("hmac-md5-96", IK[:15]),
    lambda: ipsec_keys.esp_algorithms("hmac-md5-96", "blowfish", IK, CK),
])
def test_bad_algorithms_or_keys(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]


def test_keys_from_challenge() -> None:
    ch = parse_challenge(f'Digest realm="ims", nonce="abc", algorithm=AKAv1-MD5, '
                         f'ik="{IK.hex()}", ck="{CK.hex()}"')
    assert ipsec_keys.keys_from_challenges([ch]) == (IK, CK)
    assert ipsec_keys.keys_from_challenges([parse_challenge('Digest realm="a", nonce="b"')]) is None
    bad = parse_challenge('Digest realm="ims", nonce="abc", ik="00ff", ck="zz"')
    with pytest.raises(ipsec_keys.AkaKeyError, match="IK has 2 octets"):
        ipsec_keys.keys_from_challenges([bad])


# -- Security-Client and the choice ---------------------------------------------
def test_all_six_offers_parsed_and_best_chosen() -> None:
    req = register(extra=(client_header(),))
    offers = parse_offers(read_security_client(req))
    assert {(o.alg, o.ealg) for o in offers} == set(DEFAULT_PREFERENCE)
    chosen = choose_offer(offers)
    assert chosen == Offer("hmac-sha-1-96", "aes-cbc", 3001, 3002, 51000, 51001)


def test_configured_preference() -> None:
    offers = parse_offers(read_security_client(register(extra=(client_header(),))))
    chosen = choose_offer(offers, [("hmac-md5-96", "null"), ("hmac-sha-1-96", "aes-cbc")])
    assert chosen is not None and (chosen.alg, chosen.ealg) == ("hmac-md5-96", "null")
    assert choose_offer(offers, [("hmac-md5-96", "3des")]) is None


def test_absent_ealg_reads_null_and_q_breaks_ties() -> None:
    mechs = parse_security_mechanisms([
        "ipsec-3gpp;alg=hmac-md5-96;spi-c=1000;spi-s=1001;port-c=7000;port-s=7001;q=0.1",
        "ipsec-3gpp;alg=hmac-md5-96;spi-c=2000;spi-s=2001;port-c=7000;port-s=7001;q=0.5",
    ])
    offers = parse_offers(mechs)
    assert [o.ealg for o in offers] == ["null", "null"]
    chosen = choose_offer(offers)
    assert chosen is not None and (chosen.spi_c, chosen.q) == (2000, 0.5)


@pytest.mark.parametrize(("text", "why"), [
    ("digest;d-alg=md5", "not ipsec-3gpp"),
    ("ipsec-3gpp;alg=hmac-sha-256;spi-c=1000;spi-s=1001;port-c=1;port-s=2", "unsupported alg"),
    ("ipsec-3gpp;alg=hmac-md5-96;ealg=rc4;spi-c=1000;spi-s=1001;port-c=1;port-s=2", "unsupported"),
    ("ipsec-3gpp;alg=hmac-md5-96;prot=ah;spi-c=1000;spi-s=1001;port-c=1;port-s=2", "prot"),
    ("ipsec-3gpp;alg=hmac-md5-96;mod=tun;spi-c=1000;spi-s=1001;port-c=1;port-s=2", "mod"),
    ("ipsec-3gpp;alg=hmac-md5-96;spi-c=1000;spi-s=1001;port-c=5000", "required"),
    ("ipsec-3gpp;alg=hmac-md5-96;spi-c=255;spi-s=1001;port-c=1;port-s=2", "reserved"),
    ("ipsec-3gpp;alg=hmac-md5-96;spi-c=1000;spi-s=1001;port-c=0;port-s=2", "port 0"),
])
def test_malformed_offers_refused(text: str, why: str) -> None:
    with pytest.raises(SecAgreeError, match=why.split()[0]):
        offer_from_mechanism(parse_security_mechanism(text))
    assert parse_offers([parse_security_mechanism(text)]) == []


def test_unparsable_security_client_is_494() -> None:
    req = register(extra=("Security-Client: ipsec-3gpp;alg=hmac-md5-96;spi-c=99999999999",))
    with pytest.raises(SecAgreeError) as info:
        read_security_client(req)
    assert info.value.status_hint == 494


def test_good_offer_survives_beside_bad_one() -> None:
    mechs = parse_security_mechanisms([
        "ipsec-3gpp;alg=hmac-md5-96;prot=ah;spi-c=1000;spi-s=1001;port-c=1;port-s=2",
        "ipsec-3gpp;alg=hmac-md5-96;ealg=aes-cbc;spi-c=1000;spi-s=1001;port-c=1;port-s=2",
    ])
    assert [o.ealg for o in parse_offers(mechs)] == ["aes-cbc"]


# -- allocation ------------------------------------------------------------------
def test_spis_unique_and_not_reused_while_live() -> None:
    spis = SpiAllocator(1000, 1003)
    first = [spis.allocate() for _ in range(3)]
    assert first == [1000, 1001, 1002]
    spis.release(1001)
    assert spis.allocate() == 1003  # round-robin: the freed 1001 waits its turn
    assert spis.allocate() == 1001
    with pytest.raises(PoolExhausted):
        spis.allocate()
    assert spis.live == frozenset({1000, 1001, 1002, 1003})


def test_spi_avoid_and_range() -> None:
    spis = SpiAllocator(1000, 1010)
    assert spis.allocate(avoid=(1000, 1001)) == 1002
    with pytest.raises(ValueError):
        SpiAllocator(1, 100)
    with pytest.raises(PoolExhausted):
        SpiAllocator(1000, 1001).allocate(avoid=(1000, 1001))


def test_reqid_blocks_mark_ownership() -> None:
    reqids = ReqidAllocator(slots=2)
    assert [reqids.allocate_reqid(), reqids.allocate_reqid()] == [REQID_BASE, REQID_BASE + 4]
    reqids.release_reqid(REQID_BASE)
    assert reqids.allocate_reqid() == REQID_BASE
    assert is_our_reqid(REQID_BASE + 3) and not is_our_reqid(REQID_BASE - 1)
    assert not is_our_reqid(1) and not is_our_reqid(REQID_BASE + 4 * 0x4000)


def test_port_pool_rule() -> None:
    pool = ProtectedPortPool(5100, 6100, 2)
    a1 = pool.allocate("10.0.0.1")
    b1 = pool.allocate("10.0.0.2")
    assert (a1.port_s, a1.port_c) == (b1.port_s, b1.port_c) == (5100, 6100)
    a2 = pool.allocate("10.0.0.1")  # re-registration: distinct pair beside the old one
    assert (a2.index, a2.port_s, a2.port_c) == (1, 5101, 6101)
    with pytest.raises(PoolExhausted):
        pool.allocate("10.0.0.1")
    pool.release("10.0.0.1", 0)
    assert pool.allocate("10.0.0.1").port_s == 5100
    assert pool.held("10.0.0.1") == frozenset({0, 1})


def test_port_pool_validation() -> None:
    with pytest.raises(ValueError, match="overlap"):
        ProtectedPortPool(5100, 5105, 10)
    with pytest.raises(ValueError):
        ProtectedPortPool(65530, 6100, 10)


# -- the plan --------------------------------------------------------------------
def make_resources(size: int = 10) -> SecAgreeResources:
    return SecAgreeResources(PCSCF_HOST, ProtectedPortPool(5100, 6100, size),
                             SpiAllocator(10000, 10999))


def make_plan() -> XfrmPlan:
    offer = Offer("hmac-sha-1-96", "des-ede3-cbc", 3001, 3002, 51000, 51001)
    return make_resources().new_plan(UE_HOST, offer, IK, CK)


def test_plan_four_sas() -> None:
    plan = make_plan()
    assert (plan.spi_pc, plan.spi_ps, plan.port_pc, plan.port_ps) == (10000, 10001, 6100, 5100)
    got = [(s.src, s.src_port, s.dst, s.dst_port, s.spi, s.reqid) for s in plan.sas]
    assert got == [  # the receiver's SPI on each
        (UE_HOST, 51000, PCSCF_HOST, 5100, 10001, REQID_BASE),
        (PCSCF_HOST, 5100, UE_HOST, 51000, 3001, REQID_BASE + 1),
        (PCSCF_HOST, 6100, UE_HOST, 51001, 3002, REQID_BASE + 2),
        (UE_HOST, 51001, PCSCF_HOST, 6100, 10000, REQID_BASE + 3),
    ]
    assert (plan.mode, plan.proto) == ("transport", "esp")
    assert plan.algorithms.enc_key.hex() == (
        "b40ba9a3c58b2a05bbf0d987b21bf8cbb40ba9a3c58b2a05")
    assert plan.algorithms.auth_key.hex() == "f769bcd751044604127672711c6d344100000000"
    assert IK.hex() not in repr(plan) and "b40ba9a3" not in repr(plan)


def test_new_plan_rolls_back_on_exhaustion() -> None:
    res = SecAgreeResources(PCSCF_HOST, ProtectedPortPool(5100, 6100, 2), SpiAllocator(300, 301))
    offer = Offer("hmac-md5-96", "null", 3001, 3002, 51000, 51001)
    res.new_plan(UE_HOST, offer, IK, CK)
    with pytest.raises(PoolExhausted):
        res.new_plan(UE_HOST, offer, IK, CK)
    assert res.ports.held(UE_HOST) == frozenset({0}) and res.spis.live == frozenset({300, 301})
    with pytest.raises(ValueError):
        res.new_plan("10.0.0.9", offer, IK[:8], CK)
    assert res.ports.held("10.0.0.9") == frozenset()


# -- headers ---------------------------------------------------------------------
def test_security_server_and_verify() -> None:
    plan = make_plan()
    server = build_security_server(plan)
    assert str(server) == ("ipsec-3gpp;alg=hmac-sha-1-96;ealg=des-ede3-cbc;spi-c=10000;"
                           "spi-s=10001;port-c=6100;port-s=5100;prot=esp;mod=trans;q=0.1")
    resp = Response(401, "Unauthorized")
    add_security_server(resp, [server])
    assert resp.header_values("security-server") == [str(server)]
    good = register(extra=(f"Security-Verify: {server}",))
    assert check_security_verify(good, [server]) is None
    bad = register(extra=(f"Security-Verify: {str(server).replace('10001', '10002')}",))
    answer = check_security_verify(bad, [server])
    assert answer is not None and answer.status == 494
    assert answer.header_values("require") == ["sec-agree"]
    assert answer.header_values("security-server") == [str(server)]
    missing = check_security_verify(register(), [server])
    assert missing is not None and missing.status == 494


def test_strip_sec_agree() -> None:
    req = register(extra=("Require: sec-agree", "Proxy-Require: sec-agree, foo",
                          "Supported: path, sec-agree", client_header(),
                          "Security-Verify: ipsec-3gpp;alg=hmac-md5-96"))
    strip_sec_agree(req)
    assert not req.has("require") and req.header_values("proxy-require") == ["foo"]
    assert not req.has("security-client") and not req.has("security-verify")
    assert req.header_values("supported") == ["path, sec-agree"]


def test_integrity_protected_marking() -> None:
    req = register()
    mark_integrity_protected(req, False)
    assert credentials(req)[0].integrity_protected == "no"
    assert 'integrity-protected="no"' in req.header_values("authorization")[0]
    mark_integrity_protected(req, True)
    assert [c.integrity_protected for c in credentials(req)] == ["yes"]
    req.remove("authorization")
    mark_integrity_protected(req, True)
    assert not req.has("authorization")


# -- flow rules (pcscf/flows.py) -----------------------------------------------------
def test_request_route_port_c_to_ue_port_s() -> None:
    plan = make_plan()
    r = request_route(plan)
    assert (r.local_port, r.remote_host, r.remote_port, r.transport) == (
        6100, UE_HOST, 51001, "udp")
    assert request_route(plan, ue_transport="tcp").transport == "tcp"


def test_classify_arrival() -> None:
    plan = make_plan()
    ports = frozenset({5100, 5101, 6100, 6101})
    assert classify_arrival(plan, UE_HOST, 51000, 5100, ports) is Arrival.REQUEST_ON_PORT_S
    assert classify_arrival(plan, UE_HOST, 51001, 6100, ports) is Arrival.RESPONSE_ON_PORT_C
    assert classify_arrival(plan, UE_HOST, 51001, 5100, ports) is Arrival.STRAY
    assert classify_arrival(plan, "10.9.9.9", 51000, 5100, ports) is Arrival.STRAY
    assert classify_arrival(None, UE_HOST, 51000, 5100, ports) is Arrival.STRAY
    assert classify_arrival(plan, UE_HOST, 5062, 5060, ports) is Arrival.UNPROTECTED


# -- the per-UE session (TS 33.203 §7.4) -------------------------------------------
def registered_session(res: SecAgreeResources) -> tuple[SecAgreeSession, XfrmPlan]:
    session = SecAgreeSession(UE_HOST, res)
    assert session.receive_register(register(extra=(client_header(),)), None) is None
    server, actions = session.challenge(IK, CK, now=100.0)
    assert server is not None and len(actions) == 1 and isinstance(actions[0], InstallPlan)
    plan = actions[0].plan
    protected = register(extra=(f"Security-Verify: {server}",))
    assert session.receive_register(protected, plan.port_ps) is None
    assert session.active is None  # not before the 200 OK
    assert session.registered(600, now=101.0) == []
    assert session.active == plan
    return session, plan


def test_initial_registration() -> None:
    res = make_resources()
    session, plan = registered_session(res)
    assert (plan.alg, plan.ealg, plan.port_uc, plan.port_us) == (
        "hmac-sha-1-96", "aes-cbc", 51000, 51001)
    assert res.spis.live == frozenset({plan.spi_pc, plan.spi_ps})
    assert session.get_timer() == 101.0 + 600 + 30.0
    assert res.protected_ports == frozenset(range(5100, 5110)) | frozenset(range(6100, 6110))


def test_reregistration_switches_after_200_ok() -> None:
    res = make_resources()
    session, old = registered_session(res)
    assert session.receive_register(register(extra=(client_header(port_c=52000),)), None) is None
    server, actions = session.challenge(IK2, CK2, now=200.0)
    assert server is not None
    new = actions[0].plan
    assert actions == [InstallPlan(new)]
    assert (new.port_ps, new.port_pc, new.port_uc) == (5101, 6101, 52000)
    assert {new.spi_pc, new.spi_ps}.isdisjoint({old.spi_pc, old.spi_ps})
    assert session.active == old  # requests to the UE keep the old set until the 200 OK
    assert session.plan_on_port(5101) == new and session.plan_on_port(5100) == old
    assert session.registered(600, now=201.0) == [RemovePlan(old)]
    assert session.active == new
    assert res.spis.live == frozenset({new.spi_pc, new.spi_ps})
    assert request_route(new, 100).local_port == 6101


def test_security_verify_checked_against_set_it_arrived_on() -> None:
    session, plan = registered_session(make_resources())
    stale = register(extra=("Security-Verify: ipsec-3gpp;alg=hmac-md5-96;spi-c=1;spi-s=2",))
    answer = session.receive_register(stale, plan.port_ps)
    assert answer is not None and answer.status == 494
    good = register(extra=(f"Security-Verify: {build_security_server(plan)}",))
    assert session.receive_register(good, plan.port_pc) is None
    answer = session.receive_register(good, 5109)  # a pool port with no set of this UE
    assert answer is not None and answer.status == 494


def test_reuse_when_offer_and_keys_unchanged() -> None:
    session, plan = registered_session(make_resources())
    session.receive_register(register(extra=(client_header(),)), None)
    server, actions = session.challenge(IK, CK, now=300.0)
    assert actions == [] and server == build_security_server(plan)
    assert session.registered(600, now=301.0) == [] and session.active == plan


def test_new_security_client_is_used_not_the_old_one() -> None:
    session, old = registered_session(make_resources())
    session.receive_register(register(extra=(client_header(spi_c=4001, spi_s=4002),)), None)
    _, actions = session.challenge(IK, CK, now=300.0)
    assert isinstance(actions[0], InstallPlan)
    assert (actions[0].plan.spi_uc, actions[0].plan.spi_us) == (4001, 4002)


def test_deregistration_removes_everything_after_200() -> None:
    res = make_resources()
    session, plan = registered_session(res)
    assert session.registered(0, now=400.0) == [RemovePlan(plan)]
    assert session.active is None and res.spis.live == frozenset()
    assert res.ports.held(UE_HOST) == frozenset() and res.reqids.live == frozenset()


def test_failed_authentication_drops_pending() -> None:
    res = make_resources()
    session = SecAgreeSession(UE_HOST, res)
    session.receive_register(register(extra=(client_header(),)), None)
    _, actions = session.challenge(IK, CK, now=0.0)
    assert session.failed() == [RemovePlan(actions[0].plan)]
    assert session.failed() == [] and res.spis.live == frozenset()


def test_second_challenge_replaces_pending() -> None:
    session = SecAgreeSession(UE_HOST, make_resources())
    session.receive_register(register(extra=(client_header(),)), None)
    _, first = session.challenge(IK, CK, now=0.0)
    session.receive_register(register(extra=(client_header(),)), None)
    _, second = session.challenge(IK2, CK2, now=1.0)
    assert second[0] == RemovePlan(first[0].plan) and isinstance(second[1], InstallPlan)


def test_timers_expire_pending_then_active() -> None:
    session = SecAgreeSession(UE_HOST, make_resources())
    session.receive_register(register(extra=(client_header(),)), None)
    _, actions = session.challenge(IK, CK, now=0.0)
    assert session.get_timer() == 240.0
    assert session.handle_timer(239.0) == []
    assert session.handle_timer(240.0) == [RemovePlan(actions[0].plan)]
    assert session.get_timer() is None
    session2, plan = registered_session(make_resources())
    assert session2.handle_timer(101.0 + 630.0) == [RemovePlan(plan)]


def test_plain_phone_and_unacceptable_offer() -> None:
    session = SecAgreeSession(UE_HOST, make_resources())
    assert session.receive_register(register(), None) is None
    assert session.challenge(IK, CK, now=0.0) == (None, [])
    bad = register(extra=("Security-Client: ipsec-3gpp;alg=hmac-sha-256;spi-c=1000;"
                          "spi-s=1001;port-c=1;port-s=2",))
    answer = session.receive_register(bad, None)
    assert answer is not None and answer.status == 494
    broken = register(extra=("Security-Client: ipsec-3gpp;spi-c=x",))
    answer = session.receive_register(broken, None)
    assert answer is not None and answer.status == 494


def test_close_removes_pending_and_active() -> None:
    session, old = registered_session(make_resources())
    session.receive_register(register(extra=(client_header(port_c=52000),)), None)
    _, actions = session.challenge(IK2, CK2, now=200.0)
    assert session.close() == [RemovePlan(actions[0].plan), RemovePlan(old)]

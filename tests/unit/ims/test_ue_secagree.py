"""The UE's sec-agree (ims.ue.secagree): TS 33.203 §7.1-§7.4, RFC 3329 §2.3.1, Annex H/I.

IK and CK are the f4/f3 outputs of TS 35.208 §4.3.1 Test Set 1.
"""

from __future__ import annotations

import itertools

import pytest

from ims.ipsec.xfrm import Direction
from ims.sip.headers.security import parse_security_mechanisms, same_mechanisms
from ims.sip.message import Response, build_request, make_response
from ims.ue.secagree import (
    InstallSas,
    RemoveSas,
    UeOffer,
    UeSecAgree,
    UeSecAgreeError,
    build_security_client,
    choose_server,
    offered_pairs,
    plan_from_server,
    sec_agree_headers,
    ue_spec,
)

IK = bytes.fromhex("f769bcd751044604127672711c6d3441")
CK = bytes.fromhex("b40ba9a3c58b2a05bbf0d987b21bf8cb")
UE, PCSCF = "10.45.0.2", "10.46.0.1"
OFFER = UeOffer(spi_uc=3000000001, spi_us=3000000002, port_uc=40001, port_us=40002)
SERVER = ("ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=65537;spi-s=65538;"
          "port-c=6100;port-s=5100;prot=esp;mod=trans;q=0.1")


def mech_text(alg: str, ealg: str) -> str:
    return (f"ipsec-3gpp;alg={alg};ealg={ealg};spi-c=3000000001;spi-s=3000000002;"
            f"port-c=40001;port-s=40002;prot=esp;mod=trans")


def challenge(server: str) -> Response:
    req = build_request("REGISTER", "sip:ims.example", [
        ("Via", "SIP/2.0/UDP 10.45.0.2:40002;branch=z9hG4bK1"), ("From", "<sip:a@x>;tag=1"),
        ("To", "<sip:a@x>"), ("Call-ID", "c1"), ("CSeq", "1 REGISTER")])
    return make_response(req, 401, headers=[("Security-Server", server)])


# -- Security-Client ----------------------------------------------------------------------
def test_security_client_offers_all_six_pairs_by_default() -> None:
    text = ", ".join(str(m) for m in build_security_client(OFFER, offered_pairs()))
    assert text == ", ".join(mech_text(a, e) for a, e in [
        ("hmac-sha-1-96", "aes-cbc"), ("hmac-sha-1-96", "des-ede3-cbc"),
        ("hmac-sha-1-96", "null"), ("hmac-md5-96", "aes-cbc"),
        ("hmac-md5-96", "des-ede3-cbc"), ("hmac-md5-96", "null")])


def test_security_client_with_a_configured_pair() -> None:
    mechs = build_security_client(OFFER, offered_pairs("hmac-md5-96", "null"))
    assert [str(m) for m in mechs] == [mech_text("hmac-md5-96", "null")]
    assert offered_pairs("hmac-md5-96") == (("hmac-md5-96", "aes-cbc"),
                                            ("hmac-md5-96", "des-ede3-cbc"),
                                            ("hmac-md5-96", "null"))


def test_unknown_algorithm_cannot_be_configured() -> None:
    with pytest.raises(UeSecAgreeError, match="hmac-sha-256"):
        offered_pairs("hmac-sha-256")


def test_headers_carry_require_and_proxy_require() -> None:
    client = build_security_client(OFFER, offered_pairs("hmac-md5-96", "null"))
    assert sec_agree_headers(client) == [
        ("Security-Client", mech_text("hmac-md5-96", "null")),
        ("Require", "sec-agree"), ("Proxy-Require", "sec-agree")]


# -- Security-Server ----------------------------------------------------------------------
def test_highest_q_is_chosen() -> None:
    mechs = parse_security_mechanisms([
        "ipsec-3gpp;alg=hmac-md5-96;ealg=null;spi-c=1000;spi-s=1001;port-c=6100;port-s=5100;q=0.1",
        "ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=2000;spi-s=2001;port-c=6101;port-s=5101;"
        "q=0.5",
        "ipsec-3gpp;alg=hmac-md5-96;ealg=aes-cbc;spi-c=3000;spi-s=3001;port-c=6102;port-s=5102;"
        "q=0.2",
    ])
    chosen = choose_server(mechs, offered_pairs())
    assert (chosen.alg, chosen.ealg, chosen.spi_c, chosen.port_s) == (
        "hmac-sha-1-96", "aes-cbc", 2000, 5101)


def test_equal_q_goes_to_the_first_and_absent_ealg_reads_null() -> None:
    mechs = parse_security_mechanisms([
        "ipsec-3gpp;alg=hmac-md5-96;spi-c=1000;spi-s=1001;port-c=6100;port-s=5100",
        "ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=2000;spi-s=2001;port-c=6101;port-s=5101",
    ])
    chosen = choose_server(mechs, offered_pairs())
    assert (chosen.alg, chosen.ealg, chosen.spi_c) == ("hmac-md5-96", None, 1000)


def test_an_unoffered_pair_is_refused() -> None:
    mechs = parse_security_mechanisms([SERVER])
    with pytest.raises(UeSecAgreeError, match="did not offer"):
        choose_server(mechs, offered_pairs("hmac-md5-96", "null"))


@pytest.mark.parametrize("server", [
    "digest;d-alg=md5",
    "ipsec-3gpp;alg=hmac-md5-96;ealg=null;spi-c=100;spi-s=1001;port-c=6100;port-s=5100",
    "ipsec-3gpp;alg=hmac-md5-96;ealg=null;spi-s=1001;port-c=6100;port-s=5100",
    "ipsec-3gpp;alg=hmac-md5-96;ealg=null;spi-c=1000;spi-s=1001;port-c=6100;port-s=5100;prot=ah",
])
def test_unusable_security_server_is_refused(server: str) -> None:
    with pytest.raises(UeSecAgreeError):
        choose_server(parse_security_mechanisms([server]), offered_pairs())


def test_missing_security_server_is_refused() -> None:
    sec = UeSecAgree(ue_host=UE, pcscf_host=PCSCF, port_uc=40001, port_us=40002)
    sec.start_register()
    resp = challenge(SERVER)
    resp.remove("security-server")
    with pytest.raises(UeSecAgreeError, match="no Security-Server"):
        sec.on_challenge(resp, IK, CK)


# -- the plan from the UE's side ------------------------------------------------------------
def test_plan_has_the_four_sas_of_ts33203_7_1_from_the_ue_view() -> None:
    (server,) = parse_security_mechanisms([SERVER])
    plan = plan_from_server(server, OFFER, IK, CK, UE, PCSCF, 0x55450010)
    spec = ue_spec(plan, "ue:test")
    rows = [(sa.src, sa.src_port, sa.dst, sa.dst_port, sa.spi, sa.reqid) for sa in spec.sas]
    assert rows == [
        (UE, 40001, PCSCF, 5100, 65538, 0x55450010),          # port_uc -> port_ps, spi_ps
        (PCSCF, 5100, UE, 40001, 3000000001, 0x55450011),     # port_ps -> port_uc, spi_uc
        (PCSCF, 6100, UE, 40002, 3000000002, 0x55450012),     # port_pc -> port_us, spi_us
        (UE, 40002, PCSCF, 6100, 65537, 0x55450013),          # port_us -> port_pc, spi_pc
    ]
    assert [p.direction for p in spec.policies] == [Direction.OUT, Direction.IN,
                                                    Direction.IN, Direction.OUT]
    assert all(sa.auth_alg == "hmac-sha-1-96" and sa.enc_alg == "aes-cbc" for sa in spec.sas)
    assert {sa.auth_key for sa in spec.sas} == {IK + bytes(4)}    # Annex I: IK || 32 zero bits
    assert {sa.enc_key for sa in spec.sas} == {CK}                 # Annex I: CK


def test_plan_keys_for_md5_and_3des() -> None:
    (server,) = parse_security_mechanisms([
        "ipsec-3gpp;alg=hmac-md5-96;ealg=des-ede3-cbc;spi-c=700;spi-s=701;port-c=6100;"
        "port-s=5100"])
    plan = plan_from_server(server, OFFER, IK, CK, UE, PCSCF, 0x55450000)
    assert plan.algorithms.auth_key == IK
    assert plan.algorithms.enc_key == CK[:8] + CK[8:] + CK[:8]
    assert (plan.port_pc, plan.port_ps, plan.spi_pc, plan.spi_ps) == (6100, 5100, 700, 701)


# -- the state machine (TS 33.203 §7.4) --------------------------------------------------------
def machine() -> UeSecAgree:
    spis = itertools.count(0x90000000)
    reqids = itertools.count(0x55450000, 4)
    return UeSecAgree(ue_host=UE, pcscf_host=PCSCF, port_uc=40001, port_us=40002,
                      owner="ue:t", new_spi=lambda: next(spis), new_reqid=lambda: next(reqids))


def test_security_verify_repeats_the_security_server_received() -> None:
    sec = machine()
    sec.start_register()
    first = dict(sec.headers())
    assert "Security-Verify" not in first
    (action,) = sec.on_challenge(challenge(SERVER), IK, CK)
    assert isinstance(action, InstallSas)
    again = dict(sec.headers())
    assert again["Security-Verify"] == SERVER
    assert again["Security-Client"] == first["Security-Client"]
    assert same_mechanisms(parse_security_mechanisms([again["Security-Verify"]]),
                           parse_security_mechanisms([SERVER]))


def test_reregistration_switches_after_the_200_and_deletes_the_old_set() -> None:
    sec = machine()
    sec.start_register()
    sec.on_challenge(challenge(SERVER), IK, CK)
    assert sec.on_final(200, deregistration=False) == []
    first = sec.current
    assert first is not None and (first.plan.spi_uc, first.plan.spi_us) == (0x90000000,
                                                                             0x90000001)
    sec.start_register()
    assert dict(sec.headers())["Security-Verify"] == SERVER   # goes over the current set
    second_server = SERVER.replace("spi-c=65537;spi-s=65538;port-c=6100;port-s=5100",
                                   "spi-c=65539;spi-s=65540;port-c=6101;port-s=5101")
    (install,) = sec.on_challenge(challenge(second_server), IK, CK)
    assert isinstance(install, InstallSas)
    assert (install.sa_set.plan.spi_uc, install.sa_set.plan.spi_us) == (0x90000002, 0x90000003)
    assert sec.sending is install.sa_set and sec.current is first
    assert sec.on_final(200, deregistration=False) == [RemoveSas(first)]
    assert sec.current is install.sa_set and sec.pending is None


def test_failure_drops_the_pending_set_and_deregistration_removes_all() -> None:
    sec = machine()
    sec.start_register()
    (install,) = sec.on_challenge(challenge(SERVER), IK, CK)
    assert sec.on_final(403, deregistration=False) == [RemoveSas(install.sa_set)]
    assert sec.sending is None
    sec.start_register()
    sec.on_challenge(challenge(SERVER), IK, CK)
    sec.on_final(200, deregistration=False)
    current = sec.current
    sec.start_register()
    assert sec.on_final(200, deregistration=True) == [RemoveSas(current)]  # type: ignore[arg-type]
    assert sec.sending is None

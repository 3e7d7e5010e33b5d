"""pcscf/ipsec.py: modes and the sec-agree adapter over xfrm.FakeXfrm; policies on the host kernel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hostnet import ip
from pcscf_messages import UE, challenge, ok, register

from ims.ipsec.xfrm import Direction, FakeXfrm, NetlinkXfrm, SaSpec, XfrmError, XfrmSpec
from ims.runtime.config import load_config_text
from ims.sip.events import Peer
from ims.sip.headers.auth import remove_challenge_keys
from ims.sip.message import Request, Response, build_request
from pcscf import ipsec
from pcscf.app import protected_specs
from pcscf.ipsec_ops import EspKeysFile, esp_sa_line
from pcscf.router import SecAgreeUnavailable
from pcscf.secagree import ProtectedPortPool
from pcscf.sessions import SecAgreeResources

PCSCF = "10.45.0.1"
SEC_CLIENT = ("Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=3001;"
              "spi-s=3002;port-c=51000;port-s=51001;prot=esp;mod=trans")
IK = bytes.fromhex("00112233445566778899aabbccddeeff")
CK = bytes.fromhex("ffeeddccbbaa99887766554433221100")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def adapter(fake: FakeXfrm, clock: Clock | None = None, keys: Path | None = None,
            required: bool = False) -> ipsec.IpsecSecAgree:
    res = SecAgreeResources(PCSCF, ProtectedPortPool(5100, 6100, 2))
    return ipsec.IpsecSecAgree(res, fake, required=required, clock=clock or Clock(),
                               keys_file=EspKeysFile(keys) if keys else None)


def challenged(sec: ipsec.IpsecSecAgree) -> tuple[Request, Response]:
    """Unprotected REGISTER with Security-Client through, then the S-CSCF's 401."""
    req = register(extra=(SEC_CLIENT, "Require: sec-agree", "Proxy-Require: sec-agree"))
    assert sec.check_register(req, UE) is None
    resp = challenge()
    sec.challenge(req, UE, remove_challenge_keys(resp), resp)
    return req, resp


def protected_register(server: str, verify: str | None = None) -> Request:
    return register(extra=(SEC_CLIENT, f"Security-Verify: {verify or server}",
                           "Require: sec-agree"))


# -- modes ------------------------------------------------------------------------
def test_off_never_touches_xfrm() -> None:
    def boom() -> FakeXfrm:
        raise AssertionError("XFRM touched with ipsec = off")
    status = ipsec.probe("off", boom)
    assert status.as_dict() == {"mode": "off", "kernel_esp": None,
                                "reason": "ipsec = off: XFRM is not used"}
    sec = ipsec.select_sec_agree(status, SecAgreeResources(PCSCF, ProtectedPortPool()), boom)
    assert isinstance(sec, ipsec.NoIpsec)


def test_required_without_esp_refuses_to_start() -> None:
    status = ipsec.probe("required", lambda: FakeXfrm(esp=False))
    assert status.kernel_esp is False and status.reason == ipsec.NO_ESP_REASON
    with pytest.raises(ipsec.IpsecUnavailable, match="required.*cannot hold ESP"):
        ipsec.select_sec_agree(status, SecAgreeResources(PCSCF, ProtectedPortPool()),
                               FakeXfrm)


def test_optional_without_esp_serves_plain_and_refuses_require() -> None:
    status = ipsec.probe("optional", lambda: FakeXfrm(esp=False))
    sec = ipsec.select_sec_agree(status, SecAgreeResources(PCSCF, ProtectedPortPool()),
                                 FakeXfrm)
    assert isinstance(sec, SecAgreeUnavailable)
    refusal = sec.check_register(register(extra=("Require: sec-agree", SEC_CLIENT)), UE)
    assert refusal is not None and refusal.status == 420
    assert refusal.get("unsupported") == "sec-agree"
    plain = register(extra=(SEC_CLIENT,))
    assert sec.check_register(plain, UE) is None and not plain.has("security-client")


def test_probe_netlink_refusal_reads_as_no_esp() -> None:
    class Refusing(FakeXfrm):
        def probe_esp(self) -> bool:
            raise XfrmError("probe", 1)
    status = ipsec.probe("optional", Refusing)
    assert status.kernel_esp is False and "Operation not permitted" in status.reason


def test_with_esp_the_adapter_is_used() -> None:
    status = ipsec.probe("required", FakeXfrm)
    assert status.as_dict()["kernel_esp"] is True and status.active
    sec = ipsec.select_sec_agree(status, SecAgreeResources(PCSCF, ProtectedPortPool()),
                                 FakeXfrm)
    assert isinstance(sec, ipsec.IpsecSecAgree) and sec.required


# -- the adapter ----------------------------------------------------------------------
def test_plain_register_passes_unless_required() -> None:
    assert adapter(FakeXfrm()).check_register(register(), UE) is None
    refusal = adapter(FakeXfrm(), required=True).check_register(register(), UE)
    assert refusal is not None and refusal.status == 421
    assert refusal.get("require") == "sec-agree"


def test_unprotected_register_is_stripped_and_marked() -> None:
    sec = adapter(FakeXfrm())
    req, _ = challenged(sec)
    assert not req.has("security-client") and not req.has("require")
    assert not req.has("proxy-require")
    assert 'integrity-protected="no"' in (req.get("authorization") or "")


def test_sas_installed_before_the_401_with_security_server() -> None:
    fake = FakeXfrm()
    sec = adapter(fake)
    _, resp = challenged(sec)
    assert fake.calls == [f"apply {UE.host}/0x494d0000"]
    spec = fake.applied[f"{UE.host}/0x494d0000"]
    assert [(s.src, s.src_port, s.dst, s.dst_port) for s in spec.sas] == [
        (UE.host, 51000, PCSCF, 5100), (PCSCF, 5100, UE.host, 51000),
        (PCSCF, 6100, UE.host, 51001), (UE.host, 51001, PCSCF, 6100)]
    assert [p.direction for p in spec.policies] == [
        Direction.IN, Direction.OUT, Direction.OUT, Direction.IN]
    assert spec.sas[0].auth_key == IK + bytes(4) and spec.sas[0].enc_key == CK
    server = resp.get("security-server") or ""
    assert "ipsec-3gpp" in server and "port-s=5100" in server and "port-c=6100" in server
    assert "ik=" not in (resp.get("www-authenticate") or "")


def test_protected_register_mismatch_is_494() -> None:
    sec = adapter(FakeXfrm())
    _, resp = challenged(sec)
    wrong = protected_register(resp.get("security-server") or "",
                               verify="ipsec-3gpp;alg=hmac-md5-96;spi-c=1;spi-s=2")
    refusal = sec.check_register(wrong, Peer("udp", UE.host, 51000, None, 5100))
    assert refusal is not None and refusal.status == 494
    assert sec.counters["ipsec_verify_failures"] == 1


def test_registration_confirms_and_deregistration_removes() -> None:
    fake, clock = FakeXfrm(), Clock()
    sec = adapter(fake, clock)
    _, resp = challenged(sec)
    from_port_c = Peer("udp", UE.host, 51000, None, 5100)
    req = protected_register(resp.get("security-server") or "")
    assert sec.check_register(req, from_port_c) is None
    assert 'integrity-protected="yes"' in (req.get("authorization") or "")
    assert not req.has("security-verify")
    sec.final(req, ok(req), from_port_c)
    assert len(fake.applied) == 1 and sec.counters["ipsec_sets_installed"] == 1
    dereg = protected_register(resp.get("security-server") or "")
    dereg.set("Expires", "0")
    assert sec.check_register(dereg, from_port_c) is None
    sec.final(dereg, ok(dereg, expires=0), from_port_c)
    assert fake.applied == {} and sec.sessions == {}
    assert fake.calls[-1] == f"remove {UE.host}/0x494d0000"


def test_failed_auth_and_unconfirmed_sets_go() -> None:
    fake, clock = FakeXfrm(), Clock()
    sec = adapter(fake, clock)
    req, _ = challenged(sec)
    forbidden = ok(req)
    forbidden.status = 403
    sec.final(req, forbidden, UE)
    assert fake.applied == {}
    challenged(sec)
    assert len(fake.applied) == 1
    clock.now += 10_000
    sec.sweep()
    assert fake.applied == {} and sec.sessions == {}


def test_install_failure_turns_the_401_into_a_503() -> None:
    class Broken(FakeXfrm):
        def apply(self, plan: XfrmSpec) -> None:
            raise XfrmError("add SA", 93)
    sec = adapter(Broken())
    _, resp = challenged(sec)
    assert (resp.status, resp.reason) == (503, "Service Unavailable - IPsec SAs could not be installed")
    assert not resp.has("security-server") and not resp.has("www-authenticate")
    assert resp.get("retry-after") == "60"
    assert sec.counters["ipsec_install_failures"] == 1


def test_pool_exhausted_turns_the_401_into_a_503() -> None:
    sec = ipsec.IpsecSecAgree(SecAgreeResources(PCSCF, ProtectedPortPool(5100, 6100, 1)),
                              FakeXfrm(), clock=Clock())
    first = registered(sec)
    assert first.status == 401
    req = register(extra=(SEC_CLIENT, f"Security-Verify: {first.get('security-server')}",
                          "Require: sec-agree"))
    assert sec.check_register(req, Peer("udp", UE.host, 51000, None, 5100)) is None
    resp = challenge(ik="0f" * 16)  # new keys: a second set, but the pool has one pair
    sec.challenge(req, UE, remove_challenge_keys(resp), resp)
    assert (resp.status, resp.reason) == (503, "Service Unavailable - no IPsec SA set left")
    assert sec.counters["ipsec_pool_exhausted"] == 1


def test_start_cleans_our_marker_and_status_lists_sas() -> None:
    fake = FakeXfrm()
    sec = adapter(fake)
    challenged(sec)
    assert adapter(fake).start() == 8  # four SAs and four policies left behind
    challenged(sec)
    rows = sec.sa_status()
    assert [row["ue"] for row in rows] == [UE.host]
    assert [(r["src"], r["dst"], r["alg"], r["ealg"], r["packets"]) for r in rows[0]["sas"]][0] \
        == (f"{UE.host}:51000", f"{PCSCF}:5100", "hmac-sha-1-96", "aes-cbc", 0)


# -- Wireshark esp_sa --------------------------------------------------------------
def test_esp_sa_line_format() -> None:
    line = esp_sa_line(SaSpec("10.45.0.2", "10.45.0.1", 51000, 5100, 0x10000, 1,
                              "hmac-sha-1-96", IK + bytes(4), "des-ede3-cbc", CK + CK[:8]))
    assert line == ('"IPv4","10.45.0.2","10.45.0.1","0x00010000","TripleDES-CBC [RFC2451]",'
                    f'"0x{(CK + CK[:8]).hex()}","HMAC-SHA-1-96 [RFC2404]",'
                    f'"0x{IK.hex()}00000000"')
    null = esp_sa_line(SaSpec("10.45.0.1", "10.45.0.2", 1, 2, 0x10001, 1, "hmac-md5-96", IK))
    assert '"NULL",""' in null and '"HMAC-MD5-96 [RFC2403]"' in null


def test_keys_file_follows_the_sas(tmp_path: Path) -> None:
    keys = tmp_path / "esp_sa"
    fake = FakeXfrm()
    sec = adapter(fake, keys=keys)
    req, _ = challenged(sec)
    lines = keys.read_text().splitlines()[1:]
    assert len(lines) == 4 and all('"AES-CBC [RFC3602]"' in line for line in lines)
    assert oct(keys.stat().st_mode & 0o777) == "0o600"
    forbidden = ok(req)
    forbidden.status = 403
    sec.final(req, forbidden, UE)
    assert keys.read_text().splitlines()[1:] == []


# -- host kernel: the adapter's policies in a namespace ------------------------------


def test_adapter_policies_land_in_a_namespace(netns: str) -> None:
    fake = FakeXfrm()
    challenged(adapter(fake))
    spec = next(iter(fake.applied.values()))
    kernel = NetlinkXfrm(netns)
    kernel.apply(XfrmSpec(spec.owner, (), spec.policies))  # no ESP here: policies only
    listed = sorted(kernel.list_policies(), key=lambda p: p.reqid)
    assert listed == list(spec.policies)
    text = ip("-n", netns, "xfrm", "policy")
    assert f"src {UE.host}/32 dst {PCSCF}/32 sport 51000 dport 5100" in text
    assert "reqid 1229783040" in text  # 0x494d0000, our marker
    assert kernel.cleanup_stale(ipsec.MARKER) == 4 and kernel.list_policies() == []


# -- flows on the protected ports (TS 33.203 §7.1) ----------------------------------------
def registered(sec: ipsec.IpsecSecAgree) -> Response:
    """Challenged, then the protected REGISTER confirmed by its 200 OK; the 401."""
    _, resp = challenged(sec)
    from_port_c = Peer("udp", UE.host, 51000, None, 5100)
    req = protected_register(resp.get("security-server") or "")
    assert sec.check_register(req, from_port_c) is None
    sec.final(req, ok(req), from_port_c)
    return resp


def test_gate_admits_only_the_flows_of_a_live_set() -> None:
    sec = adapter(FakeXfrm())
    assert not sec.accepts(Peer("udp", UE.host, 51000, None, 5100))  # no set yet
    challenged(sec)  # pending set: port-s 5100 / port-c 6100, UE port-c 51000 / port-s 51001
    assert sec.accepts(Peer("udp", UE.host, 51000, None, 5100))  # UE port-c -> our port-s
    assert sec.accepts(Peer("tcp", UE.host, 51001, 7, 6100))  # UE port-s -> our port-c
    assert not sec.accepts(Peer("udp", UE.host, 51001, None, 5100))  # wrong UE port
    assert not sec.accepts(Peer("udp", UE.host, 40000, None, 5100))
    assert not sec.accepts(Peer("udp", "10.45.0.9", 51000, None, 5100))  # another address
    assert not sec.accepts(Peer("udp", UE.host, 51000, None, 5101))  # a pool port of no set


def notify() -> Request:
    return build_request("NOTIFY", f"sip:ue@{UE.host}:51001", [
        ("Via", "SIP/2.0/UDP 10.45.0.1:5060;branch=z9hG4bKpc1"), ("Max-Forwards", "70"),
        ("From", "<sip:scscf@ims.test>;tag=s1"), ("To", "<sip:ue@ims.test>;tag=u1"),
        ("Call-ID", "n1@test"), ("CSeq", "1 NOTIFY"), ("Event", "reg"),
        ("Subscription-State", "active;expires=600")])


def test_requests_toward_the_ue_leave_from_port_c_to_its_port_s() -> None:
    sec = adapter(FakeXfrm())
    req = notify()
    plain = Peer("udp", UE.host, 5062)
    assert sec.toward_ue(req, plain) is plain  # no SA set: untouched
    challenged(sec)
    assert sec.toward_ue(req, plain) is plain  # only a confirmed set carries requests (§7.4)
    registered(sec)
    assert sec.toward_ue(req, Peer("udp", UE.host, 51000, None, 5100)) == \
        Peer("udp", UE.host, 51001, None, 6100)
    assert req.get("via") == "SIP/2.0/UDP 10.45.0.1:6100;branch=z9hG4bKpc1"
    # a UE registered over TCP gets requests over TCP, on a new connection from port-c
    assert sec.toward_ue(notify(), Peer("tcp", UE.host, 51000, 3, 5100)) == \
        Peer("tcp", UE.host, 51001, None, 6100)
    other = Peer("udp", "10.45.0.9", 5060)
    assert sec.toward_ue(notify(), other) is other
    core_on_ue_address = Peer("udp", UE.host, 5060)  # a lab core sharing the UE's address
    assert sec.toward_ue(notify(), core_on_ue_address) is core_on_ue_address


def test_after_reauthentication_requests_use_the_newest_set() -> None:
    fake, clock = FakeXfrm(), Clock()
    sec = adapter(fake, clock)
    first = registered(sec).get("security-server") or ""  # set 1: ports 5100/6100
    req = register(extra=(SEC_CLIENT.replace("spi-c=3001", "spi-c=4001"),
                          f"Security-Verify: {first}", "Require: sec-agree"))
    assert sec.check_register(req, Peer("udp", UE.host, 51000, None, 5100)) is None
    resp = challenge(ik="0f" * 16)
    sec.challenge(req, UE, remove_challenge_keys(resp), resp)
    assert "port-s=5101" in (resp.get("security-server") or "")  # set 2 beside set 1
    assert len(fake.applied) == 2
    # until the 200 OK, requests still go through set 1 ...
    to_port_s = Peer("udp", UE.host, 51001)  # resolved from its contact
    assert sec.toward_ue(notify(), to_port_s).local_port == 6100
    from_new = Peer("udp", UE.host, 51000, None, 5101)
    again = protected_register(resp.get("security-server") or "")
    assert sec.check_register(again, from_new) is None
    sec.final(again, ok(again), from_new)
    # ... then through set 2 only, and set 1 is gone (TS 33.203 §7.4)
    assert sec.toward_ue(notify(), to_port_s).local_port == 6101
    assert len(fake.applied) == 1
    assert not sec.accepts(Peer("udp", UE.host, 51000, None, 5100))


def test_sas_outlive_their_tcp_connections_by_the_grace() -> None:
    """The FIN exchange of a set's TCP connections still goes inside ESP (TS 33.203 §7.4)."""
    async def body() -> None:
        fake = FakeXfrm()
        sec = adapter(fake)
        closed: list[tuple[int, int]] = []
        sec.close_flows = lambda plan: closed.append((plan.port_ps, plan.port_pc)) or 1
        sec.flow_grace = 0.05
        first = registered(sec)
        dereg = protected_register(first.get("security-server") or "")
        dereg.set("Expires", "0")
        from_port_c = Peer("udp", UE.host, 51000, None, 5100)
        assert sec.check_register(dereg, from_port_c) is None
        sec.final(dereg, ok(dereg, expires=0), from_port_c)
        assert closed == [(5100, 6100)]
        assert len(fake.applied) == 1 and sec.installed == {}  # still in the kernel ...
        await asyncio.sleep(0.2)
        assert fake.applied == {}  # ... until the grace ran out
        # a set still retiring goes at once when the same UE gets a new one
        registered(sec)
        sec.flow_grace = 60
        sec.close()  # shutdown: nothing waits
        assert fake.applied == {}
        registered(sec)
        sec.close_flows, sec.flow_grace = (lambda plan: 1), 60
        sec.final(dereg, ok(dereg, expires=0), from_port_c)
        assert len(fake.applied) == 1  # retiring for a minute
        challenged(sec)  # the UE registers again at once: the old set goes first
        assert len(fake.applied) == 1
        assert [call.split()[0] for call in fake.calls[-2:]] == ["remove", "apply"]

    asyncio.run(body())


def test_whether_a_register_is_protected_never_depends_on_the_ues_port() -> None:
    """A new REGISTER from the UE's old port-c to the ordinary port is unprotected (a restart)."""
    fake = FakeXfrm()
    sec = adapter(fake)
    registered(sec)
    from_port_c_unprotected = Peer("udp", UE.host, 51000)  # no local_port: ordinary port
    fresh = register(extra=(SEC_CLIENT.replace("spi-c=3001", "spi-c=5001"), "Require: sec-agree"))
    assert sec.check_register(fresh, from_port_c_unprotected) is None
    assert 'integrity-protected="no"' in (fresh.get("authorization") or "")
    resp = challenge(ik="0e" * 16)
    sec.challenge(fresh, from_port_c_unprotected, remove_challenge_keys(resp), resp)
    assert "port-s=5101" in (resp.get("security-server") or "")  # a new set from this offer
    (new_set,) = [spec for spec in fake.applied.values()
                  if any(5101 in (sa.src_port, sa.dst_port) for sa in spec.sas)]
    assert 5001 in {sa.spi for sa in new_set.sas}  # the UE's new spi-c, from this REGISTER


def test_an_ipv6_ue_gets_sas_with_our_ipv6_address() -> None:
    res = SecAgreeResources(PCSCF, ProtectedPortPool(5100, 6100, 2),
                            pcscf_ipv6_host="2001:db8::1")
    fake = FakeXfrm()
    sec = ipsec.IpsecSecAgree(res, fake, clock=Clock())
    ue6 = Peer("udp", "2001:db8:a::7", 5062)
    req = register(extra=(SEC_CLIENT, "Require: sec-agree", "Proxy-Require: sec-agree"))
    assert sec.check_register(req, ue6) is None
    resp = challenge()
    sec.challenge(req, ue6, remove_challenge_keys(resp), resp)
    (spec,) = fake.applied.values()
    assert {(sa.src, sa.dst) for sa in spec.sas} == {
        ("2001:db8:a::7", "2001:db8::1"), ("2001:db8::1", "2001:db8:a::7")}
    rows = sec.sa_status()
    assert [row["ue"] for row in rows] == ["2001:db8:a::7"]
    assert res.local_host_for("10.45.0.2") == PCSCF


def test_protected_listeners_on_both_addresses_both_transports() -> None:
    config = load_config_text('[pcscf]\nipv6_host = "::1"\nipsec_pool_size = 2\n')
    specs = protected_specs(config)
    assert all(spec.protected for spec in specs)
    assert sorted({(s.host, s.port) for s in specs}) == sorted(
        (host, port) for host in ("127.0.0.1", "::1") for port in (5100, 5101, 6100, 6101))
    assert {s.transport for s in specs} == {"udp", "tcp"} and len(specs) == 16

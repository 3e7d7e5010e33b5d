"""XFRM netlink messages (include/uapi/linux/xfrm.h) and policies on the host kernel (TS 33.203 §7.1).

The host kernel holds XFRM policies but no ESP SAs (docs/kernel-tests.md):
messages are checked byte by byte here, policies are installed, listed and
removed in a network namespace this module creates; SAs are proven in the
User-Mode Linux guest (tests/kernel/guest/test_xfrm_esp.py).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import struct

import pytest
from hostnet import ip

from ims.ipsec.netlink import (
    XFRM_INF,
    XFRM_MSG_DELPOLICY,
    XFRM_MSG_DELSA,
    XFRM_MSG_NEWPOLICY,
    XFRM_MSG_NEWSA,
    build_delpolicy,
    build_delsa,
    build_newpolicy,
    build_newsa,
    encode,
    sa_state,
    xfrm_user_tmpl,
    xfrm_userpolicy_id,
    xfrm_userpolicy_info,
    xfrm_usersa_id,
    xfrm_usersa_info,
)
from ims.ipsec.xfrm import (
    Direction,
    FakeXfrm,
    NetlinkXfrm,
    PolicySpec,
    ReqidRange,
    SaSpec,
    XfrmError,
    XfrmSpec,
    policy_for,
)

HDR = 16  # struct nlmsghdr
UE, PCSCF = "10.20.0.1", "10.20.0.2"
MARKER = ReqidRange(0x1A150000, 0x1A15FFFF)
IK = bytes(range(16)) + b"\0" * 4  # hmac-sha-1-96: IK || 32 zero bits (TS 33.203 Annex I)
CK = bytes(range(16, 32))
SA = SaSpec(UE, PCSCF, 50001, 5100, 0x10002000, MARKER.first, "hmac-sha-1-96", IK, "aes-cbc", CK)


def test_struct_sizes_match_the_x86_64_uapi_layout() -> None:
    assert xfrm_usersa_info.get_size() == 224
    assert xfrm_userpolicy_info.get_size() == 168
    assert xfrm_usersa_id.get_size() == 24
    assert xfrm_userpolicy_id.get_size() == 64
    assert xfrm_user_tmpl.get_size() == 64


def test_newsa_header_selector_and_id() -> None:
    data = encode(build_newsa(SA), XFRM_MSG_NEWSA)
    assert len(data) == HDR + 224 + (4 + 72 + 20) + (4 + 68 + 16)
    assert struct.unpack_from("=IHH", data) == (len(data), XFRM_MSG_NEWSA, 0x5)
    body = data[HDR:]
    assert body[0:4] == socket.inet_aton(PCSCF) and body[16:20] == socket.inet_aton(UE)
    assert struct.unpack_from(">HHHH", body, 32) == (5100, 0xFFFF, 50001, 0xFFFF)
    assert struct.unpack_from("=HBBB", body, 40) == (socket.AF_INET, 32, 32, 0)  # proto any
    assert body[56:60] == socket.inet_aton(PCSCF)
    assert struct.unpack_from(">IB", body, 72) == (0x10002000, 50)  # id.spi, IPPROTO_ESP
    assert body[80:84] == socket.inet_aton(UE)  # saddr


def test_newsa_lifetimes_reqid_family_mode() -> None:
    body = encode(build_newsa(SA), XFRM_MSG_NEWSA)[HDR:]
    assert struct.unpack_from("=4Q", body, 96) == (XFRM_INF,) * 4  # limits as iproute2
    assert struct.unpack_from("=4Q", body, 128) == (0,) * 4  # expiry times
    assert struct.unpack_from("=IIHBBB", body, 204) == (0, MARKER.first, socket.AF_INET, 0, 0, 0)
    assert body[217:224] == b"\0" * 7


def test_newsa_algorithm_attributes() -> None:
    attrs = encode(build_newsa(SA), XFRM_MSG_NEWSA)[HDR + 224:]
    assert struct.unpack_from("=HH", attrs) == (96, 20)  # XFRMA_ALG_AUTH_TRUNC
    assert attrs[4:68].rstrip(b"\0") == b"hmac(sha1)"
    assert struct.unpack_from("=II", attrs, 68) == (160, 96) and attrs[76:96] == IK
    assert struct.unpack_from("=HH", attrs, 96) == (88, 2)  # XFRMA_ALG_CRYPT
    assert attrs[100:164].rstrip(b"\0") == b"cbc(aes)"
    assert struct.unpack_from("=I", attrs, 164) == (128,) and attrs[168:184] == CK


def test_null_encryption_has_no_key() -> None:
    sa = SaSpec(UE, PCSCF, 1, 2, 0x1000, 7, "hmac-md5-96", bytes(16))
    attrs = encode(build_newsa(sa), XFRM_MSG_NEWSA)[HDR + 224:]
    assert attrs[4:68].rstrip(b"\0") == b"hmac(md5)"
    assert struct.unpack_from("=HH", attrs, 92) == (72, 2) and len(attrs) == 164
    assert attrs[96:160].rstrip(b"\0") == b"ecb(cipher_null)"
    assert struct.unpack_from("=I", attrs, 160) == (0,)


def test_newsa_decodes_back_into_an_sa_state() -> None:
    data = encode(build_newsa(SA), XFRM_MSG_NEWSA)
    msg = xfrm_usersa_info(data)
    msg.decode()
    state = sa_state(msg)
    assert (state.src, state.dst, state.src_port, state.dst_port, state.spi, state.reqid) == (
        UE, PCSCF, 50001, 5100, 0x10002000, MARKER.first)
    assert (state.auth_alg, state.enc_alg, state.cur_packets) == ("hmac-sha-1-96", "aes-cbc", 0)


def test_newpolicy_layout_and_template() -> None:
    data = encode(build_newpolicy(policy_for(SA, Direction.IN)), XFRM_MSG_NEWPOLICY)
    assert len(data) == HDR + 168 + 4 + 64
    body = data[HDR:]
    assert struct.unpack_from(">HHHH", body, 32) == (5100, 0xFFFF, 50001, 0xFFFF)
    assert struct.unpack_from("=4Q", body, 56) == (XFRM_INF,) * 4
    assert struct.unpack_from("=IIBBBB", body, 152) == (0, 0, 0, 0, 0, 0)  # dir in, allow
    tmpl = body[168:]
    assert struct.unpack_from("=HH", tmpl) == (68, 5)  # XFRMA_TMPL
    assert tmpl[4:8] == socket.inet_aton(PCSCF) and tmpl[24] == 50  # id.daddr, id.proto
    assert struct.unpack_from("=H", tmpl, 28) == (socket.AF_INET,)
    assert tmpl[32:36] == socket.inet_aton(UE)
    assert struct.unpack_from("=IBBB", tmpl, 48) == (MARKER.first, 0, 0, 0)  # reqid, transport
    assert struct.unpack_from("=III", tmpl, 56) == (0xFFFFFFFF,) * 3


def test_delete_messages_name_one_sa_and_one_policy() -> None:
    data = encode(build_delsa(PCSCF, 0x10002000), XFRM_MSG_DELSA)
    assert len(data) == HDR + 24
    assert data[HDR:HDR + 4] == socket.inet_aton(PCSCF)
    assert struct.unpack_from(">I", data, HDR + 16) == (0x10002000,)
    assert struct.unpack_from("=HB", data, HDR + 20) == (socket.AF_INET, 50)
    data = encode(build_delpolicy(policy_for(SA, Direction.OUT)), XFRM_MSG_DELPOLICY)
    assert len(data) == HDR + 64 and data[HDR + 60] == 1


def test_ipv6_selector_uses_128_bit_prefixes() -> None:
    sa = SaSpec("2001:db8::1", "2001:db8::2", 1, 2, 0x1000, 7, "hmac-md5-96", bytes(16))
    body = encode(build_newsa(sa), XFRM_MSG_NEWSA)[HDR:]
    assert body[0:16] == socket.inet_pton(socket.AF_INET6, "2001:db8::2")
    assert struct.unpack_from("=HBB", body, 40) == (socket.AF_INET6, 128, 128)


def test_unknown_algorithm_is_refused_naming_the_sa() -> None:
    with pytest.raises(ValueError, match="spi=0x00001000.*hmac-sha-256"):
        build_newsa(SaSpec(UE, PCSCF, 1, 2, 0x1000, 7, "hmac-sha-256", bytes(32)))


def test_fake_xfrm_records_plans() -> None:
    fake = FakeXfrm(esp=False)
    fake.apply(XfrmSpec("ue1", (SA,), (policy_for(SA, Direction.IN),)))
    assert [sa.spi for sa in fake.list_sas()] == [SA.spi] and not fake.probe_esp()
    assert fake.cleanup_stale(MARKER) == 2 and fake.applied == {}


# --- policies in a network namespace on the host kernel ------------------




def ue_plan(owner: str, ue: str, reqid: int) -> XfrmSpec:
    """Policies only: the four flows of TS 33.203 §7.1 as the P-CSCF sees them."""
    flows = ((ue, PCSCF, 50001, 5100, Direction.IN), (PCSCF, ue, 5100, 50001, Direction.OUT),
             (PCSCF, ue, 6100, 50002, Direction.OUT), (ue, PCSCF, 50002, 6100, Direction.IN))
    return XfrmSpec(owner, (), tuple(PolicySpec(*flow, reqid=reqid) for flow in flows))


def test_policies_installed_are_listed_back(netns: str) -> None:
    xfrm = NetlinkXfrm(netns)
    plan = ue_plan("ue1", UE, MARKER.first)
    xfrm.apply(plan)
    assert sorted(xfrm.list_policies(), key=str) == sorted(plan.policies, key=str)
    text = ip("-n", netns, "xfrm", "policy")
    assert f"src {UE}/32 dst {PCSCF}/32 sport 50001 dport 5100" in text
    assert f"proto esp reqid {MARKER.first} mode transport" in text


def test_policy_added_by_iproute2_decodes_like_ours(netns: str) -> None:
    ip("-n", netns, "xfrm", "policy", "add", "src", UE, "dst", PCSCF, "sport", "50001",
       "dport", "5100", "dir", "in", "tmpl", "src", UE, "dst", PCSCF, "proto", "esp",
       "reqid", "77", "mode", "transport")
    assert NetlinkXfrm(netns).list_policies() == [
        PolicySpec(UE, PCSCF, 50001, 5100, Direction.IN, 77)]


def test_remove_takes_exactly_one_owner(netns: str) -> None:
    xfrm = NetlinkXfrm(netns)
    xfrm.apply(ue_plan("ue1", UE, MARKER.first))
    xfrm.apply(ue_plan("ue2", "10.20.0.3", MARKER.first + 1))
    assert xfrm.remove("ue1") == 4
    assert {pol.reqid for pol in xfrm.list_policies()} == {MARKER.first + 1}
    assert xfrm.remove("ue1") == 0


def test_duplicate_policy_is_an_error_naming_it(netns: str) -> None:
    xfrm = NetlinkXfrm(netns)
    xfrm.apply(ue_plan("ue1", UE, MARKER.first))
    with pytest.raises(XfrmError, match="policy in 10.20.0.1:50001 -> 10.20.0.2:5100") as err:
        NetlinkXfrm(netns).apply(ue_plan("again", UE, MARKER.first))
    assert err.value.code == errno.EEXIST
    assert len(xfrm.list_policies()) == 4  # the rollback left ue1's identical policies alone


def test_cleanup_stale_spares_foreign_policies(netns: str) -> None:
    NetlinkXfrm(netns).apply(ue_plan("left-behind", UE, MARKER.first + 5))
    ip("-n", netns, "xfrm", "policy", "add", "src", "10.9.9.9", "dst", PCSCF, "dir", "in",
       "tmpl", "proto", "esp", "reqid", "42", "mode", "transport")
    assert NetlinkXfrm(netns).cleanup_stale(MARKER) == 4
    assert [pol.reqid for pol in NetlinkXfrm(netns).list_policies()] == [42]


def test_sa_refused_without_esp_names_the_sa_and_rolls_back(netns: str) -> None:
    xfrm = NetlinkXfrm(netns)
    if xfrm.probe_esp():
        pytest.skip("this kernel has ESP: SAs are covered by the UML guest test")
    plan = XfrmSpec("ue1", (SA,), ue_plan("ue1", UE, MARKER.first).policies)
    with pytest.raises(XfrmError, match="add SA spi=0x10002000") as err:
        xfrm.apply(plan)
    assert err.value.code == errno.EPROTONOSUPPORT
    assert xfrm.list_policies() == [] and xfrm.list_sas() == []


def test_netlink_calls_work_from_inside_a_running_event_loop(netns: str) -> None:
    """The CSCFs and the UE call the kernel from their asyncio loop (pyroute2 runs its own)."""
    async def in_loop() -> tuple[list[PolicySpec], int, bool]:
        xfrm = NetlinkXfrm(netns)
        xfrm.apply(ue_plan("ue-loop", UE, MARKER.first))
        listed = xfrm.list_policies()
        return listed, xfrm.cleanup_stale(MARKER), xfrm.probe_esp()

    listed, removed, _ = asyncio.run(in_loop())
    assert len(listed) == 4 and removed == 4
    assert NetlinkXfrm(netns).list_policies() == []

"""The emulated UE's IPsec sec-agree on real loopback sockets (TS 33.203 §7, RFC 3329 §2.3.1).

A real :class:`~ims.ue.client.UserEquipment` with a
:class:`~ims.ipsec.xfrm.FakeXfrm` (the SAs it would put in the kernel are
recorded) talks to a small scripted P-CSCF in this file: a real SipStack
with an ordinary port and two pairs of protected ports (port_ps, port_pc;
pool index 0 and 1 as the real P-CSCF alternates them, TS 33.203 §7.4). It
answers an unprotected REGISTER with 401 + Security-Server + an AKA
challenge from TS 35.208 Test Set 1 keys, a protected REGISTER with 200 when
RES matches, and everything else with 200. The transport's ``gate`` records
the peer of every message arriving on a protected port (and admits it).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from ims.auth.aka import AuthVector, generate_vector
from ims.auth.digest import aka_nonce, digest_response
from ims.cli import build_parser
from ims.ipsec.xfrm import FakeXfrm
from ims.runtime.config import load_config
from ims.sip.events import Peer
from ims.sip.headers.auth import Challenge, credentials
from ims.sip.headers.security import (
    SecurityMechanism,
    parse_security_mechanisms,
    same_mechanisms,
    security_mechanisms,
)
from ims.sip.message import Request, Response, build_request, make_response
from ims.transport.config import ListenSpec
from ims.transport.stack import ServerTransactionHandle, SipStack
from ims.ue.cli import config_from_args, register_and_report
from ims.ue.client import UeConfig, UserEquipment
from ims.ue.register import Deregistered, Registered

pytestmark = pytest.mark.e2e

T = TypeVar("T")
WAIT = 10.0
HOST = "127.0.0.1"
DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMPI = f"001010000000077@{DOMAIN}"
IMPU = f"sip:001010000000077@{DOMAIN}"
# TS 35.208 §4.3.1 Test Set 1
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
AMF = bytes.fromhex("b9b9")
SQN = 0xFF9BB4D0B607
RAND = bytes.fromhex("23553cbe9637a89d218ae64dae47bf35")
CK = bytes.fromhex("b40ba9a3c58b2a05bbf0d987b21bf8cb")
IK = bytes.fromhex("f769bcd751044604127672711c6d3441")
#: The scripted P-CSCF's SPIs per pool index (spi_pc, spi_ps).
PCSCF_SPIS = ((0x00010001, 0x00010002), (0x00010003, 0x00010004))


async def settled(holds: Callable[[], bool], what: str, bound: float = 5.0) -> None:
    """Wait until ``holds()``: a set whose TCP connections closed goes after a grace."""
    deadline = asyncio.get_running_loop().time() + bound
    while not holds():
        assert asyncio.get_running_loop().time() < deadline, f"not settled: {what}"
        await asyncio.sleep(0.05)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, WAIT * 3))


def free_ports(count: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


class ScriptedPcscf:
    """Transaction user of the in-test P-CSCF (see the module docstring)."""

    def __init__(self, alg: str, ealg: str) -> None:
        self.port, *protected = free_ports(5)
        self.port_ps = (protected[0], protected[1])
        self.port_pc = (protected[2], protected[3])
        specs = [ListenSpec("udp", HOST, self.port), ListenSpec("tcp", HOST, self.port)]
        specs += [ListenSpec(t, HOST, p, protected=True) for p in protected for t in ("udp", "tcp")]
        self.stack = SipStack(self, specs)
        self.stack.transport.gate = self._arrived
        self.alg, self.ealg = alg, ealg
        self.requests: list[tuple[Request, Peer]] = []
        self.protected_arrivals: list[Peer] = []
        self.servers: list[SecurityMechanism] = []
        self.vectors: list[AuthVector] = []

    def _arrived(self, peer: Peer) -> bool:
        self.protected_arrivals.append(peer)
        return True

    def on_request(self, req: Request, txn: ServerTransactionHandle) -> None:
        self.requests.append((req, txn.peer))
        resp = self._register(req, txn.peer) if req.method == "REGISTER" \
            else make_response(req, 200, to_tag="pcscf")
        self.stack.send_response(txn, resp)

    def _register(self, req: Request, peer: Peer) -> Response:
        (cred,) = credentials(req)
        if not cred.response:  # a new registration (initial or re-): challenge it
            return self._challenge(req)
        if peer.local_port is None:
            return make_response(req, 403, "Forbidden - not protected", to_tag="pcscf")
        vector = self.vectors[-1]
        expected = digest_response(cred.username or "", cred.realm or "", vector.xres,
                                   "REGISTER", cred.uri or "", cred.nonce or "", cred.qop,
                                   cred.nc, cred.cnonce, cred.algorithm or "")
        if cred.response != expected:
            return make_response(req, 403, "Forbidden - wrong RES", to_tag="pcscf")
        if req.expires == 0:
            return make_response(req, 200, to_tag="pcscf")
        contact = f"{req.get('contact')}".split(";expires=")[0] + ";expires=3600"
        return make_response(req, 200, to_tag="pcscf", headers=[("Contact", contact)])

    def _challenge(self, req: Request) -> Response:
        index = len(self.servers) % 2
        spi_pc, spi_ps = PCSCF_SPIS[index]
        server = SecurityMechanism.ipsec_3gpp(
            alg=self.alg, ealg=self.ealg, spi_c=spi_pc, spi_s=spi_ps,
            port_c=self.port_pc[index], port_s=self.port_ps[index], prot="esp", mod="trans",
            q=0.1)
        self.servers.append(server)
        sqn = SQN + 32 * len(self.vectors) + 32
        vector = generate_vector(K, OPC, AMF, sqn, RAND)
        self.vectors.append(vector)
        challenge = Challenge(realm=DOMAIN, nonce=aka_nonce(vector.rand, vector.autn),
                              algorithm="AKAv1-MD5", qop=["auth"])
        return make_response(req, 401, to_tag="pcscf", headers=[
            ("WWW-Authenticate", str(challenge)), ("Security-Server", str(server))])

    async def options_to_ue(self, transport: str, index: int, port_us: int) -> Response:
        """OPTIONS from our port_pc to the UE's port_us (TS 33.203 §7.1)."""
        port_pc = self.port_pc[index]
        req = build_request("OPTIONS", f"sip:ue@{HOST}:{port_us}", [
            ("Via", f"SIP/2.0/{transport.upper()} {HOST}:{port_pc};branch=z9hG4bKopt{index}"),
            ("Max-Forwards", "70"), ("From", "<sip:pcscf@ims.example>;tag=p1"),
            ("To", f"<{IMPU}>"), ("Call-ID", f"options{index}@{HOST}"), ("CSeq", "1 OPTIONS")])
        result = await self.stack.send_request(req, Peer(transport, HOST, port_us,
                                                         local_port=port_pc))
        assert isinstance(result, Response)
        return result

    def on_ack(self, ack: Request, peer: Peer) -> None:
        pass

    def on_cancel(self, cancel: Request, invite_txn: ServerTransactionHandle) -> None:
        pass

    def on_stray_response(self, resp: Response, peer: Peer) -> None:
        pass


async def start_pcscf(alg: str, ealg: str) -> ScriptedPcscf:
    """A started scripted P-CSCF (a probed port may be taken by TCP meanwhile: try again)."""
    for _ in range(10):
        pcscf = ScriptedPcscf(alg, ealg)
        try:
            await pcscf.stack.start()
        except OSError:
            await pcscf.stack.stop()
            continue
        return pcscf
    raise OSError("no free ports for the scripted P-CSCF")


def ue_config(pcscf: ScriptedPcscf, transport: str, **kwargs: Any) -> UeConfig:
    return UeConfig(impi=IMPI, impu=IMPU, k=K, opc=OPC, amf=AMF, sqn=SQN, domain=DOMAIN,
                    pcscf=(HOST, pcscf.port), transport=transport, ipsec=True, **kwargs)


def sent_over(transport: str, req: Request) -> str:
    """The transport a request travels: TCP when configured or above 1300 bytes (RFC 3261 §18.1.1)."""
    return "tcp" if transport == "tcp" or len(req.to_bytes()) > 1300 else transport


def sa_rows(fake: FakeXfrm) -> set[tuple[str, int, str, int, int]]:
    return {(sa.src, sa.src_port, sa.dst, sa.dst_port, sa.spi)
            for spec in fake.applied.values() for sa in spec.sas}


async def register_protected(pcscf: ScriptedPcscf, ue: UserEquipment, fake: FakeXfrm,
                             transport: str, offered: int = 1) -> None:
    """Steps 1-4: unprotected REGISTER, 401, SAs, protected REGISTER, 200."""
    # 1. The UE sends the unprotected REGISTER from its ordinary port with Security-Client.
    result = await ue.register()
    assert isinstance(result, Registered)
    (first, first_peer), (second, second_peer) = pcscf.requests
    plan = ue.ipsec_plan
    assert plan is not None
    assert (first_peer.transport, first_peer.local_port) == (sent_over(transport, first), None)
    if first_peer.transport == "udp":  # a TCP connection leaves from an ephemeral port
        assert first_peer.port == ue.stack.transport.local_address("udp")[1]
    assert first_peer.port not in (plan.port_uc, plan.port_us)
    client = security_mechanisms(first, "security-client")
    assert len(client) == offered and (pcscf.alg, pcscf.ealg) in {(m.alg, m.ealg) for m in client}
    assert {(m.spi_c, m.spi_s, m.port_c, m.port_s) for m in client} == {
        (plan.spi_uc, plan.spi_us, plan.port_uc, plan.port_us)}
    assert first.get("require") == "sec-agree" and first.get("proxy-require") == "sec-agree"
    assert f":{plan.port_us}" in str(first.get("contact"))
    if first_peer.transport == transport:  # not rewritten by the §18.1.1 switch to TCP
        assert first.top_via.port == plan.port_us
    assert second.top_via.port == plan.port_us
    # 2. The protected REGISTER arrives on port_ps from the UE's port_uc.
    assert (second_peer.transport, second_peer.port, second_peer.local_port) == (
        sent_over(transport, second), plan.port_uc, pcscf.port_ps[0])
    assert same_mechanisms(security_mechanisms(second, "security-verify"), pcscf.servers[:1])
    assert second.get("security-verify") == str(pcscf.servers[0])
    assert same_mechanisms(security_mechanisms(second, "security-client"), client)
    assert second.get("require") == "sec-agree" and second.get("proxy-require") == "sec-agree"
    # 3. FakeXfrm holds the UE's four SAs with the negotiated SPIs (TS 33.203 §7.1).
    spi_pc, spi_ps = PCSCF_SPIS[0]
    assert sa_rows(fake) == {
        (HOST, plan.port_uc, HOST, pcscf.port_ps[0], spi_ps),
        (HOST, pcscf.port_ps[0], HOST, plan.port_uc, plan.spi_uc),
        (HOST, pcscf.port_pc[0], HOST, plan.port_us, plan.spi_us),
        (HOST, plan.port_us, HOST, pcscf.port_pc[0], spi_pc),
    }


def full_flow(transport: str, alg: str, ealg: str) -> None:
    async def body() -> None:
        pcscf = await start_pcscf(alg, ealg)
        fake = FakeXfrm()
        config = ue_config(pcscf, transport, ipsec_alg=alg, ipsec_ealg=ealg)
        try:
            async with UserEquipment(config, xfrm=fake) as ue:
                await register_protected(pcscf, ue, fake, transport)
                plan = ue.ipsec_plan
                assert plan is not None
                (spec,) = fake.applied.values()
                keys = {(sa.auth_alg, sa.auth_key, sa.enc_alg, sa.enc_key) for sa in spec.sas}
                ik_esp = IK + bytes(4) if alg == "hmac-sha-1-96" else IK
                ck_esp = {"null": b"", "aes-cbc": CK, "des-ede3-cbc": CK + CK[:8]}[ealg]
                assert keys == {(alg, ik_esp, ealg, ck_esp)}
                # 4. A MESSAGE after registration arrives on port_ps from port_uc.
                message = await ue.send_request("MESSAGE", IMPU, body=b"hi",
                                                content_type="text/plain")
                assert isinstance(message, Response) and message.status == 200
                req, peer = pcscf.requests[-1]
                assert req.method == "MESSAGE"
                assert (peer.transport, peer.port, peer.local_port) == (
                    sent_over(transport, req), plan.port_uc, pcscf.port_ps[0])
                # 5. OPTIONS from port_pc to the UE's port_us is answered 200 from port_us.
                pcscf.protected_arrivals.clear()
                options = await pcscf.options_to_ue(transport, 0, plan.port_us)
                assert options.status == 200
                assert [(p.transport, p.port, p.local_port) for p in pcscf.protected_arrivals] \
                    == [(transport, plan.port_us, pcscf.port_pc[0])]
                # 6. De-registration goes over the SAs; after its 200 OK no SA is left.
                count = len(pcscf.requests)
                result = await ue.deregister()
                assert isinstance(result, Deregistered)
                (dereg, dereg_peer), = pcscf.requests[count:count + 1]
                assert dereg.expires == 0 and dereg_peer.local_port == pcscf.port_ps[0]
                assert dereg_peer.port == plan.port_uc
                assert ue.ipsec_plan is None
                await settled(lambda: fake.applied == {}, "the UE's SAs removed")
        finally:
            await pcscf.stack.stop()

    run(body())


@pytest.mark.parametrize(("transport", "alg", "ealg"), [
    ("udp", "hmac-sha-1-96", "aes-cbc"),
    ("udp", "hmac-md5-96", "null"),
    ("tcp", "hmac-sha-1-96", "des-ede3-cbc"),
])
def test_ue_registers_over_its_own_sas(transport: str, alg: str, ealg: str) -> None:
    full_flow(transport, alg, ealg)


def test_reregistration_builds_a_new_set_and_drops_the_old_after_the_200() -> None:
    async def body() -> None:
        pcscf = await start_pcscf("hmac-sha-1-96", "aes-cbc")
        fake = FakeXfrm()
        try:
            async with UserEquipment(ue_config(pcscf, "udp"), xfrm=fake) as ue:
                await register_protected(pcscf, ue, fake, "udp", offered=6)
                old = ue.ipsec_plan
                assert old is not None
                count = len(pcscf.requests)
                # The UE offered all six pairs; the P-CSCF's choice is used.
                offered = security_mechanisms(pcscf.requests[0][0], "security-client")
                assert len(offered) == 6
                # 1. Re-REGISTER over the old set with new SPIs; 401 with a set on index 1.
                result = await ue.reregister()
                assert isinstance(result, Registered)
                (rereg, rereg_peer), (answer, answer_peer) = pcscf.requests[count:]
                assert rereg_peer.local_port == pcscf.port_ps[0]
                assert same_mechanisms(security_mechanisms(rereg, "security-verify"),
                                       pcscf.servers[:1])
                (new_offer, *_) = security_mechanisms(rereg, "security-client")
                assert {new_offer.spi_c, new_offer.spi_s}.isdisjoint({old.spi_uc, old.spi_us})
                # 2. The answer goes over the new set; after the 200 only the new set is left.
                assert answer_peer.local_port == pcscf.port_ps[1]
                assert same_mechanisms(security_mechanisms(answer, "security-verify"),
                                       pcscf.servers[1:2])
                new = ue.ipsec_plan
                assert new is not None and (new.spi_uc, new.spi_us) == (
                    new_offer.spi_c, new_offer.spi_s)
                assert (new.port_ps, new.port_pc) == (pcscf.port_ps[1], pcscf.port_pc[1])
                await settled(lambda: len(fake.applied) == 1, "only the new set left")
                assert {sa.spi for spec in fake.applied.values() for sa in spec.sas} == {
                    new.spi_uc, new.spi_us, *PCSCF_SPIS[1]}
                # 3. Later requests use the new set; the old P-CSCF port-c is no longer admitted.
                message = await ue.send_request("MESSAGE", IMPU, body=b"again")
                assert isinstance(message, Response)
                assert pcscf.requests[-1][1].local_port == pcscf.port_ps[1]
                assert (await pcscf.options_to_ue("udp", 1, new.port_us)).status == 200
        finally:
            await pcscf.stack.stop()

    run(body())


def test_security_server_equals_what_the_verify_header_repeats() -> None:
    server = SecurityMechanism.ipsec_3gpp(alg="hmac-md5-96", ealg="null", spi_c=4096,
                                          spi_s=4097, port_c=6100, port_s=5100, q=0.1)
    assert same_mechanisms(parse_security_mechanisms([str(server)]), [server])


def test_cli_register_with_ipsec_prints_the_set_but_no_keys(
        capsys: pytest.CaptureFixture[str]) -> None:
    async def body() -> int:
        pcscf = await start_pcscf("hmac-md5-96", "null")
        fake = FakeXfrm()
        try:
            args = build_parser().parse_args([
                "ue", "register", "--impi", IMPI, "--impu", IMPU, "--k", K.hex(),
                "--opc", OPC.hex(), "--amf", AMF.hex(), "--sqn", f"{SQN:012x}",
                "--pcscf", f"{HOST}:{pcscf.port}", "--domain", DOMAIN,
                "--ipsec", "--alg", "hmac-md5-96", "--ealg", "null"])
            config = config_from_args(args, load_config(None))
            assert (config.ipsec, config.ipsec_alg, config.ipsec_ealg) == (
                True, "hmac-md5-96", "null")
            code = await register_and_report(config, 0.0, xfrm=fake)
        finally:
            await pcscf.stack.stop()
        assert fake.applied == {} and fake.calls[0].startswith("apply ue:")
        return code

    assert run(body()) == 0
    out = capsys.readouterr().out
    assert "IPsec: hmac-md5-96 / null, ESP transport mode" in out
    spi_pc, spi_ps = PCSCF_SPIS[0]
    assert f"(spi_pc {spi_pc})" in out and f"(spi_ps {spi_ps})" in out
    assert "<- 200 OK: deregistered" in out
    esp_key = IK.hex()  # hmac-md5-96: IK_esp = IK; printed only as the AKA IK line
    assert out.count(esp_key) == out.count(f"IK={esp_key}")

"""P-CSCF IPsec flow rules through the real core, the kernel replaced by FakeXfrm (TS 33.203 §7).

HSS, I-CSCF and S-CSCF are one ``ims-cli run`` for the module (its own
P-CSCF with ``ipsec = "off"``); the P-CSCF under test is ``pcscf.app.build``
in this process with ``ipsec = "required"`` and a FakeXfrm on both ends
(this host has XFRM but no ESP; the real-ESP proof of the same flows is the
UML test ``tests/kernel/guest/test_ipsec_core.py``). SIP travels over real
loopback sockets; what the kernel would carry through an SA is checked as
the port pairs of TS 33.203 §7.1: UE port-c -> P-CSCF port-s for the UE's
requests, P-CSCF port-c -> UE port-s for requests toward the UE. Each
scenario reads as numbered steps; every wait is bounded.

The UEs live on 127.0.0.2 and 127.0.0.3: the P-CSCF keeps one sec-agree
session per UE address and sends every request for that address over the
UE's SAs, so a UE must not share 127.0.0.1 with the I-CSCF and S-CSCF. They
offer two pairs (or one) so that the unprotected REGISTER stays under 1,300
bytes and goes over UDP from the UE's own address: the emulated UE does not
bind an unprotected TCP connection to its address, so a REGISTER switched to
TCP for its size would arrive from 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import uuid
from collections.abc import Awaitable, Iterator
from typing import TypeVar

import pytest
from imscore import CoreProcess, Ports
from ipsecflows import (
    HOST,
    WAIT,
    IpsecUe,
    PcscfUnderTest,
    answered,
    next_request,
    provision,
    registered,
    running_pcscf,
    sa_rows,
    settled,
    ue_config,
)
from ipsecflows import core_config_text as ipsec_core_config_text

from ims.sip.headers.security import parse_security_mechanisms
from ims.sip.message import Response
from ims.ue.register import Deregistered, Registered

pytestmark = pytest.mark.e2e

T = TypeVar("T")
#: The shipped preference (TS 33.203 §7.2: the first pair the UE offers is chosen).
DEFAULT_PREFERENCE = ("hmac-sha-1-96/aes-cbc", "hmac-md5-96/aes-cbc", "hmac-sha-1-96/des-ede3-cbc",
                      "hmac-md5-96/des-ede3-cbc", "hmac-sha-1-96/null", "hmac-md5-96/null")
MD5_NULL_FIRST = ("hmac-md5-96/null", "hmac-sha-1-96/aes-cbc")
#: One loopback address per UE, none the core's 127.0.0.1: the P-CSCF keeps one sec-agree
#: session per UE address and sends every request to that address over the SA set.
UE_A, UE_B = "127.0.0.2", "127.0.0.3"
#: Offers that keep the unprotected REGISTER under 1,300 bytes (see the module docstring).
NULL_OFFERS = {"ipsec_ealg": "null"}
ONE_PAIR = {"ipsec_alg": "hmac-sha-1-96", "ipsec_ealg": "aes-cbc"}
_serials = itertools.count(1)


@pytest.fixture(scope="module")
def ipsec_ports() -> Ports:
    return Ports.pick()


@pytest.fixture(scope="module")
def ipsec_core(tmp_path_factory: pytest.TempPathFactory, ipsec_ports: Ports
               ) -> Iterator[CoreProcess]:
    process = CoreProcess(tmp_path_factory.mktemp("ipsecflows"), ipsec_core_config_text(ipsec_ports))
    process.start()
    try:
        process.wait_up()
        yield process
    finally:
        process.stop()


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, 8 * WAIT)
    return asyncio.run(bounded())


def arrivals_from(pcscf: PcscfUnderTest, ue: IpsecUe, transport: str | None = None
                  ) -> list[int]:
    """Local ports of the admitted arrivals from the UE's port-c (over ``transport`` or any)."""
    plan = ue.plan
    return [peer.local_port or 0 for peer, ok in pcscf.arrivals
            if ok and transport in (None, peer.transport) and peer.host == plan.ue_host
            and peer.port == plan.port_uc]


async def register_over_ipsec(pcscf: PcscfUnderTest, ue: IpsecUe) -> None:
    """Steps of TS 33.203 §7.1 / RFC 3329 §2.3.1: REGISTER, 401 + Security-Server, SAs,
    protected REGISTER from port-c to port-s, 200."""
    await registered(ue)
    # the 401 carried Security-Server; the second REGISTER echoed it in Security-Verify
    (challenge,) = [r for r in ue.responses if r.status == 401]
    (server,) = parse_security_mechanisms(challenge.get_all("security-server"))
    plan = ue.plan
    assert (server.port_s, server.port_c, server.spi_s, server.spi_c) == \
        (plan.port_ps, plan.port_pc, plan.spi_ps, plan.spi_pc)
    assert (server.alg, server.ealg) == (plan.alg, plan.ealg)
    first, second = ue.sent[-2:]
    assert first.has("security-client") and not first.has("security-verify")
    assert len(first.to_bytes()) <= 1300, "the unprotected REGISTER would go over TCP"
    assert second.has("security-verify")
    # the protected REGISTER arrived on our port-s from the UE's port-c (and was admitted)
    assert plan.port_ps in arrivals_from(pcscf, ue)
    same_plan_at_pcscf(pcscf, ue)


def same_plan_at_pcscf(pcscf: PcscfUnderTest, ue: IpsecUe) -> None:
    """The P-CSCF's active set for the UE has the UE's ports and SPIs."""
    plan = pcscf.active_plan(ue.config.local_host)
    mine = ue.plan
    assert (plan.port_uc, plan.port_us, plan.port_pc, plan.port_ps) == \
        (mine.port_uc, mine.port_us, mine.port_pc, mine.port_ps)
    assert (plan.spi_uc, plan.spi_us, plan.spi_pc, plan.spi_ps) == \
        (mine.spi_uc, mine.spi_us, mine.spi_pc, mine.spi_ps)


def assert_same_sas(pcscf: PcscfUnderTest, ue: IpsecUe) -> None:
    """Exactly one SA set per end, the same four SAs (SPIs, ports, algorithms, keys)."""
    ours = pcscf.specs_of(ue.config.local_host)
    assert len(ours) == 1, [spec.owner for spec in ours]
    assert len(ue.fake.applied) == 1, list(ue.fake.applied)
    (spec,) = ours
    assert len(spec.sas) == 4
    assert sa_rows(ours) == sa_rows(list(ue.fake.applied.values()))


# -- 1. registration with sec-agree --------------------------------------------------------------
@pytest.mark.parametrize(("preference", "chosen"), [
    (DEFAULT_PREFERENCE, ("hmac-sha-1-96", "null")),
    (MD5_NULL_FIRST, ("hmac-md5-96", "null")),
])
def test_registration_installs_one_matching_sa_set(
        ipsec_core: CoreProcess, ipsec_ports: Ports, preference: tuple[str, ...],
        chosen: tuple[str, str]) -> None:
    sub = provision(ipsec_ports, next(_serials))

    async def scenario() -> None:
        async with running_pcscf(ipsec_ports, preference) as pcscf, \
                IpsecUe(ue_config(pcscf, sub, UE_A, **NULL_OFFERS)) as ue:
            # 1. UE registers offering hmac-sha-1-96/null and hmac-md5-96/null: 401 + Security-Server, protected
            #    REGISTER port-c -> port-s, 200
            await register_over_ipsec(pcscf, ue)
            # 2. one SA set at each end, the same four SAs; the pair follows ipsec_algorithms
            assert_same_sas(pcscf, ue)
            assert (ue.plan.alg, ue.plan.ealg) == chosen
            assert {(sa.auth_alg, sa.enc_alg) for spec in pcscf.fake.applied.values()
                    for sa in spec.sas} == {chosen}
            assert ue.plan.port_ps == pcscf.ports.port_s and \
                ue.plan.port_pc == pcscf.ports.port_c
            assert pcscf.dropped() == 0

    run(scenario())


# -- 3, 4, 5, 6. flows after registration ----------------------------------------------------------
def test_message_notify_and_large_message_follow_the_sa_flows(
        ipsec_core: CoreProcess, ipsec_ports: Ports) -> None:
    sub = provision(ipsec_ports, next(_serials))

    async def scenario() -> None:
        async with running_pcscf(ipsec_ports, DEFAULT_PREFERENCE) as pcscf, \
                IpsecUe(ue_config(pcscf, sub, UE_A, **NULL_OFFERS)) as ue:
            await register_over_ipsec(pcscf, ue)
            plan = ue.plan
            # 1. UE sends MESSAGE to its own tel: IMPU: UE port-c -> P-CSCF port-s
            sent_before = len(arrivals_from(pcscf, ue, "udp"))
            answered(await asyncio.wait_for(ue.send_request(
                "MESSAGE", sub.tel, body=b"to myself", content_type="text/plain"), WAIT))
            assert arrivals_from(pcscf, ue, "udp")[sent_before:] == [plan.port_ps]
            # 2. it comes back from the P-CSCF's port-c to the UE's port-s, our Via on port-c
            got, peer = await next_request(ue, "MESSAGE")
            assert got.body == b"to myself"
            assert (peer.host, peer.port, peer.local_port) == (HOST, plan.port_pc, plan.port_us)
            assert (got.top_via.transport.lower(), got.top_via.host, got.top_via.port) == \
                (peer.transport, HOST, plan.port_pc)
            # 3. SUBSCRIBE to reg: the NOTIFY reaches port-s from the P-CSCF's port-c
            accepted = await asyncio.wait_for(ue.subscribe_reg(), WAIT)
            assert isinstance(accepted, Response) and 200 <= accepted.status < 300, accepted
            outcome = await asyncio.wait_for(ue.notifies.get(), WAIT)
            assert outcome.status == 200, outcome
            assert ue.notify_peers, "no NOTIFY arrived"
            assert {(p.host, p.port, p.local_port) for p in ue.notify_peers} == \
                {(HOST, plan.port_pc, plan.port_us)}
            # 4. a plain UDP OPTIONS to port-s from a port that is not the UE's port-c:
            #    no answer, counted as dropped
            dropped = pcscf.dropped()
            assert await asyncio.to_thread(unprotected_options, UE_A, plan.port_ps) is None
            assert pcscf.dropped() == dropped + 1
            assert any(not ok and p.local_port == plan.port_ps for p, ok in pcscf.arrivals)
            # 5. a MESSAGE over 1,300 bytes goes over TCP from port-c to port-s, delivered
            body = b"x" * 1400
            tcp_before = len(arrivals_from(pcscf, ue, "tcp"))
            answered(await asyncio.wait_for(ue.send_request(
                "MESSAGE", sub.tel, body=body, content_type="text/plain"), WAIT))
            assert arrivals_from(pcscf, ue, "tcp")[tcp_before:] == [plan.port_ps]
            big, big_peer = await next_request(ue, "MESSAGE")
            assert big.body == body
            assert (big_peer.transport, big_peer.host, big_peer.port, big_peer.local_port) == \
                ("tcp", HOST, plan.port_pc, plan.port_us)
            assert (big.top_via.transport.lower(), big.top_via.port) == ("tcp", plan.port_pc)

    run(scenario())


def unprotected_options(host: str, port_s: int) -> bytes | None:
    """An OPTIONS from an ephemeral port of ``host`` to our port-s; the answer, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        local = sock.getsockname()[1]
        text = (f"OPTIONS sip:{HOST}:{port_s} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {host}:{local};branch=z9hG4bK-{uuid.uuid4().hex};rport\r\n"
                "Max-Forwards: 70\r\nFrom: <sip:probe@e2e.test>;tag=p1\r\n"
                f"To: <sip:{HOST}:{port_s}>\r\nCall-ID: {uuid.uuid4().hex}@e2e.test\r\n"
                "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
        sock.sendto(text.encode(), (HOST, port_s))
        sock.settimeout(3.0)
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


# -- 7. re-registration ----------------------------------------------------------------------------
def test_reregistration_moves_to_the_second_pair_and_removes_the_first(
        ipsec_core: CoreProcess, ipsec_ports: Ports) -> None:
    sub = provision(ipsec_ports, next(_serials))

    async def scenario() -> None:
        async with running_pcscf(ipsec_ports, DEFAULT_PREFERENCE) as pcscf, \
                IpsecUe(ue_config(pcscf, sub, UE_A, **NULL_OFFERS)) as ue:
            await register_over_ipsec(pcscf, ue)
            first = ue.plan
            assert (first.port_ps, first.port_pc) == (pcscf.ports.port_s, pcscf.ports.port_c)
            # 1. re-registration: challenged again (new set, second pool pair), 200
            before = len(arrivals_from(pcscf, ue))
            again = await asyncio.wait_for(ue.reregister(), WAIT)
            assert isinstance(again, Registered), again
            assert [r.status for r in ue.responses] == [401, 200, 401, 200]
            second = ue.plan
            assert (second.port_ps, second.port_pc) == \
                (pcscf.ports.port_s + 1, pcscf.ports.port_c + 1)
            assert (second.spi_uc, second.spi_us) != (first.spi_uc, first.spi_us)
            # 2. the re-REGISTER went over the first set, the protected one over the new set
            assert arrivals_from(pcscf, ue)[before:] == [first.port_ps, second.port_ps]
            # 3. after the 200 only the new set is left at both ends
            await settled(lambda: len(pcscf.specs_of(UE_A)) == 1 and len(ue.fake.applied) == 1,
                          "the first set removed")
            assert_same_sas(pcscf, ue)
            (spec,) = pcscf.specs_of(UE_A)
            assert {(sa.src_port, sa.dst_port) for sa in spec.sas} == {
                (second.port_uc, second.port_ps), (second.port_ps, second.port_uc),
                (second.port_pc, second.port_us), (second.port_us, second.port_pc)}
            same_plan_at_pcscf(pcscf, ue)
            # 4. the next MESSAGE to the UE leaves the new port-c
            answered(await asyncio.wait_for(ue.send_request(
                "MESSAGE", sub.tel, body=b"after", content_type="text/plain"), WAIT))
            got, peer = await next_request(ue, "MESSAGE")
            assert got.body == b"after"
            assert (peer.port, peer.local_port) == (second.port_pc, second.port_us)
            assert got.top_via.port == second.port_pc

    run(scenario())


# -- 8. deregistration -----------------------------------------------------------------------------
def test_deregistration_removes_only_that_ues_set(
        ipsec_core: CoreProcess, ipsec_ports: Ports) -> None:
    alice = provision(ipsec_ports, next(_serials))
    bob = provision(ipsec_ports, next(_serials))

    async def scenario() -> None:
        async with running_pcscf(ipsec_ports, DEFAULT_PREFERENCE) as pcscf, \
                IpsecUe(ue_config(pcscf, alice, UE_A, **NULL_OFFERS)) as a, \
                IpsecUe(ue_config(pcscf, bob, UE_B, **ONE_PAIR)) as b:
            # 1. A and B register over IPsec: one set each
            await register_over_ipsec(pcscf, a)
            await register_over_ipsec(pcscf, b)
            assert_same_sas(pcscf, a)
            assert_same_sas(pcscf, b)
            assert len(pcscf.fake.applied) == 2
            bob_sas = sa_rows(pcscf.specs_of(UE_B))
            # 2. A sends MESSAGE to B's tel: IMPU: into port-s from A, out of port-c to B
            answered(await asyncio.wait_for(a.send_request(
                "MESSAGE", bob.tel, body=b"hi bob", content_type="text/plain"), WAIT))
            got, peer = await next_request(b, "MESSAGE")
            assert got.body == b"hi bob"
            assert (peer.host, peer.port, peer.local_port) == (HOST, b.plan.port_pc, b.plan.port_us)
            # 3. A deregisters: its set goes at both ends, B's stays
            result = await asyncio.wait_for(a.deregister(), WAIT)
            assert isinstance(result, Deregistered), result
            await settled(lambda: pcscf.specs_of(UE_A) == [] and a.fake.applied == {},
                          "A's set removed at both ends")
            assert sa_rows(pcscf.specs_of(UE_B)) == bob_sas
            assert_same_sas(pcscf, b)

    run(scenario())


# -- 2. integrity-protected as the S-CSCF sees it ------------------------------------------------------
@pytest.fixture(scope="module")
def trusting_ports() -> Ports:
    return Ports.pick()


@pytest.fixture(scope="module")
def trusting_core(tmp_path_factory: pytest.TempPathFactory, trusting_ports: Ports
                  ) -> Iterator[CoreProcess]:
    """A core whose S-CSCF skips re-authentication of integrity-protected re-REGISTERs."""
    text = ipsec_core_config_text(trusting_ports).replace(
        "[scscf]\n", "[scscf]\nreauth_integrity_protected = false\n", 1)
    process = CoreProcess(tmp_path_factory.mktemp("ipsectrust"), text)
    process.start()
    try:
        process.wait_up()
        yield process
    finally:
        process.stop()


def test_scscf_sees_integrity_protected_no_then_yes(
        trusting_core: CoreProcess, trusting_ports: Ports) -> None:
    """The S-CSCF's log says nothing of ``integrity-protected``; its decision does
    (TS 24.229 §5.4.1.2.1 NOTE): with ``reauth_integrity_protected = false`` it
    challenges the first REGISTER (``"no"``) and accepts the re-REGISTER that came over
    the SAs without a challenge (``"yes"``)."""
    sub = provision(trusting_ports, next(_serials))

    async def scenario() -> None:
        async with running_pcscf(trusting_ports, DEFAULT_PREFERENCE) as pcscf, \
                IpsecUe(ue_config(pcscf, sub, UE_A, **NULL_OFFERS)) as ue:
            # 1. REGISTER (integrity-protected="no") -> 401, protected REGISTER -> 200
            await register_over_ipsec(pcscf, ue)
            first = ue.plan
            # 2. re-REGISTER over the SA set (integrity-protected="yes") -> 200 at once
            before = len(arrivals_from(pcscf, ue))
            again = await asyncio.wait_for(ue.reregister(), WAIT)
            assert isinstance(again, Registered), again
            assert [r.status for r in ue.responses] == [401, 200, 200]
            assert arrivals_from(pcscf, ue)[before:] == [first.port_ps]
            # 3. no new challenge, no new set: the first one stays at both ends
            assert ue.plan == first
            assert_same_sas(pcscf, ue)

    run(scenario())

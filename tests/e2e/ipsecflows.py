"""Helpers of ``test_pcscf_ipsec_flows.py``: a P-CSCF under test in this process, in front
of the real HSS, I-CSCF and S-CSCF of ``ims-cli run`` (TS 33.203 §7.1 flows over loopback).

The P-CSCF is ``pcscf.app.build(config, xfrm=...)`` with ``[pcscf] ipsec =
"required"`` and one shared :class:`~ims.ipsec.xfrm.FakeXfrm` in place of the
kernel (this host has XFRM but no ESP), on its own free ports; the static
DNS of the same generated config sends its REGISTERs to the subprocess
I-CSCF. The UEs are :class:`~ims.ue.client.UserEquipment` with IPsec and a
FakeXfrm each, on their own loopback addresses (the P-CSCF keeps one
sec-agree session per UE address). Observation points are the transport's
gate (wrapped: every arrival on a protected port is recorded, then the real
gate decides) and the UE's transaction user (every request it receives,
with the peer it came from). Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import socket
import urllib.request
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from imscore import Ports, Subscriber

from ims.ipsec.keys import XfrmPlan
from ims.ipsec.xfrm import FakeXfrm, XfrmPort, XfrmSpec
from ims.runtime.config import load_config_text
from ims.sip.events import Peer
from ims.sip.message import Request, Response
from ims.transport.stack import ClientResult, ServerTransactionHandle
from ims.ue.client import UeConfig, UserEquipment
from ims.ue.register import FlowAction, Registered, SendRegister
from pcscf.app import PcscfApp, build
from pcscf.ipsec import IpsecSecAgree

TOKEN = "ims-lab-token-change-me"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
HOST = "127.0.0.1"
#: Bound of one SIP exchange or one registration.
WAIT = 30.0
#: Tries at finding free ports for the P-CSCF under test.
BIND_TRIES = 20


# -- the core's subscribers (REST) ----------------------------------------------------------------
def core_config_text(ports: Ports) -> str:
    """The subprocess core: its own P-CSCF without IPsec (the one under test is ours)."""
    return ports.config_text().replace("[pcscf]\n", '[pcscf]\nipsec = "off"\n', 1)


def provision(ports: Ports, serial: int) -> Subscriber:
    """A subscriber with the generated implicit set, over the HSS REST API."""
    imsi = f"00101{serial + 7700000000:010d}"
    sub = Subscriber(imsi, f"5{imsi[-8:]}")
    body = {"imsi": imsi, "msisdn": sub.msisdn, "k": K.hex(), "opc": OPC.hex()}
    request = urllib.request.Request(
        f"http://127.0.0.1:{ports.rest}/api/v1/subscribers", data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        assert reply.status == 201
    return sub


# -- the P-CSCF under test --------------------------------------------------------------------------
def _free_both(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                return False
    return True


def free_run(count: int, taken: set[int]) -> int:
    """The first of ``count`` consecutive ports free for UDP and TCP, none in ``taken``."""
    for _ in range(500):
        first = random.randrange(20000, 60000 - count)
        run = range(first, first + count)
        if not taken.intersection(run) and all(_free_both(p) for p in run):
            taken.update(run)
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


@dataclass(frozen=True)
class PcscfPorts:
    """Ordinary port, management port and the first port of each protected pool."""

    port: int
    mgmt: int
    port_s: int
    port_c: int
    pool: int = 2

    @classmethod
    def pick(cls, core: Ports) -> PcscfPorts:
        taken = {*core.sip.values(), *core.mgmt.values(), core.diameter, core.rest}
        return cls(free_run(1, taken), free_run(1, taken), free_run(2, taken),
                   free_run(2, taken))


def pcscf_config_text(core: Ports, own: PcscfPorts, algorithms: Sequence[str]) -> str:
    """The core's config with our ``[pcscf]`` (required IPsec, own ports, preference)."""
    old = f"[pcscf]\nport = {core.sip['pcscf']}\nmgmt_port = {core.mgmt['pcscf']}\n"
    pairs = ", ".join(f'"{pair}"' for pair in algorithms)
    new = (f"[pcscf]\nport = {own.port}\nmgmt_port = {own.mgmt}\nipsec = \"required\"\n"
           f"ipsec_port_s = {own.port_s}\nipsec_port_c = {own.port_c}\n"
           f"ipsec_pool_size = {own.pool}\nipsec_algorithms = [{pairs}]\n")
    text = core.config_text()
    assert old in text
    return text.replace(old, new, 1)


@dataclass
class PcscfUnderTest:
    """The started in-process P-CSCF, its fake kernel and what arrived on its protected ports."""

    app: PcscfApp
    ports: PcscfPorts
    fake: FakeXfrm
    arrivals: list[tuple[Peer, bool]] = field(default_factory=list)

    @property
    def sec(self) -> IpsecSecAgree:
        sec = self.app.service.sec_agree
        assert isinstance(sec, IpsecSecAgree)
        return sec

    def active_plan(self, ue_host: str) -> XfrmPlan:
        session = self.sec.sessions[ue_host]
        plan = session.active
        assert plan is not None, f"no active SA set for {ue_host}"
        return plan

    def specs_of(self, ue_host: str) -> list[XfrmSpec]:
        """The SA sets of ``ue_host`` the fake kernel holds."""
        return [spec for spec in self.fake.applied.values()
                if any(ue_host in (sa.src, sa.dst) for sa in spec.sas)]

    def dropped(self) -> float:
        return self.app.counters()["sip_dropped_unprotected"]


def _record(under: PcscfUnderTest) -> None:
    """Wrap the transport's gate: record each protected arrival and the real gate's verdict."""
    transport = under.app.service.stack.transport
    real = transport.gate
    assert real is not None

    def gate(peer: Peer) -> bool:
        verdict = real(peer)
        under.arrivals.append((peer, verdict))
        return verdict

    transport.gate = gate


def opener(fake: FakeXfrm) -> Callable[[], XfrmPort]:
    """The XFRM opener ``build`` takes: always this one fake."""
    return lambda: fake


@asynccontextmanager
async def running_pcscf(core: Ports, algorithms: Sequence[str]) -> AsyncIterator[PcscfUnderTest]:
    """``pcscf.app.build(config, xfrm=lambda: fake)`` started on free ports, stopped after.

    ``SipFunctionApp.start`` tunes the GC for a proxy process (frozen, automatic
    collection off); the test process gets its GC settings back afterwards.
    """
    gc_was_enabled = gc.isenabled()
    under: PcscfUnderTest | None = None
    for attempt in range(BIND_TRIES):
        own = PcscfPorts.pick(core)
        fake = FakeXfrm()
        app = build(load_config_text(pcscf_config_text(core, own, algorithms)),
                    xfrm=opener(fake))
        try:
            await app.start()
        except OSError:
            await app.stop()
            if attempt == BIND_TRIES - 1:
                raise
            continue
        under = PcscfUnderTest(app, own, fake)
        break
    assert under is not None
    _record(under)
    try:
        yield under
    finally:
        await under.app.stop()
        gc.unfreeze()
        if gc_was_enabled:
            gc.enable()


# -- the emulated UEs ---------------------------------------------------------------------------------
def ue_config(under: PcscfUnderTest, sub: Subscriber, local_host: str, **changes: Any) -> UeConfig:
    return UeConfig(sub.impi, sub.impu, K, OPC, pcscf=(HOST, under.ports.port), expires=600,
                    ipsec=True, local_host=local_host, **changes)


class IpsecUe(UserEquipment):
    """A UE with a FakeXfrm that keeps the REGISTERs it sends, its final responses, and every
    request it receives with the peer (``local_port``: the protected port it arrived on)."""

    def __init__(self, config: UeConfig) -> None:
        self.fake = FakeXfrm()
        self.steps: list[str] = []
        super().__init__(config, on_step=self.steps.append, xfrm=self.fake)
        self.sent: list[Request] = []
        self.responses: list[Response] = []
        self.received: asyncio.Queue[tuple[Request, Peer]] = asyncio.Queue()
        self.notify_peers: list[Peer] = []

    def _keep(self, actions: list[FlowAction]) -> list[FlowAction]:
        self.sent += [a.request for a in actions if isinstance(a, SendRegister)]
        return actions

    async def _drive(self, actions: list[FlowAction]) -> Any:
        return await super()._drive(self._keep(actions))

    def _feed(self, result: ClientResult) -> list[FlowAction]:
        if isinstance(result, Response):
            self.responses.append(result)
        return self._keep(super()._feed(result))

    def on_request(self, req: Request, txn: ServerTransactionHandle) -> None:
        if req.method != "NOTIFY":
            self.received.put_nowait((req, txn.peer))
        else:
            self.notify_peers.append(txn.peer)
        super().on_request(req, txn)

    @property
    def plan(self) -> XfrmPlan:
        plan = self.ipsec_plan
        assert plan is not None, "the UE has no SA set"
        return plan


async def settled(holds: Callable[[], bool], what: str, bound: float = 5.0) -> None:
    """Wait until ``holds()``: a set whose TCP connections closed goes after a grace."""
    deadline = asyncio.get_running_loop().time() + bound
    while not holds():
        assert asyncio.get_running_loop().time() < deadline, f"not settled: {what}"
        await asyncio.sleep(0.05)


async def registered(ue: UserEquipment) -> Registered:
    result = await asyncio.wait_for(ue.register(), WAIT)
    assert isinstance(result, Registered), result
    return result


async def next_request(ue: IpsecUe, method: str) -> tuple[Request, Peer]:
    """The next request of ``method`` the UE received (others skipped), bounded."""
    async def wait() -> tuple[Request, Peer]:
        while True:
            req, peer = await ue.received.get()
            if req.method == method:
                return req, peer
    return await asyncio.wait_for(wait(), WAIT)


def sa_rows(specs: Sequence[XfrmSpec]) -> set[tuple[Any, ...]]:
    """Every SA as (src, dst, ports, SPI, algorithms, keys): what both ends must agree on."""
    return {(sa.src, sa.dst, sa.src_port, sa.dst_port, sa.spi, sa.auth_alg, sa.auth_key,
             sa.enc_alg, sa.enc_key) for spec in specs for sa in spec.sas}


def answered(result: ClientResult, status: int = 200) -> Response:
    assert isinstance(result, Response) and result.status == status, result
    return result

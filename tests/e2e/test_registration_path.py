"""Registration through the whole path: UE -> P-CSCF -> I-CSCF -> S-CSCF, HSS over Cx.

The processes of ``ims-cli run`` on loopback, the emulated UE of ``ims.ue``
over real UDP and TCP sockets, the full AKA flow (REGISTER, 401 without
ik/ck, REGISTER with RES, 200 OK) and then what the P-CSCF does with the
registration (TS 24.229 §5.2.2, §5.2.6.3): requests of the registered UE
pass, requests of an unregistered one get 403. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import urllib.request

import pytest
from imscore import CoreProcess, Ports

from ims.sip.message import Response
from ims.ue.client import UeConfig, UserEquipment
from ims.ue.register import Deregistered, Registered

pytestmark = pytest.mark.e2e

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
TOKEN = "ims-lab-token-change-me"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
WAIT = 30.0
_imsis = itertools.count(1)


def provision(ports: Ports) -> tuple[str, str]:
    """A fresh subscriber through the REST API: (IMPI, IMSI IMPU)."""
    imsi = f"00101{next(_imsis) + 8200000000:010d}"
    body = {"imsi": imsi, "msisdn": f"4{imsi[-8:]}", "k": K.hex(), "opc": OPC.hex()}
    request = urllib.request.Request(
        f"http://127.0.0.1:{ports.rest}/api/v1/subscribers", data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        assert reply.status == 201
    return f"{imsi}@{DOMAIN}", f"sip:{imsi}@{DOMAIN}"


def ue_config(ports: Ports, transport: str) -> UeConfig:
    impi, impu = provision(ports)
    return UeConfig(impi, impu, K, OPC, pcscf=("127.0.0.1", ports.sip["pcscf"]),
                    transport=transport, expires=600)


async def register_and_use(config: UeConfig, steps: list[str]) -> None:
    async with UserEquipment(config, on_step=steps.append) as ue:
        result = await asyncio.wait_for(ue.register(), WAIT)
        assert isinstance(result, Registered), (result, steps)
        binding = result.binding
        assert binding.service_routes and binding.associated_uris
        assert any("term@" in p for p in binding.path)
        assert not any("ik=" in s or "ck=" in s for s in steps)
        answer = await asyncio.wait_for(
            ue.send_request("OPTIONS", f"sip:{DOMAIN}"), WAIT)
        assert not (isinstance(answer, Response) and answer.status == 403), steps
        gone = await asyncio.wait_for(ue.deregister(), WAIT)
        assert isinstance(gone, Deregistered), (gone, steps)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_first_registration_through_pcscf_icscf_scscf(
        core: CoreProcess, ports: Ports, transport: str) -> None:
    steps: list[str] = []
    asyncio.run(register_and_use(ue_config(ports, transport), steps))
    pcscf = core.process_status("pcscf")
    assert pcscf["counters"]["sip_registrations_cached"] >= 1
    assert pcscf["counters"]["sip_reg_subscribes_sent"] >= 1
    icscf = core.process_status("icscf")
    assert icscf["counters"]["cx_uar_sent"] >= 2


async def unregistered_request(ports: Ports) -> Response:
    config = UeConfig(f"nobody@{DOMAIN}", f"sip:nobody@{DOMAIN}", K, OPC,
                      pcscf=("127.0.0.1", ports.sip["pcscf"]))
    async with UserEquipment(config) as ue:
        result = await asyncio.wait_for(ue.send_request("MESSAGE", f"sip:x@{DOMAIN}"), WAIT)
    assert isinstance(result, Response)
    return result


def test_request_from_unregistered_ue_is_rejected(core: CoreProcess, ports: Ports) -> None:
    assert asyncio.run(unregistered_request(ports)).status == 403


def test_unknown_user_is_refused_at_the_icscf(core: CoreProcess, ports: Ports) -> None:
    async def attempt() -> object:
        config = UeConfig(f"001019999999999@{DOMAIN}", f"sip:001019999999999@{DOMAIN}",
                          K, OPC, pcscf=("127.0.0.1", ports.sip["pcscf"]))
        async with UserEquipment(config) as ue:
            return await asyncio.wait_for(ue.register(), WAIT)

    result = asyncio.run(attempt())
    assert getattr(result, "status", None) == 403

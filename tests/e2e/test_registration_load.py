"""200 UEs registering at once through P-CSCF -> I-CSCF -> S-CSCF -> HSS, all succeed.

The subscribers are provisioned through the REST API first (a few requests
in parallel); then 200 :class:`ims.ue.client.UserEquipment`, each with its
own SIP stack and ports in this one process, run the full AKA registration
concurrently over UDP. Every one must end with a 200 OK and the S-CSCF's
``/status`` must list every IMPI. The waits are generous bounds; this is a
correctness test under load, not a benchmark (``bench/`` measures speed).
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from imscore import CoreProcess, Ports

from ims.ue.client import UeConfig, UserEquipment
from ims.ue.register import Registered, RegistrationFailed

pytestmark = pytest.mark.e2e

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
TOKEN = "ims-lab-token-change-me"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
UES = 200
#: Bound of the whole concurrent registration (all 200 together).
REGISTER_WAIT = 240.0


def provision(ports: Ports, index: int) -> str:
    """Subscriber number ``index`` through the REST API; its IMSI."""
    imsi = f"00101{8400000000 + index:010d}"
    body = {"imsi": imsi, "msisdn": f"6{imsi[-8:]}", "k": K.hex(), "opc": OPC.hex()}
    request = urllib.request.Request(
        f"http://127.0.0.1:{ports.rest}/api/v1/subscribers", data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as reply:
        assert reply.status == 201
    return imsi


async def register_all(configs: list[UeConfig]) -> list[Registered | RegistrationFailed]:
    ues = [UserEquipment(config) for config in configs]
    await asyncio.gather(*(ue.start() for ue in ues))
    try:
        return list(await asyncio.wait_for(
            asyncio.gather(*(ue.register() for ue in ues)), REGISTER_WAIT))
    finally:
        await asyncio.gather(*(ue.stop() for ue in ues))


def test_200_ues_register_concurrently(core: CoreProcess, ports: Ports) -> None:
    # 1. 200 subscribers provisioned through the REST API
    with ThreadPoolExecutor(max_workers=8) as pool:
        imsis = list(pool.map(lambda i: provision(ports, i), range(UES)))
    configs = [UeConfig(f"{imsi}@{DOMAIN}", f"sip:{imsi}@{DOMAIN}", K, OPC,
                        pcscf=("127.0.0.1", ports.sip["pcscf"]), expires=600)
               for imsi in imsis]
    # 2. 200 UEs send REGISTER at once -> each gets 401, answers, expects 200
    results = asyncio.run(register_all(configs))
    failed = [(c.impi, r) for c, r in zip(configs, results, strict=True)
              if not isinstance(r, Registered)]
    assert failed == []
    # 3. the S-CSCF lists all 200 registrations
    listed = {r["impi"] for r in core.process_status("scscf")["registrations"]}
    assert {c.impi for c in configs} <= listed
    assert core.process_status("scscf")["counters"]["registrar_registrations"] >= UES

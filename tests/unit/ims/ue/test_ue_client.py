"""The emulated UE over real loopback sockets against a tiny in-test registrar.

The registrar is a SipStack whose transaction user plays the S-CSCF's part of
TS 24.229 §5.4.1.2 with vectors from ims.auth.aka (TS 35.208 Test Set 1 keys):
401 with base64(RAND||AUTN), resync on ``auts``, 200 with Service-Route and
P-Associated-URI when the response matches XRES, else 403. It also accepts
SUBSCRIBE to reg and sends the NOTIFY, and answers MESSAGE. No CSCF involved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ue_registrar import GRANTED, IMPUS, SERVICE_ROUTE, Registrar, only_credentials
from ue_vectors import AMF, DOMAIN, IMPI, IMPU, OPC, SQN, K

from ims.sip.message import Response
from ims.sip.transaction import Timers
from ims.ue.client import UeConfig, UserEquipment
from ims.ue.register import Deregistered, Registered, RegistrationFailed

T = TypeVar("T")
WAIT = 10.0


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, WAIT))


def ue_config(registrar: Registrar, transport: str, **kwargs: Any) -> UeConfig:
    return UeConfig(impi=kwargs.pop("impi", IMPI), impu=IMPU, k=kwargs.pop("k", K), opc=OPC,
                    amf=AMF, sqn=kwargs.pop("sqn", SQN), domain=DOMAIN,
                    pcscf=registrar.address(transport), transport=transport, **kwargs)


async def with_registrar() -> Registrar:
    registrar = Registrar()
    await registrar.stack.start()
    return registrar


def full_cycle(transport: str) -> None:
    async def body() -> None:
        registrar = await with_registrar()
        steps: list[str] = []
        async with UserEquipment(ue_config(registrar, transport), on_step=steps.append) as ue:
            result = await ue.register()
            assert isinstance(result, Registered)
            assert result.binding.expires == GRANTED and result.binding.contact == ue.contact
            assert result.binding.service_routes == (SERVICE_ROUTE,)
            assert result.binding.associated_uris == IMPUS
            assert [peer.transport for req, peer in registrar.requests] == [transport] * 2
            assert any(line.startswith("   RES=") for line in steps)
            assert any("AUTN check: OK" in line for line in steps)
            sub = await ue.subscribe_reg()
            assert isinstance(sub, Response) and sub.status == 200
            outcome = await asyncio.wait_for(ue.notifies.get(), WAIT)
            assert outcome.status == 200 and outcome.reginfo is not None
            assert outcome.reginfo.registrations[0].contacts[0].uri == ue.contact
            msg = await ue.send_request("MESSAGE", "sip:+15550002@" + DOMAIN, body=b"hi",
                                        content_type="text/plain")
            assert isinstance(msg, Response) and msg.status == 200
            sent = registrar.requests[-1][0]
            assert [str(r) for r in sent.routes] == [SERVICE_ROUTE] and sent.body == b"hi"
            again = await ue.reregister()
            assert isinstance(again, Registered)
            assert registrar.requests[-1][0].call_id == registrar.requests[0][0].call_id
            assert isinstance(await ue.deregister(), Deregistered) and ue.binding is None
        await registrar.stack.stop()

    run(body())


def test_register_subscribe_message_reregister_deregister_over_udp() -> None:
    full_cycle("udp")


def test_register_subscribe_message_reregister_deregister_over_tcp() -> None:
    full_cycle("tcp")


def test_wrong_k_reports_mac_failure_and_gets_403() -> None:
    async def body() -> None:
        registrar = await with_registrar()
        async with UserEquipment(ue_config(registrar, "udp", k=bytes(16))) as ue:
            result = await ue.register()
        assert isinstance(result, RegistrationFailed) and result.status == 403
        assert result.reason.startswith("MAC failure reported")
        assert only_credentials(registrar.requests[-1][0]).response == ""
        await registrar.stack.stop()

    run(body())


def test_wrong_res_with_trust_network_gets_403() -> None:
    async def body() -> None:
        registrar = await with_registrar()
        config = ue_config(registrar, "tcp", k=bytes(16), trust_network=True)
        async with UserEquipment(config) as ue:
            result = await ue.register()
        assert result == RegistrationFailed("403 Forbidden - authentication failed", 403)
        await registrar.stack.stop()

    run(body())


def test_ue_ahead_of_the_network_resynchronises_with_auts() -> None:
    async def body() -> None:
        registrar = await with_registrar()
        steps: list[str] = []
        config = ue_config(registrar, "udp", sqn=SQN + 32 * 10)
        async with UserEquipment(config, on_step=steps.append) as ue:
            result = await ue.register()
        assert isinstance(result, Registered)
        assert registrar.sqn[IMPI] == SQN + 32 * 11
        assert any("synchronisation failure, AUTS=" in line for line in steps)
        assert len([r for r, _ in registrar.requests if r.method == "REGISTER"]) == 3
        await registrar.stack.stop()

    run(body())


def test_many_ues_register_concurrently() -> None:
    async def body() -> None:
        registrar = await with_registrar()
        ues = [UserEquipment(ue_config(registrar, "udp", impi=f"00101000000{n:04d}@{DOMAIN}"))
               for n in range(30)]
        for ue in ues:
            await ue.start()
        results = await asyncio.gather(*(ue.register() for ue in ues))
        assert all(isinstance(r, Registered) for r in results)
        assert len({ue.contact for ue in ues}) == 30
        for ue in ues:
            await ue.stop()
        await registrar.stack.stop()

    run(body())


def test_no_answer_is_a_timeout() -> None:
    async def body() -> None:
        silent = await with_registrar()
        address = silent.address("udp")
        await silent.stack.stop()
        config = UeConfig(IMPI, IMPU, K, OPC, pcscf=address)
        async with UserEquipment(config, timers=Timers(t1=0.005)) as ue:
            result = await ue.register()
        assert isinstance(result, RegistrationFailed) and result.status is None
        assert result.reason.startswith("timeout")

    run(body())

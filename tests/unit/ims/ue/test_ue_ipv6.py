"""The emulated UE on IPv6: addresses in Contact and Via are bracketed (RFC 5118 §4.1)."""

from __future__ import annotations

import asyncio
import socket

from ims.sip.message import Request, parse_message
from ims.ue.client import UeConfig, UserEquipment


def test_ipv6_ue_brackets_its_address_in_contact_and_via() -> None:
    async def body() -> Request:
        pcscf = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        pcscf.bind(("::1", 0))
        pcscf.setblocking(False)
        config = UeConfig("001010000000001@ims.test", "sip:001010000000001@ims.test",
                          bytes(16), bytes(16), local_host="::1",
                          pcscf=("::1", pcscf.getsockname()[1]))
        ue = UserEquipment(config)
        await ue.start()
        try:
            assert ue.contact.startswith("sip:001010000000001@[::1]:")
            sending = asyncio.ensure_future(ue.send_request("MESSAGE", "sip:bob@ims.test"))
            data = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(pcscf, 65535), 5)
            sending.cancel()
        finally:
            await ue.stop()
            pcscf.close()
        msg = parse_message(data)
        assert isinstance(msg, Request)
        return msg

    msg = asyncio.run(body())
    assert msg.top_via.host == "[::1]"
    assert (msg.get("contact") or "").startswith("<sip:001010000000001@[::1]:")

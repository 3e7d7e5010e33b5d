"""The UE side of the guest IPsec test, run in the UE namespace with ``ip netns exec``.

Each mode prints JSON lines on stdout (the last one is the result):

``probe``
    A bare-socket unprotected REGISTER carrying ``Security-Client``
    (TS 33.203 §7.1, RFC 3329 §2.3.1) from ``--host``; prints the status of
    the answer and its ``Security-Server``. No SAs on this side.
``clear``
    One OPTIONS datagram sent without ESP from ``--host:--port`` to
    ``--to``; prints whether anything answered within ``--wait`` seconds.
``ue``
    The emulated UE with IPsec (:class:`ims.ue.client.UserEquipment`,
    ``UeConfig(ipsec=True, ...)``): registers, prints its plan, sends a
    MESSAGE to ``--message-to`` and one of ``--big-size`` octets to ``--big-to``, waits for the
    go file, optionally waits for ``--expect-messages`` MESSAGEs, then
    deregisters and prints the outcome.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from ims.sip.message import Response, parse_message
from ims.transport.rules import bare_host, format_host, host_family
from ims.ue.register import UeState, build_register

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
#: Upper bound of every wait here (seconds).
WAIT = 60.0


def emit(**values: Any) -> None:
    print(json.dumps(values), flush=True)


def hostport(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPV6]:PORT`` -> (bare host, port)."""
    host, _, port = text.rpartition(":")
    return bare_host(host), int(port)


def probe(args: argparse.Namespace) -> None:
    with socket.socket(host_family(args.host), socket.SOCK_DGRAM) as sock:
        sock.bind((args.host, 0))
        port = sock.getsockname()[1]
        ue = UeState(args.impi, args.impu, DOMAIN, f"urn:uuid:{secrets.token_hex(16)}",
                     "ims-guest-probe", None)
        req = build_register(ue, expires=600, call_id=f"{secrets.token_hex(8)}@{args.host}",
                             cseq=1, branch=f"z9hG4bK{secrets.token_hex(8)}",
                             from_tag=secrets.token_hex(4),
                             contact=f"sip:{args.impi.split('@')[0]}@{format_host(args.host)}:{port}",
                             transport="udp")
        req.add("Require", "sec-agree")
        req.add("Proxy-Require", "sec-agree")
        req.add("Supported", "sec-agree")
        req.add("Security-Client",
                f"ipsec-3gpp;alg={args.alg};ealg={args.ealg};spi-c=40001;spi-s=40002;"
                f"port-c={port + 1};port-s={port + 2};prot=esp;mod=trans")
        sock.settimeout(WAIT)
        sock.sendto(req.to_bytes(), hostport(args.to))
        while True:
            resp = parse_message(sock.recv(65535))
            assert isinstance(resp, Response)
            if resp.status >= 200:
                break
        emit(status=resp.status, security_server=resp.get_all("security-server"),
             www_authenticate=resp.get_all("www-authenticate"), port=port,
             require=resp.get_all("require"))


def clear(args: argparse.Namespace) -> None:
    with socket.socket(host_family(args.host), socket.SOCK_DGRAM) as sock:
        sock.bind((args.host, args.port))
        host, port = hostport(args.to)
        text = (f"OPTIONS sip:{format_host(host)}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {format_host(args.host)}:{args.port};"
                f"branch=z9hG4bK{secrets.token_hex(8)}"
                ";rport\r\nMax-Forwards: 70\r\nFrom: <sip:clear@guest.test>;tag=c1\r\n"
                f"To: <sip:{format_host(host)}>\r\nCall-ID: {secrets.token_hex(8)}@guest\r\n"
                "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
        sock.sendto(text.encode(), (host, port))
        sock.settimeout(args.wait)
        try:
            data = sock.recv(65535)
        except TimeoutError:
            emit(answered=False)
            return
        emit(answered=True, first_line=data.split(b"\r\n", 1)[0].decode(errors="replace"))


def plan_fields(plan: Any) -> dict[str, Any] | None:
    """The negotiated SA set (no keys)."""
    if plan is None:
        return None
    names = ("ue_host", "pcscf_host", "port_uc", "port_us", "port_pc", "port_ps", "spi_uc",
             "spi_us", "spi_pc", "spi_ps", "alg", "ealg")
    return {name: getattr(plan, name, None) for name in names}


async def wait_go(go_file: str | None) -> None:
    if go_file is None:
        return
    deadline = time.monotonic() + 4 * WAIT
    while not Path(go_file).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no go file {go_file}")
        await asyncio.sleep(0.05)


async def run_ue(args: argparse.Namespace) -> None:
    from ims.ue.client import UeConfig, UserEquipment
    from ims.ue.register import Registered

    config = UeConfig(args.impi, args.impu, bytes.fromhex(args.k), bytes.fromhex(args.opc),
                      pcscf=hostport(args.to), local_host=args.host, expires=600,
                      transport=args.transport, ipsec=True, ipsec_alg=args.alg,
                      ipsec_ealg=args.ealg)
    steps: list[str] = []
    ue = UserEquipment(config, on_step=steps.append)
    await ue.start()
    try:
        result = await asyncio.wait_for(ue.register(), WAIT)
        plan = ue.ipsec_plan
        emit(registered=isinstance(result, Registered), result=repr(result)[:500],
             local=list(ue.local), plan=plan_fields(plan), steps=steps)
        if not isinstance(result, Registered):
            return
        if args.message_to:
            answer = await asyncio.wait_for(
                ue.send_request("MESSAGE", args.message_to, body=b"hello over esp",
                                content_type="text/plain"), WAIT)
            emit(message_status=getattr(answer, "status", repr(answer)))
        if args.big_to:
            answer = await asyncio.wait_for(
                ue.send_request("MESSAGE", args.big_to, body=b"x" * args.big_size,
                                content_type="text/plain"), WAIT)
            emit(big_status=getattr(answer, "status", repr(answer)))
        emit(ready=True)
        await wait_go(args.go_file)
        got: list[dict[str, Any]] = []
        for _ in range(args.expect_messages):
            req = await asyncio.wait_for(ue.requests.get(), WAIT)
            got.append({"method": req.method, "body_len": len(req.body),
                        "via": req.get("via")})
        if args.expect_messages:
            emit(received=got)
        done = await asyncio.wait_for(ue.deregister(), WAIT)
        emit(deregistered=type(done).__name__, detail=repr(done)[:300], steps=steps)
    finally:
        await ue.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("probe", "clear", "ue"))
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--to", required=True, help="P-CSCF HOST:PORT")
    parser.add_argument("--impi", default="")
    parser.add_argument("--impu", default="")
    parser.add_argument("--k", default="")
    parser.add_argument("--opc", default="")
    parser.add_argument("--alg", default="hmac-sha-1-96")
    parser.add_argument("--ealg", default="aes-cbc")
    parser.add_argument("--transport", default="udp")
    parser.add_argument("--message-to", default="")
    parser.add_argument("--big-to", default="")
    parser.add_argument("--big-size", type=int, default=1400)
    parser.add_argument("--expect-messages", type=int, default=0)
    parser.add_argument("--wait", type=float, default=3.0)
    parser.add_argument("--go-file")
    args = parser.parse_args()
    if args.mode == "probe":
        probe(args)
    elif args.mode == "clear":
        clear(args)
    else:
        asyncio.run(run_ue(args))


if __name__ == "__main__":
    main()

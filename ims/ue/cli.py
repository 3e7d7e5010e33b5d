"""``ims-cli ue register``: the emulated UE from the command line (lab smoke tests).

Registers one UE with AKA through a P-CSCF (TS 24.229 §5.1.1.2) and prints
each step: the REGISTER sent, the 401 with RAND/AUTN, the ISIM's AUTN check
(TS 33.102 §6.3.3), RES/CK/IK, and the 200 OK with the granted expiry,
Service-Route and P-Associated-URI. With ``--deregister-after SECONDS`` it
waits that long and deregisters (Expires: 0, §5.1.1.6); without, the
binding stays until it expires.

With ``--ipsec`` the UE negotiates IPsec (TS 33.203 §7, RFC 3329): it offers
every algorithm pair, or the one ``--alg``/``--ealg`` pin, installs its own
SAs in the network namespace it runs in (XFRM netlink, so it needs
CAP_NET_ADMIN there) and sends the protected REGISTER over them. The
negotiated set (ports, SPIs, algorithms; never the keys) is printed.

The P-CSCF address and the home domain default to the config's ``[pcscf]``
and ``[core] domain``, so with no flags it talks to ``ims-cli run``'s core.
Exit code 0 when every step succeeded, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import Callable
from typing import Any

from ims.auth.milenage import compute_opc
from ims.ipsec.keys import XfrmPlan
from ims.ipsec.xfrm import XfrmPort
from ims.runtime.config import Config
from ims.sip.headers.security import ENCRYPTION_ALGORITHMS, INTEGRITY_ALGORITHMS
from ims.ue.client import UeConfig, UserEquipment
from ims.ue.register import Deregistered, Registered

__all__ = ["add_ue_parser", "config_from_args", "describe_plan", "register_and_report", "run_ue"]


def _hex(octets: int | None) -> Callable[[str], bytes]:
    def parse(text: str) -> bytes:
        try:
            value = bytes.fromhex(text.replace(":", "").replace(" ", ""))
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"not hex: {text!r}") from error
        if octets is not None and len(value) != octets:
            raise argparse.ArgumentTypeError(f"{len(value)} octets, expected {octets}")
        return value
    return parse


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def add_ue_parser(commands: Any, shared: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``ue register`` to the ``ims-cli`` subparsers.

    Args:
        commands: the ``add_subparsers()`` object of ``ims-cli``.
        shared: adds the shared ``--config``/``--log-level`` flags to a parser.
    """
    ue = commands.add_parser("ue", help="the emulated UE (lab smoke tests)")
    actions = ue.add_subparsers(dest="ue_command", required=True, metavar="ACTION")
    reg = actions.add_parser("register", help="register one UE with AKA, printing each step")
    shared(reg)
    reg.add_argument("--impi", required=True, help="private identity, IMSI@domain")
    reg.add_argument("--impu", required=True, help="public identity, sip:...")
    reg.add_argument("--k", required=True, type=_hex(16), help="K, 32 hex digits")
    keys = reg.add_mutually_exclusive_group(required=True)
    keys.add_argument("--opc", type=_hex(16), help="OPc, 32 hex digits")
    keys.add_argument("--op", type=_hex(16), help="OP, 32 hex digits (OPc derived)")
    reg.add_argument("--amf", type=_hex(2), default=b"\x80\x00", help="AMF (default 8000)")
    reg.add_argument("--sqn", type=_hex(6), default=bytes(6),
                     help="the ISIM's SQN_MS, 12 hex digits (default 0)")
    reg.add_argument("--transport", choices=("udp", "tcp"), default="udp")
    reg.add_argument("--pcscf", type=_hostport, help="P-CSCF HOST:PORT (default from config)")
    reg.add_argument("--domain", help="home domain (default from config)")
    reg.add_argument("--local-host", default="127.0.0.1", help="address the UE binds")
    reg.add_argument("--expires", type=int, default=600000, help="requested expiry (s)")
    reg.add_argument("--deregister-after", type=float, metavar="SECONDS",
                     help="deregister after this many seconds")
    reg.add_argument("--password", help="SIP digest password (MD5 identities)")
    reg.add_argument("--trust-network", action="store_true",
                     help="skip the AUTN check (test a wrong RES)")
    reg.add_argument("--ipsec", action="store_true",
                     help="sec-agree with IPsec: own SAs in this network namespace")
    reg.add_argument("--alg", choices=INTEGRITY_ALGORITHMS,
                     help="offer only this integrity algorithm (with --ipsec)")
    reg.add_argument("--ealg", choices=ENCRYPTION_ALGORITHMS,
                     help="offer only this encryption algorithm (with --ipsec)")


def config_from_args(args: argparse.Namespace, config: Config) -> UeConfig:
    """The :class:`UeConfig` of ``ue register`` flags over the core config."""
    host, port = args.pcscf or (config.pcscf.host, config.pcscf.port)
    opc = args.opc if args.opc is not None else compute_opc(args.k, args.op)
    return UeConfig(
        impi=args.impi, impu=args.impu, k=args.k, opc=opc, domain=args.domain or config.core.domain,
        amf=args.amf, sqn=int.from_bytes(args.sqn, "big"),
        pcscf=(socket.gethostbyname(host), port), transport=args.transport,
        local_host=args.local_host, expires=args.expires, password=args.password,
        trust_network=args.trust_network, ipsec=args.ipsec, ipsec_alg=args.alg,
        ipsec_ealg=args.ealg,
    )


def run_ue(args: argparse.Namespace, config: Config) -> int:
    """Run ``ims-cli ue register``; the exit code."""
    try:
        ue_config = config_from_args(args, config)
    except OSError as error:
        print(f"ims-cli ue: cannot resolve the P-CSCF: {error}", flush=True)
        return 1
    return asyncio.run(register_and_report(ue_config, args.deregister_after))


def describe_plan(plan: XfrmPlan) -> list[str]:
    """The negotiated SA set for the step log: ports, SPIs, algorithms (never the keys)."""
    return [
        f"IPsec: {plan.alg} / {plan.ealg}, ESP transport mode",
        f"   UE {plan.ue_host} port_uc {plan.port_uc} (spi_uc {plan.spi_uc}) "
        f"port_us {plan.port_us} (spi_us {plan.spi_us})",
        f"   P-CSCF {plan.pcscf_host} port_pc {plan.port_pc} (spi_pc {plan.spi_pc}) "
        f"port_ps {plan.port_ps} (spi_ps {plan.spi_ps})",
    ]


def _print(text: str) -> None:
    print(text, flush=True)


async def register_and_report(config: UeConfig, deregister_after: float | None,
                              xfrm: XfrmPort | None = None) -> int:
    """Register (and optionally deregister) one UE, printing each step; the exit code.

    ``xfrm`` is where the UE's SAs go with ``config.ipsec`` (default: the
    kernel of the current network namespace).
    """
    ue = UserEquipment(config, on_step=_print, xfrm=xfrm)
    await ue.start()
    try:
        _print(f"UE {config.impi} at {ue.contact} -> P-CSCF {config.pcscf[0]}:{config.pcscf[1]}"
               f" over {config.transport.upper()}")
        result = await ue.register()
        if not isinstance(result, Registered):
            if config.ipsec and result.status == 420:
                _print("   the P-CSCF does not do sec-agree: [pcscf] ipsec is off, or its kernel "
                       "cannot hold ESP SAs (ims-cli status shows which)")
            return 1
        if ue.ipsec_plan is not None:
            for line in describe_plan(ue.ipsec_plan):
                _print(line)
        if deregister_after is None:
            _print("registered; the binding stays until it expires")
            return 0
        _print(f"deregistering in {deregister_after:g} s")
        await asyncio.sleep(deregister_after)
        return 0 if isinstance(await ue.deregister(), Deregistered) else 1
    finally:
        await ue.stop()

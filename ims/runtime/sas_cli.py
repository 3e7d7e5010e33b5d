"""``ims-cli sas [--json]``: the P-CSCF's IPsec SAs per UE (TS 33.203 §7.1).

Reads the ``ipsec`` object of the P-CSCF's ``/status`` (found through the
config's ``[pcscf] mgmt_port``, like ``ims-cli status``): the mode, whether
the kernel holds ESP, and per UE each SA's addresses and ports, SPI,
algorithms, age and kernel packet/byte counters. With ``--json`` the object
is printed as is. Exit code 0 when the P-CSCF answered, 1 when it did not.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from ims.runtime.config import Config
from ims.runtime.mgmt import StatusUnavailable, fetch_status

__all__ = ["add_sas_parser", "render_sas", "run_sas"]

_COLUMNS = ("ue", "src", "dst", "spi", "alg", "ealg", "age_s", "packets", "bytes")


def add_sas_parser(commands: Any, shared: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``sas`` to the ``ims-cli`` subparsers."""
    parser = commands.add_parser("sas", help="the P-CSCF's IPsec SAs per UE")
    shared(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                        help="how long to wait for the P-CSCF (default 3)")


def render_sas(ipsec: dict[str, Any]) -> str:
    """A header line (mode, kernel ESP, SA count) and one row per SA."""
    head = (f"ipsec mode {ipsec.get('mode')}, kernel ESP {ipsec.get('kernel_esp')}"
            f" ({ipsec.get('reason')}); {ipsec.get('sa_count', 0)} SAs")
    rows = [[str(ue.get("ue"))] + [_cell(sa.get(key)) for key in _COLUMNS[1:]]
            for ue in ipsec.get("ues") or [] for sa in ue.get("sas") or []]
    if not rows:
        return f"{head}\nno SAs"
    titles = [key.upper() for key in _COLUMNS]
    widths = [max(len(line[i]) for line in [titles, *rows]) for i in range(len(titles))]
    table = ["  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True))
             .rstrip() for line in [titles, *rows]]
    return "\n".join([head, *table])


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def run_sas(args: argparse.Namespace, config: Config) -> int:
    """Run ``ims-cli sas``; the exit code."""
    host, port = config.mgmt_address("pcscf")
    try:
        status = fetch_status(host, port, args.timeout)
    except StatusUnavailable as error:
        print(f"ims-cli sas: no answer from the P-CSCF at http://{host}:{port}/status: {error}")
        return 1
    ipsec = status.get("ipsec") or {}
    if args.json:
        print(json.dumps({"ipsec": ipsec}, indent=2, sort_keys=True))
    else:
        print(render_sas(ipsec))
    return 0

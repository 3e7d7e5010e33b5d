"""``ims-cli registrations [--json]``: the S-CSCF's registered IMPUs and contacts.

Reads the ``registrations`` list of the S-CSCF's ``/status`` (found through
the config's ``[scscf] mgmt_port``, like ``ims-cli status``) and prints one
row per contact: the implicit registration set (IMPUs, default first), the
contact URI, its remaining expiry, the P-CSCF it registered through (the
first Path entry) and the serving S-CSCF (``scscf.server_name``). With
``--json`` the same rows are printed as one JSON document. Exit code 0 when
the S-CSCF answered (even with no registrations), 1 when it did not.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from ims.runtime.config import Config
from ims.runtime.mgmt import StatusUnavailable, fetch_status

__all__ = ["add_registrations_parser", "registration_rows", "render_registrations",
           "run_registrations"]

_COLUMNS = (("IMPI", "impi"), ("IMPUS", "impus"), ("CONTACT", "contact"),
            ("EXPIRES", "expires"), ("P-CSCF", "pcscf"), ("S-CSCF", "scscf"))


def add_registrations_parser(commands: Any,
                             shared: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``registrations`` to the ``ims-cli`` subparsers.

    Args:
        commands: the ``add_subparsers()`` object of ``ims-cli``.
        shared: adds the shared ``--config``/``--log-level`` flags to a parser.
    """
    parser = commands.add_parser("registrations", help="the S-CSCF's registered IMPUs")
    shared(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                        help="how long to wait for the S-CSCF (default 3)")


def registration_rows(status: dict[str, Any], scscf: str) -> list[dict[str, Any]]:
    """One row per contact of the ``registrations`` of an S-CSCF ``/status`` document."""
    rows: list[dict[str, Any]] = []
    for record in status.get("registrations") or []:
        base = {"impi": record.get("impi"), "impus": list(record.get("impus") or []),
                "scscf": scscf}
        for contact in record.get("contacts") or []:
            rows.append({**base, "contact": contact.get("uri"),
                         "expires": contact.get("expires"), "pcscf": contact.get("pcscf")})
    return rows


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "impus":
        return ",".join(str(item) for item in value) or "-"
    if key == "expires":
        return f"{value}s"
    return str(value)


def render_registrations(rows: list[dict[str, Any]]) -> str:
    """A left-aligned table of :func:`registration_rows` (a note when empty)."""
    if not rows:
        return "no registrations"
    cells = [[_cell(key, row.get(key)) for _, key in _COLUMNS] for row in rows]
    titles = [title for title, _ in _COLUMNS]
    widths = [max(len(line[i]) for line in [titles, *cells]) for i in range(len(titles))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths,
                                                                        strict=True)).rstrip()
                     for line in [titles, *cells])


def run_registrations(args: argparse.Namespace, config: Config) -> int:
    """Run ``ims-cli registrations``; the exit code."""
    host, port = config.mgmt_address("scscf")
    try:
        status = fetch_status(host, port, args.timeout)
    except StatusUnavailable as error:
        print(f"ims-cli registrations: no answer from the S-CSCF at "
              f"http://{host}:{port}/status: {error}")
        return 1
    rows = registration_rows(status, str(config.scscf.server_name))
    if args.json:
        print(json.dumps({"registrations": rows}, indent=2, sort_keys=True))
    else:
        print(render_registrations(rows))
    return 0

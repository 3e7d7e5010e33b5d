"""``ims-cli``: run the whole core, and look at it while it runs.

* ``ims-cli run [--config FILE]`` starts HSS, I-CSCF, S-CSCF and P-CSCF as
  child processes (see :mod:`ims.runtime.supervisor`).
* ``ims-cli status [--json] [--config FILE]`` asks each function's
  management endpoint (found through the same config) for ``/status`` and
  shows up/down, pid, uptime, where it listens and its counters. Exit code
  0 if all are up, 1 otherwise.
* ``ims-cli subscriber add|show|list|delete`` provisions through the HSS's
  REST API (see :mod:`provisioning.cli`); exit code 1 on an HTTP error.
* ``ims-cli registrations [--json]`` lists the S-CSCF's registered IMPUs and
  contacts (see :mod:`ims.runtime.registrations_cli`).
* ``ims-cli sas [--json]`` lists the P-CSCF's IPsec SAs per UE (see
  :mod:`ims.runtime.sas_cli`).
* ``ims-cli ue register ...`` registers one emulated UE through a P-CSCF,
  printing each step (see :mod:`ims.ue.cli`); exit code 1 on failure.

Exit codes of ``run``: 0 stopped by a signal, 1 a child failed, 2 a port is
taken, 3 configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from ims.runtime.config import FUNCTIONS, Config, ConfigError, load_config
from ims.runtime.logging import setup_logging
from ims.runtime.main import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, add_shared_flags
from ims.runtime.mgmt import StatusUnavailable, fetch_status
from ims.runtime.registrations_cli import add_registrations_parser, run_registrations
from ims.runtime.sas_cli import add_sas_parser, run_sas
from ims.runtime.supervisor import run_supervisor
from ims.ue.cli import add_ue_parser, run_ue
from provisioning.cli import add_subscriber_parser, run_subscriber


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ims-cli``."""
    parser = argparse.ArgumentParser(prog="ims-cli", description="IMS core control")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="start HSS, I-CSCF, S-CSCF and P-CSCF")
    add_shared_flags(run)
    status = commands.add_parser("status", help="state of every running function")
    add_shared_flags(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                        help="how long to wait for each function (default 3)")
    add_subscriber_parser(commands, add_shared_flags)
    add_ue_parser(commands, add_shared_flags)
    add_registrations_parser(commands, add_shared_flags)
    add_sas_parser(commands, add_shared_flags)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``ims-cli``."""
    sys.exit(dispatch(argv))


def dispatch(argv: Sequence[str] | None = None) -> int:
    """Run one ``ims-cli`` command and return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"ims-cli: configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(args.log_level or config.logging.level, "ims-cli")
    if args.command == "run":
        return run_supervisor(config, args.config, args.log_level)
    if args.command == "subscriber":
        return run_subscriber(args, config)
    if args.command == "ue":
        return run_ue(args, config)
    if args.command == "registrations":
        return run_registrations(args, config)
    if args.command == "sas":
        return run_sas(args, config)
    return show_status(config, as_json=args.json, timeout=args.timeout)


def collect_status(config: Config, timeout: float = 3.0) -> list[dict[str, Any]]:
    """One entry per function: ``{"name", "up", "mgmt", ...status or "error"}``."""
    entries = []
    for name in FUNCTIONS:
        host, port = config.mgmt_address(name)
        entry: dict[str, Any] = {"name": name, "up": False, "mgmt": f"http://{host}:{port}"}
        try:
            document = fetch_status(host, port, timeout)
        except StatusUnavailable as error:
            entry["error"] = str(error)
        else:
            entry.update(document, name=name, up=True)
        entries.append(entry)
    return entries


def show_status(config: Config, as_json: bool, timeout: float) -> int:
    """Print the status of every function; 0 if all are up."""
    entries = collect_status(config, timeout)
    if as_json:
        print(json.dumps({"processes": entries}, indent=2, sort_keys=True))
    else:
        print(render_status(entries))
    return EXIT_OK if all(entry["up"] for entry in entries) else EXIT_FAILURE


def render_status(entries: list[dict[str, Any]]) -> str:
    """The human-readable table of :func:`collect_status` entries."""
    lines = [f"{'FUNCTION':<9}{'STATE':<7}{'PID':<9}{'UPTIME':<11}LISTENING"]
    for entry in entries:
        if not entry["up"]:
            lines.append(f"{entry['name']:<9}{'down':<7}{'-':<9}{'-':<11}"
                         f"(no answer from {entry['mgmt']}/status: {entry['error']})")
            continue
        listening = ", ".join(str(item) for item in entry.get("listening", []))
        lines.append(f"{entry['name']:<9}{'up':<7}{entry.get('pid', '?')!s:<9}"
                     f"{format_uptime(entry.get('uptime_s')):<11}{listening}")
        lines += _details(entry)
    return "\n".join(lines)


def _details(entry: dict[str, Any]) -> list[str]:
    lines = []
    peers = entry.get("diameter_peers")
    if peers is not None:
        shown = ", ".join(f"{peer.get('host')} ({peer.get('state')})" for peer in peers)
        lines.append(f"    diameter peers: {shown or 'none'}")
    ipsec = entry.get("ipsec")
    if isinstance(ipsec, dict):  # the P-CSCF (TS 33.203)
        kernel_esp = ipsec.get("kernel_esp")
        esp = "not probed" if kernel_esp is None else "available" if kernel_esp else "missing"
        lines.append(f"    ipsec: {ipsec.get('mode')}, kernel ESP {esp}, "
                     f"{len(ipsec.get('ues') or [])} UE(s), {ipsec.get('sa_count', 0)} SAs"
                     + ("" if kernel_esp or ipsec.get("mode") == "off"
                        else f" ({ipsec.get('reason')})"))
    for key in ("counters", "gauges"):
        values = entry.get(key) or {}
        shown = " ".join(f"{name}={value}" for name, value in sorted(values.items()) if value)
        zero = sum(1 for value in values.values() if not value)
        if zero:
            shown += f" ({zero} more at 0)" if shown else f"all {zero} at 0"
        if values:
            lines.append(f"    {key}: {shown.strip()}")
    return lines


def format_uptime(seconds: Any) -> str:
    """``1d02h03m``, ``2h03m04s``, ``3m04s`` or ``5s``."""
    if not isinstance(seconds, int | float):
        return "?"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h{minutes:02d}m"
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


if __name__ == "__main__":
    main()

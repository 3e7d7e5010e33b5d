"""``ims-cli subscriber add|show|list|update|delete``: provisioning over the REST API.

The commands talk HTTP to :mod:`provisioning.api` with ``urllib.request``
(no database access from the CLI). The base URL and bearer token come from
the config's ``[hss] rest_host``, ``rest_port`` and ``rest_token``, so with
no flags they reach the core ``ims-cli run`` starts; ``--url`` and
``--token`` override them. An HTTP error prints the API's JSON error and the
field at fault on stderr and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from ims.runtime.config import Config

__all__ = ["ApiError", "ProvisioningClient", "add_subscriber_parser", "render_subscriber",
           "run_subscriber"]

API_PREFIX = "/api/v1"


class ApiError(Exception):
    """The API answered an error, or could not be reached (``status`` 0)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field

    def __str__(self) -> str:
        where = f" (field {self.field})" if self.field else ""
        prefix = f"HTTP {self.status}: " if self.status else ""
        return f"{prefix}{self.message}{where}"


class ProvisioningClient:
    """A small JSON client of the provisioning API."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send one request; the decoded JSON answer (None for an empty one).

        Raises:
            ApiError: an HTTP error status, or the server cannot be reached.
        """
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base_url}{API_PREFIX}{path}", data=data,
                                     method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise _api_error(error) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ApiError(0, f"cannot reach {self.base_url}: {reason}") from None
        return json.loads(raw) if raw else None


def _api_error(error: urllib.error.HTTPError) -> ApiError:
    try:
        document = json.loads(error.read() or b"{}")
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    field = document.get("field")
    return ApiError(error.code, str(document.get("error") or error.reason),
                    None if field is None else str(field))


# --------------------------------------------------------------------------- arguments

def _hex_int(text: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a hex number: {text!r}") from None


def _connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="API base URL (default: http://[hss] rest_host:rest_port)")
    parser.add_argument("--token", help="bearer token (default: [hss] rest_token)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--json", action="store_true", help="print the API's JSON")


def add_subscriber_parser(commands: Any,
                          shared: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``subscriber add|show|list|delete`` to the ``ims-cli`` subparsers.

    Args:
        commands: the ``add_subparsers()`` object of ``ims-cli``.
        shared: adds the shared ``--config``/``--log-level`` flags to a parser.
    """
    subscriber = commands.add_parser("subscriber", help="provision subscribers (REST API)")
    actions = subscriber.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="provision a subscriber and its identity set")
    add.add_argument("--imsi", required=True)
    add.add_argument("--msisdn")
    add.add_argument("--k", help="K, 32 hex digits")
    keys = add.add_mutually_exclusive_group()
    keys.add_argument("--opc", help="OPc, 32 hex digits")
    keys.add_argument("--op", help="OP, 32 hex digits (converted to OPc)")
    add.add_argument("--amf", help="AMF, 4 hex digits (default 8000)")
    add.add_argument("--sqn", type=_hex_int, help="initial SQN, hex (default 0)")
    add.add_argument("--impu", action="append", metavar="URI",
                     help="a public identity instead of the generated set (repeatable)")
    show = actions.add_parser("show", help="one subscriber")
    show.add_argument("imsi")
    listing = actions.add_parser("list", help="subscribers, ordered by IMSI")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("-q", "--search", metavar="TEXT",
                         help="keep IMSI/MSISDN/IMPI/IMPU containing TEXT")
    delete = actions.add_parser("delete", help="remove a subscriber")
    delete.add_argument("imsi")
    update = _update_parser(actions)
    for parser in (add, show, listing, delete, update):
        shared(parser)
        _connection_flags(parser)


def _update_parser(actions: Any) -> argparse.ArgumentParser:
    """``subscriber update IMSI``: PATCH the given fields only."""
    update: argparse.ArgumentParser = actions.add_parser(
        "update", help="change fields of a subscriber (PATCH)")
    update.add_argument("imsi")
    update.add_argument("--msisdn")
    update.add_argument("--k", help="new K, 32 hex digits (with --opc or --op)")
    keys = update.add_mutually_exclusive_group()
    keys.add_argument("--opc", help="OPc, 32 hex digits")
    keys.add_argument("--op", help="OP, 32 hex digits (converted to OPc)")
    update.add_argument("--amf", help="AMF, 4 hex digits")
    update.add_argument("--sqn", type=_hex_int, help="SQN, hex")
    update.add_argument("--ambr-ul", type=int, help="UE-AMBR uplink, bit/s")
    update.add_argument("--ambr-dl", type=int, help="UE-AMBR downlink, bit/s")
    update.add_argument("--access-restriction", type=int, help="Access-Restriction-Data")
    update.add_argument("--bar", action="append", metavar="IMPU", default=[],
                        help="bar a public identity (repeatable)")
    update.add_argument("--unbar", action="append", metavar="IMPU", default=[],
                        help="lift the barring of a public identity (repeatable)")
    return update


def _update_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in ("msisdn", "k", "opc", "op", "amf", "sqn", "ambr_ul", "ambr_dl",
                 "access_restriction"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    barring = {impu: True for impu in args.bar} | {impu: False for impu in args.unbar}
    if barring:
        body["barring"] = barring
    return body


# --------------------------------------------------------------------------- commands

def _client(args: argparse.Namespace, config: Config) -> ProvisioningClient:
    url = args.url
    if not url:
        host, port = config.hss.rest_host, config.hss.rest_port
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    return ProvisioningClient(url, args.token or config.hss.rest_token, args.timeout)


def _add_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"imsi": args.imsi}
    for name in ("msisdn", "k", "opc", "op", "amf", "sqn"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    if args.impu:
        body["impus"] = [{"impu": impu} for impu in args.impu]
    return body


def _list_path(args: argparse.Namespace) -> str:
    query = {"limit": args.limit, "offset": args.offset}
    if args.search:
        query["q"] = args.search
    return f"/subscribers?{urllib.parse.urlencode(query)}"


def run_subscriber(args: argparse.Namespace, config: Config) -> int:
    """Run one ``ims-cli subscriber`` action; 0 on success, 1 on any error."""
    client = _client(args, config)
    try:
        if args.action == "add":
            document = client.request("POST", "/subscribers", _add_body(args))
        elif args.action == "list":
            document = client.request("GET", _list_path(args))
        elif args.action == "update":
            path = f"/subscribers/{urllib.parse.quote(args.imsi)}"
            document = client.request("PATCH", path, _update_body(args))["subscriber"]
        elif args.action == "show":
            document = client.request("GET", f"/subscribers/{urllib.parse.quote(args.imsi)}")
        else:
            client.request("DELETE", f"/subscribers/{urllib.parse.quote(args.imsi)}")
            print(f"deleted subscriber {args.imsi}")
            return 0
    except ApiError as error:
        print(f"ims-cli: subscriber {args.action}: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(document, indent=2, sort_keys=True))
    elif args.action == "list":
        print(render_list(document))
    else:
        print(render_subscriber(document, isim=args.action == "add"))
    return 0


# --------------------------------------------------------------------------- rendering

def render_list(document: dict[str, Any]) -> str:
    """One line per subscriber: IMSI, MSISDN, IMPI, number of IMPUs."""
    lines = [f"{'IMSI':<17}{'MSISDN':<17}{'IMPUS':<7}IMPI"]
    for item in document.get("subscribers", []):
        impis = item.get("private_identities") or [{}]
        impus = sum(len(irs) for impi in impis for irs in impi.get("implicit_sets", []))
        lines.append(f"{item['imsi']:<17}{item.get('msisdn') or '-':<17}{impus:<7}"
                     f"{impis[0].get('impi', '-')}")
    if document.get("next_offset") is not None:
        lines.append(f"(more: --offset {document['next_offset']})")
    return "\n".join(lines)


def render_subscriber(document: dict[str, Any], isim: bool = False) -> str:
    """A subscriber's keys (masked) and identity set; with ``isim`` what to program."""
    lines = [f"IMSI      {document['imsi']}", f"MSISDN    {document.get('msisdn') or '-'}",
             f"K         {document.get('k') or '-'}", f"OPc       {document.get('opc') or '-'}",
             f"AMF       {document['amf']}", f"SQN       {document['sqn']:#x}"]
    for impi in document.get("private_identities", []):
        lines.append(f"IMPI      {impi['impi']} ({impi['auth_scheme']})")
        for irs in impi.get("implicit_sets", []):
            for impu in irs:
                barred = " (barred)" if impu["barred"] else ""
                state = impu.get("registration", {}).get("state", "")
                lines.append(f"  IMPU    {impu['impu']}{barred} {state}".rstrip())
    apns = ", ".join(apn["name"] for apn in document.get("apns", []))
    lines.append(f"APNs      {apns or '-'}")
    if isim:
        lines += _isim_lines(document)
    return "\n".join(lines)


def _isim_lines(document: dict[str, Any]) -> list[str]:
    """ISIM values (TS 31.103 §4.2.2-4.2.4): IMPI, first IMPU, home domain."""
    impis = document.get("private_identities") or []
    if not impis:
        return []
    impi = impis[0]["impi"]
    impus = [impu["impu"] for irs in impis[0].get("implicit_sets", []) for impu in irs]
    return ["", "Program into the ISIM:", f"  IMPI         {impi}",
            f"  IMPU         {impus[0] if impus else '-'}",
            f"  home domain  {impi.partition('@')[2]}"]

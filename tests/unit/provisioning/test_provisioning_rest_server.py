"""provisioning.server + ``ims-cli subscriber``: real HTTP on loopback, the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from hss.store import Store
from provisioning.server import RestServer, start_rest_server

TOKEN = "rest-test-token"
DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMSI = "001010000000042"
K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    instance = Store(f"sqlite:///{tmp_path / 'hss.sqlite'}")
    instance.upgrade()
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def server(store: Store) -> Iterator[RestServer]:
    running = start_rest_server(store, "127.0.0.1", 0, TOKEN)
    try:
        yield running
    finally:
        running.stop()


def cli(server: RestServer, *argv: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    """``ims-cli subscriber ...`` in a child process against ``server``."""
    command = [sys.executable, "-m", "ims.cli", "subscriber", *argv,
               "--url", server.url, "--token", token]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env=env, check=False)


def test_server_answers_on_its_address(server: RestServer) -> None:
    host, port = server.address
    assert host == "127.0.0.1" and port > 0
    request = urllib.request.Request(f"{server.url}/api/v1/subscribers",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.load(response) == {"subscribers": [], "limit": 100, "offset": 0,
                                       "next_offset": None}
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(f"{server.url}/api/v1/subscribers", timeout=5)
    assert raised.value.code == 401


def test_stop_closes_the_port(store: Store) -> None:
    running = start_rest_server(store, "127.0.0.1", 0, TOKEN)
    url = running.url
    running.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/api/v1/subscribers", timeout=2)


def test_cli_add_list_show_delete(server: RestServer, store: Store) -> None:
    added = cli(server, "add", "--imsi", IMSI, "--msisdn", "15550042", "--k", K, "--opc", OPC,
                "--amf", "8000", "--sqn", "20")
    assert added.returncode == 0, added.stderr
    lines = added.stdout.splitlines()
    assert lines[:6] == [f"IMSI      {IMSI}", "MSISDN    15550042", "K         " + "*" * 28 + "a6bc",
                         "OPc       " + "*" * 28 + "2baf", "AMF       8000", "SQN       0x20"]
    assert f"IMPI      {IMSI}@{DOMAIN} (aka)" in lines
    assert f"  IMPU    sip:{IMSI}@{DOMAIN} (barred) NOT_REGISTERED" in lines
    assert "  IMPU    tel:+15550042 NOT_REGISTERED" in lines
    assert lines[-4:] == ["Program into the ISIM:", f"  IMPI         {IMSI}@{DOMAIN}",
                          f"  IMPU         sip:{IMSI}@{DOMAIN}", f"  home domain  {DOMAIN}"]
    assert K not in added.stdout
    assert store.get_subscriber(IMSI).sqn == 0x20

    listed = cli(server, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "IMSI             MSISDN           IMPUS  IMPI",
        f"{IMSI}  15550042         3      {IMSI}@{DOMAIN}"]

    shown = cli(server, "show", IMSI, "--json")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert (document["imsi"], document["sqn"], document["k"]) == (IMSI, 32, "*" * 28 + "a6bc")

    deleted = cli(server, "delete", IMSI)
    assert (deleted.returncode, deleted.stdout) == (0, f"deleted subscriber {IMSI}\n")
    assert store.list_subscribers() == []


def test_cli_shows_the_error_and_field(server: RestServer) -> None:
    bad = cli(server, "add", "--imsi", IMSI, "--k", "00", "--opc", OPC)
    assert bad.returncode == 1
    assert bad.stderr.strip() == ("ims-cli: subscriber add: HTTP 400: k: must be 32 hex digits"
                                  " (field k)")
    missing = cli(server, "show", "001019999999999")
    assert missing.returncode == 1
    assert missing.stderr.strip() == ("ims-cli: subscriber show: HTTP 404: unknown IMSI "
                                      "'001019999999999' (field imsi)")
    unauthorised = cli(server, "list", token="wrong")
    assert unauthorised.returncode == 1
    assert "HTTP 401: missing or wrong bearer token (field Authorization)" in unauthorised.stderr


def test_cli_reports_an_unreachable_api(store: Store) -> None:
    running = start_rest_server(store, "127.0.0.1", 0, TOKEN)
    running.stop()
    result = cli(running, "list")
    assert result.returncode == 1
    assert result.stderr.startswith(f"ims-cli: subscriber list: cannot reach {running.url}")


def test_cli_update_patches_only_the_given_fields(server: RestServer, store: Store) -> None:
    assert cli(server, "add", "--imsi", IMSI, "--msisdn", "15550042", "--k", K,
               "--opc", OPC).returncode == 0
    updated = cli(server, "update", IMSI, "--amf", "9000", "--sqn", "40", "--ambr-dl", "5000",
                  "--bar", "tel:+15550042")
    assert updated.returncode == 0, updated.stderr
    assert "AMF       9000" in updated.stdout.splitlines()
    record = store.get_subscriber(IMSI)
    assert (record.amf.hex(), record.sqn, record.ambr_dl, record.msisdn) == (
        "9000", 0x40, 5000, "15550042")
    assert record.private_identities[0].impus[1].barred is True
    bad = cli(server, "update", IMSI, "--amf", "9")
    assert bad.returncode == 1 and "(field amf)" in bad.stderr

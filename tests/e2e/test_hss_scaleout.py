"""Scale-out: HSS processes sharing one store never hand out the same SQN (TS 33.102 Annex C).

Real ``ims-hss`` processes (``python -m hss.app``) on free loopback ports:
two of them with distinct Diameter identities against ONE PostgreSQL (a
private cluster, as the store unit tests start it; skipped when PostgreSQL
is absent, failing under ``CI=true``), and one alone on SQLite. A
python-diameter client per HSS sends 16 MARs in parallel for the demo
subscriber (TS 35.208 test set 1 keys); each vector's SQN is recovered from
AUTN = SQN ⊕ AK || AMF || MAC-A with AK = f5(K, OPc, RAND) and checked to be
distinct across every HSS.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication
from imscore import ROOT, START_WAIT, STOP_WAIT, free_port

from ims.auth.milenage import f5
from ims.diameter import cx
from ims.diameter.results import Envelope, Result

pytestmark = pytest.mark.e2e

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMSI = "001010000000001"
IMPI = f"{IMSI}@{DOMAIN}"
IMPU = f"sip:{IMSI}@{DOMAIN}"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
SCSCF = f"sip:scscf.{DOMAIN}:6060"
PARALLEL = 16
_sessions = itertools.count(1)


def _pg_helpers() -> ModuleType:
    """The private-cluster helpers of the store unit tests (one definition of them)."""
    path = ROOT / "tests" / "unit" / "hss" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_hss_pg_cluster", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A private PostgreSQL cluster for this module (skip outside CI without PostgreSQL)."""
    helpers = _pg_helpers()
    if url := os.environ.get("IMS_TEST_PG_URL"):
        yield url
        return
    initdb = helpers._initdb()
    if initdb is None:
        helpers._unavailable("no /usr/lib/postgresql/*/bin/initdb: install the Debian package "
                             "postgresql")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        helpers._unavailable("running as root without runuser to drop to the postgres user")
    cluster = helpers._Cluster(Path(initdb).parent)
    url = cluster.start()
    try:
        yield url
    finally:
        cluster.stop()


@pytest.fixture()
def pg_store_url(pg_url: str) -> Iterator[str]:
    """A fresh schema (``search_path``) in the private cluster, dropped afterwards."""
    schema = f"scale_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = sa.make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


class HssProcess:
    """``python -m hss.app --config FILE`` with its own identity and ports."""

    def __init__(self, workdir: Path, name: str, store_url: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.identity = f"{name}.{DOMAIN}"
        self.port = free_port()
        self.workdir = workdir
        self.log = workdir / "hss.log"
        config = workdir / "ims.toml"
        config.write_text("\n".join([
            "[hss]", f'identity = "{self.identity}"', f"diameter_port = {self.port}",
            f"rest_port = {free_port()}", f"mgmt_port = {free_port()}",
            f"store_url = {_toml_string(store_url)}", ""]))
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hss.app", "--config", str(config)], cwd=workdir,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait_up(self) -> None:
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline:
            if "hss up (pid" in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{self.identity} did not come up:\n{self.log.read_text()[-4000:]}")

    def describe(self) -> str:
        """Exit status and log tail, for a failure message."""
        log = self.log.read_text(errors="replace")[-4000:]
        return f"{self.identity} port {self.port} exit {self.process.poll()}:\n{log}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_WAIT)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class CxClient:
    """A python-diameter S-CSCF-like Cx client of one HSS."""

    def __init__(self, hss: HssProcess) -> None:
        self.host = f"scale-{hss.identity}"
        self.node = Node(self.host, DOMAIN, vendor_ids=[10415])
        self.node.wakeup_interval = 1
        peer = self.node.add_peer(f"aaa://{hss.identity}:{hss.port};transport=tcp", DOMAIN,
                                  ["127.0.0.1"], is_persistent=True)
        self.app = SimpleThreadingApplication(16777216, is_auth_application=True,
                                              request_handler=lambda app, message: None)
        self.node.add_application(self.app, [peer])
        self.node.start()

    def mar_sqn(self) -> int:
        """One MAR for one AKA vector; the SQN that vector carries."""
        envelope = Envelope(f"{self.host};{next(_sessions)}", self.host, DOMAIN, DOMAIN)
        request = cx.Mar(envelope, IMPI, IMPU, SCSCF, cx.AuthDataItem(cx.AuthScheme.AKAV1_MD5), 1)
        answer = cx.read_maa(self.app.send_request(cx.build_mar(request), timeout=30))
        assert answer.answer.result == Result(2001)
        (item,) = answer.auth_items
        assert item.rand is not None and item.autn is not None
        ak = f5(K, OPC, item.rand)
        return int.from_bytes(bytes(a ^ b for a, b in zip(item.autn[:6], ak, strict=True)))

    def stop(self) -> None:
        self.node.stop(wait_timeout=10)


def parallel_sqns(clients: list[CxClient]) -> list[int]:
    """``PARALLEL`` MARs at once to each client's HSS; every SQN handed out."""
    jobs = [client for client in clients for _ in range(PARALLEL)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(lambda client: client.mar_sqn(), jobs))


@contextmanager
def run_hsses(tmp_path: Path, store_url: str, count: int) -> Iterator[list[CxClient]]:
    processes: list[HssProcess] = []
    clients: list[CxClient] = []
    try:
        for index in range(1, count + 1):  # one after the other: the first migrates
            hss = HssProcess(tmp_path / f"hss{index}", f"hss{index}", store_url)
            processes.append(hss)
            hss.wait_up()
        for hss in processes:
            clients.append(CxClient(hss))
            assert clients[-1].app.is_ready.wait(30), hss.describe()
        yield clients
    finally:
        for client in clients:
            client.stop()
        for hss in processes:
            hss.stop()


def _distinct(sqns: list[Any], expected: int) -> None:
    assert len(sqns) == expected
    assert len(set(sqns)) == expected, sorted(sqns)


def test_two_hss_on_one_postgresql_hand_out_distinct_sqns(tmp_path: Path,
                                                           pg_store_url: str) -> None:
    with run_hsses(tmp_path, pg_store_url, 2) as clients:
        _distinct(parallel_sqns(clients), 2 * PARALLEL)
        _distinct(parallel_sqns(clients) + parallel_sqns(clients), 4 * PARALLEL)


def test_one_hss_on_sqlite_hands_out_distinct_sqns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hss.sqlite'}"
    with run_hsses(tmp_path, url, 1) as clients:
        _distinct(parallel_sqns(clients), PARALLEL)

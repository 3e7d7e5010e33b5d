"""HSS benchmark: MAR (1 AKA vector) and AIR (1 E-UTRAN vector) answered per second.

The HSS runs as its own process (``python -m hss.app``) on free loopback
ports, with a SQLite file or a private PostgreSQL cluster (initdb in a
temporary directory, Unix socket only, fsync off) as its store. Eight
subscribers are provisioned through its REST API; each in-flight slot of the
client uses its own subscriber (so the figures are not one SQN row's lock).

The client is asyncio on one TCP connection: CER/CEA, then N coroutines each
keeping one request in flight (concurrency N). Requests are encoded once with
``ims.diameter.cx.build_mar`` / ``ims.diameter.s6a.build_air`` (python-diameter's
codec); per request only the hop-by-hop and end-to-end identifiers of the
20-byte header are replaced, so the client stays far from being the
bottleneck. Every answer is checked for Result-Code 2001 (the AVP encoded by
the library); the first answer of each cell is decoded in full and must hold
one vector.

Per cell (bounded: ``--seconds`` of load after a 1 s warm-up, then stop):
answers/s, p50/p99 latency (send -> answer read, client side), the server's
peak RSS (VmHWM) and its CPU per answer ((utime+stime) delta / answers, all
threads of the process, from /proc/<pid>/stat).

Baseline: python-diameter's own Node with a trivial AIR handler (no store, no
crypto), once with ``SimpleThreadingApplication`` (a thread per request) and
once answering on the Node's own thread, to separate the library's cost
from ours; ``pool``: the same handler on ``ims.diameter.node`` (its fixed
worker pool); and (``--baseline asyncio,asyncio-pool``) the same handler on a
bare asyncio peer using only the library's codec, inline or in 8 threads:
the ceiling of the asyncio-peer option of issue 3.

Profiling: ``--profile DIR`` samples the HSS with py-spy (``--gil``: only the
thread holding the GIL, i.e. where the CPU goes) during the concurrency-8
cells and prints the share of samples per layer and the top functions.

Usage::

    .venv/bin/python bench/hss.py                      # everything, 10 s per cell
    .venv/bin/python bench/hss.py --stores sqlite --seconds 5 --profile /tmp/prof
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from diameter.message import Message
from diameter.message.avp import Avp
from diameter.message.avp.grouped import VendorSpecificApplicationId
from diameter.message.commands import CapabilitiesExchangeRequest
from diameter.message.constants import AVP_RESULT_CODE

from ims.auth.aka import plmn_id
from ims.diameter import cx, s6a
from ims.diameter.results import Envelope

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
HSS_IDENTITY = f"hss.{DOMAIN}"
CLIENT = f"bench-client.{DOMAIN}"
SCSCF = f"sip:scscf.{DOMAIN}:6060"
TOKEN = "bench-token"
CX, S6A, VENDOR_3GPP = 16777216, 16777251, 10415
SUBSCRIBERS = [f"0010100000001{n:02d}" for n in range(8)]
K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"
WAIT = 60.0
WARMUP = 1.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
RESULT_2001 = Avp.new(AVP_RESULT_CODE, value=2001).as_bytes()


# -- process metrics ---------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def vm_hwm_kb(pid: int) -> int:
    """Peak resident set size of ``pid`` (VmHWM) in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- PostgreSQL ---------------------------------------------------------------------
class PgCluster:
    """A throwaway PostgreSQL cluster on a Unix socket (as tests/unit/hss/conftest.py)."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise RuntimeError("no /usr/lib/postgresql/*/bin/initdb (Debian package postgresql)")
        self.bindir = found[-1].parent
        self.root = Path(tempfile.mkdtemp(prefix="ims-bench-pg-"))
        self.data = self.root / "data"

    def start(self) -> str:
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres", group="postgres")
        self._run(["initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                   "--no-sync", "--no-instructions"])
        options = (f"-k {self.root} -p 5432 -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run(["pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                   "-o", options, "-w", "-t", "60", "start"])
        return f"postgresql+psycopg://postgres@/postgres?host={self.root}&port=5432"

    def stop(self) -> None:
        try:
            self._run(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, argv: list[str]) -> None:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)


# -- servers under test -----------------------------------------------------------
class Server:
    """A server process on a free loopback port; ``start`` returns once it accepts."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with (self.workdir / f"{type(self).__name__}.log").open("wb") as log:
            self.process = subprocess.Popen(self.command(), cwd=ROOT, stdout=subprocess.DEVNULL,
                                            stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{type(self).__name__} did not come up; see {self.workdir}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=WAIT)


class HssServer(Server):
    """The HSS with a given store URL and the REST API on for provisioning."""

    def __init__(self, workdir: Path, store_url: str) -> None:
        super().__init__(workdir)
        self.rest_port = free_port()
        self.config = workdir / "hss.toml"
        self.config.write_text("\n".join([
            "[logging]", 'level = "warning"', "",
            "[hss]", f"diameter_port = {self.port}", f"rest_port = {self.rest_port}",
            f"mgmt_port = {free_port()}", f'rest_token = "{TOKEN}"',
            f'store_url = "{store_url}"', ""]))

    def command(self) -> list[str]:
        return [sys.executable, "-m", "hss.app", "--config", str(self.config)]

    def provision(self) -> None:
        """The bench subscribers (TS 35.208 test set 1 keys) through the REST API."""
        for number, imsi in enumerate(SUBSCRIBERS):
            body = {"imsi": imsi, "k": K, "opc": OPC, "amf": "8000", "msisdn": f"1555000{number}"}
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.rest_port}/api/v1/subscribers",
                data=json.dumps(body).encode(), method="POST",
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
            deadline = time.monotonic() + WAIT
            while True:
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        assert answer.status == 201, answer.status
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)


class BaselineServer(Server):
    """A trivial AIR handler on python-diameter's Node (``mode``: thread or inline)
    or on a bare asyncio peer with the library's codec (asyncio, asyncio-pool)."""

    def __init__(self, workdir: Path, mode: str) -> None:
        super().__init__(workdir)
        self.mode = mode

    def command(self) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "--baseline-server", self.mode,
                "--port", str(self.port)]


def _trivial_answer(request: Message) -> Message:
    reply: Message = request.to_answer()
    reply.session_id = request.session_id
    reply.origin_host = HSS_IDENTITY.encode()
    reply.origin_realm = DOMAIN.encode()
    reply.result_code = 2001
    reply.auth_session_state = 1
    return reply


def _asyncio_answer(data: bytes) -> bytes:
    """Decode, answer (CEA 2001 to a CER, else the trivial answer), encode."""
    request = Message.from_bytes(data)
    if request.header.command_code != 257:
        return bytes(_trivial_answer(request).as_bytes())
    cea = request.to_answer()
    cea.origin_host, cea.origin_realm = HSS_IDENTITY.encode(), DOMAIN.encode()
    cea.result_code, cea.host_ip_address, cea.vendor_id = 2001, ["127.0.0.1"], VENDOR_3GPP
    cea.product_name = "bench-asyncio"
    return bytes(cea.as_bytes())


def serve_asyncio(pool: bool, port: int) -> int:
    """A bare asyncio peer on the library's codec (no Node): framing on the loop,
    decode/answer/encode inline or (``pool``) in 8 worker threads. Measures
    the ceiling of the asyncio-peer option of issue 3; no DWR, no election."""
    from concurrent.futures import ThreadPoolExecutor
    executor = ThreadPoolExecutor(8) if pool else None

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                head = await reader.readexactly(20)
                data = head + await reader.readexactly(int.from_bytes(head[1:4], "big") - 20)
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            if executor is None:
                writer.write(_asyncio_answer(data))
                continue
            future = loop.run_in_executor(executor, _asyncio_answer, data)
            future.add_done_callback(lambda done: writer.write(done.result()))
        writer.close()

    async def serve() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with await asyncio.start_server(connection, "127.0.0.1", port):
            await stop.wait()

    asyncio.run(serve())
    return 0


def serve_pool(port: int) -> int:
    """The trivial handler on our node wiring (ims.diameter.node: fixed worker pool)."""
    from ims.diameter.node import APP_S6A, DiameterNode, NodeSettings

    settings = NodeSettings(identity=HSS_IDENTITY, realm=DOMAIN, listen_host="127.0.0.1",
                            listen_port=port, applications=(APP_S6A,), sctp=False)
    node = DiameterNode(settings, {APP_S6A: {318: _trivial_answer}})
    stopping = [False]
    signal.signal(signal.SIGTERM, lambda *_: stopping.__setitem__(0, True))
    node.start()
    while not stopping[0]:
        time.sleep(0.2)
    node.stop()
    return 0


def serve_baseline(mode: str, port: int) -> int:
    """Run python-diameter's Node answering every request with a fixed 2001 answer."""
    from diameter.node import Node
    from diameter.node.application import Application, SimpleThreadingApplication

    if mode.startswith("asyncio"):
        return serve_asyncio(mode == "asyncio-pool", port)
    if mode == "pool":
        return serve_pool(port)

    def answer(app: Any, request: Message) -> Message:
        return _trivial_answer(request)

    class Inline(Application):  # type: ignore[misc]
        def handle_request(self, message: Message) -> None:
            self.send_answer(answer(self, message))

    node = Node(HSS_IDENTITY, DOMAIN, ip_addresses=["127.0.0.1"], tcp_port=port,
                vendor_ids=[VENDOR_3GPP])
    peer = node.add_peer(f"aaa://{CLIENT}", DOMAIN)
    app = (SimpleThreadingApplication(S6A, is_auth_application=True, request_handler=answer)
           if mode == "thread" else Inline(S6A, is_auth_application=True))
    node.add_application(app, [peer])
    stopping = [False]
    signal.signal(signal.SIGTERM, lambda *_: stopping.__setitem__(0, True))
    node.start()
    while not stopping[0]:
        time.sleep(0.2)
    node.stop(wait_timeout=5)
    return 0


# -- the client -----------------------------------------------------------------------
def capabilities_request() -> bytes:
    cer = CapabilitiesExchangeRequest()
    cer.header.hop_by_hop_identifier = 1
    cer.header.end_to_end_identifier = 1
    cer.origin_host = CLIENT.encode()
    cer.origin_realm = DOMAIN.encode()
    cer.host_ip_address = ["127.0.0.1"]
    cer.vendor_id = VENDOR_3GPP
    cer.product_name = "ims-bench"
    cer.supported_vendor_id = [VENDOR_3GPP]
    cer.vendor_specific_application_id = [
        VendorSpecificApplicationId(vendor_id=VENDOR_3GPP, auth_application_id=app)
        for app in (CX, S6A)]
    data: bytes = cer.as_bytes()
    return data


_sessions = itertools.count(1)


def envelope() -> Envelope:
    return Envelope(f"{CLIENT};bench;{next(_sessions)}", CLIENT, DOMAIN, DOMAIN)


def mar_bytes(imsi: str) -> bytes:
    impi = f"{imsi}@{DOMAIN}"
    mar = cx.Mar(envelope(), impi, f"sip:{imsi}@{DOMAIN}", SCSCF,
                 cx.AuthDataItem(cx.AuthScheme.AKAV1_MD5), 1)
    data: bytes = cx.build_mar(mar).as_bytes()
    return data


def air_bytes(imsi: str) -> bytes:
    data: bytes = s6a.build_air(s6a.Air(envelope(), imsi, plmn_id("001", "01"))).as_bytes()
    return data


def check_maa(data: bytes) -> None:
    assert len(cx.read_maa(Message.from_bytes(data)).auth_items) == 1


def check_aia(data: bytes) -> None:
    assert len(s6a.read_aia(Message.from_bytes(data)).vectors) == 1


COMMANDS: dict[str, tuple[Callable[[str], bytes], Callable[[bytes], None]]] = {
    "MAR": (mar_bytes, check_maa), "AIR": (air_bytes, check_aia)}


class Client:
    """One Diameter connection with any number of requests in flight."""

    def __init__(self) -> None:
        self._pending: dict[int, asyncio.Future[bytes]] = {}
        self._ids = itertools.count(0x1000)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def connect(self, port: int) -> None:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
        self._writer.write(capabilities_request())
        cea = Message.from_bytes(await self._read_one())
        if cea.result_code != 2001:
            raise RuntimeError(f"CER refused: Result-Code {cea.result_code}")
        self._task = asyncio.create_task(self._read_loop())

    async def _read_one(self) -> bytes:
        assert self._reader is not None
        head = await self._reader.readexactly(20)
        return head + await self._reader.readexactly(int.from_bytes(head[1:4], "big") - 20)

    async def _read_loop(self) -> None:
        while True:
            data = await self._read_one()
            if data[4] & 0x80:  # a request from the server (DWR): answer it
                self._answer(Message.from_bytes(data))
                continue
            future = self._pending.pop(int.from_bytes(data[12:16], "big"), None)
            if future is not None and not future.done():
                future.set_result(data)

    def _answer(self, request: Message) -> None:
        assert self._writer is not None
        reply = request.to_answer()
        reply.origin_host = CLIENT.encode()
        reply.origin_realm = DOMAIN.encode()
        reply.result_code = 2001
        self._writer.write(reply.as_bytes())

    async def request(self, template: bytes) -> bytes:
        assert self._writer is not None
        ident = next(self._ids) & 0xFFFFFFFF
        ident_bytes = ident.to_bytes(4, "big")
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        self._writer.write(template[:12] + ident_bytes + ident_bytes + template[20:])
        return await asyncio.wait_for(future, timeout=10)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._writer is not None:
            self._writer.close()


@dataclass
class Cell:
    """One measured cell of the table."""

    server: str
    command: str
    concurrency: int
    answered: int
    failed: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_answer: float
    server_cpu_percent: float
    peak_rss_mb: float


async def _slot(client: Client, template: bytes, until: float, latencies: list[float]) -> int:
    """Keep one request in flight until ``until``; return the answers without 2001."""
    failed = 0
    while time.monotonic() < until:
        started = time.perf_counter()
        data = await client.request(template)
        latencies.append(time.perf_counter() - started)
        failed += RESULT_2001 not in data
    return failed


async def _load(port: int, pid: int, command: str, concurrency: int, seconds: float,
                vectors: bool) -> tuple[list[float], int, float, float]:
    """Warm up for 1 s, then load for ``seconds``: latencies, failures, elapsed, server CPU."""
    build, check = COMMANDS[command]
    templates = [build(SUBSCRIBERS[slot % len(SUBSCRIBERS)]) for slot in range(concurrency)]
    client = Client()
    await client.connect(port)
    try:
        first = await client.request(templates[0])
        if vectors:  # the baseline's trivial answers carry none
            check(first)
        warm: list[float] = []
        await asyncio.gather(*(_slot(client, t, time.monotonic() + WARMUP, warm)
                               for t in templates))
        latencies: list[float] = []
        cpu_before = cpu_seconds(pid)
        started = time.monotonic()
        failures = await asyncio.gather(*(_slot(client, t, started + seconds, latencies)
                                          for t in templates))
        elapsed = time.monotonic() - started
        return latencies, sum(failures), elapsed, cpu_seconds(pid) - cpu_before
    finally:
        await client.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def measure(server: Server, name: str, command: str, concurrency: int, seconds: float,
            profile: Path | None) -> Cell:
    """One bounded cell against a running server (CPU delta over the measured part only)."""
    spy = _start_profile(server.pid, seconds + WARMUP, profile, f"{name}-{command}-c{concurrency}")
    latencies, failed, elapsed, cpu = asyncio.run(
        _load(server.port, server.pid, command, concurrency, seconds, name.startswith("hss")))
    answered = len(latencies)
    if spy is not None:
        spy.wait(timeout=WAIT)
    return Cell(name, command, concurrency, answered, failed, round(elapsed, 2),
                round(answered / elapsed), round(percentile(latencies, 0.5) * 1e3, 2),
                round(percentile(latencies, 0.99) * 1e3, 2),
                round(cpu * 1e3 / max(answered, 1), 3), round(100 * cpu / elapsed), round(vm_hwm_kb(server.pid) / 1024, 1))


# -- profiling -------------------------------------------------------------------------
#: Exclusive layers: a sample counts for the first layer met walking from the leaf frame up.
LAYERS = (
    ("DB driver (sqlite3 / psycopg)", ("sqlite3/", "psycopg/", "(sqlite")),
    ("SQLAlchemy (ORM, lazy loads, SQL compile)", ("sqlalchemy/",)),
    ("Milenage/AKA (ims/auth)", ("ims/auth/",)),
    ("HSS own code (hss/)", ("hss/",)),
    ("our Diameter helpers (ims/diameter)", ("ims/diameter/",)),
    ("python-diameter codec (diameter/message)", ("diameter/message/",)),
    ("python-diameter Node/Application (diameter/node)", ("diameter/node/",)),
    ("threads, locks, queues (threading, queue)", ("threading.py", "queue.py")),
)
#: Inclusive shares (a sample counts if any frame matches).
SPANS = (
    ("handler total (hss/cx.py answer_mar, hss/s6a.py answer_air)", ("answer_mar", "answer_air")),
    ("store calls (hss/store.py)", ("hss/store.py",)),
    ("vector generation (hss/vectors.py, SQN allocation included)", ("hss/vectors.py",)),
    ("answer building (build_maa / build_aia)", ("build_maa", "build_aia")),
    ("request reading (read_mar / read_air)", ("read_mar", "read_air")),
)


def _layer(frames: list[str]) -> str:
    for frame in reversed(frames):
        for layer, needles in LAYERS:
            if any(needle in frame for needle in needles):
                return layer
    return "other"


def _start_profile(pid: int, seconds: float, profile: Path | None,
                   label: str) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if profile is None or not label.startswith("hss") or not label.endswith("c8"):
        return None
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([spy, "record", "--gil", "--nonblocking", "--format", "raw",
                             "-r", "250", "-d", str(int(seconds)), "-p", str(pid),
                             "-o", str(profile / f"{label}.txt")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarize_profile(path: Path) -> str:
    """Share of GIL-holding samples per layer (exclusive), per span (inclusive), top leaves."""
    stacks: Counter[str] = Counter()
    for line in path.read_bytes().decode(errors="replace").splitlines():
        stack, _, samples = line.rpartition(" ")
        if samples.isdigit():
            stacks[stack] += int(samples)
    total = sum(stacks.values()) or 1
    layers: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for stack, count in stacks.items():
        frames = stack.split(";")
        layers[_layer(frames)] += count
        leaves[frames[-1]] += count
    lines = [f"### {path.stem}: {total} samples (GIL holder)", "exclusive, by layer:"]
    lines += [f"- {100 * n / total:4.1f} % {layer}" for layer, n in layers.most_common()]
    lines.append("inclusive:")
    for span, needles in SPANS:
        hits = sum(n for s, n in stacks.items() if any(needle in s for needle in needles))
        lines.append(f"- {100 * hits / total:4.1f} % {span}")
    lines.append("top leaf functions:")
    lines += [f"- {100 * n / total:4.1f} % {leaf}" for leaf, n in leaves.most_common(10)]
    return "\n".join(lines)


# -- driver ------------------------------------------------------------------------------
def run_hss(store: str, workdir: Path, args: argparse.Namespace) -> list[Cell]:
    cluster = PgCluster() if store == "postgresql" else None
    url = cluster.start() if cluster else f"sqlite:///{workdir / 'hss.sqlite'}"
    server = HssServer(workdir, url)
    try:
        server.start()
        server.provision()
        return [measure(server, f"hss-{store}", command, concurrency, args.seconds, args.profile)
                for command in ("MAR", "AIR") for concurrency in args.concurrency]
    finally:
        server.stop()
        if cluster:
            cluster.stop()


def run_baseline(mode: str, workdir: Path, args: argparse.Namespace) -> list[Cell]:
    server = BaselineServer(workdir, mode)
    try:
        server.start()
        return [measure(server, f"node-{mode}", "AIR", concurrency, args.seconds, None)
                for concurrency in args.concurrency]
    finally:
        server.stop()


def table(cells: list[Cell]) -> str:
    rows = ["| server | cmd | conc. | answers/s | p50 ms | p99 ms | CPU ms/answer | "
            "server CPU % | peak RSS MB | failed |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows += [f"| {c.server} | {c.command} | {c.concurrency} | {c.per_second:,} | {c.p50_ms} | "
             f"{c.p99_ms} | {c.cpu_ms_per_answer} | {c.server_cpu_percent} | {c.peak_rss_mb} | "
             f"{c.failed} |" for c in cells]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="load per cell")
    parser.add_argument("--concurrency", type=lambda v: [int(x) for x in v.split(",")],
                        default=[1, 8])
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--baseline", default="thread,inline", help="'' to skip")
    parser.add_argument("--profile", type=Path, help="py-spy output directory (c8 HSS cells)")
    parser.add_argument("--json", type=Path, help="write the cells here too")
    parser.add_argument("--baseline-server", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_server:
        return serve_baseline(args.baseline_server, args.port)
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory(prefix="ims-bench-hss-") as tmp:
        for mode in filter(None, args.baseline.split(",")):
            cells += run_baseline(mode, Path(tmp), args)
        for store in filter(None, args.stores.split(",")):
            (Path(tmp) / store).mkdir()
            cells += run_hss(store, Path(tmp) / store, args)
    print(f"load average: {os.getloadavg()}, cpus: {os.cpu_count()}")
    print(table(cells))
    if args.json:
        args.json.write_text(json.dumps([asdict(cell) for cell in cells], indent=1))
    for path in sorted(args.profile.glob("*.txt")) if args.profile else []:
        print(summarize_profile(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())

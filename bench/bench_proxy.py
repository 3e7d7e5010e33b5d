"""Proxy benchmark: SIPp UAC -> proxy -> SIPp UAS over UDP loopback.

For each proxy (ours: ``python -m ims.runtime.proxy_service``; Kamailio 5.6
with ``bench/kamailio/kamailio-proxy.cfg``, one UDP worker) and each flow
(MESSAGE: one transaction per call; INVITE/180/200/ACK/BYE/200: two stateful
transactions plus a stateless ACK per call) the call rate is ramped step by
step. Every step is bounded: ``rate * --step-seconds`` calls and a SIPp
global timeout. A step passes when every call succeeds and the achieved rate
is at least 90 % of the target; the ramp of a flow stops at the first failed
step, and the last passing rate is the sustained rate.

Recorded per step: calls, failures, SIPp retransmissions, achieved calls/s,
p50/p99 of the response time (INVITE->200 or MESSAGE->200, SIPp
``-trace_rtt``, 1 ms resolution), the proxy's CPU use (utime+stime over wall
time; 100 % = one core). Per flow: the proxy's peak RSS (VmHWM from
/proc; for Kamailio, whose processes share one memory pool, the sum of Pss
after the run, i.e. shared pages counted once).

Usage::

    .venv/bin/python bench/bench_proxy.py                 # both proxies, both flows
    .venv/bin/python bench/bench_proxy.py --proxies ours --flows message --rates 500,1000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "interop" / "scenarios"
KAMAILIO_CFG = ROOT / "bench" / "kamailio" / "kamailio-proxy.cfg"
DEFAULT_RATES = (100, 250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000, 8000, 10000)
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
#: Kamailio's shared memory pool: 64 MB runs out of transactions near 1,000/s, 256 MB near 4,000/s.
KAMAILIO_SHM_MB = 1024


@dataclass(frozen=True)
class Flow:
    uac: str
    uas: str
    transactions_per_call: int


FLOWS = {
    "message": Flow("uac_message.xml", "uas_message.xml", 1),
    "invite": Flow("uac_invite.xml", "uas_invite.xml", 2),
}


@dataclass
class Step:
    rate: int
    calls: int
    ok: int = 0
    failed: int = 0
    retransmissions: int = 0
    achieved_cps: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    proxy_cpu_pct: float = 0.0
    cpu_us_per_txn: float = 0.0
    loadavg: float = 0.0
    passed: bool = False


@dataclass
class FlowResult:
    proxy: str
    flow: str
    steps: list[Step] = field(default_factory=list)
    peak_rss_mb: float = 0.0

    @property
    def sustained(self) -> Step | None:
        passed = [s for s in self.steps if s.passed]
        return passed[-1] if passed else None


# -- processes --------------------------------------------------------------------
_GIVEN: set[int] = set()


def free_udp_port() -> int:
    """A free loopback UDP port, never one this process handed out before."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def wait_udp_bound(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on udp 127.0.0.1:{port}")


def descendants(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo += [int(p) for p in task.read_text().split()]
    return found


def proc_status(pid: int, key: str) -> int:
    """A ``kB`` value from /proc/<pid>/status (VmHWM, VmRSS), 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICK


class ProxyUnderTest:
    """A proxy child process on 127.0.0.1:<port> (UDP)."""

    name = "proxy"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> None:
        raise NotImplementedError

    @property
    def pids(self) -> list[int]:
        assert self.proc is not None
        return descendants(self.proc.pid)

    def peak_rss_mb(self) -> float:
        return proc_status(self.pids[0], "VmHWM") / 1024

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


class OurProxy(ProxyUnderTest):
    name = "ims-core"

    def start(self) -> None:
        log = (self.workdir / "ims-proxy.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ims.runtime.proxy_service", "--listen", "udp:127.0.0.1:0",
             "--log-level", "warning"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening udp"):
            raise RuntimeError(f"our proxy did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])


class Kamailio(ProxyUnderTest):
    name = "kamailio"

    def start(self) -> None:
        binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
        self.port = free_udp_port()
        log = (self.workdir / "kamailio.log").open("w")
        self.proc = subprocess.Popen(
            [binary, "-f", str(KAMAILIO_CFG), "-l", f"udp:127.0.0.1:{self.port}", "-n", "1",
             "-DD", "-E", "-m", str(KAMAILIO_SHM_MB), "-M", "8", "-w", str(self.workdir),
             "-Y", str(self.workdir)],
            stdout=log, stderr=subprocess.STDOUT, text=True,
        )
        wait_udp_bound(self.port)

    def peak_rss_mb(self) -> float:
        return sum(pss_kb(pid) for pid in self.pids) / 1024


# -- SIPp -------------------------------------------------------------------------
def read_stats(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    return dict(zip(rows[0], rows[-1], strict=False)) if len(rows) > 1 else {}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def read_rtt(workdir: Path) -> list[float]:
    times: list[float] = []
    for path in workdir.glob("*_rtt.csv"):
        for line in path.read_text().splitlines()[1:]:
            parts = line.split(";")
            if len(parts) == 3 and parts[2].strip() == "1":
                times.append(float(parts[1]))
        path.unlink()
    return times


def wait_or_kill(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Wait for ``proc``; past ``timeout`` kill it and return -9 (a failed step)."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -9


def run_step(proxy: ProxyUnderTest, flow: Flow, rate: int, seconds: float, workdir: Path) -> Step:
    """One bounded step: ``rate * seconds`` calls at ``rate`` calls/s."""
    sipp = shutil.which("sipp") or "sipp"
    step = Step(rate, max(1, int(rate * seconds)))
    step.loadavg = float(Path("/proc/loadavg").read_text().split()[0])
    limit = f"{int(seconds + 15)}s"
    uas_port, uac_port = free_udp_port(), free_udp_port()
    common = ["-i", "127.0.0.1", "-m", str(step.calls), "-nostdin", "-timeout", limit]
    uas = subprocess.Popen([sipp, "-sf", str(SCENARIOS / flow.uas), "-p", str(uas_port), *common],
                           cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stats = workdir / "uac.csv"
    stats.unlink(missing_ok=True)
    try:
        wait_udp_bound(uas_port)
        cpu0, t0 = cpu_seconds(proxy.pids), time.monotonic()
        uac = subprocess.Popen(
            [sipp, "-sf", str(SCENARIOS / flow.uac), "-p", str(uac_port), *common,
             "-r", str(rate), "-key", "uas", f"127.0.0.1:{uas_port}", "-trace_stat",
             "-stf", str(stats), "-fd", "1", "-trace_rtt", "-rtt_freq", "50",
             "-trace_err", "-error_file", str(workdir / f"uac-{rate}.errors.log"),
             f"127.0.0.1:{proxy.port}"],
            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        returncode = wait_or_kill(uac, seconds + 20)
        wall = time.monotonic() - t0
        used = cpu_seconds(proxy.pids) - cpu0
        step.proxy_cpu_pct = 100 * used / wall
    finally:
        wait_or_kill(uas, 5)
    values = read_stats(stats)
    step.ok = int(values.get("SuccessfulCall(C)", 0) or 0)
    step.failed = int(values.get("FailedCall(C)", 0) or 0)
    step.retransmissions = int(values.get("Retransmissions(C)", 0) or 0)
    step.achieved_cps = round(step.ok / wall, 1)
    txns = step.ok * flow.transactions_per_call
    step.cpu_us_per_txn = round(1e6 * used / txns) if txns else 0.0
    rtt = read_rtt(workdir)
    step.p50_ms, step.p99_ms = percentile(rtt, 0.50), percentile(rtt, 0.99)
    step.passed = (returncode == 0 and step.failed == 0 and step.ok == step.calls
                   and step.achieved_cps >= 0.9 * rate)
    return step


def run_flow(kind: type[ProxyUnderTest], flow_name: str, rates: list[int], seconds: float,
             workdir: Path) -> FlowResult:
    proxy = kind(workdir)
    proxy.start()
    result = FlowResult(proxy.name, flow_name)
    try:
        for rate in rates:
            step = run_step(proxy, FLOWS[flow_name], rate, seconds, workdir)
            result.steps.append(step)
            print(f"  {proxy.name:9} {flow_name:8} {rate:5}/s: ok={step.ok} failed={step.failed} "
                  f"retrans={step.retransmissions} achieved={step.achieved_cps}/s "
                  f"p50={step.p50_ms} p99={step.p99_ms} ms cpu={step.proxy_cpu_pct:.0f}% "
                  f"({step.cpu_us_per_txn:.0f} us/txn) load={step.loadavg} "
                  f"{'pass' if step.passed else 'FAIL'}", flush=True)
            if not step.passed:
                errors = workdir / f"uac-{rate}.errors.log"
                if errors.exists():
                    print("    SIPp errors: " + " | ".join(errors.read_text().splitlines()[:6]))
                break
        result.peak_rss_mb = round(proxy.peak_rss_mb(), 1)
    finally:
        proxy.stop()
    return result


# -- report -----------------------------------------------------------------------------
def table(results: list[FlowResult]) -> str:
    lines = [
        "| proxy | flow | sustained calls/s | relayed transactions/s | p99 at that rate | "
        "proxy CPU (one core = 100 %) | CPU per transaction | peak memory | first failing step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        best = r.sustained
        failing = next((s for s in r.steps if not s.passed), None)
        fail = (f"{failing.rate}/s ({failing.failed} failed, {failing.retransmissions} retrans, "
                f"{failing.achieved_cps}/s achieved)" if failing else "none (ramp ended)")
        if best is None:
            lines.append(f"| {r.proxy} | {r.flow} | 0 | 0 | - | - | - | {r.peak_rss_mb} MB | {fail} |")
            continue
        tps = best.rate * FLOWS[r.flow].transactions_per_call
        p99 = f"{best.p99_ms:.0f} ms" if best.p99_ms is not None else "-"
        lines.append(
            f"| {r.proxy} | {r.flow} | {best.rate} | {tps} | {p99} | {best.proxy_cpu_pct:.0f} % | "
            f"{best.cpu_us_per_txn:.0f} µs | {r.peak_rss_mb} MB | {fail} |"
        )
    return "\n".join(lines)


def ratios(results: list[FlowResult]) -> str:
    out = []
    for flow in FLOWS:
        ours = next((r for r in results if r.flow == flow and r.proxy == "ims-core"), None)
        kam = next((r for r in results if r.flow == flow and r.proxy == "kamailio"), None)
        if ours and kam and ours.sustained and kam.sustained:
            out.append(
                f"{flow}: ims-core/kamailio sustained rate {ours.sustained.rate / kam.sustained.rate:.2f}"
                f", CPU per transaction {ours.sustained.cpu_us_per_txn / max(kam.sustained.cpu_us_per_txn, 1):.1f}x"
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--proxies", default="ours,kamailio")
    parser.add_argument("--flows", default="message,invite")
    parser.add_argument("--rates", default=",".join(map(str, DEFAULT_RATES)))
    parser.add_argument("--step-seconds", type=float, default=10.0,
                        help="length of one step (calls = rate x this), at most 20")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--workdir", type=Path, help="keep logs and SIPp files here")
    args = parser.parse_args(argv)
    if not shutil.which("sipp"):
        print("sipp not found: install the Debian package sip-tester", file=sys.stderr)
        return 2
    kinds: dict[str, type[ProxyUnderTest]] = {"ours": OurProxy, "kamailio": Kamailio}
    rates = [int(r) for r in args.rates.split(",")]
    seconds = min(args.step_seconds, 20.0)
    results: list[FlowResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as scratch:
        tmp = args.workdir or scratch
        for name in args.proxies.split(","):
            if name == "kamailio" and not (shutil.which("kamailio") or Path("/usr/sbin/kamailio").exists()):
                print("kamailio not found: skipped (Debian package kamailio)", file=sys.stderr)
                continue
            for flow in args.flows.split(","):
                workdir = Path(tmp) / f"{name}-{flow}"
                workdir.mkdir(parents=True, exist_ok=True)
                results.append(run_flow(kinds[name], flow, rates, seconds, workdir))
    print()
    print(table(results))
    print(ratios(results))
    if args.json:
        args.json.write_text(json.dumps(
            [asdict(r) | {"sustained_rate": r.sustained.rate if r.sustained else 0}
             for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

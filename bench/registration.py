"""Full IMS AKA registrations per second through the whole core, driven by SIPp.

The core runs as ``make run`` runs it: ``ims-cli run`` (HSS with REST, I-CSCF,
S-CSCF, P-CSCF, one process each) with a config overlay that only moves it to
free loopback ports and a fresh SQLite file. A pool of subscribers is
provisioned through the REST API with OP (SIPp 3.6.1 takes OP; the HSS
derives OPc). SIPp runs ``tests/interop/scenarios/register_aka.xml`` over UDP
through the P-CSCF: REGISTER -> 401 (UAR, MAR) -> REGISTER with RES -> 200
(UAR, SAR; then the P-CSCF's reg-event SUBSCRIBE/NOTIFY with the S-CSCF).

The offered rate is ramped in steps (``--rates``, ``--seconds`` each, every
step bounded by SIPp's ``-m``, ``-l`` and ``-timeout``). Per step: offered and
achieved registrations/s, failures (SIPp failed calls, a registration without
a 200 in ``--recv-timeout``), retries (SIPp's wrong digest when RES holds a
0x00 byte, about 3%: the scenario starts again with a fresh challenge, never
a loosened check), p50/p99 registration time (SIPp's rtd 1: first REGISTER
to the 200 OK, retries included), and per process (HSS, I-, S-, P-CSCF,
ims-cli supervisor, SIPp) CPU as (utime+stime) delta over the step, CPU per
successful registration, and RSS (VmRSS after the step, VmHWM peak).

The pool is smaller than the number of registrations of the later steps, so
once every subscriber has registered once, SIPp's SEQUENTIAL injection file
wraps and a registration is a re-registration of that IMPI from a new Call-ID
(still the full AKA exchange: the S-CSCF challenges re-REGISTERs by default;
SAR RE_REGISTRATION instead of REGISTRATION).

Usage::

    .venv/bin/python bench/registration.py                       # default ramp
    .venv/bin/python bench/registration.py --rates 50,100 --seconds 10 --pool 2000
    .venv/bin/python bench/registration.py --rates 15 --profile /tmp/prof   # py-spy, where CPU goes
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.imscore import CoreProcess, Ports  # noqa: E402
from tests.interop.conftest import SCENARIOS, free_udp_port, read_stats  # noqa: E402
from tests.interop.test_registration_sipp import (  # noqa: E402
    Subscriber,
    injection_file,
    make_subscribers,
    provision,
)

CLK_TCK = os.sysconf("SC_CLK_TCK")
SCENARIO = SCENARIOS / "register_aka.xml"


# -- process metrics ---------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in kB."""
    found = {"VmRSS:": 0, "VmHWM:": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name = line.split(maxsplit=1)[0] if line else ""
        if name in found:
            found[name] = int(line.split()[1])
    return found["VmRSS:"], found["VmHWM:"]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- one step ------------------------------------------------------------------------
@dataclass
class Step:
    offered: int
    seconds: float = 0.0
    calls: int = 0
    successful: int = 0
    failed: int = 0
    retries: int = 0
    times_ms: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    rss: dict[str, tuple[int, int]] = field(default_factory=dict)
    load: str = ""

    @property
    def achieved(self) -> float:
        return self.successful / self.seconds if self.seconds else 0.0

    @property
    def failure_ratio(self) -> float:
        return self.failed / self.calls if self.calls else 1.0

    def percentile(self, q: float) -> float:
        if len(self.times_ms) < 2:
            return self.times_ms[0] if self.times_ms else float("nan")
        return statistics.quantiles(self.times_ms, n=100, method="inclusive")[int(q) - 1]


def run_step(core_pids: dict[str, int], pcscf_port: int, users: Path, rate: int,
             seconds: float, workdir: Path, recv_timeout: float,
             profile: Path | None = None) -> Step:
    """SIPp at ``rate`` registrations/s for ``seconds``; metrics of every process."""
    sipp = shutil.which("sipp")
    assert sipp, "sipp not found (Debian package sip-tester)"
    calls = int(rate * seconds)
    stepdir = workdir / f"step-{rate}"
    stepdir.mkdir()
    cmd = [sipp, "-sf", str(SCENARIO), "-inf", str(users), "-i", "127.0.0.1", "-p", str(free_udp_port()),
           "-r", str(rate), "-m", str(calls), "-l", str(max(rate * 4, 200)),
           "-recv_timeout", str(int(recv_timeout * 1000)), "-nostdin",
           "-timeout", f"{int(seconds + recv_timeout + 30)}s",
           "-trace_stat", "-stf", str(stepdir / "stat.csv"), "-fd", "1", "-trace_counts",
           "-trace_rtt", "-rtt_freq", "1", "-trace_err",
           "-error_file", str(stepdir / "errors.log"), f"127.0.0.1:{pcscf_port}", *os.environ.get("IMS_BENCH_SIPP_EXTRA", "").split()]
    step = Step(rate, calls=calls, load=load_average())
    profilers = start_profilers(core_pids, seconds, profile) if profile else []
    before = {name: cpu_seconds(pid) for name, pid in core_pids.items()}
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=stepdir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    sipp_cpu = 0.0
    while proc.poll() is None:
        try:
            sipp_cpu = cpu_seconds(proc.pid)
            step.rss["sipp"] = memory_kb(proc.pid)
        except (OSError, IndexError):
            pass
        time.sleep(0.2)
    step.seconds = time.monotonic() - started
    for profiler in profilers:
        profiler.wait(timeout=seconds + 30)
    for name, pid in core_pids.items():
        step.cpu[name] = cpu_seconds(pid) - before[name]
        step.rss[name] = memory_kb(pid)
    step.cpu["sipp"] = sipp_cpu
    stats = read_stats(stepdir / "stat.csv")
    step.successful = int(stats.get("SuccessfulCall(C)", "0") or 0)
    step.failed = calls - step.successful
    counts = sorted(stepdir.glob("*_counts.csv"))
    if counts:
        step.retries = sum(int(v or 0) for k, v in read_stats(counts[-1]).items()
                           if k.endswith("_403_Recv"))
    for rtt in stepdir.glob("*_rtt.csv"):
        for line in rtt.read_text().splitlines()[1:]:
            parts = line.split(";")
            if len(parts) >= 2 and parts[1].strip():
                step.times_ms.append(float(parts[1]))
    return step


# -- profiling ------------------------------------------------------------------------
def start_profilers(pids: dict[str, int], seconds: float, outdir: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy (``--gil``: where the CPU goes) on every core process for ``seconds``."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    outdir.mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                              "--rate", "250", "--gil", "--nonblocking", "--format", "raw",
                              "--output", str(outdir / f"{name}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, pid in pids.items() if name != "ims-cli"]


#: Where a sample's innermost frame lives -> the layer it is counted in.
LAYERS = (("sqlalchemy/", "SQLAlchemy"), ("sqlite3/", "sqlite3"),
          ("ims/sip/", "ims.sip"), ("ims/transport/", "ims.transport"),
          ("ims/diameter/", "ims.diameter"), ("ims/auth/", "ims.auth"), ("ims/", "ims (other)"),
          ("diameter/", "python-diameter"), ("hss/", "hss"), ("pcscf/", "pcscf"),
          ("icscf/", "icscf"), ("scscf/", "scscf"), ("asyncio/", "asyncio"),
          ("concurrent/", "threads/queues"), ("threading.py", "threads/queues"),
          ("queue.py", "threads/queues"), ("selectors.py", "selectors"),
          ("logging/", "logging"), ("cryptography/", "cryptography"))


def profile_summary(path: Path, top: int = 6) -> str:
    """Share of GIL-holding samples per layer of the innermost frame (py-spy raw format)."""
    layers: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        where = stack.rsplit(";", 1)[-1].rpartition("(")[2]
        layer = next((name for key, name in LAYERS
                      if where.startswith(key) or f"/{key}" in where), "other stdlib")
        layers[layer] = layers.get(layer, 0) + int(count)
        total += int(count)
    ranked = sorted(layers.items(), key=lambda item: -item[1])[:top]
    return ", ".join(f"{name} {100 * n / max(total, 1):.0f}%" for name, n in ranked)


# -- setup and report ----------------------------------------------------------------
def provision_pool(rest_port: int, pool: list[Subscriber], workers: int = 8) -> float:
    """Provision ``pool`` through REST with a few concurrent clients; seconds taken."""
    started = time.monotonic()
    chunks = [pool[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(workers) as executor:
        list(executor.map(lambda chunk: provision(rest_port, chunk), chunks))
    return time.monotonic() - started


def core_pids(core: CoreProcess) -> dict[str, int]:
    status = core.status()
    pids = {entry["name"]: int(entry["pid"]) for entry in status["processes"]}
    assert core.process is not None
    pids["ims-cli"] = core.process.pid
    return pids


def report(steps: list[Step], names: list[str]) -> str:
    lines = ["| offered/s | achieved/s | failed | retried | p50 ms | p99 ms | load avg |",
             "|---:|---:|---:|---:|---:|---:|---|"]
    for s in steps:
        lines.append(f"| {s.offered} | {s.achieved:.0f} | {s.failed} ({100 * s.failure_ratio:.1f}%)"
                     f" | {s.retries} | {s.percentile(50):.0f} | {s.percentile(99):.0f}"
                     f" | {s.load} |")
    lines += ["", "CPU per successful registration (ms) and CPU share of one core, per process:",
              "", "| offered/s | " + " | ".join(names) + " |",
              "|---:|" + "---:|" * len(names)]
    for s in steps:
        cells = [f"{1000 * s.cpu[n] / max(s.successful, 1):.2f} ({100 * s.cpu[n] / s.seconds:.0f}%)"
                 for n in names]
        lines.append(f"| {s.offered} | " + " | ".join(cells) + " |")
    last = steps[-1]
    lines += ["", "RSS after the last step / peak (MB): " + ", ".join(
        f"{n} {last.rss[n][0] / 1024:.0f}/{last.rss[n][1] / 1024:.0f}" for n in names
        if n in last.rss)]
    return "\n".join(lines)


def sustained(step: Step) -> bool:
    """Under 1% failed and SIPp's offered rate kept up with (95%)."""
    return step.failure_ratio < 0.01 and step.achieved >= 0.95 * step.offered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="10,15,20,30,50,100,200,300",
                        help="offered registrations/s, one step each (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per step")
    parser.add_argument("--pool", type=int, default=2000, help="subscribers provisioned")
    parser.add_argument("--recv-timeout", type=float, default=10.0,
                        help="a registration with no final answer after this fails (s)")
    parser.add_argument("--keep-going", action="store_true",
                        help="run every step even after one with >= 1%% failures")
    parser.add_argument("--profile", type=Path,
                        help="py-spy every process during the first step, raw stacks here")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ims-bench-reg-"))
    ports = Ports.pick()
    core = CoreProcess(workdir, ports.config_text())
    core.start()
    try:
        core.wait_up()
        pool = make_subscribers(args.pool, 8800000000, seed=1)
        took = provision_pool(ports.rest, pool)
        print(f"provisioned {len(pool)} subscribers in {took:.1f} s; load {load_average()}",
              flush=True)
        users = workdir / "users.csv"
        users.write_text(injection_file(pool))
        pids = core_pids(core)
        steps: list[Step] = []
        for rate in (int(r) for r in args.rates.split(",")):
            profile = args.profile if args.profile and not steps else None
            step = run_step(pids, ports.sip["pcscf"], users, rate, args.seconds, workdir,
                            args.recv_timeout, profile)
            if profile:
                for name in ("pcscf", "icscf", "scscf", "hss"):
                    if (profile / f"{name}.txt").exists():
                        print(f"profile {name}: {profile_summary(profile / f'{name}.txt')}")
            steps.append(step)
            print(f"offered {rate}/s: achieved {step.achieved:.0f}/s, failed {step.failed}"
                  f"/{step.calls}, retried {step.retries}, p50 {step.percentile(50):.0f} ms,"
                  f" p99 {step.percentile(99):.0f} ms, load {step.load}", flush=True)
            if not sustained(step) and not args.keep_going:
                break
        names = ["pcscf", "icscf", "scscf", "hss", "ims-cli", "sipp"]
        print(report(steps, names))
        kept = [s.offered for s in steps if sustained(s)]
        print(f"sustained (< 1% failed, achieved >= 95% of offered): "
              f"{max(kept) if kept else 0} registrations/s")
        if args.json:
            args.json.write_text(json.dumps([{
                "offered": s.offered, "achieved": s.achieved, "calls": s.calls,
                "failed": s.failed, "retries": s.retries, "p50_ms": s.percentile(50),
                "p99_ms": s.percentile(99), "cpu_s": s.cpu, "rss_kb": s.rss, "load": s.load,
                "seconds": s.seconds} for s in steps], indent=2))
    finally:
        core.stop()
        if not os.environ.get("IMS_BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

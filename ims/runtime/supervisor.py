"""``ims-cli run``: the four functions as child processes of one supervisor.

Theory of operation
-------------------
1. Every socket the config asks for is bound once and released; a taken one
   stops everything before any child starts, naming the config key, the
   address and, where ``/proc`` shows it, the process holding it.
2. The children start in order (HSS, I-CSCF, S-CSCF, P-CSCF) as
   ``python -m <function>.app --config FILE``; each must answer on its
   ``/status`` endpoint before the next starts, and where it listens is
   printed.
3. Then the supervisor waits. SIGINT/SIGTERM stop every child (SIGTERM,
   then SIGKILL after a generous grace period) and exit 0. A child that
   exits on its own is reported (name, pid, exit code, last stderr lines),
   the others are stopped and the exit code is 1: never limping on.

Children log to stderr; the supervisor relays their lines to its own
stderr and keeps the last ones for its reports. On Linux each child gets
``PR_SET_PDEATHSIG`` so it is stopped even if the supervisor is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from ims.runtime.config import FUNCTIONS, Config, binds
from ims.runtime.main import EXIT_FAILURE, EXIT_OK, EXIT_PORT_IN_USE
from ims.runtime.mgmt import StatusUnavailable, fetch_status
from ims.runtime.ports import find_busy

#: Seconds a child may take to answer /status after it was started.
READY_TIMEOUT = 60.0
#: Seconds a child may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 30.0
#: stderr lines kept per child for failure reports.
TAIL_LINES = 15
_PR_SET_PDEATHSIG = 1


class ChildFailed(Exception):
    """A child could not be started or died; the message says which and why."""


@dataclass
class Child:
    """One running function."""

    name: str
    """Function name."""
    process: asyncio.subprocess.Process
    """The OS process."""
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    """Last stderr lines."""
    relay: asyncio.Task[None] | None = None
    """Copies stderr to ours."""

    def describe_exit(self) -> str:
        """``hss (pid 12) exited with code 1`` or ``... was killed by SIGKILL``."""
        code = self.process.returncode
        if code is not None and code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
        else:
            how = f"exited with code {code}"
        text = f"{self.name} (pid {self.process.pid}) {how}"
        if self.tail:
            text += "; its last output:\n" + "\n".join(f"    {line}" for line in self.tail)
        return text


class Supervisor:
    """Starts, watches and stops the functions of one config."""

    def __init__(self, config: Config, config_path: str | None, log_level: str | None = None,
                 out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.log_level = log_level
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.children: list[Child] = []
        self.ready_timeout = READY_TIMEOUT
        self.stop_timeout = STOP_TIMEOUT
        self._stop_requested: asyncio.Event | None = None

    def say(self, text: str, error: bool = False) -> None:
        """One message of ours (prefixed ``ims-cli:``)."""
        stream = self.err if error else self.out
        print(f"ims-cli: {text}", file=stream, flush=True)

    async def run(self) -> int:
        """Run until a signal (exit 0) or a failure (exit 1, or 2 for a taken port)."""
        busy = find_busy(binds(self.config))
        if busy:
            for item in busy:
                self.say(f"cannot start: {item.message()}", error=True)
            return EXIT_PORT_IN_USE
        self._stop_requested = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._stop_requested.set)
        try:
            code = await self._start_and_watch()
        finally:
            clean = await self.stop_all()
        return code if clean or code != EXIT_OK else EXIT_FAILURE

    async def _start_and_watch(self) -> int:
        try:
            for name in FUNCTIONS:
                if self._stopping():
                    return EXIT_OK
                child = await self._spawn(name)
                self._report_up(child, await self._wait_ready(child))
            source = self.config_path or "embedded default"
            self.say(f"all {len(FUNCTIONS)} functions up (config: {source}); "
                     "Ctrl-C or SIGTERM stops them")
            await self._watch()
        except ChildFailed as failure:
            if self._stopping():
                self.say("stop requested during start-up")
                return EXIT_OK
            self.say(str(failure), error=True)
            self.say("stopping the other functions", error=True)
            return EXIT_FAILURE
        return EXIT_OK

    def _stopping(self) -> bool:
        return self._stop_requested is not None and self._stop_requested.is_set()

    def command(self, name: str) -> list[str]:
        """The child's command line."""
        argv = [sys.executable, "-m", f"{name}.app"]
        if self.config_path:
            argv += ["--config", self.config_path]
        if self.log_level:
            argv += ["--log-level", self.log_level]
        return argv

    async def _spawn(self, name: str) -> Child:
        process = await asyncio.create_subprocess_exec(
            *self.command(name), stdin=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, preexec_fn=_parent_death_signal())
        child = Child(name, process)
        child.relay = asyncio.create_task(self._relay(child))
        self.children.append(child)
        return child

    async def _relay(self, child: Child) -> None:
        stream = child.process.stderr
        assert stream is not None
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip("\n")
            child.tail.append(text)
            print(text, file=self.err, flush=True)

    async def _wait_ready(self, child: Child) -> dict[str, Any]:
        host, port = self.config.mgmt_address(child.name)
        deadline = time.monotonic() + self.ready_timeout
        problem = "no answer yet"
        while time.monotonic() < deadline:
            if child.process.returncode is not None or self._stopping():
                break
            try:
                return await asyncio.to_thread(fetch_status, host, port, 2.0)
            except StatusUnavailable as error:
                problem = str(error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.process.wait(), 0.2)
        if child.process.returncode is not None:
            await self._drain(child)
            raise ChildFailed(f"during start-up, {child.describe_exit()}")
        if self._stopping():
            raise ChildFailed(f"stop requested while {child.name} was starting")
        raise ChildFailed(f"{child.name} (pid {child.process.pid}) did not answer "
                          f"http://{host}:{port}/status within {self.ready_timeout:.0f} s "
                          f"({problem})")

    def _report_up(self, child: Child, status: dict[str, Any]) -> None:
        host, port = self.config.mgmt_address(child.name)
        where = ", ".join(str(item) for item in status.get("listening", [])) or "?"
        self.say(f"{child.name:<5} up, pid {child.process.pid}: {where}; "
                 f"status http://{host}:{port}/status")

    async def _watch(self) -> None:
        assert self._stop_requested is not None
        stop = asyncio.create_task(self._stop_requested.wait())
        exits = {asyncio.create_task(child.process.wait()): child for child in self.children}
        done, _ = await asyncio.wait({stop, *exits}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stop, *exits):
            task.cancel()
        dead = [child for task, child in exits.items() if task in done]
        if dead and stop not in done:
            await self._drain(dead[0])
            raise ChildFailed(dead[0].describe_exit())
        self.say("stop requested")

    async def _drain(self, child: Child) -> None:
        if child.relay is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(child.relay), 5.0)

    async def stop_all(self) -> bool:
        """SIGTERM every live child (last started first), SIGKILL laggards.

        Returns:
            True if every child exited by itself within the grace period.
        """
        clean = True
        for child in reversed(self.children):
            if child.process.returncode is None:
                child.process.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            clean = await self._reap(child) and clean
        for child in self.children:
            await self._drain(child)
        if self.children:
            self.say("all functions stopped")
        return clean

    async def _reap(self, child: Child) -> bool:
        if child.process.returncode is not None:
            return True
        try:
            await asyncio.wait_for(child.process.wait(), self.stop_timeout)
        except TimeoutError:
            self.say(f"{child.name} (pid {child.process.pid}) did not stop within "
                     f"{self.stop_timeout:.0f} s; killing it", error=True)
            child.process.kill()
            await child.process.wait()
            return False
        return True


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` making the child get SIGTERM when the supervisor dies (Linux).

    libc is looked up here, in the parent: nothing but the ``prctl`` call
    runs between fork and exec.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def set_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return set_signal


def run_supervisor(config: Config, config_path: str | None, log_level: str | None) -> int:
    """``ims-cli run``: the exit code."""
    return asyncio.run(Supervisor(config, config_path, log_level).run())

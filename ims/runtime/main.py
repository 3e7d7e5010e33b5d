"""Process bootstrap shared by ``ims-hss``, ``ims-pcscf``, ``ims-icscf`` and ``ims-scscf``.

``run(build)`` parses the shared flags (``--config``, ``--log-level``), loads
the config once, builds the function, checks that its ports are free, starts
it with its management endpoint, and on SIGINT/SIGTERM stops both cleanly.

Exit codes: 0 clean stop, 1 runtime failure, 2 a port is taken (the message
names the config key, the address and, if visible, the holding process),
3 configuration error (the message names the file and the key).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from ims.runtime.app import App
from ims.runtime.config import Config, ConfigError, binds, load_config
from ims.runtime.logging import LEVELS, setup_logging
from ims.runtime.metrics import AppCollector, build_registry
from ims.runtime.mgmt import MgmtServer
from ims.runtime.ports import find_busy

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_PORT_IN_USE = 2
EXIT_CONFIG = 3

logger = logging.getLogger(__name__)

Builder = Callable[[Config], App]


def add_shared_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--config`` and ``--log-level`` (every tool takes them)."""
    parser.add_argument("--config", metavar="FILE",
                        help="TOML file overlaid on the embedded default")
    parser.add_argument("--log-level", choices=LEVELS, type=str.lower,
                        help="overrides logging.level of the config")


def run(build: Builder, argv: Sequence[str] | None = None, name: str | None = None) -> NoReturn:
    """Run one function until SIGINT/SIGTERM, then exit with its exit code.

    Args:
        build: the function's ``build(config) -> App``.
        argv: arguments (``sys.argv[1:]`` by default).
        name: function name; by default the top package of ``build``.
    """
    sys.exit(serve(build, argv, name or build.__module__.split(".")[0]))


def serve(build: Builder, argv: Sequence[str] | None, name: str) -> int:
    """Like :func:`run` but return the exit code."""
    prog = f"ims-{name}"
    parser = argparse.ArgumentParser(prog=prog, description=f"IMS {name.upper()}")
    add_shared_flags(parser)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"{prog}: configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(args.log_level or config.logging.level, name)
    busy = find_busy([bind for bind in binds(config) if bind.function == name])
    if busy:
        for item in busy:
            logger.error("cannot start: %s", item.message())
        return EXIT_PORT_IN_USE
    return _run_app(build(config), config)


def _run_app(app: App, config: Config) -> int:
    try:
        return asyncio.run(_serve(app, config))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            logger.error("cannot start: address already in use: %s", error)
            return EXIT_PORT_IN_USE
        logger.error("cannot start: %s", error)
        return EXIT_FAILURE


async def _serve(app: App, config: Config) -> int:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    started = time.monotonic()
    host, port = config.mgmt_address(app.name)
    registry = build_registry(AppCollector(app.name, app.counters, app.gauges, started))
    mgmt = MgmtServer(host, port, lambda: status_document(app, started, mgmt), registry)
    await _start(app, mgmt)
    logger.info("%s up (pid %d): %s; management http://%s:%d",
                app.name, os.getpid(), ", ".join(app.listening()), host, mgmt.port)
    await stopping.wait()
    logger.info("%s stopping", app.name)
    await mgmt.stop()
    await app.stop()
    logger.info("%s stopped", app.name)
    return EXIT_OK


async def _start(app: App, mgmt: MgmtServer) -> None:
    try:
        await app.start()
        await mgmt.start()
    except OSError:
        await mgmt.stop()
        await app.stop()
        raise


def status_document(app: App, started: float, mgmt: MgmtServer) -> Mapping[str, Any]:
    """The ``/status`` JSON of a running function."""
    document: dict[str, Any] = {
        "name": app.name,
        "pid": os.getpid(),
        "uptime_s": round(time.monotonic() - started, 3),
        "listening": app.listening(),
        "mgmt": f"http://{mgmt.host}:{mgmt.port}",
        "counters": dict(app.counters()),
        "gauges": dict(app.gauges()),
    }
    document.update(app.status_extra())
    return document

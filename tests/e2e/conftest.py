"""Fixtures of the e2e tests: the whole core started by ``ims-cli run`` on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from imscore import CoreProcess, Ports


@pytest.fixture(scope="module")
def ports() -> Ports:
    """Free ports for every function (never the defaults, so a running ``make run`` is safe)."""
    return Ports.pick()


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory, ports: Ports) -> Iterator[CoreProcess]:
    """One ``ims-cli run`` shared by the read-only tests of a module."""
    process = CoreProcess(tmp_path_factory.mktemp("core"), ports.config_text())
    process.start()
    try:
        process.wait_up()
        yield process
    finally:
        process.stop()


@pytest.fixture()
def own_core(tmp_path: Path) -> Iterator[tuple[CoreProcess, Ports]]:
    """A core of its own, for tests that stop or break it."""
    own_ports = Ports.pick()
    process = CoreProcess(tmp_path, own_ports.config_text())
    process.start()
    try:
        process.wait_up()
        yield process, own_ports
    finally:
        process.stop()

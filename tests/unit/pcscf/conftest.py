"""Fixtures of the P-CSCF unit tests: a network namespace on the host kernel (XFRM policies)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from hostnet import ip

from tests.conftest import IN_CI, require_tool


@pytest.fixture()
def netns(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace, deleted afterwards. Needs root and iproute2 (CI has both)."""
    require_tool(shutil.which("ip"), "ip", "iproute2")
    if os.geteuid() != 0:
        message = "creating a network namespace needs root"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    name = f"ims-unit-{request.node.name[:20]}-{os.getpid()}"
    ip("netns", "add", name)
    try:
        yield name
    finally:
        ip("netns", "del", name)

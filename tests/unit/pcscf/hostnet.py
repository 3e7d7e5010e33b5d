"""A network namespace on the host kernel for XFRM policy tests (policies work without ESP)."""

from __future__ import annotations

import subprocess


def ip(*args: str) -> str:
    """``ip ARGS``; its output (a failure raises)."""
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True).stdout

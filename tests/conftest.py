"""Shared pytest configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(path: str | None, name: str, package: str) -> str:
    """Return the tool path, or skip (outside CI) / fail (in CI) naming what is missing."""
    if path:
        return path
    message = f"{name} not found: install the Debian package {package}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: interop tools are mandatory)")
    pytest.skip(message)

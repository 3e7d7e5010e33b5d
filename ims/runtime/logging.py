"""Process logging: one stderr stream, each line naming the process.

Format: ``2024-05-01 12:00:00,123 pcscf[4242] INFO ims.transport.udp: ...``.
At ``debug`` every SIP and Diameter message gives one line (the transport and
``ims.diameter.node`` log them); at ``info`` each transaction gives a summary
line. The Diameter library's own loggers are held at ``info`` or above: its
debug output dumps whole messages over many lines, which our one-line
message log replaces.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

LEVELS = ("debug", "info", "warning", "error")

#: Loggers of third-party libraries and the lowest level they may log at.
_LIBRARY_FLOORS = {
    "diameter": logging.INFO,
    # logs every message at info; ims.diameter.node gives the one line instead
    "diameter.peer": logging.WARNING,
    "asyncio": logging.INFO,
}


class _ProcessHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler installed by :func:`setup_logging` (so a second call replaces it)."""


def format_string(process_name: str) -> str:
    """The record format for ``process_name``."""
    safe = process_name.replace("%", "%%")
    return f"%(asctime)s {safe}[%(process)d] %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str, process_name: str, stream: TextIO | None = None) -> None:
    """Configure the root logger for this process.

    Args:
        level: one of :data:`LEVELS` (case-insensitive).
        process_name: shown on every line (``hss``, ``pcscf`` ..., ``ims-cli``).
        stream: where to write; stderr by default.

    Raises:
        ValueError: unknown level.
    """
    numeric = _numeric(level)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _ProcessHandler)]:
        root.removeHandler(handler)
    handler = _ProcessHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter(format_string(process_name)))
    root.addHandler(handler)
    root.setLevel(numeric)
    for name, floor in _LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(numeric, floor))


def _numeric(level: str) -> int:
    if level.lower() not in LEVELS:
        raise ValueError(f"unknown log level {level!r} (one of {', '.join(LEVELS)})")
    return int(getattr(logging, level.upper()))

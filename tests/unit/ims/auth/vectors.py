"""Loaders for the vector files under tests/vectors/ (one loader per format)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

VECTORS = Path(__file__).resolve().parents[3] / "vectors"

_SET_HEADER = re.compile(r"^(?P<clause>4\.3\.\d+)\s+Test Set (?P<number>\d+)$")


@dataclass(frozen=True)
class MilenageTestSet:
    """One TS 35.208 §4.3 test set; values as bytes, keyed by the spec's names."""

    clause: str
    number: int
    values: dict[str, bytes]

    def __getitem__(self, name: str) -> bytes:
        return self.values[name]


def _content_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [line.rstrip() for line in text.splitlines() if not line.startswith("#")]


def load_ts35208(path: Path) -> list[MilenageTestSet]:
    """Parse the TS 35.208 table layout: a "4.3.N Test Set N" line, then "name hex ..." rows."""
    sets: list[MilenageTestSet] = []
    current: tuple[str, int] | None = None
    values: dict[str, bytes] = {}
    for line in _content_lines(path) + [""]:
        header = _SET_HEADER.match(line)
        if header:
            current, values = (header["clause"], int(header["number"])), {}
        elif line.strip() and current is not None:
            name, *groups = line.split()
            values[name] = bytes.fromhex("".join(groups))
        elif current is not None:
            sets.append(MilenageTestSet(current[0], current[1], values))
            current = None
    return sets


def load_records(path: Path) -> list[dict[str, str]]:
    """Parse `KEY = value` records separated by blank lines (NIST .rsp style)."""
    records: list[dict[str, str]] = []
    record: dict[str, str] = {}
    for line in _content_lines(path) + [""]:
        if not line.strip():
            if record:
                records.append(record)
            record = {}
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path.name}: not a KEY = value line: {line!r}")
        record[key.strip()] = value.strip()
    return records


def hexval(record: dict[str, str], key: str) -> bytes:
    """A hex field of a record as bytes (empty value: b"")."""
    return bytes.fromhex(record[key])

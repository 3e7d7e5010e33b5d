"""Loaders for the vector files under ``tests/vectors/`` (one per source format).

Kept apart from the tests, as cryptography's ``load_vectors_from_file`` is:
each loader knows one source's file layout and returns plain Python values.
"""

from __future__ import annotations

from pathlib import Path

VECTORS = Path(__file__).resolve().parent
RFC4475 = VECTORS / "rfc4475"


def rfc4475_names() -> list[str]:
    """Names (file stem) of every RFC 4475 message stored, sorted."""
    return sorted(p.stem for p in RFC4475.glob("*.dat"))


def load_rfc4475(name: str) -> bytes:
    """The exact octets of RFC 4475 test message ``name`` (e.g. ``"wsinv"``)."""
    return (RFC4475 / f"{name}.dat").read_bytes()

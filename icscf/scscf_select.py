"""S-CSCF selection from Server-Capabilities (TS 29.228 §6.7, TS 23.228 §5.4.1).

When the HSS answers a UAR or LIR without a Server-Name (no S-CSCF assigned
yet, or ``DIAMETER_UNREGISTERED_SERVICE``), it returns Server-Capabilities:
mandatory and optional capability numbers plus, optionally, preferred
Server-Names. The I-CSCF picks one of the S-CSCFs it is configured with
(TS 24.229 §5.3.1.2): a Server-Name the HSS listed and we know wins, then an
S-CSCF offering every mandatory capability and most optional ones; ties go
to configuration order. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ims.diameter.cx import ServerCapabilities


@dataclass(frozen=True, slots=True)
class ScscfCandidate:
    """One S-CSCF the I-CSCF may choose (config ``[[icscf.scscfs]]``)."""

    uri: str
    """SIP URI of the S-CSCF, as the HSS knows it (its Server-Name)."""
    capabilities: frozenset[int] = frozenset()
    """Capability numbers it offers (TS 29.228 §6.7: operator defined)."""


def _norm(uri: str) -> str:
    return uri.strip().strip("<>").lower()


def _score(candidate: ScscfCandidate, caps: ServerCapabilities) -> int | None:
    """None when a mandatory capability is missing, else the optional ones matched."""
    if not set(caps.mandatory) <= candidate.capabilities:
        return None
    return len(set(caps.optional) & candidate.capabilities)


def select_scscf(candidates: Sequence[ScscfCandidate],
                 caps: ServerCapabilities | None) -> ScscfCandidate | None:
    """The S-CSCF to use for ``caps`` (TS 29.228 §6.7), None when none fits.

    Args:
        candidates: the configured S-CSCFs, in preference order.
        caps: the Server-Capabilities the HSS returned (None: any S-CSCF).
    """
    if not candidates:
        return None
    if caps is None:
        return candidates[0]
    named = {_norm(name) for name in caps.server_names}
    for candidate in candidates:
        if _norm(candidate.uri) in named:
            return candidate
    best: ScscfCandidate | None = None
    best_score = -1
    for candidate in candidates:
        score = _score(candidate, caps)
        if score is not None and score > best_score:
            best, best_score = candidate, score
    return best

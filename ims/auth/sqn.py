"""Sequence number management for AKA (3GPP TS 33.102 §6.3.2, §6.3.5, Annex C).

Theory of operation
-------------------
The scheme is the one of TS 33.102 Annex C (C.1 generation in the HE/AuC,
C.2 verification in the USIM, C.3 the profile of parameter values), with
partitioned sequence numbers::

    SQN (48 bits) = SEQ (43 bits) || IND (5 bits)

**HE/AuC side (the HSS).** The HSS keeps one counter per subscriber,
``SQN_HE``: the last SQN it issued (Annex C.1). Every new vector takes
``SEQ_HE + 1`` and an index IND chosen by whoever consumes the vector
(Annex C.1 lets the AuC allocate IND values, e.g. per serving node). This project's allocation is
:data:`IND_EPS` for vectors sent to an MME over S6a and :data:`IND_IMS` for
vectors sent to an S-CSCF over Cx, so that EPS and IMS authentication of the
same USIM, driven by the same AuC counter, never make each other's vectors
stale. ``next_sqn(SQN_HE, ind)`` is the SQN of the next vector; the HSS
stores it back as the new ``SQN_HE``.

On a synchronisation failure (§6.3.5) the HSS verifies AUTS (MAC-S, see
:func:`ims.auth.aka.resync`), recovers ``SQN_MS`` and calls
:func:`sqn_after_resync`, which moves ``SQN_HE`` past ``SQN_MS``.

**USIM side (the emulated UE).** :class:`SqnArray` is the array of Annex
C.2.2: one ``SEQ_MS(i)`` per IND value ``i``, all
zero at first. A received SQN is fresh when ``SEQ > SEQ_MS(IND)``; it must
also satisfy ``SEQ - SEQ_MS <= Δ`` (Annex C.2.1) and, when a limit L is set,
``SEQ_MS - SEQ < L``, where ``SEQ_MS`` is the SEQ of the highest SQN
accepted anywhere in the array (``SQN_MS``, which is also what AUTS
carries). :func:`is_acceptable` is the same rule for a USIM that keeps only
``SQN_MS`` (an array of one element). Wrap-around of SEQ is
not handled: 2^43 vectors are never reached in a lab.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DELTA",
    "IND_BITS",
    "IND_EPS",
    "IND_IMS",
    "SQN_MAX",
    "SqnArray",
    "is_acceptable",
    "make_sqn",
    "next_sqn",
    "split_sqn",
    "sqn_after_resync",
    "sqn_from_bytes",
    "sqn_to_bytes",
]

#: SQN is 48 bits (TS 33.102 §6.3.7).
SQN_BITS = 48
SQN_MAX = (1 << SQN_BITS) - 1

#: Length of IND in bits (TS 33.102 Annex C.3 profile: 5, an array of a = 32).
IND_BITS = 5

#: Δ, the largest jump in SEQ a USIM accepts (TS 33.102 Annex C.2.1; C.3: 2^28).
DELTA = 1 << 28

#: This project's IND allocation (Annex C.1 leaves it to the AuC): one value per consumer.
IND_EPS = 0
IND_IMS = 1


def _check_ind_bits(ind_bits: int) -> None:
    if not 0 <= ind_bits < SQN_BITS:
        raise ValueError(f"IND length must be 0..{SQN_BITS - 1} bits, got {ind_bits}")


def make_sqn(seq: int, ind: int, ind_bits: int = IND_BITS) -> int:
    """Join SEQ and IND into SQN = SEQ || IND (TS 33.102 Annex C.1).

    Raises:
        ValueError: when SEQ or IND do not fit their fields.
    """
    _check_ind_bits(ind_bits)
    if not 0 <= ind < (1 << ind_bits):
        raise ValueError(f"IND must fit in {ind_bits} bits, got {ind}")
    if not 0 <= seq < (1 << (SQN_BITS - ind_bits)):
        raise ValueError(f"SEQ must fit in {SQN_BITS - ind_bits} bits, got {seq}")
    return (seq << ind_bits) | ind


def split_sqn(sqn: int, ind_bits: int = IND_BITS) -> tuple[int, int]:
    """Split SQN into ``(SEQ, IND)`` (TS 33.102 Annex C.1).

    Raises:
        ValueError: when SQN is not a 48-bit value.
    """
    _check_ind_bits(ind_bits)
    if not 0 <= sqn <= SQN_MAX:
        raise ValueError(f"SQN must be 0..2^48-1, got {sqn}")
    return sqn >> ind_bits, sqn & ((1 << ind_bits) - 1)


def sqn_to_bytes(sqn: int) -> bytes:
    """SQN as the 6 octets carried in AUTN and AUTS (most significant first)."""
    if not 0 <= sqn <= SQN_MAX:
        raise ValueError(f"SQN must be 0..2^48-1, got {sqn}")
    return sqn.to_bytes(6, "big")


def sqn_from_bytes(data: bytes) -> int:
    """SQN from its 6-octet form.

    Raises:
        ValueError: when ``data`` is not 6 octets.
    """
    if len(data) != 6:
        raise ValueError(f"SQN must be 6 octets, got {len(data)}")
    return int.from_bytes(data, "big")


def next_sqn(current: int, ind: int | None = None, ind_bits: int = IND_BITS) -> int:
    """The SQN of the next vector after ``current`` (SQN_HE), TS 33.102 Annex C.1.

    SEQ is incremented by one; IND is ``ind`` when given (the consumer's
    index, e.g. :data:`IND_IMS`), otherwise the IND of ``current``.

    Raises:
        ValueError: when SEQ would overflow (wrap-around is not handled).
    """
    seq, current_ind = split_sqn(current, ind_bits)
    return make_sqn(seq + 1, current_ind if ind is None else ind, ind_bits)


def sqn_after_resync(
    sqn_ms: int,
    current: int = 0,
    ind: int = IND_IMS,
    ind_bits: int = IND_BITS,
    delta: int = DELTA,
) -> int:
    """The new SQN_HE after a verified resynchronisation, TS 33.102 §6.3.5.

    If the next vector from ``current`` would already be accepted by the
    USIM (its SEQ above SEQ_MS and within Δ of it), SQN_HE is kept.
    Otherwise SQN_HE is reset past SQN_MS: §6.3.5 resets it to SQN_MS; this
    function takes one SEQ more (``SEQ_MS + 1``, IND ``ind``) so that the
    returned value is itself fresh for every IND of the USIM's array and can
    be used for the very next vector as well as stored as SQN_HE.

    Args:
        sqn_ms: SQN_MS recovered from a verified AUTS.
        current: the HSS's SQN_HE before the resynchronisation.
        ind: IND for the reset value.
        ind_bits: length of IND.
        delta: Δ assumed for the USIM (Annex C.2.1).
    """
    seq_ms, _ = split_sqn(sqn_ms, ind_bits)
    seq_he, _ = split_sqn(current, ind_bits)
    if seq_ms < seq_he <= seq_ms + delta - 1:
        return current
    return make_sqn(seq_ms + 1, ind, ind_bits)


def is_acceptable(
    sqn: int, sqn_ms_highest: int, delta: int = DELTA, ind_bits: int = IND_BITS
) -> bool:
    """Freshness of SQN for a USIM that keeps only SQN_MS (Annex C.2, a = 1).

    Accepted when ``SEQ > SEQ_MS`` and ``SEQ - SEQ_MS <= Δ``.
    """
    seq, _ = split_sqn(sqn, ind_bits)
    seq_ms, _ = split_sqn(sqn_ms_highest, ind_bits)
    return seq_ms < seq <= seq_ms + delta


@dataclass(frozen=True, slots=True)
class SqnArray:
    """The USIM's array SEQ_MS(0 .. a-1) of TS 33.102 Annex C.2.2.

    Immutable: :meth:`accept` returns the updated array.

    Attributes:
        seq_ms: SEQ_MS(i) for each IND value i (``2 ** ind_bits`` entries).
        ind_bits: length of IND in bits.
        delta: Δ, the largest accepted jump above SEQ_MS.
        limit: L, the largest accepted age below SEQ_MS (None: no limit).
    """

    seq_ms: tuple[int, ...] = field(default=(0,) * (1 << IND_BITS))
    ind_bits: int = IND_BITS
    delta: int = DELTA
    limit: int | None = None

    def __post_init__(self) -> None:
        _check_ind_bits(self.ind_bits)
        if len(self.seq_ms) != 1 << self.ind_bits:
            raise ValueError(f"SEQ_MS array must have {1 << self.ind_bits} entries")

    @classmethod
    def starting_at(cls, sqn_ms: int, ind_bits: int = IND_BITS) -> SqnArray:
        """An array whose only accepted SQN so far is ``sqn_ms`` (0: none)."""
        seq, ind = split_sqn(sqn_ms, ind_bits)
        entries = [0] * (1 << ind_bits)
        entries[ind] = seq
        return cls(tuple(entries), ind_bits)

    @property
    def highest(self) -> int:
        """SQN_MS: the highest SQN accepted anywhere in the array (0: none yet)."""
        accepted = [
            make_sqn(seq, ind, self.ind_bits) for ind, seq in enumerate(self.seq_ms) if seq > 0
        ]
        return max(accepted, default=0)

    def is_fresh(self, sqn: int) -> bool:
        """Whether the USIM accepts ``sqn`` (Annex C.2.1 Δ, C.2.2 array and L)."""
        seq, ind = split_sqn(sqn, self.ind_bits)
        seq_ms = self.highest >> self.ind_bits
        if seq - seq_ms > self.delta:
            return False
        if self.limit is not None and seq_ms - seq >= self.limit:
            return False
        return seq > self.seq_ms[ind]

    def accept(self, sqn: int) -> SqnArray:
        """The array after accepting ``sqn``: SEQ_MS(IND) := SEQ.

        Raises:
            ValueError: when ``sqn`` is not fresh (a synchronisation failure).
        """
        if not self.is_fresh(sqn):
            raise ValueError(f"SQN {sqn:#014x} is not fresh (SQN_MS {self.highest:#014x})")
        seq, ind = split_sqn(sqn, self.ind_bits)
        entries = list(self.seq_ms)
        entries[ind] = seq
        return SqnArray(tuple(entries), self.ind_bits, self.delta, self.limit)

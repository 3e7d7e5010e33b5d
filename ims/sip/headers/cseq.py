"""The CSeq header (RFC 3261 §20.16)."""

from __future__ import annotations

from dataclasses import dataclass

from ims.sip.errors import SipParseError

#: RFC 3261 §8.1.1.5: the sequence number MUST be less than 2**31.
MAX_CSEQ = 2**31 - 1


@dataclass(frozen=True, slots=True)
class CSeq:
    seq: int
    method: str

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


def parse_cseq(text: str) -> CSeq:
    """Parse ``<number> <method>``.

    Raises:
        SipParseError: when the number is not a 32-bit value below 2**31 or
            the method is missing.
    """
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit():
        raise SipParseError(f"Bad CSeq {text[:40]!r}")
    seq = int(parts[0])
    if seq > MAX_CSEQ:
        raise SipParseError("CSeq number too large")
    return CSeq(seq, parts[1])

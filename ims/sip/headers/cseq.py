"""The CSeq header (RFC 3261 §20.16)."""

from __future__ import annotations

from dataclasses import dataclass

from ims.sip.errors import SipParseError

#: RFC 3261 §20.16: the sequence number MUST be expressible as a 32-bit unsigned
#: integer (a UAC starts below 2**31, §8.1.1.5, and then counts up).
MAX_CSEQ = 2**32 - 1

_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")


@dataclass(frozen=True, slots=True)
class CSeq:
    """``CSeq: <seq> <method>``: the number and the method it counts."""

    seq: int
    method: str

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


def parse_cseq(text: str) -> CSeq:
    """Parse ``1*DIGIT LWS Method`` (RFC 3261 §20.16, §25.1).

    Leading zeros are allowed (RFC 4475 §3.1.1.1).

    Raises:
        SipParseError: when the number is not a 32-bit unsigned value
            (RFC 4475 §3.1.2.4) or the method is missing or not a token.
    """
    parts = text.split()
    if len(parts) != 2:
        raise SipParseError(f"Bad CSeq {text[:40]!r}")
    number, method = parts
    if not (number.isascii() and number.isdigit()):
        raise SipParseError(f"Bad CSeq number {number[:40]!r}")
    if len(number.lstrip("0")) > 10 or int(number) > MAX_CSEQ:
        raise SipParseError("CSeq number too large")
    if not all(c in _TOKEN_CHARS for c in method):
        raise SipParseError(f"Bad CSeq method {method[:40]!r}")
    return CSeq(int(number), method)

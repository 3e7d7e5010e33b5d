"""Errors of the SIP layer (RFC 3261).

Every error carries the status code a server should answer with when the
offending message was a request (h11's ``error_status_hint``): 400 for a
malformed message, 513 for one that is too large (RFC 3261 §21.5.14).
"""

from __future__ import annotations


class SipError(Exception):
    """Base of all SIP-layer errors.

    Attributes:
        reason: a short human phrase naming the defect; used as the
            reason phrase of the error response, so it never contains CR/LF.
        status_hint: the response code a server should send.
    """

    def __init__(self, reason: str, status_hint: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason.replace("\r", " ").replace("\n", " ")
        self.status_hint = status_hint


class SipParseError(SipError):
    """The bytes are not a well-formed SIP message or header value."""


class SipLimitError(SipError):
    """A configured size or count limit was exceeded before parsing grew."""

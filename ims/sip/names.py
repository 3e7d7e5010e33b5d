"""SIP header names and reason phrases (RFC 3261 §7.3.3, §20, §21).

The tables the message layer consults: compact forms, the spelling this
core writes, which headers are comma-separated lists and which must occur
once, and the standard reason phrases.
"""

from __future__ import annotations

#: RFC 3261 §7.3.3 and the registries of later RFCs: compact form -> full name.
COMPACT_FORMS = {
    "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
    "c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to",
    "v": "via", "o": "event", "r": "refer-to", "u": "allow-events", "a": "accept-contact",
    "j": "reject-contact", "d": "request-disposition", "x": "session-expires",
    "b": "referred-by", "y": "identity", "n": "identity-info",
}

#: Spelling used when this core adds a header (lower-case key -> display name).
CANONICAL_NAMES = {
    "call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate",
    "p-asserted-identity": "P-Asserted-Identity", "p-preferred-identity": "P-Preferred-Identity",
    "p-associated-uri": "P-Associated-URI", "p-visited-network-id": "P-Visited-Network-ID",
    "p-charging-vector": "P-Charging-Vector", "p-access-network-info": "P-Access-Network-Info",
    "p-charging-function-addresses": "P-Charging-Function-Addresses",
    "mime-version": "MIME-Version", "sip-etag": "SIP-ETag", "sip-if-match": "SIP-If-Match",
}

#: Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1 and the
#: RFCs defining them), so comma-joined values are separate elements.
LIST_HEADERS = frozenset({
    "via", "route", "record-route", "contact", "path", "service-route",
    "p-associated-uri", "p-asserted-identity", "p-preferred-identity",
    "supported", "require", "proxy-require", "unsupported", "allow", "allow-events",
    "accept", "accept-encoding", "accept-language", "content-encoding",
    "security-client", "security-server", "security-verify", "in-reply-to",
    "warning", "call-info", "alert-info", "error-info", "reason",
    "accept-contact", "reject-contact", "request-disposition",
})

#: Headers that must appear at most once (RFC 3261 §20; RFC 4475 §3.3.8).
SINGLE_HEADERS = ("call-id", "cseq", "from", "to", "max-forwards", "content-length", "content-type", "expires")

#: Standard reason phrases (RFC 3261 §21 and extensions used by the IMS).
REASON_PHRASES = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    412: "Conditional Request Failed", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type", 416: "Unsupported URI Scheme",
    420: "Bad Extension", 421: "Extension Required", 423: "Interval Too Brief",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist", 482: "Loop Detected",
    483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 489: "Bad Event",
    491: "Request Pending", 493: "Undecipherable", 494: "Security Agreement Required",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 600: "Busy Everywhere", 603: "Decline",
    604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}


def canonical_key(name: str) -> str:
    """Lower-case full header name for ``name`` (compact forms expanded)."""
    key = name.lower()
    return COMPACT_FORMS.get(key, key)


def display_name_for(key: str) -> str:
    """How this core spells header ``key`` when it writes one."""
    return CANONICAL_NAMES.get(key) or "-".join(p.capitalize() for p in key.split("-"))

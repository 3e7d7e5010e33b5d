"""RFC 3261 §25.1 lexical rules shared by the header parsers (h11 ``_abnf.py`` style).

Each pattern transcribes the ABNF rule named above it.
"""

from __future__ import annotations

import re

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")

# quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE
# qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
# quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
QUOTED_STRING_RE = re.compile(r'"(?:[^"\\\r\n]|\\[^\r\n])*"')

# qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
QVALUE_RE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")

# IPv6reference = "[" IPv6address "]" (checked loosely, as in ims.sip.uri)
IPV6_REFERENCE_RE = re.compile(r"\[[0-9A-Fa-f:.]+\]")


def is_token(text: str) -> bool:
    """True when ``text`` is an RFC 3261 §25.1 ``token``."""
    return TOKEN_RE.fullmatch(text) is not None


def is_quoted_string(text: str) -> bool:
    """True when ``text`` is exactly one ``quoted-string`` (no surrounding space)."""
    return QUOTED_STRING_RE.fullmatch(text) is not None

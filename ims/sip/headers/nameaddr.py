"""name-addr / addr-spec values: From, To, Contact, Route, Record-Route, Path,
Service-Route, P-Asserted-Identity, P-Preferred-Identity, P-Associated-URI
(RFC 3261 §20.10, §20.20, §20.39, §25.1; RFC 3327; RFC 3608; RFC 3325).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ims.sip.errors import SipParseError
from ims.sip.headers.params import Params, parse_params, quote, unquote
from ims.sip.uri import Uri, parse_uri

_TOKEN_DISPLAY_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~ \t]*")


@dataclass(slots=True)
class NameAddr:
    """``[display-name] <uri> *(;param)`` or a bare ``addr-spec *(;param)``.

    For the addr-spec form RFC 3261 §20 says parameters after the URI belong
    to the header, not the URI; ``params`` holds them.
    """

    uri: Uri
    display_name: str | None = None
    params: Params = field(default_factory=Params)

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter of From/To (RFC 3261 §19.3)."""
        return self.params.get("tag")

    @property
    def expires(self) -> int | None:
        """The Contact ``expires`` parameter as an integer, if valid."""
        value = self.params.get("expires")
        if value is None or not (value.isascii() and value.isdigit()) or len(value) > 10:
            return None
        return int(value)

    @property
    def q(self) -> float | None:
        """The Contact ``q`` preference (RFC 3261 §20.10)."""
        value = self.params.get("q")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    @property
    def instance_id(self) -> str | None:
        """``+sip.instance`` without its quotes and angle brackets (RFC 5626 §4.1)."""
        value = self.params.get("+sip.instance")
        if value is None:
            return None
        return unquote(value).strip("<>")

    def feature_tags(self) -> dict[str, str | None]:
        """Contact feature tags (RFC 3840): ``+g.3gpp.*``, ``+sip.*`` and friends."""
        return {k: v for k, v in self.params.items() if k.startswith("+")}

    def copy(self) -> NameAddr:
        return NameAddr(self.uri.copy(), self.display_name, self.params.copy())

    def __str__(self) -> str:
        name = ""
        if self.display_name is not None:
            name = (quote(self.display_name) if self.display_name else '""') + " "
        return f"{name}<{self.uri}>{self.params}"


def parse_name_addr(text: str) -> NameAddr:
    """Parse one name-addr or addr-spec with header parameters (RFC 3261 §20.10).

    ``<`` and ``>`` enclose the URI with no whitespace inside (``LAQUOT``,
    ``RAQUOT``; RFC 4475 §3.1.2.14). In the addr-spec form a URI holding a
    comma or question mark is an error (it must be in ``<>``, §20.10;
    RFC 4475 §3.1.2.13) and parameters after it belong to the header.

    Raises:
        SipParseError: if the value is malformed (unbalanced quotes or
            brackets, bad display name, bad URI).
    """
    text = text.strip(" \t")
    if not text:
        raise SipParseError("Empty address")
    if text == "*":
        raise SipParseError("'*' is not an address")
    lt = _find_angle(text)
    if lt < 0:
        return _parse_addr_spec(text)
    gt = text.find(">", lt)
    if gt < 0:
        raise SipParseError(f"Unterminated <> in {text[:60]!r}")
    inner = text[lt + 1 : gt]
    if inner != inner.strip(" \t"):
        raise SipParseError("Whitespace inside <> of an address")
    display = _display_name(text[:lt].strip(" \t"))
    return NameAddr(parse_uri(inner), display, _params(text[gt + 1 :]))


def _parse_addr_spec(text: str) -> NameAddr:
    uri_text, semi, param_text = text.partition(";")
    uri_text = uri_text.rstrip(" \t")
    if "?" in uri_text or "," in uri_text:
        raise SipParseError("URI with '?' or ',' must be enclosed in <>")
    return NameAddr(parse_uri(uri_text), None, _params(semi + param_text))


def _params(text: str) -> Params:
    text = text.strip()
    if text and not text.startswith(";"):
        raise SipParseError(f"Unexpected text after address: {text[:40]!r}")
    return parse_params(text) if text else Params()


def _find_angle(text: str) -> int:
    if '"' not in text:
        return text.find("<")
    in_quote = False
    i = 0
    while i < len(text):
        c = text[i]
        if in_quote:
            if c == "\\":
                i += 1
            elif c == '"':
                in_quote = False
        elif c == '"':
            in_quote = True
        elif c == "<":
            return i
        i += 1
    if in_quote:
        raise SipParseError("Unterminated quoted display name")
    return -1


def _display_name(raw: str) -> str | None:
    """``display-name = *(token LWS) / quoted-string`` (RFC 3261 §25.1)."""
    if not raw:
        return None
    if raw.startswith('"'):
        if _quoted_end(raw) != len(raw):
            raise SipParseError(f"Bad quoted display name {raw[:40]!r}")
        return unquote(raw)
    if not _TOKEN_DISPLAY_RE.fullmatch(raw):
        raise SipParseError(f"Bad display name {raw[:40]!r}")
    return " ".join(raw.split())


def _quoted_end(text: str) -> int:
    """Index just past the quoted-string that starts ``text`` (-1 if unterminated)."""
    i = 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        i += 1
    return -1

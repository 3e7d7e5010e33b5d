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
        return int(value) if value is not None and value.isdigit() else None

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
    """Parse one name-addr or addr-spec with header parameters.

    Raises:
        SipParseError: if the value is malformed (unbalanced quotes or
            brackets, bad URI).
    """
    text = text.strip()
    if not text:
        raise SipParseError("Empty address")
    if text == "*":
        raise SipParseError("'*' is not an address")
    lt = _find_angle(text)
    if lt < 0:
        uri_text, semi, param_text = text.partition(";")
        return NameAddr(parse_uri(uri_text.strip()), None, _params(semi + param_text))
    gt = text.find(">", lt)
    if gt < 0:
        raise SipParseError(f"Unterminated <> in {text[:60]!r}")
    display = _display_name(text[:lt].strip())
    uri = parse_uri(text[lt + 1 : gt].strip())
    return NameAddr(uri, display, _params(text[gt + 1 :]))


def _params(text: str) -> Params:
    text = text.strip()
    if text and not text.startswith(";"):
        raise SipParseError(f"Unexpected text after address: {text[:40]!r}")
    return parse_params(text) if text else Params()


def _find_angle(text: str) -> int:
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
    if not raw:
        return None
    if raw.startswith('"'):
        if not raw.endswith('"') or len(raw) < 2:
            raise SipParseError("Bad quoted display name")
        return unquote(raw)
    if not _TOKEN_DISPLAY_RE.fullmatch(raw):
        raise SipParseError(f"Bad display name {raw[:40]!r}")
    return " ".join(raw.split())

"""SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966, RFC 5118 IPv6 references).

``parse_uri`` returns a :class:`SipUri`, a :class:`TelUri` or, for any other
scheme, an :class:`AbsoluteUri` that keeps the text as it came (RFC 3261
§25.1 ``absoluteURI``). ``uri_equal`` implements the comparison rules of
RFC 3261 §19.1.4 (and RFC 3966 §4 for tel).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from ims.sip.errors import SipParseError
from ims.sip.headers.params import Params, parse_params

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?\.?|[A-Za-z0-9]")
_IPV6_CHARS_RE = re.compile(r"[0-9A-Fa-f:.]+")
# RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved )
_USER_RE = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+")
_PASSWORD_RE = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*")
# The URI parameters whose absence and presence differ for comparison (§19.1.4;
# transport because the §19.1.4 examples list sip:bob@biloxi.com and
# sip:bob@biloxi.com;transport=udp as different).
_SIGNIFICANT_PARAMS = ("user", "ttl", "method", "maddr", "transport")


@dataclass(slots=True)
class SipUri:
    """A ``sip:`` or ``sips:`` URI.

    ``host`` keeps IPv6 references in brackets (``[2001:db8::1]``), as
    RFC 5118 writes them, so ``str()`` round-trips.
    """

    host: str
    scheme: str = "sip"
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: Params = field(default_factory=Params)
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def transport(self) -> str | None:
        """The ``transport`` parameter, lower-cased, or ``None``."""
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def lr(self) -> bool:
        """True when the URI carries the loose-routing ``lr`` flag (RFC 3261 §19.1.1)."""
        return "lr" in self.params

    @property
    def host_port(self) -> str:
        """``host[:port]`` as written in a Via or URI."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def bare_host(self) -> str:
        """The host without IPv6 brackets, for socket calls."""
        return self.host[1:-1] if self.host.startswith("[") else self.host

    def copy(self) -> SipUri:
        """An independent copy (parameters and headers included)."""
        return SipUri(
            self.host, self.scheme, self.user, self.password, self.port,
            self.params.copy(), list(self.headers),
        )

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out += [":", self.password]
            out.append("@")
        out.append(self.host_port)
        out.append(str(self.params))
        if self.headers:
            out.append("?" + "&".join(f"{k}={v}" for k, v in self.headers))
        return "".join(out)


@dataclass(slots=True)
class TelUri:
    """A ``tel:`` URI (RFC 3966): ``number`` keeps visual separators as written."""

    number: str
    params: Params = field(default_factory=Params)

    @property
    def is_global(self) -> bool:
        """True for a global number (``+`` prefix, RFC 3966 §5.1.4)."""
        return self.number.startswith("+")

    @property
    def digits(self) -> str:
        """The number without visual separators (``-``, ``.``, ``(``, ``)``)."""
        return re.sub(r"[\-.()]", "", self.number)

    @property
    def scheme(self) -> str:
        return "tel"

    def copy(self) -> TelUri:
        return TelUri(self.number, self.params.copy())

    def __str__(self) -> str:
        return f"tel:{self.number}{self.params}"


@dataclass(slots=True)
class AbsoluteUri:
    """A URI of a scheme this core does not interpret, kept verbatim."""

    scheme: str
    text: str

    def copy(self) -> AbsoluteUri:
        return AbsoluteUri(self.scheme, self.text)

    def __str__(self) -> str:
        return self.text


Uri = SipUri | TelUri | AbsoluteUri


def parse_uri(text: str) -> Uri:
    """Parse a URI as found in a Request-URI or inside ``<...>``.

    Raises:
        SipParseError: when a ``sip:``/``sips:``/``tel:`` URI is malformed,
            or the text is not a URI at all.
    """
    scheme, colon, rest = text.partition(":")
    if not colon or not _SCHEME_RE.fullmatch(scheme):
        raise SipParseError(f"Bad URI {text[:60]!r}")
    low = scheme.lower()
    if low in ("sip", "sips"):
        return _parse_sip(low, rest, text)
    if low == "tel":
        return _parse_tel(rest, text)
    if not rest or any(c in rest for c in " \t\r\n<>\""):
        raise SipParseError(f"Bad URI {text[:60]!r}")
    return AbsoluteUri(low, text)


def _parse_sip(scheme: str, rest: str, text: str) -> SipUri:
    if " " in rest or "\t" in rest:
        raise SipParseError(f"Whitespace in URI {text[:60]!r}")  # RFC 4475 §3.1.2.8
    user: str | None = None
    password: str | None = None
    at = rest.find("@")
    if at >= 0:
        user, colon, pw = rest[:at].partition(":")
        password = pw if colon else None
        if not _USER_RE.fullmatch(user) or (password is not None and not _PASSWORD_RE.fullmatch(password)):
            raise SipParseError(f"Bad user part in URI {text[:60]!r}")
        rest = rest[at + 1 :]
    rest, _, hdrs = rest.partition("?")
    hostport, semi, params = rest.partition(";")
    host, port = parse_hostport(hostport, text)
    uri = SipUri(host, scheme, user, password, port)
    if semi:
        uri.params = parse_params(semi + params)
    if hdrs:
        uri.headers = [_split_header(h, text) for h in hdrs.split("&")]
    return uri


def parse_hostport(hostport: str, context: str = "") -> tuple[str, int | None]:
    """Split ``host[:port]`` where host may be an IPv6 reference (RFC 5118).

    An IPv6 reference must be bracketed (RFC 5118 §4.2) and hold a valid
    address; the extra colon of RFC 5118 §4.10 (``[2001:db8:::192.0.2.1]``)
    is tolerated, as that section allows.

    Raises:
        SipParseError: on an invalid host or a port outside 0..65535.
    """
    if hostport.startswith("["):
        end = hostport.find("]")
        host, tail = hostport[: end + 1], hostport[end + 1 :]
        if end < 0 or not _is_ipv6(host[1:-1]):
            raise SipParseError(f"Bad IPv6 reference in {context[:60]!r}")
    else:
        host, colon, port_text = hostport.partition(":")
        tail = ":" + port_text if colon else ""
        if not _HOSTNAME_RE.fullmatch(host):
            raise SipParseError(f"Bad host in {context[:60]!r}")
    if not tail:
        return host, None
    port = tail[1:]
    if tail[0] != ":" or not (port.isascii() and port.isdigit()) or len(port) > 5 or int(port) > 65535:
        raise SipParseError(f"Bad port in {context[:60]!r}")
    return host, int(port)


def _is_ipv6(text: str) -> bool:
    if not _IPV6_CHARS_RE.fullmatch(text):
        return False
    for candidate in (text, text.replace(":::", "::", 1)):
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        return True
    return False


def _split_header(item: str, text: str) -> tuple[str, str]:
    name, eq, value = item.partition("=")
    if not eq or not name:
        raise SipParseError(f"Bad URI header in {text[:60]!r}")
    return name, value


def _parse_tel(rest: str, text: str) -> TelUri:
    number, semi, params = rest.partition(";")
    if not number or not _TEL_NUMBER_RE.fullmatch(number):
        raise SipParseError(f"Bad tel URI {text[:60]!r}")
    return TelUri(number, parse_params(semi + params) if semi else Params())


# RFC 3966 §3: global-number-digits / local-number-digits with visual separators.
_TEL_NUMBER_RE = re.compile(r"\+[0-9\-.()]*[0-9][0-9\-.()]*|[0-9A-Fa-f*#\-.()]*[0-9A-Fa-f*#][0-9A-Fa-f*#\-.()]*")


def unescape(text: str) -> str:
    """Resolve ``%HH`` escapes (RFC 3261 §19.1.2, §25.1 ``escaped``).

    Escaped octets are decoded as UTF-8; an invalid sequence maps to
    surrogate escapes, so distinct octets never compare equal by accident.
    """
    if "%" not in text:
        return text
    return unquote_to_bytes(text).decode("utf-8", "surrogateescape")


def uri_equal(a: Uri, b: Uri) -> bool:
    """Compare two URIs per RFC 3261 §19.1.4 (sip/sips) and RFC 3966 §4 (tel).

    User and password compare case-sensitively after unescaping; host,
    scheme and parameter names case-insensitively; a parameter present in
    only one URI makes them differ only if it is user, ttl, method or maddr
    (§19.1.4) or transport (as the §19.1.4 examples require); URI headers
    must match in both directions. For tel URIs every parameter counts.
    """
    if isinstance(a, SipUri) and isinstance(b, SipUri):
        return _sip_equal(a, b)
    if isinstance(a, TelUri) and isinstance(b, TelUri):
        return a.digits.lower() == b.digits.lower() and _params_equal(a.params, b.params, None)
    if isinstance(a, AbsoluteUri) and isinstance(b, AbsoluteUri):
        return a.text == b.text
    return False


def _sip_equal(a: SipUri, b: SipUri) -> bool:
    if a.scheme != b.scheme or a.port != b.port:
        return False
    if _opt_unescape(a.user) != _opt_unescape(b.user):
        return False
    if _opt_unescape(a.password) != _opt_unescape(b.password):
        return False
    if a.host.lower() != b.host.lower():
        return False
    if not _params_equal(a.params, b.params, _SIGNIFICANT_PARAMS):
        return False
    return _headers_key(a) == _headers_key(b)


def _headers_key(uri: SipUri) -> set[tuple[str, str]]:
    return {(unescape(k).lower(), unescape(v)) for k, v in uri.headers}


def _params_equal(a: Params, b: Params, significant: tuple[str, ...] | None) -> bool:
    """Parameters in both must match; one in only one URI matters if ``significant``
    names it (``None``: every parameter is significant, RFC 3966 §4)."""
    da, db = _params_key(a), _params_key(b)
    for name in da.keys() | db.keys():
        if name not in da or name not in db:
            if significant is None or name in significant:
                return False
        elif da[name] != db[name]:
            return False
    return True


def _params_key(params: Params) -> dict[str, str | None]:
    return {unescape(k).lower(): None if v is None else unescape(v).lower() for k, v in params.items()}


def _opt_unescape(value: str | None) -> str | None:
    return None if value is None else unescape(value)

"""Authentication headers: RFC 3261 §20.7, §20.27, §20.28, §20.44, §22, §25.1.

WWW-Authenticate and Proxy-Authenticate carry a :class:`Challenge`;
Authorization and Proxy-Authorization carry :class:`Credentials`. The Digest
parameters are those of RFC 3261 §25.1 and RFC 2617 §3.2 (RFC 7616 §3.3,
§3.4), with the additions of RFC 3310 §3 (``algorithm=AKAv1-MD5``, ``auts``)
and 3GPP TS 24.229 (Release 17): ``ik``/``ck`` in the challenge that the
S-CSCF sends to the P-CSCF (§7.2A.1, §5.4.1.2.1), which the P-CSCF removes
before the 401 reaches the UE (§5.2.2.1), and ``integrity-protected`` in the
credentials the P-CSCF forwards (§7.2A.2).

Theory of operation
-------------------
RFC 3261 §7.3.1 forbids joining several challenges or credentials on one
header line, so a message holds one per line. Parsing still works on the
comma-separated *chunks* of all lines of a header, in order: a chunk that
starts with an ``auth-scheme`` token followed by whitespace (``Digest
username=...``) opens a new challenge or credentials; any other chunk
(``nonce="..."``) is one more ``auth-param`` of the current one. This
accepts the Pixel handset that splits ONE Authorization header over two
header lines (the second starting ``nonce=...`` or ``qop=auth, ...``), and
also RFC 7235-style lines joining two challenges.

Parsing is tolerant about quoting (``qop="auth"`` in credentials, a token
realm) and keeps parameters it does not know in ``extra`` as written.
``str()`` writes every parameter the way the RFC 3261 §25.1 grammar (and
TS 24.229 §7.2A) requires: realm, domain, nonce, opaque, username, uri,
response, cnonce, auts, ik, ck, integrity-protected and the challenge's qop
list quoted; algorithm, stale, nc and the credentials' qop as tokens. Each
known parameter may appear once; a repeat is a :class:`SipParseError`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from ims.sip.errors import SipParseError
from ims.sip.headers._abnf import TOKEN_RE, is_quoted_string, is_token
from ims.sip.headers.params import Params, quote, split_quoted, unquote

if TYPE_CHECKING:
    from ims.sip.message import Message

#: The Digest auth-scheme (RFC 3261 §25.1).
DIGEST = "Digest"
#: RFC 3310 §3.1: AKA version 1 with MD5 digests.
AKAV1_MD5 = "AKAv1-MD5"
#: TS 24.229 §7.2A.2: the values of the ``integrity-protected`` parameter.
INTEGRITY_PROTECTED_VALUES = frozenset(
    {"yes", "no", "tls-pending", "tls-yes", "ip-assoc-pending", "ip-assoc-yes", "auth-done"}
)

# An auth-scheme token, then whitespace, then something that is not "=":
# ``nonce = "x"`` (LWS around EQUAL) is a parameter, not a scheme.
_SCHEME_RE = re.compile(rf"(?P<scheme>{TOKEN_RE.pattern})(?:[ \t]+(?P<rest>[^=\s].*))?", re.DOTALL)
_BARE_RE = re.compile(r'[^\s",]+')
_NC_RE = re.compile(r"[0-9A-Fa-f]{8}")
_T = TypeVar("_T")
_EMPTY = '""'

# Known parameters: wire name -> (attribute, quoted on the wire).
_CHALLENGE_PARAMS: dict[str, tuple[str, bool]] = {
    "realm": ("realm", True), "domain": ("domain", True), "nonce": ("nonce", True),
    "opaque": ("opaque", True), "stale": ("stale", False), "algorithm": ("algorithm", False),
    "qop": ("qop", True), "ik": ("ik", True), "ck": ("ck", True),
}
_CREDENTIAL_PARAMS: dict[str, tuple[str, bool]] = {
    "username": ("username", True), "realm": ("realm", True), "nonce": ("nonce", True),
    "uri": ("uri", True), "response": ("response", True), "algorithm": ("algorithm", False),
    "cnonce": ("cnonce", True), "opaque": ("opaque", True), "qop": ("qop", False),
    "nc": ("nc", False), "auts": ("auts", True),
    "integrity-protected": ("integrity_protected", True),
}


@dataclass(slots=True)
class _RawAuth:
    """One challenge or credentials as split from the wire, before typing."""

    scheme: str
    params: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Challenge:
    """A WWW-Authenticate / Proxy-Authenticate value (RFC 3261 §25.1 ``challenge``).

    ``qop`` is the list of ``qop-options`` (empty when absent); ``extra``
    holds unknown auth-params with their values as written (quotes kept).
    """

    scheme: str = DIGEST
    realm: str | None = None
    domain: str | None = None
    nonce: str | None = None
    opaque: str | None = None
    stale: bool | None = None
    algorithm: str | None = None
    qop: list[str] = field(default_factory=list)
    ik: str | None = None
    """TS 24.229 §7.2A.1: the integrity key IK, hex (S-CSCF -> P-CSCF only)."""
    ck: str | None = None
    """TS 24.229 §7.2A.1: the cipher key CK, hex (S-CSCF -> P-CSCF only)."""
    extra: Params = field(default_factory=Params)

    @property
    def is_digest(self) -> bool:
        return self.scheme.lower() == DIGEST.lower()

    @property
    def is_aka(self) -> bool:
        """True for an AKA challenge (RFC 3310 §3.1, RFC 4169: ``AKAv<n>-<hash>``)."""
        return (self.algorithm or "").lower().startswith("akav")

    @property
    def has_keys(self) -> bool:
        return self.ik is not None or self.ck is not None

    def without_keys(self) -> Challenge:
        """A copy without ``ik``/``ck``: what the P-CSCF forwards (TS 24.229 §5.2.2.1)."""
        return dataclasses.replace(
            self, qop=list(self.qop), extra=self.extra.copy(), ik=None, ck=None
        )

    def __str__(self) -> str:
        stale = None if self.stale is None else ("true" if self.stale else "false")
        qop = ",".join(self.qop) if self.qop else None
        values = {"stale": stale, "qop": qop}
        return _serialise(self.scheme, self, _CHALLENGE_PARAMS, values, self.extra)


@dataclass(slots=True)
class Credentials:
    """An Authorization / Proxy-Authorization value (RFC 3261 §25.1 ``credentials``).

    ``extra`` holds unknown auth-params with their values as written.
    """

    scheme: str = DIGEST
    username: str | None = None
    realm: str | None = None
    nonce: str | None = None
    uri: str | None = None
    response: str | None = None
    algorithm: str | None = None
    cnonce: str | None = None
    opaque: str | None = None
    qop: str | None = None
    nc: str | None = None
    auts: str | None = None
    """RFC 3310 §3.4: base64 of the AKA resynchronisation token AUTS."""
    integrity_protected: str | None = None
    """TS 24.229 §7.2A.2: one of :data:`INTEGRITY_PROTECTED_VALUES`."""
    extra: Params = field(default_factory=Params)

    @property
    def is_digest(self) -> bool:
        return self.scheme.lower() == DIGEST.lower()

    @property
    def is_aka(self) -> bool:
        """True when ``algorithm`` names AKA (RFC 3310 §3.2)."""
        return (self.algorithm or "").lower().startswith("akav")

    def __str__(self) -> str:
        return _serialise(self.scheme, self, _CREDENTIAL_PARAMS, {}, self.extra)


# -- serialisation -----------------------------------------------------------
def _serialise(
    scheme: str,
    obj: Challenge | Credentials,
    table: dict[str, tuple[str, bool]],
    overrides: dict[str, str | None],
    extra: Params,
) -> str:
    parts: list[str] = []
    for name, (attr, quoted) in table.items():
        value = overrides[name] if name in overrides else getattr(obj, attr)
        if value is not None:
            parts.append(f"{name}={quote(value) if quoted else _token_or_quote(value)}")
    # An auth-param always has a value (RFC 3261 §25.1); a bare name would
    # read back as a new auth-scheme, so a flag set by hand is written empty.
    parts += [f"{name}={_EMPTY if value is None else value}" for name, value in extra.items()]
    return f"{scheme} {', '.join(parts)}" if parts else scheme


def _token_or_quote(value: str) -> str:
    """A value the grammar wants as a token; quoted only if it is not one."""
    return value if is_token(value) else quote(value)


# -- parsing -----------------------------------------------------------------
def parse_challenge(text: str) -> Challenge:
    """Parse one WWW-Authenticate / Proxy-Authenticate value.

    Raises:
        SipParseError: malformed, or not exactly one challenge.
    """
    return _single(parse_challenges([text]), "challenge")


def parse_credentials(text: str) -> Credentials:
    """Parse one Authorization / Proxy-Authorization value.

    Raises:
        SipParseError: malformed, or not exactly one credentials.
    """
    return _single(parse_credentials_lines([text]), "credentials")


def parse_challenges(lines: Iterable[str]) -> list[Challenge]:
    """Parse the values of every line of a WWW-/Proxy-Authenticate header, in order.

    Raises:
        SipParseError: on a malformed auth-param, a repeated parameter, a
            bad ``stale`` value, or a parameter before any auth-scheme.
    """
    return [_build_challenge(raw) for raw in _split_auth(lines)]


def parse_credentials_lines(lines: Iterable[str]) -> list[Credentials]:
    """Parse the values of every line of an Authorization header, in order.

    A line not starting with an auth-scheme continues the previous
    credentials (the split header of some handsets, see module docstring).

    Raises:
        SipParseError: on a malformed auth-param, a repeated parameter, a
            bad ``nc``, or a parameter before any auth-scheme.
    """
    return [_build_credentials(raw) for raw in _split_auth(lines)]


def _single(items: list[_T], what: str) -> _T:
    if len(items) != 1:
        raise SipParseError(f"Expected one {what}, found {len(items)}")
    return items[0]


def _split_auth(lines: Iterable[str]) -> list[_RawAuth]:
    items: list[_RawAuth] = []
    for line in lines:
        for chunk in split_quoted(line, ","):
            chunk = chunk.strip()
            if not chunk:
                continue
            match = _SCHEME_RE.fullmatch(chunk)
            if match:
                items.append(_RawAuth(match["scheme"]))
                chunk = (match["rest"] or "").strip()
                if not chunk:
                    continue
            if not items:
                raise SipParseError(f"auth-param before auth-scheme: {chunk[:40]!r}")
            items[-1].params.append(_parse_auth_param(chunk))
    return items


def _parse_auth_param(chunk: str) -> tuple[str, str]:
    """``auth-param = auth-param-name EQUAL ( token / quoted-string )`` (RFC 3261 §25.1)."""
    name, eq, value = chunk.partition("=")
    name, value = name.strip(), value.strip()
    if not eq or not is_token(name):
        raise SipParseError(f"Bad auth-param {chunk[:40]!r}")
    if value.startswith('"'):
        if not is_quoted_string(value):
            raise SipParseError(f"Bad quoted value of auth-param {name!r}")
    elif not _BARE_RE.fullmatch(value):
        raise SipParseError(f"Bad value of auth-param {name!r}")
    return name, value


def _collect(
    raw: _RawAuth, table: dict[str, tuple[str, bool]]
) -> tuple[dict[str, str], Params]:
    """Known parameters (unquoted, by attribute) and the unknown ones (as written)."""
    known: dict[str, str] = {}
    extra = Params()
    for name, value in raw.params:
        key = name.lower()
        if key in table:
            attr = table[key][0]
            if attr in known:
                raise SipParseError(f"Repeated auth-param {name!r}")
            known[attr] = unquote(value)
        elif name in extra:
            raise SipParseError(f"Repeated auth-param {name!r}")
        else:
            extra.set(name, value)
    return known, extra


def _build_challenge(raw: _RawAuth) -> Challenge:
    known, extra = _collect(raw, _CHALLENGE_PARAMS)
    stale = known.pop("stale", None)
    if stale is not None and stale.lower() not in ("true", "false"):
        raise SipParseError(f"Bad stale value {stale[:20]!r}")
    qop = [q.strip() for q in known.pop("qop", "").split(",") if q.strip()]
    return Challenge(
        raw.scheme,
        stale=None if stale is None else stale.lower() == "true",
        qop=qop,
        extra=extra,
        **known,
    )


def _build_credentials(raw: _RawAuth) -> Credentials:
    known, extra = _collect(raw, _CREDENTIAL_PARAMS)
    nc = known.get("nc")
    if nc is not None and not _NC_RE.fullmatch(nc):
        raise SipParseError(f"Bad nc value {nc[:20]!r} (RFC 3261 §25.1: 8LHEX)")
    return Credentials(raw.scheme, extra=extra, **known)


# -- message helpers -----------------------------------------------------------
def credentials(msg: Message, header: str = "authorization") -> list[Credentials]:
    """Every credentials of Authorization (or ``header="proxy-authorization"``).

    RFC 3261 §20.7, §20.28; a value split over two header lines is joined
    again (module docstring).

    Raises:
        SipParseError: if a value is malformed.
    """
    return parse_credentials_lines(msg.header_values(header))


def challenges(msg: Message, header: str = "www-authenticate") -> list[Challenge]:
    """Every challenge of WWW-Authenticate (or ``header="proxy-authenticate"``).

    RFC 3261 §20.44, §20.27.

    Raises:
        SipParseError: if a value is malformed.
    """
    return parse_challenges(msg.header_values(header))


def credentials_for_realm(
    msg: Message, realm: str, header: str = "authorization"
) -> Credentials | None:
    """The Digest credentials for ``realm`` (RFC 3261 §22.4; TS 24.229 §5.4.1.2.1).

    Realms compare case-sensitively, as quoted strings do. Returns None when
    no credentials name that realm.

    Raises:
        SipParseError: if a value is malformed.
    """
    for cred in credentials(msg, header):
        if cred.is_digest and cred.realm == realm:
            return cred
    return None


def remove_challenge_keys(msg: Message, header: str = "www-authenticate") -> list[Challenge]:
    """Strip ``ik``/``ck`` from the challenges of ``msg`` (TS 24.229 §5.2.2.1).

    The P-CSCF keeps the keys for its IPsec SAs and forwards the 401 without
    them. Lines are rewritten only when some challenge carried a key, so a
    message without keys is forwarded byte for byte.

    Returns:
        The challenges as received (keys included).

    Raises:
        SipParseError: if a value is malformed.
    """
    found = challenges(msg, header)
    if any(ch.has_keys for ch in found):
        msg.remove(header)
        for ch in found:
            msg.add(header, str(ch.without_keys()))
    return found

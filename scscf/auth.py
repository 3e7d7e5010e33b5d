"""S-CSCF authentication: AKA challenge and verification (TS 24.229 §5.4.1.2).

The S-CSCF asks the HSS for vectors (MAR, TS 29.228 §6.3), stores the
chosen vector as a :class:`PendingChallenge` *before* the 401 leaves
(so a fast UE never meets a missing vector), challenges with
``nonce=base64(RAND||AUTN)``, ``algorithm=AKAv1-MD5``, ``qop="auth"`` and the
``ik``/``ck`` the P-CSCF needs (TS 24.229 §5.4.1.2.1, §7.2A.1; RFC 3310
§3.2), and checks the answer (RFC 3310 §3.3, RFC 2617 §3.2.2) with
RES as the digest password. Nonces are single-use and bound to the IMPI
they were issued for. Identities provisioned with the SIP Digest scheme
(TS 29.228 §6.3.2) are checked with plain MD5 against the HA1 from the HSS.

Everything here is pure: the caller hands in ``now``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ims.auth.digest import (
    ALGORITHM_AKAV1_MD5,
    ALGORITHM_MD5,
    aka_nonce,
    digest_response,
    digest_response_from_ha1,
    parse_auts_param,
    responses_match,
)
from ims.diameter.cx import AuthDataItem, AuthScheme
from ims.sip.headers.auth import Challenge, Credentials, credentials
from ims.sip.message import Request
from ims.sip.uri import SipUri, TelUri, parse_uri

#: How long a challenge stays valid (s); TS 24.229 §5.4.1.2.1 leaves it to us.
DEFAULT_CHALLENGE_LIFETIME = 30.0


class VerdictKind(enum.Enum):
    """Outcome of checking one set of credentials."""

    OK = "ok"
    WRONG_RES = "wrong-res"
    MAC_FAILURE = "mac-failure"
    SYNC_FAILURE = "sync-failure"
    STALE = "stale"
    UNKNOWN_NONCE = "unknown-nonce"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A :class:`VerdictKind`, with RAND and AUTS for a synchronisation failure."""

    kind: VerdictKind
    rand: bytes | None = None
    auts: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.kind is VerdictKind.OK


@dataclass(frozen=True, slots=True)
class PendingChallenge:
    """A vector sent in a 401 and awaiting the UE's answer (TS 24.229 §5.4.1.2.1)."""

    impi: str
    impu: str
    nonce: str
    realm: str
    expires_at: float
    scheme: str = AuthScheme.AKAV1_MD5
    rand: bytes = b""
    xres: bytes = b""
    ck: bytes = b""
    ik: bytes = b""
    ha1: str | None = None
    """H(A1) for the SIP Digest scheme (TS 29.229 §6.3.41 Digest-HA1)."""

    @property
    def is_aka(self) -> bool:
        return self.scheme == AuthScheme.AKAV1_MD5


def pending_from_item(
    item: AuthDataItem, impi: str, impu: str, realm: str, now: float, *,
    nonce: str | None = None, lifetime: float = DEFAULT_CHALLENGE_LIFETIME,
) -> PendingChallenge:
    """The pending challenge for one MAA SIP-Auth-Data-Item (TS 29.229 §6.3.13).

    For AKA the nonce is base64(RAND||AUTN) (RFC 3310 §3.2); for SIP Digest
    the caller supplies a fresh random ``nonce``.

    Raises:
        ValueError: when the item lacks what its scheme needs.
    """
    expires_at = now + lifetime
    if item.scheme == AuthScheme.SIP_DIGEST:
        if item.digest is None or nonce is None:
            raise ValueError("SIP Digest item needs Digest-HA1 and a nonce")
        return PendingChallenge(
            impi, impu, nonce, item.digest.realm or realm, expires_at,
            AuthScheme.SIP_DIGEST, ha1=item.digest.ha1,
        )
    if item.rand is None or item.autn is None or item.authorization is None:
        raise ValueError("AKA item needs SIP-Authenticate and SIP-Authorization")
    return PendingChallenge(
        impi, impu, aka_nonce(item.rand, item.autn), realm, expires_at,
        rand=item.rand, xres=item.authorization,
        ck=item.confidentiality_key or b"", ik=item.integrity_key or b"",
    )


def build_challenge(pending: PendingChallenge, stale: bool = False) -> Challenge:
    """The WWW-Authenticate challenge of the 401 (TS 24.229 §5.4.1.2.1).

    AKA: nonce, ``algorithm=AKAv1-MD5``, ``qop="auth"`` only (offering
    auth-int makes some clients pick it) and ``ik``/``ck`` as quoted hex for
    the P-CSCF (§7.2A.1). SIP Digest: ``algorithm=MD5``, ``qop="auth"``.
    """
    if not pending.is_aka:
        return Challenge(realm=pending.realm, nonce=pending.nonce, algorithm=ALGORITHM_MD5,
                         qop=["auth"], stale=True if stale else None)
    return Challenge(
        realm=pending.realm, nonce=pending.nonce, algorithm=ALGORITHM_AKAV1_MD5,
        qop=["auth"], ik=pending.ik.hex(), ck=pending.ck.hex(),
        stale=True if stale else None,
    )


class AuthChallengeStore:
    """Pending challenges by nonce: single use, bound to the IMPI, expiring."""

    def __init__(self) -> None:
        self._by_nonce: dict[str, PendingChallenge] = {}

    def __len__(self) -> int:
        return len(self._by_nonce)

    def add(self, pending: PendingChallenge) -> None:
        """Store a challenge; call this before the 401 is sent."""
        self._by_nonce[pending.nonce] = pending

    def take(self, nonce: str, impi: str, now: float) -> PendingChallenge | Verdict:
        """Remove and return the challenge of ``nonce`` issued to ``impi``.

        Returns a STALE verdict for an expired challenge and UNKNOWN_NONCE for
        a nonce never issued, already used, or issued to another IMPI (that
        challenge is left in place for its owner).
        """
        pending = self._by_nonce.get(nonce)
        if pending is None or pending.impi != impi:
            return Verdict(VerdictKind.UNKNOWN_NONCE)
        del self._by_nonce[nonce]
        if pending.expires_at <= now:
            return Verdict(VerdictKind.STALE)
        return pending

    def expire(self, now: float) -> int:
        """Drop expired challenges; returns how many went."""
        gone = [n for n, p in self._by_nonce.items() if p.expires_at <= now]
        for nonce in gone:
            del self._by_nonce[nonce]
        return len(gone)


def digest_credentials(req: Request) -> Credentials | None:
    """The first Digest credentials of Authorization (Pixel split lines joined).

    Raises:
        SipParseError: on a malformed Authorization header.
    """
    return next((c for c in credentials(req) if c.is_digest), None)


def identify(req: Request) -> str:
    """The IMPI a REGISTER is for (TS 24.229 §5.4.1.2.1).

    The Authorization ``username`` when present; otherwise derived from the
    IMPU in To by removing the scheme, port and parameters (TS 24.229
    §5.4.1.2.1, TS 33.203 §6.1): ``sip:user@host:5060;x`` gives
    ``user@host``, ``tel:+1-555;p=1`` gives ``+1-555``.

    Raises:
        SipParseError: on a malformed Authorization or To header.
    """
    creds = digest_credentials(req)
    if creds is not None and creds.username:
        return creds.username
    return impi_from_impu(str(req.to.uri))


def impi_from_impu(impu: str) -> str:
    """Derive an IMPI from a public identity (TS 24.229 §5.4.1.2.1)."""
    uri = parse_uri(impu)
    if isinstance(uri, TelUri):
        return uri.number
    if isinstance(uri, SipUri):
        return f"{uri.user}@{uri.host}" if uri.user else uri.host
    return str(uri).partition(":")[2]


def verify(creds: Credentials, method: str, pending: PendingChallenge | None) -> Verdict:
    """Check the UE's answer to ``pending`` (RFC 3310 §3.3, RFC 2617 §3.2.2.1).

    UNKNOWN_NONCE when nothing is pending or the answer is for another nonce
    or IMPI; SYNC_FAILURE with RAND and AUTS when ``auts`` is present (RFC
    3310 §3.4); MAC_FAILURE for an AKA answer with an empty ``response`` and
    no ``auts`` (TS 24.229 §5.1.1.5.3); otherwise the response is compared in
    constant time with the one computed from XRES (AKA) or HA1 (MD5).
    """
    if pending is None or creds.nonce != pending.nonce or creds.username != pending.impi:
        return Verdict(VerdictKind.UNKNOWN_NONCE)
    if pending.is_aka and creds.auts is not None:
        return _sync_failure(creds, pending)
    if not creds.response:
        kind = VerdictKind.MAC_FAILURE if pending.is_aka else VerdictKind.WRONG_RES
        return Verdict(kind)
    expected = _expected_response(creds, method, pending)
    if expected is not None and responses_match(expected, creds.response):
        return Verdict(VerdictKind.OK)
    return Verdict(VerdictKind.WRONG_RES)


def _sync_failure(creds: Credentials, pending: PendingChallenge) -> Verdict:
    try:
        auts = parse_auts_param(creds.auts or "")
    except ValueError:
        return Verdict(VerdictKind.WRONG_RES)
    return Verdict(VerdictKind.SYNC_FAILURE, rand=pending.rand, auts=auts)


def _expected_response(creds: Credentials, method: str, pending: PendingChallenge) -> str | None:
    """The response the UE should have sent, None when its parameters are unusable."""
    if creds.qop not in (None, "auth") or creds.uri is None:
        return None
    try:
        if pending.is_aka:
            return digest_response(
                pending.impi, pending.realm, pending.xres, method, creds.uri, pending.nonce,
                creds.qop, creds.nc, creds.cnonce, ALGORITHM_AKAV1_MD5,
            )
        return digest_response_from_ha1(
            pending.ha1 or "", pending.nonce, method, creds.uri, creds.qop, creds.nc, creds.cnonce,
        )
    except ValueError:
        return None


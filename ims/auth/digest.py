"""HTTP Digest computations for SIP: MD5 (RFC 2617) and AKAv1-MD5 (RFC 3310).

Only the arithmetic lives here; parsing and building the
``WWW-Authenticate``/``Authorization`` headers is :mod:`ims.sip`'s job.

* RFC 2617 §3.2.2: ``response = KD(H(A1), nonce ":" nc ":" cnonce ":" qop
  ":" H(A2))`` with ``KD(s, d) = MD5(s ":" d)`` in lowercase hex;
  ``A1 = username ":" realm ":" password``; ``A2 = method ":" uri`` for
  qop=auth and ``method ":" uri ":" H(entity-body)`` for qop=auth-int.
  Without qop (RFC 2069 compatibility) ``response = KD(H(A1), nonce ":"
  H(A2))``.
* RFC 3310 §3.1 and §3.2: with ``algorithm=AKAv1-MD5`` the same
  computation is made with the password set to the binary RES, and the
  nonce carries base64(RAND || AUTN || server data). On a synchronisation
  failure (§3.4) the client sends ``auts=`` (base64 of AUTS) and computes
  the response with an empty password.
* The HSS may store HA1 = H(A1) instead of a plain password for non-AKA
  phones (RFC 2617 §3.2.2.2): :func:`digest_response_from_ha1`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

__all__ = [
    "ALGORITHM_AKAV1_MD5",
    "ALGORITHM_MD5",
    "aka_nonce",
    "auts_param",
    "digest_response",
    "digest_response_from_ha1",
    "ha1",
    "parse_aka_nonce",
    "parse_auts_param",
    "responses_match",
]

ALGORITHM_MD5 = "MD5"
ALGORITHM_AKAV1_MD5 = "AKAv1-MD5"
_ALGORITHMS = {ALGORITHM_MD5.lower(), ALGORITHM_AKAV1_MD5.lower()}
_QOPS = {"auth", "auth-int"}

_RAND_LEN = 16
_AUTN_LEN = 16
_AUTS_LEN = 14


def _h(data: bytes) -> str:
    """H(data) = MD5 in lowercase hex (RFC 2617 §3.2.1)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} is not valid base64") from exc


def aka_nonce(rand: bytes, autn: bytes, server_data: bytes = b"") -> str:
    """The AKA nonce: base64(RAND || AUTN || server data), RFC 3310 §3.2.

    Raises:
        ValueError: when RAND or AUTN are not 16 octets.
    """
    if len(rand) != _RAND_LEN:
        raise ValueError(f"RAND must be {_RAND_LEN} octets, got {len(rand)}")
    if len(autn) != _AUTN_LEN:
        raise ValueError(f"AUTN must be {_AUTN_LEN} octets, got {len(autn)}")
    return base64.b64encode(rand + autn + server_data).decode("ascii")


def parse_aka_nonce(nonce: str) -> tuple[bytes, bytes, bytes]:
    """Split an AKA nonce into ``(RAND, AUTN, server data)``, RFC 3310 §3.2.

    Raises:
        ValueError: when the nonce is not base64 or shorter than 32 octets.
    """
    raw = _b64decode(nonce, "AKA nonce")
    if len(raw) < _RAND_LEN + _AUTN_LEN:
        raise ValueError(f"AKA nonce carries {len(raw)} octets, RAND || AUTN needs 32")
    return raw[:16], raw[16:32], raw[32:]


def auts_param(auts: bytes) -> str:
    """The value of the ``auts`` directive: base64(AUTS), RFC 3310 §3.4."""
    if len(auts) != _AUTS_LEN:
        raise ValueError(f"AUTS must be {_AUTS_LEN} octets, got {len(auts)}")
    return base64.b64encode(auts).decode("ascii")


def parse_auts_param(value: str) -> bytes:
    """AUTS from the ``auts`` directive, RFC 3310 §3.4.

    Raises:
        ValueError: when it is not base64 of 14 octets.
    """
    raw = _b64decode(value, "auts")
    if len(raw) != _AUTS_LEN:
        raise ValueError(f"auts carries {len(raw)} octets, expected {_AUTS_LEN}")
    return raw


def ha1(username: str, realm: str, password: bytes | str) -> str:
    """H(A1) = MD5(username ":" realm ":" password), RFC 2617 §3.2.2.2.

    ``password`` is bytes for AKA (the binary RES, RFC 3310 §3.1) and may
    be a str (UTF-8) for plain MD5 digest.
    """
    secret = password.encode("utf-8") if isinstance(password, str) else password
    return _h(f"{username}:{realm}:".encode() + secret)


def _ha2(method: str, uri: str, qop: str | None, body: bytes) -> str:
    """H(A2), RFC 2617 §3.2.2.3."""
    if qop == "auth-int":
        return _h(f"{method}:{uri}:{_h(body)}".encode())
    return _h(f"{method}:{uri}".encode())


def digest_response_from_ha1(
    ha1_hex: str,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The request-digest from a stored H(A1), RFC 2617 §3.2.2.1.

    Args:
        ha1_hex: H(A1) as 32 lowercase hex digits.
        nonce: the server nonce, as sent.
        method: the SIP method (``REGISTER``).
        uri: the digest-uri, as sent in ``uri=``.
        qop: None, ``"auth"`` or ``"auth-int"``.
        nc: nonce-count, 8 hex digits (with qop).
        cnonce: client nonce (with qop).
        body: the message body, for qop=auth-int.

    Raises:
        ValueError: on an unknown qop, or qop without nc/cnonce.
    """
    if qop is None:
        return _h(f"{ha1_hex}:{nonce}:{_ha2(method, uri, None, body)}".encode())
    if qop not in _QOPS:
        raise ValueError(f"unsupported qop {qop!r} (auth, auth-int)")
    if nc is None or cnonce is None:
        raise ValueError("qop requires nc and cnonce")
    ha2 = _ha2(method, uri, qop, body)
    return _h(f"{ha1_hex}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode())


def digest_response(
    username: str,
    realm: str,
    password: bytes | str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
    algorithm: str = ALGORITHM_AKAV1_MD5,
    body: bytes = b"",
) -> str:
    """The digest ``response`` value, RFC 2617 §3.2.2 / RFC 3310 §3.1.

    For ``algorithm="AKAv1-MD5"`` pass RES (bytes) as ``password``; for
    ``"MD5"`` the user's password. The arithmetic is the same.

    Raises:
        ValueError: on an unsupported algorithm or qop.
    """
    if algorithm.lower() not in _ALGORITHMS:
        raise ValueError(f"unsupported algorithm {algorithm!r} (MD5, AKAv1-MD5)")
    return digest_response_from_ha1(
        ha1(username, realm, password), nonce, method, uri, qop, nc, cnonce, body
    )


def responses_match(expected: str, received: str) -> bool:
    """Compare two response values in constant time, ignoring hex case."""
    return hmac.compare_digest(expected.lower().encode(), received.lower().encode())

"""scscf.auth: challenge building, the challenge store and verification."""

from __future__ import annotations

import base64

from scscf_fixtures import (
    DOMAIN,
    IMPI,
    IMPU_IMSI,
    IMPU_TEL,
    item,
    register,
    ue_authorization,
    vector,
)

from ims.auth.aka import make_auts
from ims.auth.digest import auts_param, digest_response, ha1, parse_aka_nonce
from ims.diameter.cx import AuthDataItem, AuthScheme, DigestAuthenticate
from ims.sip.headers.auth import Credentials, parse_challenge
from ims.sip.message import build_request
from scscf.auth import (
    AuthChallengeStore,
    PendingChallenge,
    Verdict,
    VerdictKind,
    build_challenge,
    digest_credentials,
    identify,
    impi_from_impu,
    pending_from_item,
    verify,
)


def _pending(now: float = 100.0) -> PendingChallenge:
    return pending_from_item(item(), IMPI, IMPU_IMSI, DOMAIN, now)


def _creds(pending: PendingChallenge, res: bytes | None, **kw: object) -> Credentials:
    req = register(auth=ue_authorization(pending.nonce, res, **kw))  # type: ignore[arg-type]
    creds = digest_credentials(req)
    assert creds is not None
    return creds


def test_challenge_carries_rand_autn_nonce_and_keys() -> None:
    v = vector()
    pending = _pending()
    challenge = build_challenge(pending)
    text = str(challenge)
    assert base64.b64decode(challenge.nonce or "") == v.rand + v.autn
    assert parse_aka_nonce(challenge.nonce or "")[:2] == (v.rand, v.autn)
    assert challenge.algorithm == "AKAv1-MD5"
    assert challenge.qop == ["auth"]
    assert f'ik="{v.ik.hex()}"' in text and f'ck="{v.ck.hex()}"' in text
    assert 'qop="auth"' in text and "auth-int" not in text
    again = parse_challenge(text)
    assert again.realm == DOMAIN and again.ik == v.ik.hex() and again.ck == v.ck.hex()


def test_ue_response_verifies() -> None:
    pending = _pending()
    assert verify(_creds(pending, vector().xres), "REGISTER", pending) == Verdict(VerdictKind.OK)


def test_pixel_split_authorization_verifies() -> None:
    pending = _pending()
    creds = _creds(pending, vector().xres, split=True)
    assert creds.nc == "00000001"
    assert verify(creds, "REGISTER", pending).ok


def test_wrong_res_fails() -> None:
    pending = _pending()
    wrong = bytes(b ^ 0xFF for b in vector().xres)
    assert verify(_creds(pending, wrong), "REGISTER", pending).kind is VerdictKind.WRONG_RES


def test_empty_response_is_mac_failure() -> None:
    pending = _pending()
    assert verify(_creds(pending, None), "REGISTER", pending).kind is VerdictKind.MAC_FAILURE


def test_auts_is_sync_failure_with_rand_and_auts() -> None:
    pending = _pending()
    auts = make_auts(bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc"),
                     bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf"), vector().rand, 42)
    verdict = verify(_creds(pending, None, auts=auts_param(auts)), "REGISTER", pending)
    assert verdict == Verdict(VerdictKind.SYNC_FAILURE, rand=vector().rand, auts=auts)


def test_unknown_when_nothing_pending_or_other_impi() -> None:
    pending = _pending()
    creds = _creds(pending, vector().xres)
    assert verify(creds, "REGISTER", None).kind is VerdictKind.UNKNOWN_NONCE
    other = _creds(pending, vector().xres, username="other@" + DOMAIN)
    assert verify(other, "REGISTER", pending).kind is VerdictKind.UNKNOWN_NONCE


def test_store_nonce_single_use_and_bound_to_impi() -> None:
    store = AuthChallengeStore()
    pending = _pending(now=100.0)
    store.add(pending)
    assert store.take(pending.nonce, "intruder@" + DOMAIN, 101.0) == Verdict(
        VerdictKind.UNKNOWN_NONCE)
    assert len(store) == 1  # the owner's challenge survives the probe
    assert store.take(pending.nonce, IMPI, 101.0) == pending
    assert store.take(pending.nonce, IMPI, 101.0) == Verdict(VerdictKind.UNKNOWN_NONCE)


def test_store_expiry() -> None:
    store = AuthChallengeStore()
    pending = _pending(now=100.0)  # default lifetime 30 s
    store.add(pending)
    assert store.take(pending.nonce, IMPI, 131.0) == Verdict(VerdictKind.STALE)
    store.add(_pending(now=100.0))
    assert store.expire(129.0) == 0 and store.expire(130.0) == 1 and len(store) == 0


def test_md5_digest_against_ha1() -> None:
    digest = DigestAuthenticate(realm=DOMAIN, ha1=ha1("alice@" + DOMAIN, DOMAIN, "secret"))
    sip_item = AuthDataItem(AuthScheme.SIP_DIGEST, 1, digest=digest)
    pending = pending_from_item(sip_item, "alice@" + DOMAIN, "sip:alice@" + DOMAIN, DOMAIN,
                                0.0, nonce="abcdef0123")
    assert build_challenge(pending).algorithm == "MD5"
    uri = f"sip:{DOMAIN}"
    good = digest_response("alice@" + DOMAIN, DOMAIN, "secret", "REGISTER", uri, "abcdef0123",
                           "auth", "00000001", "c1", algorithm="MD5")
    creds = Credentials(username="alice@" + DOMAIN, realm=DOMAIN, nonce="abcdef0123", uri=uri,
                        response=good, qop="auth", nc="00000001", cnonce="c1")
    assert verify(creds, "REGISTER", pending).ok
    creds.response = "0" * 32
    assert verify(creds, "REGISTER", pending).kind is VerdictKind.WRONG_RES


def test_identify_from_username_or_impu() -> None:
    assert identify(register()) == IMPI
    bare = build_request("REGISTER", f"sip:{DOMAIN}", [
        ("To", f"<sip:user@{DOMAIN}:5060;transport=udp>"), ("From", "<sip:x@y>;tag=1"),
        ("Call-ID", "c"), ("CSeq", "1 REGISTER")])
    assert identify(bare) == f"user@{DOMAIN}"
    assert impi_from_impu(IMPU_TEL + ";phone-context=x") == "+15550001"

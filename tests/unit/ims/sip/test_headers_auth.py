"""WWW-Authenticate / Authorization (RFC 3261 §20.7, §20.44; RFC 3310; TS 24.229 §7.2A)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ims.sip.errors import SipParseError
from ims.sip.headers.auth import (
    AKAV1_MD5,
    Challenge,
    Credentials,
    challenges,
    credentials,
    credentials_for_realm,
    parse_challenge,
    parse_challenges,
    parse_credentials,
    parse_credentials_lines,
    remove_challenge_keys,
)
from ims.sip.headers.params import Params, quote
from ims.sip.message import Message, Request, Response, parse_message

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMPI = f"001010123456789@{DOMAIN}"
# TS 35.208 test set 1: RAND, AUTN = SQN xor AK || AMF || MAC-A, CK, IK.
RAND = "23553cbe9637a89d218ae64dae47bf35"
AUTN = "55f328b43577b9b94a9ffac354dfafb3"
CK = "b40ba9a3c58b2a05bbf0d987b21bf8cb"
IK = "f769bcd751044604127672711c6d3441"
NONCE = base64.b64encode(bytes.fromhex(RAND + AUTN)).decode()


def _parse(*lines: str) -> Message:
    return parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())


def _register(*auth_lines: str) -> Request:
    msg = _parse(
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        "Via: SIP/2.0/UDP [2001:db8:1::2]:5060;branch=z9hG4bK3a91f;rport",
        "Max-Forwards: 70",
        f"From: <sip:001010123456789@{DOMAIN}>;tag=1928301774",
        f"To: <sip:001010123456789@{DOMAIN}>",
        "Call-ID: a84b4c76e66710@2001:db8:1::2",
        "CSeq: 1 REGISTER",
        *auth_lines,
        "Content-Length: 0",
    )
    assert isinstance(msg, Request)
    return msg


def _challenge_401() -> Response:
    msg = _parse(
        "SIP/2.0 401 Unauthorized",
        "Via: SIP/2.0/UDP pcscf.ims.mnc001.mcc001.3gppnetwork.org:5060;branch=z9hG4bKpc1",
        f"From: <sip:001010123456789@{DOMAIN}>;tag=1928301774",
        f"To: <sip:001010123456789@{DOMAIN}>;tag=scscf1",
        "Call-ID: a84b4c76e66710@2001:db8:1::2",
        "CSeq: 1 REGISTER",
        f'WWW-Authenticate: Digest realm="{DOMAIN}", nonce="{NONCE}", '
        f'algorithm=AKAv1-MD5, qop="auth,auth-int", ck="{CK}", ik="{IK}"',
        "Content-Length: 0",
    )
    assert isinstance(msg, Response)
    return msg


# -- challenges ------------------------------------------------------------
def test_aka_challenge_with_keys_is_read() -> None:
    [ch] = challenges(_challenge_401())
    assert ch.scheme == "Digest"
    assert ch.realm == DOMAIN
    assert base64.b64decode(ch.nonce or "").hex() == RAND + AUTN
    assert ch.algorithm == AKAV1_MD5
    assert ch.is_aka
    assert ch.qop == ["auth", "auth-int"]
    assert (ch.ck, ch.ik) == (CK, IK)


def test_without_keys_drops_ik_and_ck_only() -> None:
    [ch] = challenges(_challenge_401())
    stripped = ch.without_keys()
    assert str(stripped) == (
        f'Digest realm="{DOMAIN}", nonce="{NONCE}", algorithm=AKAv1-MD5, qop="auth,auth-int"'
    )
    assert (ch.ik, ch.ck) == (IK, CK)


def test_remove_challenge_keys_rewrites_401_and_returns_keys() -> None:
    resp = _challenge_401()
    [received] = remove_challenge_keys(resp)
    assert (received.ik, received.ck) == (IK, CK)
    wire = resp.to_bytes().decode()
    assert "ik=" not in wire and "ck=" not in wire
    assert f'nonce="{NONCE}"' in wire
    assert challenges(resp)[0].realm == DOMAIN


def test_remove_challenge_keys_leaves_keyless_line_byte_for_byte() -> None:
    resp = _parse(
        "SIP/2.0 407 Proxy Authentication Required",
        'proxy-authenticate:   Digest realm="x",nonce="n1" ',
        "Content-Length: 0",
    )
    before = resp.to_bytes()
    assert remove_challenge_keys(resp, "proxy-authenticate")[0].nonce == "n1"
    assert resp.to_bytes() == before


def test_challenge_stale_domain_opaque() -> None:
    ch = parse_challenge(
        'Digest realm="atlanta.com", domain="sip:ss1.carrier.com", qop="auth", '
        'nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5'
    )
    assert ch.stale is False
    assert ch.domain == "sip:ss1.carrier.com"
    assert ch.opaque == ""
    assert str(ch) == (
        'Digest realm="atlanta.com", domain="sip:ss1.carrier.com", '
        'nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=false, algorithm=MD5, '
        'qop="auth"'
    )


def test_unquoted_challenge_qop_and_unknown_params_are_kept() -> None:
    ch = parse_challenge('Digest realm="r", nonce="n", qop=auth, charset=UTF-8, x-y="a,b"')
    assert ch.qop == ["auth"]
    assert ch.extra.items() == [("charset", "UTF-8"), ("x-y", '"a,b"')]
    assert str(ch) == 'Digest realm="r", nonce="n", qop="auth", charset=UTF-8, x-y="a,b"'


def test_two_challenges_on_one_line_are_split() -> None:
    got = parse_challenges(['Digest realm="a", nonce="1", Digest realm="b", nonce="2"'])
    assert [(c.realm, c.nonce) for c in got] == [("a", "1"), ("b", "2")]


# -- credentials -----------------------------------------------------------
def test_first_register_with_empty_nonce_and_response() -> None:
    req = _register(
        f'Authorization: Digest username="{IMPI}",realm="{DOMAIN}",uri="sip:{DOMAIN}",'
        'nonce="",response="",algorithm=AKAv1-MD5'
    )
    [cred] = credentials(req)
    assert cred.username == IMPI
    assert (cred.nonce, cred.response) == ("", "")
    assert cred.uri == f"sip:{DOMAIN}"
    assert cred.is_aka
    assert str(cred) == (
        f'Digest username="{IMPI}", realm="{DOMAIN}", nonce="", uri="sip:{DOMAIN}", '
        'response="", algorithm=AKAv1-MD5'
    )


def test_pixel_split_after_qop_is_one_credentials() -> None:
    req = _register(
        f'Authorization: Digest username="{IMPI}",realm="{DOMAIN}",uri="sip:{DOMAIN}",'
        "algorithm=AKAv1-MD5,qop=auth",
        f'Authorization: nonce="{NONCE}",nc=00000001,cnonce="0a4f113b",'
        'response="6629fae49393a05397450978507c4ef1"',
    )
    [cred] = credentials(req)
    assert cred.username == IMPI
    assert cred.nonce == NONCE
    assert (cred.qop, cred.nc, cred.cnonce) == ("auth", "00000001", "0a4f113b")
    assert cred.response == "6629fae49393a05397450978507c4ef1"


def test_pixel_split_with_second_line_starting_with_qop() -> None:
    [cred] = parse_credentials_lines([
        f'Digest username="{IMPI}", realm="{DOMAIN}", nonce="{NONCE}"',
        f'qop=auth, nc=00000002, cnonce="c2", uri="sip:{DOMAIN}", response="ab"',
    ])
    assert (cred.nonce, cred.qop, cred.nc, cred.uri) == (NONCE, "auth", "00000002", f"sip:{DOMAIN}")


def test_resync_auts_and_integrity_protected() -> None:
    cred = parse_credentials(
        f'Digest username="{IMPI}", realm="{DOMAIN}", nonce="{NONCE}", uri="sip:{DOMAIN}", '
        'response="", algorithm=AKAv1-MD5, auts="CjkyMzRfOiwg5CfkJ2UK=", '
        'integrity-protected="yes"'
    )
    assert cred.auts == "CjkyMzRfOiwg5CfkJ2UK="
    assert cred.integrity_protected == "yes"
    assert str(cred).endswith(', auts="CjkyMzRfOiwg5CfkJ2UK=", integrity-protected="yes"')


def test_tolerant_quoting_serialises_per_grammar() -> None:
    cred = parse_credentials(
        'Digest username="alice", realm=atlanta.com, nonce="n", uri="sip:bob@biloxi.com", '
        'response="5a0f", algorithm="MD5", qop="auth", nc="0000000A", cnonce="c", '
        "integrity-protected=tls-yes"
    )
    assert (cred.realm, cred.algorithm) == ("atlanta.com", "MD5")
    assert (cred.qop, cred.nc) == ("auth", "0000000A")
    assert str(cred) == (
        'Digest username="alice", realm="atlanta.com", nonce="n", uri="sip:bob@biloxi.com", '
        'response="5a0f", algorithm=MD5, cnonce="c", qop=auth, nc=0000000A, '
        'integrity-protected="tls-yes"'
    )


def test_lws_around_equal_and_escaped_quotes() -> None:
    cred = parse_credentials(r'Digest username = "a\"b" , realm= "r\\x"')
    assert (cred.username, cred.realm) == ('a"b', "r\\x")
    assert str(cred) == r'Digest username="a\"b", realm="r\\x"'


def test_credentials_for_realm_picks_matching_one() -> None:
    req = _register(
        'Authorization: Digest username="a", realm="other.net", nonce="1", response=""',
        f'Authorization: Digest username="{IMPI}", realm="{DOMAIN}", nonce="2", response=""',
    )
    found = credentials_for_realm(req, DOMAIN)
    assert found is not None and found.nonce == "2"
    assert credentials_for_realm(req, "nowhere.net") is None
    assert credentials(req, "proxy-authorization") == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('nonce="x"', "auth-param before auth-scheme"),
        ("Digest realm", "Bad auth-param"),
        ('Digest realm="x', "Unterminated quoted string"),
        ('Digest realm="x"y', "Bad quoted value"),
        ("Digest a=b c", "Bad value of auth-param"),
        ("Digest a=", "Bad value of auth-param"),
        ('Digest realm="a", realm="b"', "Repeated auth-param"),
        ('Digest x="a", X="b"', "Repeated auth-param"),
        ("Digest nc=1", "Bad nc value"),
        ('Digest b@d="1"', "Bad auth-param"),
        ("", "Expected one credentials, found 0"),
        ('Digest a="1", Basic b="2"', "Expected one credentials, found 2"),
    ],
)
def test_malformed_credentials_raise(text: str, reason: str) -> None:
    with pytest.raises(SipParseError, match=reason):
        parse_credentials(text)


def test_bad_stale_raises() -> None:
    with pytest.raises(SipParseError, match="Bad stale value"):
        parse_challenge('Digest realm="r", stale=maybe')


# -- properties ------------------------------------------------------------
_TOKENS = st.from_regex(r"[A-Za-z0-9\-.!%*_+`'~]{1,12}", fullmatch=True)
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=24)
_OPT_TEXT = st.none() | _TEXT
_OPT_TOKEN = st.none() | _TOKENS
_OPT_NC = st.none() | st.from_regex(r"[0-9a-fA-F]{8}", fullmatch=True)
_KNOWN = {
    "realm", "domain", "nonce", "opaque", "stale", "algorithm", "qop", "ik", "ck", "username",
    "uri", "response", "cnonce", "nc", "auts", "integrity-protected",
}


@st.composite
def _extras(draw: st.DrawFn) -> Params:
    names = draw(st.lists(_TOKENS.filter(lambda n: n.lower() not in _KNOWN), max_size=3,
                          unique_by=str.lower))
    values = [draw(_TOKENS | _TEXT.map(quote)) for _ in names]
    return Params(list(zip(names, values, strict=True)))


_CHALLENGES = st.builds(
    Challenge, scheme=_TOKENS, realm=_OPT_TEXT, domain=_OPT_TEXT, nonce=_OPT_TEXT,
    opaque=_OPT_TEXT, stale=st.none() | st.booleans(), algorithm=_OPT_TOKEN,
    qop=st.lists(_TOKENS, max_size=3), ik=_OPT_TEXT, ck=_OPT_TEXT, extra=_extras(),
)
_CREDENTIALS = st.builds(
    Credentials, scheme=_TOKENS, username=_OPT_TEXT, realm=_OPT_TEXT, nonce=_OPT_TEXT,
    uri=_OPT_TEXT, response=_OPT_TEXT, algorithm=_OPT_TOKEN | _TEXT, cnonce=_OPT_TEXT,
    opaque=_OPT_TEXT, qop=_OPT_TOKEN, nc=_OPT_NC,
    auts=_OPT_TEXT, integrity_protected=_OPT_TEXT, extra=_extras(),
)


@given(_CHALLENGES)
def test_challenge_round_trips(ch: Challenge) -> None:
    again = parse_challenge(str(ch))
    assert again == ch
    assert str(again) == str(ch)


@given(_CREDENTIALS)
def test_credentials_round_trip(cred: Credentials) -> None:
    again = parse_credentials(str(cred))
    assert again == cred
    assert str(again) == str(cred)


@given(st.text(max_size=80))
def test_arbitrary_text_raises_only_sip_parse_error(text: str) -> None:
    for parse in (parse_challenges, parse_credentials_lines):
        try:
            parse([text])
        except SipParseError:
            pass


@given(st.lists(st.sampled_from(['Digest', ' ', ',', '=', '"', "\\", "realm", "nc", "a", "1"]),
                max_size=20).map("".join))
def test_grammar_fragments_raise_only_sip_parse_error(text: str) -> None:
    for parse in (parse_challenges, parse_credentials_lines):
        try:
            parse([text])
        except SipParseError:
            pass

"""Digest MD5 (RFC 2617) and AKAv1-MD5 (RFC 3310), tests/vectors/rfc3310/."""

from __future__ import annotations

import base64

import pytest

from ims.auth.aka import generate_vector
from ims.auth.digest import (
    aka_nonce,
    auts_param,
    digest_response,
    digest_response_from_ha1,
    ha1,
    parse_aka_nonce,
    parse_auts_param,
    responses_match,
)

from .vectors import VECTORS, hexval, load_records, load_ts35208

AKA_RECORDS = load_records(VECTORS / "rfc3310" / "akav1-md5.txt")
SET1 = load_ts35208(VECTORS / "ts35208" / "ts35208-4.3-test-sets.txt")[0]

# RFC 2617 §3.5, the example exchange ("Mufasa" / "Circle Of Life").
MUFASA = {
    "username": "Mufasa",
    "realm": "testrealm@host.com",
    "password": "Circle Of Life",
    "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
    "uri": "/dir/index.html",
    "nc": "00000001",
    "cnonce": "0a4f113b",
    "response": "6629fae49393a05397450978507c4ef1",
}


def test_rfc2617_example_md5() -> None:
    got = digest_response(
        MUFASA["username"],
        MUFASA["realm"],
        MUFASA["password"],
        "GET",
        MUFASA["uri"],
        MUFASA["nonce"],
        qop="auth",
        nc=MUFASA["nc"],
        cnonce=MUFASA["cnonce"],
        algorithm="MD5",
    )
    assert got == MUFASA["response"]


def test_rfc2617_example_from_stored_ha1() -> None:
    stored = ha1(MUFASA["username"], MUFASA["realm"], MUFASA["password"])
    assert stored == ha1(MUFASA["username"], MUFASA["realm"], MUFASA["password"].encode())
    got = digest_response_from_ha1(
        stored, MUFASA["nonce"], "GET", MUFASA["uri"], "auth", MUFASA["nc"], MUFASA["cnonce"]
    )
    assert got == MUFASA["response"]


def _qop_args(record: dict[str, str]) -> dict[str, str | None]:
    return {key.lower(): record[key] or None for key in ("QOP", "NC", "CNONCE")}


@pytest.mark.parametrize("record", AKA_RECORDS, ids=lambda r: f"count{r['COUNT']}")
def test_akav1_md5_vectors(record: dict[str, str]) -> None:
    nonce = aka_nonce(hexval(record, "RAND"), hexval(record, "AUTN"))
    assert nonce == record["NONCE"]
    got = digest_response(
        record["USERNAME"],
        record["REALM"],
        hexval(record, "PASSWORD"),
        record["METHOD"],
        record["URI"],
        nonce,
        algorithm=record["ALGORITHM"],
        body=hexval(record, "BODY"),
        **_qop_args(record),
    )
    assert got == record["RESPONSE"]


def test_derived_records_use_ts35208_set1() -> None:
    # The derived AKA records take RAND, AUTN and RES from TS 35.208 test set 1.
    vector = generate_vector(SET1["K"], SET1["OPc"], SET1["AMF"], SET1["SQN"], SET1["RAND"])
    record = AKA_RECORDS[2]
    assert vector.autn == hexval(record, "AUTN")
    assert vector.xres == hexval(record, "PASSWORD") == SET1["f2"]


def test_nonce_round_trip_with_server_data() -> None:
    rand, autn = bytes(range(16)), bytes(range(16, 32))
    nonce = aka_nonce(rand, autn, b"server-specific")
    assert parse_aka_nonce(nonce) == (rand, autn, b"server-specific")
    assert base64.b64decode(nonce) == rand + autn + b"server-specific"


def test_parse_published_nonce() -> None:
    rand, autn, extra = parse_aka_nonce(AKA_RECORDS[0]["NONCE"])
    assert rand == bytes(16)
    assert autn.hex() == "03040506070800000001020304050607"
    assert extra == b""


@pytest.mark.parametrize("nonce", ["not base64!", base64.b64encode(bytes(31)).decode(), ""])
def test_parse_bad_nonce(nonce: str) -> None:
    with pytest.raises(ValueError, match="AKA nonce"):
        parse_aka_nonce(nonce)


def test_aka_nonce_checks_lengths() -> None:
    with pytest.raises(ValueError, match="RAND must be 16 octets"):
        aka_nonce(bytes(15), bytes(16))
    with pytest.raises(ValueError, match="AUTN must be 16 octets"):
        aka_nonce(bytes(16), bytes(17))


def test_auts_param_round_trip() -> None:
    auts = bytes.fromhex("43681ad3daf006bcde405a207267")
    assert parse_auts_param(auts_param(auts)) == auts
    with pytest.raises(ValueError, match="auts carries 13 octets"):
        parse_auts_param(base64.b64encode(bytes(13)).decode())
    with pytest.raises(ValueError, match="AUTS must be 14 octets"):
        auts_param(bytes(12))


def test_algorithm_and_qop_validation() -> None:
    with pytest.raises(ValueError, match="unsupported algorithm"):
        digest_response("u", "r", b"p", "REGISTER", "sip:r", "n", algorithm="SHA-256")
    with pytest.raises(ValueError, match="unsupported qop"):
        digest_response(
            "u", "r", b"p", "REGISTER", "sip:r", "n", qop="auth-conf", nc="1", cnonce="c"
        )
    with pytest.raises(ValueError, match="qop requires nc and cnonce"):
        digest_response("u", "r", b"p", "REGISTER", "sip:r", "n", qop="auth")


def test_algorithm_name_is_case_insensitive() -> None:
    args = ("u", "r", b"\x01\x02", "REGISTER", "sip:r", "n")
    assert digest_response(*args, algorithm="akav1-md5") == digest_response(*args, algorithm="MD5")


def test_auth_int_depends_on_body() -> None:
    args = ("u", "r", b"res", "REGISTER", "sip:r", "n")
    kwargs = {"qop": "auth-int", "nc": "00000001", "cnonce": "c"}
    assert digest_response(*args, body=b"a", **kwargs) != digest_response(
        *args, body=b"b", **kwargs
    )


def test_responses_match() -> None:
    assert responses_match("6629fae49393a05397450978507c4ef1", "6629FAE49393A05397450978507C4EF1")
    assert not responses_match(
        "6629fae49393a05397450978507c4ef1", "6629fae49393a05397450978507c4ef0"
    )
    assert not responses_match("6629fae49393a05397450978507c4ef1", "")

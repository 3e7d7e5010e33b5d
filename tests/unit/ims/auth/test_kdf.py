"""KDF (TS 33.220 Annex B.2) and KASME (TS 33.401 Annex A.2), tests/vectors/ts33401/."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from ims.auth.kdf import FC_KASME, kasme, kdf, plmn_id

from .vectors import VECTORS, hexval, load_records

KASME_RECORDS = load_records(VECTORS / "ts33401" / "kasme.txt")


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("record", KASME_RECORDS, ids=lambda r: f"count{r['COUNT']}")
def test_kasme_vectors(record: dict[str, str]) -> None:
    sqn_xor_ak = _xor(hexval(record, "SQN"), hexval(record, "AK"))
    got = kasme(hexval(record, "CK"), hexval(record, "IK"), hexval(record, "SN_ID"), sqn_xor_ak)
    assert got == hexval(record, "KASME")


def test_open5gs_vector_is_first() -> None:
    # The one public (non-derived) KASME value: Open5GS security_test3.
    assert KASME_RECORDS[0]["SOURCE"].startswith("Open5GS")
    assert KASME_RECORDS[0]["KASME"].startswith("238e457e0f758bad")


def test_kdf_string_layout() -> None:
    # S = FC || P0 || L0 || P1 || L1 (TS 33.220 Annex B.2.0), checked against raw HMAC.
    key = bytes(range(32))
    s = bytes([0x10]) + b"\x02\xf8\x39" + b"\x00\x03" + b"abcdef" + b"\x00\x06"
    expected = hmac.new(key, s, hashlib.sha256).digest()
    assert kdf(key, FC_KASME, b"\x02\xf8\x39", b"abcdef") == expected
    assert len(expected) == 32


def test_kdf_without_parameters_is_hmac_of_fc() -> None:
    key = b"k" * 16
    assert kdf(key, 0x6A) == hmac.new(key, b"\x6a", hashlib.sha256).digest()


def test_kdf_rejects_bad_fc_and_long_parameter() -> None:
    with pytest.raises(ValueError, match="FC must be one octet"):
        kdf(b"k", 0x100)
    with pytest.raises(ValueError, match="P1 is 65536 octets"):
        kdf(b"k", 0x10, b"", bytes(65536))


@pytest.mark.parametrize(
    ("mcc", "mnc", "expected"),
    [
        ("001", "01", "00f110"),  # 2-digit MNC: filler F in MNC digit 3
        ("310", "410", "130014"),  # 3-digit MNC
        ("208", "93", "02f839"),
        ("262", "01", "62f210"),
    ],
)
def test_plmn_id_ts24301_layout(mcc: str, mnc: str, expected: str) -> None:
    assert plmn_id(mcc, mnc).hex() == expected


@pytest.mark.parametrize(
    ("mcc", "mnc"), [("01", "01"), ("0010", "01"), ("001", "1"), ("00a", "01")]
)
def test_plmn_id_rejects_bad_digits(mcc: str, mnc: str) -> None:
    with pytest.raises(ValueError, match="MCC|MNC"):
        plmn_id(mcc, mnc)


def test_kasme_rejects_wrong_lengths() -> None:
    with pytest.raises(ValueError, match="serving network identity must be 3 octets"):
        kasme(bytes(16), bytes(16), bytes(4), bytes(6))
    with pytest.raises(ValueError, match="SQN xor AK must be 6 octets"):
        kasme(bytes(16), bytes(16), bytes(3), bytes(5))
    with pytest.raises(ValueError, match="CK must be 16 octets"):
        kasme(bytes(15), bytes(16), bytes(3), bytes(6))

"""AKA vectors, the USIM check and resynchronisation (TS 33.102 §6.3, TS 33.401 §6.1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ims.auth.aka import (
    AMF_SEPARATION_BIT,
    AuthVector,
    UsimStatus,
    build_autn,
    generate_eutran_vector,
    generate_vector,
    make_auts,
    plmn_id,
    resync,
    split_autn,
    usim_check,
    with_separation_bit,
)
from ims.auth.kdf import kasme
from ims.auth.sqn import SqnArray, make_sqn, next_sqn, sqn_after_resync

from .vectors import VECTORS, MilenageTestSet, hexval, load_records, load_ts35208

TEST_SETS = load_ts35208(VECTORS / "ts35208" / "ts35208-4.3-test-sets.txt")
AUTS_RECORDS = load_records(VECTORS / "ts35208" / "auts.txt")
KASME_RECORDS = load_records(VECTORS / "ts33401" / "kasme.txt")
SET1, SET3, SET19 = TEST_SETS[0], TEST_SETS[2], TEST_SETS[18]


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _vector(t: MilenageTestSet) -> AuthVector:
    return generate_vector(t["K"], t["OPc"], t["AMF"], t["SQN"], t["RAND"])


@pytest.mark.parametrize("t", TEST_SETS, ids=lambda t: f"set{t.number}")
def test_vector_composition_from_ts35208(t: MilenageTestSet) -> None:
    v = _vector(t)
    assert v.rand == t["RAND"]
    assert v.xres == t["f2"]
    assert v.ck == t["f3"]
    assert v.ik == t["f4"]
    assert v.ak == t["f5"]
    # AUTN = SQN xor AK || AMF || MAC-A (TS 33.102 §6.3.2)
    assert v.autn == _xor(t["SQN"], t["f5"]) + t["AMF"] + t["f1"]


def test_vector_with_integer_sqn_is_identical() -> None:
    as_int = generate_vector(
        SET1["K"], SET1["OPc"], SET1["AMF"], int.from_bytes(SET1["SQN"], "big"), SET1["RAND"]
    )
    assert as_int == _vector(SET1)


def test_rfc5448_case1_autn_is_ts35208_set19() -> None:
    # RFC 5448 Appendix C, case 1 uses this AUTN with the CK/IK of test set 19.
    assert _vector(SET19).autn.hex() == "bb52e91c747ac3ab2a5c23d15ee351d5"


def test_autn_split_and_build() -> None:
    v = _vector(SET1)
    conc, amf, mac = split_autn(v.autn)
    assert (conc, amf, mac) == (_xor(SET1["SQN"], SET1["f5"]), SET1["AMF"], SET1["f1"])
    assert build_autn(conc, amf, mac) == v.autn
    with pytest.raises(ValueError, match="AUTN must be 16 octets"):
        split_autn(v.autn[:15])


def test_separation_bit() -> None:
    assert with_separation_bit(bytes.fromhex("725c")).hex() == "f25c"
    assert with_separation_bit(bytes.fromhex("8000")).hex() == "8000"
    assert with_separation_bit(bytes.fromhex("0000")).hex() == "8000"
    assert AMF_SEPARATION_BIT == 0x80


def test_eutran_vector_forces_separation_bit_and_derives_kasme() -> None:
    record = KASME_RECORDS[3]  # derived from test set 3 with AMF forced to f25c
    sn_id = plmn_id("001", "01")
    v = generate_eutran_vector(
        SET3["K"], SET3["OPc"], SET3["AMF"], SET3["SQN"], SET3["RAND"], sn_id
    )
    assert SET3["AMF"].hex() == "725c"
    assert v.autn[6:8].hex() == "f25c"
    assert v.autn == hexval(record, "AUTN")
    assert v.kasme == hexval(record, "KASME")
    assert v.xres == SET3["f2"]  # XRES does not depend on AMF


def test_eutran_vector_keeps_ts35208_autn_when_bit_already_set() -> None:
    record = KASME_RECORDS[1]  # test set 19, AMF c3ab has the separation bit
    t = SET19
    v = generate_eutran_vector(
        t["K"], t["OPc"], t["AMF"], t["SQN"], t["RAND"], plmn_id("001", "01")
    )
    assert v.autn == _vector(t).autn
    assert v.kasme == hexval(record, "KASME")
    assert v.kasme == kasme(t["f3"], t["f4"], plmn_id("001", "01"), v.autn[:6])


def test_usim_accepts_network_vector() -> None:
    v = _vector(SET1)
    sqn = int.from_bytes(SET1["SQN"], "big")
    result = usim_check(SET1["K"], SET1["OPc"], v.rand, v.autn, sqn - 32)
    assert result.ok
    assert result.status is UsimStatus.SUCCESS
    assert (result.res, result.ck, result.ik) == (SET1["f2"], SET1["f3"], SET1["f4"])
    assert result.sqn == sqn
    assert result.amf == SET1["AMF"]
    assert result.auts is None


@pytest.mark.parametrize("octet", range(16))
def test_corrupted_autn_is_mac_failure(octet: int) -> None:
    v = _vector(SET1)
    bad = bytearray(v.autn)
    bad[octet] ^= 0x01
    result = usim_check(SET1["K"], SET1["OPc"], v.rand, bytes(bad), 0)
    assert result.status is UsimStatus.MAC_FAILURE
    assert result.res is None and result.ck is None and result.ik is None
    assert result.auts is None


def test_sqn_beyond_delta_is_sync_failure() -> None:
    # TS 33.102 Annex C.2.1: a jump of more than Δ in SEQ is not accepted.
    v = _vector(SET3)  # SQN 9d0277595ffc, far above SQN_MS = 0
    result = usim_check(SET3["K"], SET3["OPc"], v.rand, v.autn, 0)
    assert result.status is UsimStatus.SYNC_FAILURE
    assert result.auts is not None
    assert resync(SET3["K"], SET3["OPc"], v.rand, result.auts) == 0


def test_wrong_key_is_mac_failure() -> None:
    v = _vector(SET1)
    assert usim_check(SET3["K"], SET1["OPc"], v.rand, v.autn, 0).status is UsimStatus.MAC_FAILURE


def test_sync_failure_produces_auts_and_network_recovers_sqn_ms() -> None:
    t = SET1
    sqn = int.from_bytes(t["SQN"], "big")
    sqn_ms = sqn + 64  # the USIM has already seen a later SQN
    v = _vector(t)
    result = usim_check(t["K"], t["OPc"], v.rand, v.autn, sqn_ms)
    assert result.status is UsimStatus.SYNC_FAILURE
    assert result.res is None
    assert result.auts is not None and len(result.auts) == 14
    # AUTS = SQN_MS xor AK* || MAC-S, AK* = f5* (TS 33.102 §6.3.3)
    assert result.auts[:6] == _xor(sqn_ms.to_bytes(6, "big"), t["f5*"])
    assert resync(t["K"], t["OPc"], v.rand, result.auts) == sqn_ms


def test_resync_then_new_vector_is_accepted() -> None:
    t = SET1
    usim = SqnArray.starting_at(make_sqn(1000, 3))
    # A stale vector for the same IND slot: SEQ 20 <= SEQ_MS(3) = 1000.
    stale = generate_vector(t["K"], t["OPc"], t["AMF"], make_sqn(20, 3), t["RAND"])
    failed = usim_check(
        t["K"], t["OPc"], stale.rand, stale.autn, usim.is_fresh, sqn_ms=usim.highest
    )
    assert failed.status is UsimStatus.SYNC_FAILURE and failed.auts is not None
    sqn_ms = resync(t["K"], t["OPc"], stale.rand, failed.auts)
    assert sqn_ms == make_sqn(1000, 3)
    sqn_he = sqn_after_resync(sqn_ms, current=make_sqn(20, 3))
    fresh = generate_vector(t["K"], t["OPc"], t["AMF"], next_sqn(sqn_he), bytes(16))
    ok = usim_check(t["K"], t["OPc"], fresh.rand, fresh.autn, usim.is_fresh, sqn_ms=usim.highest)
    assert ok.ok and ok.res == fresh.xres


@pytest.mark.parametrize("record", AUTS_RECORDS, ids=lambda r: f"count{r['COUNT']}")
def test_auts_vectors(record: dict[str, str]) -> None:
    k, opc, rand = hexval(record, "K"), hexval(record, "OPc"), hexval(record, "RAND")
    auts = hexval(record, "AUTS")
    sqn_ms = int(record["SQN_MS"], 16)
    assert resync(k, opc, rand, auts) == sqn_ms
    assert make_auts(k, opc, rand, sqn_ms) == auts


@pytest.mark.parametrize("octet", range(14))
def test_bad_auts_rejected(octet: int) -> None:
    record = AUTS_RECORDS[1]  # the AUTS produced by a real test USIM
    k, opc, rand = hexval(record, "K"), hexval(record, "OPc"), hexval(record, "RAND")
    bad = bytearray(hexval(record, "AUTS"))
    bad[octet] ^= 0x80
    assert resync(k, opc, rand, bytes(bad)) is None


def test_auts_bound_to_rand_and_key() -> None:
    record = AUTS_RECORDS[0]
    k, opc, auts = hexval(record, "K"), hexval(record, "OPc"), hexval(record, "AUTS")
    assert resync(k, opc, bytes(16), auts) is None
    assert resync(SET1["K"], SET1["OPc"], hexval(record, "RAND"), auts) is None
    with pytest.raises(ValueError, match="AUTS must be 14 octets"):
        resync(k, opc, bytes(16), auts[:13])


def test_separation_bit_required_for_eutran() -> None:
    t = SET3  # AMF 725c: separation bit 0
    sqn_ms = int.from_bytes(t["SQN"], "big") - 32
    v = _vector(t)
    result = usim_check(t["K"], t["OPc"], v.rand, v.autn, sqn_ms, require_separation_bit=True)
    assert result.status is UsimStatus.AMF_FAILURE
    assert usim_check(t["K"], t["OPc"], v.rand, v.autn, sqn_ms).ok  # UTRAN: no such check
    e = generate_eutran_vector(
        t["K"], t["OPc"], t["AMF"], t["SQN"], t["RAND"], plmn_id("001", "01")
    )
    accepted = usim_check(t["K"], t["OPc"], e.rand, e.autn, sqn_ms, require_separation_bit=True)
    assert accepted.ok and accepted.res == e.xres


def test_callable_freshness_needs_sqn_ms() -> None:
    v = _vector(SET1)
    with pytest.raises(ValueError, match="sqn_ms is required"):
        usim_check(SET1["K"], SET1["OPc"], v.rand, v.autn, lambda sqn: True)


def test_usim_check_input_lengths() -> None:
    v = _vector(SET1)
    with pytest.raises(ValueError, match="RAND must be 16 octets"):
        usim_check(SET1["K"], SET1["OPc"], v.rand[:8], v.autn, 0)
    with pytest.raises(ValueError, match="AUTN must be 16 octets"):
        usim_check(SET1["K"], SET1["OPc"], v.rand, v.autn + b"\x00", 0)
    with pytest.raises(ValueError, match="SQN must be 6 octets"):
        generate_vector(SET1["K"], SET1["OPc"], SET1["AMF"], bytes(5), SET1["RAND"])
    with pytest.raises(ValueError, match="SQN must be 0..2"):
        generate_vector(SET1["K"], SET1["OPc"], SET1["AMF"], 1 << 48, SET1["RAND"])


octets16 = st.binary(min_size=16, max_size=16)


@settings(max_examples=200)
@given(
    k=octets16,
    opc=octets16,
    rand=octets16,
    amf=st.binary(min_size=2, max_size=2),
    sqn=st.integers(min_value=1 << 5, max_value=(1 << 48) - 1),
)
def test_usim_accepts_every_generated_vector(
    k: bytes, opc: bytes, rand: bytes, amf: bytes, sqn: int
) -> None:
    v = generate_vector(k, opc, amf, sqn, rand)
    result = usim_check(k, opc, rand, v.autn, (sqn >> 5) - 1 << 5)
    assert result.ok
    assert (result.res, result.ck, result.ik, result.sqn) == (v.xres, v.ck, v.ik, sqn)


@settings(max_examples=100)
@given(
    k=octets16,
    opc=octets16,
    rand=octets16,
    sqn_ms=st.integers(min_value=0, max_value=(1 << 48) - 1),
)
def test_resync_recovers_any_sqn_ms(k: bytes, opc: bytes, rand: bytes, sqn_ms: int) -> None:
    assert resync(k, opc, rand, make_auts(k, opc, rand, sqn_ms)) == sqn_ms

"""MILENAGE against 3GPP TS 35.208 §4.3 test sets 1-20 (tests/vectors/ts35208/)."""

from __future__ import annotations

import pytest

from ims.auth import milenage
from ims.auth.milenage import Milenage, compute_opc

from .vectors import VECTORS, MilenageTestSet, load_ts35208

TEST_SETS = load_ts35208(VECTORS / "ts35208" / "ts35208-4.3-test-sets.txt")


def test_all_twenty_sets_loaded() -> None:
    assert [t.number for t in TEST_SETS] == list(range(1, 21))
    assert TEST_SETS[0]["K"].hex() == "465b5ce8b199b49faa5f0a2ee238a6bc"
    assert TEST_SETS[19]["f5*"].hex() == "4f2039392ddc"


@pytest.fixture(params=TEST_SETS, ids=lambda t: f"set{t.number}")
def milenage_set(request: pytest.FixtureRequest) -> MilenageTestSet:
    value: MilenageTestSet = request.param
    return value


def test_opc(milenage_set: MilenageTestSet) -> None:
    assert compute_opc(milenage_set["K"], milenage_set["OP"]) == milenage_set["OPc"]


def test_f1_mac_a(milenage_set: MilenageTestSet) -> None:
    m = Milenage(milenage_set["K"], milenage_set["OPc"])
    assert m.f1(milenage_set["RAND"], milenage_set["SQN"], milenage_set["AMF"]) == milenage_set["f1"]


def test_f1_star_mac_s(milenage_set: MilenageTestSet) -> None:
    m = Milenage(milenage_set["K"], milenage_set["OPc"])
    assert m.f1_star(milenage_set["RAND"], milenage_set["SQN"], milenage_set["AMF"]) == milenage_set["f1*"]


def test_f2_to_f5(milenage_set: MilenageTestSet) -> None:
    m = Milenage(milenage_set["K"], milenage_set["OPc"])
    rand = milenage_set["RAND"]
    assert m.f2(rand) == milenage_set["f2"]
    assert m.f3(rand) == milenage_set["f3"]
    assert m.f4(rand) == milenage_set["f4"]
    assert m.f5(rand) == milenage_set["f5"]
    assert m.f2345(rand) == (milenage_set["f2"], milenage_set["f3"], milenage_set["f4"], milenage_set["f5"])


def test_f5_star(milenage_set: MilenageTestSet) -> None:
    m = Milenage(milenage_set["K"], milenage_set["OPc"])
    assert m.f5_star(milenage_set["RAND"]) == milenage_set["f5*"]


def test_from_op_equals_opc(milenage_set: MilenageTestSet) -> None:
    m = Milenage.from_op(milenage_set["K"], milenage_set["OP"])
    assert m.opc == milenage_set["OPc"]
    assert m.f2(milenage_set["RAND"]) == milenage_set["f2"]


def test_module_functions_match_class() -> None:
    t = TEST_SETS[2]
    k, opc, rand, sqn, amf = t["K"], t["OPc"], t["RAND"], t["SQN"], t["AMF"]
    assert milenage.f1(k, opc, rand, sqn, amf).hex() == "9cabc3e99baf7281"
    assert milenage.f1_star(k, opc, rand, sqn, amf).hex() == "95814ba2b3044324"
    assert milenage.f2(k, opc, rand).hex() == "8011c48c0c214ed2"
    assert milenage.f3(k, opc, rand).hex() == "5dbdbb2954e8f3cde665b046179a5098"
    assert milenage.f4(k, opc, rand).hex() == "59a92d3b476a0443487055cf88b2307b"
    assert milenage.f5(k, opc, rand).hex() == "33484dc2136b"
    assert milenage.f5_star(k, opc, rand).hex() == "deacdd848cc6"


def test_constants_are_ts35206() -> None:
    assert (milenage.R1, milenage.R2, milenage.R3, milenage.R4, milenage.R5) == (64, 0, 32, 64, 96)
    assert milenage.C1 == bytes(16)
    assert [c[-1] for c in (milenage.C2, milenage.C3, milenage.C4, milenage.C5)] == [1, 2, 4, 8]
    assert all(c[:15] == bytes(15) for c in (milenage.C2, milenage.C3, milenage.C4, milenage.C5))


@pytest.mark.parametrize(
    ("k", "opc", "message"),
    [
        (bytes(15), bytes(16), "K must be 16 octets, got 15"),
        (bytes(16), bytes(17), "OPc must be 16 octets, got 17"),
    ],
)
def test_key_lengths_rejected(k: bytes, opc: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Milenage(k, opc)


def test_input_lengths_rejected() -> None:
    m = Milenage(bytes(16), bytes(16))
    with pytest.raises(ValueError, match="RAND must be 16 octets, got 8"):
        m.f2(bytes(8))
    with pytest.raises(ValueError, match="SQN must be 6 octets, got 5"):
        m.f1(bytes(16), bytes(5), bytes(2))
    with pytest.raises(ValueError, match="AMF must be 2 octets, got 3"):
        m.f1(bytes(16), bytes(6), bytes(3))
    with pytest.raises(ValueError, match="OP must be 16 octets, got 0"):
        compute_opc(bytes(16), b"")


def test_text_instead_of_bytes_rejected() -> None:
    with pytest.raises(TypeError, match="K must be bytes"):
        Milenage("465b5ce8b199b49faa5f0a2ee238a6bc", bytes(16))  # type: ignore[arg-type]

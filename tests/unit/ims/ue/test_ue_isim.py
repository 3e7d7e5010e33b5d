"""The emulated UE's ISIM: TS 33.102 §6.3.3 outcomes on TS 35.208 Test Set 1."""

from __future__ import annotations

from ue_vectors import AMF, CK, IK, IMPI, IMPU, OP, OPC, RAND, RES, SQN, K

from ims.auth.aka import generate_vector, resync
from ims.auth.sqn import SqnArray
from ims.ue.isim import AkaStatus, Isim


def isim(sqn_ms: int = SQN - 32) -> Isim:
    return Isim(IMPI, IMPU, K, OPC, AMF, SqnArray.starting_at(sqn_ms))


def test_from_op_derives_opc_of_test_set_1() -> None:
    card = Isim.from_op(IMPI, IMPU, K, OP)
    assert card.opc == OPC
    assert card.amf == b"\x80\x00" and card.sqn_ms == 0 and not card.trust_network
    trusting = Isim.from_op(IMPI, IMPU, K, OP, AMF, SqnArray.starting_at(SQN), trust_network=True)
    assert (trusting.opc, trusting.amf, trusting.sqn_ms, trusting.trust_network) == (OPC, AMF, SQN, True)


def test_success_gives_res_ck_ik_of_test_set_1_and_advances_sqn() -> None:
    card = isim()
    vector = generate_vector(K, OPC, AMF, SQN, RAND)
    outcome = card.authenticate(RAND, vector.autn)
    assert outcome.status is AkaStatus.SUCCESS
    assert (outcome.res, outcome.ck, outcome.ik) == (RES, CK, IK)
    assert outcome.sqn == SQN and outcome.auts is None and outcome.checked
    assert card.sqn_ms == SQN


def test_replayed_challenge_is_a_sync_failure_with_auts_the_hss_accepts() -> None:
    card = isim()
    autn = generate_vector(K, OPC, AMF, SQN, RAND).autn
    card.authenticate(RAND, autn)
    outcome = card.authenticate(RAND, autn)
    assert outcome.status is AkaStatus.SYNC_FAILURE
    assert outcome.res is None and outcome.auts is not None and len(outcome.auts) == 14
    assert resync(K, OPC, RAND, outcome.auts) == SQN


def test_sqn_behind_the_isim_is_a_sync_failure_carrying_sqn_ms() -> None:
    card = isim(sqn_ms=SQN + 32 * 5)
    outcome = card.authenticate(RAND, generate_vector(K, OPC, AMF, SQN, RAND).autn)
    assert outcome.status is AkaStatus.SYNC_FAILURE
    assert outcome.auts is not None
    assert resync(K, OPC, RAND, outcome.auts) == SQN + 32 * 5
    assert card.sqn_ms == SQN + 32 * 5


def test_wrong_k_is_a_mac_failure_without_res() -> None:
    card = Isim(IMPI, IMPU, bytes(16), OPC, AMF, SqnArray.starting_at(SQN - 32))
    outcome = card.authenticate(RAND, generate_vector(K, OPC, AMF, SQN, RAND).autn)
    assert outcome.status is AkaStatus.MAC_FAILURE
    assert (outcome.res, outcome.auts, outcome.sqn) == (None, None, None)
    assert card.sqn_ms == SQN - 32


def test_trust_network_skips_the_check_and_answers_res_of_its_own_k() -> None:
    card = Isim(IMPI, IMPU, K, OPC, AMF, trust_network=True)
    outcome = card.authenticate(RAND, bytes(16))  # garbage AUTN: not checked
    assert outcome.status is AkaStatus.SUCCESS and not outcome.checked
    assert (outcome.res, outcome.ck, outcome.ik) == (RES, CK, IK)
    wrong = Isim(IMPI, IMPU, bytes(16), OPC, AMF, trust_network=True)
    assert wrong.authenticate(RAND, bytes(16)).res != RES

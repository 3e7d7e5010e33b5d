"""SQN management, TS 33.102 Annex C (SEQ/IND, the USIM's array, Δ and L)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ims.auth.sqn import (
    DELTA,
    IND_EPS,
    IND_IMS,
    SQN_MAX,
    SqnArray,
    is_acceptable,
    make_sqn,
    next_sqn,
    split_sqn,
    sqn_after_resync,
    sqn_from_bytes,
    sqn_to_bytes,
)


def test_layout_seq_43_ind_5() -> None:
    assert make_sqn(1, 0) == 32
    assert make_sqn(3, 5) == 3 * 32 + 5
    assert split_sqn(0x2A) == (1, 10)
    assert split_sqn(SQN_MAX) == ((1 << 43) - 1, 31)


def test_make_sqn_rejects_overflow() -> None:
    with pytest.raises(ValueError, match="IND must fit in 5 bits"):
        make_sqn(1, 32)
    with pytest.raises(ValueError, match="SEQ must fit in 43 bits"):
        make_sqn(1 << 43, 0)
    with pytest.raises(ValueError, match="SQN must be 0..2"):
        split_sqn(SQN_MAX + 1)


def test_bytes_round_trip() -> None:
    assert sqn_to_bytes(0xFF9BB4D0B607).hex() == "ff9bb4d0b607"
    assert sqn_from_bytes(bytes.fromhex("ff9bb4d0b607")) == 0xFF9BB4D0B607
    with pytest.raises(ValueError, match="6 octets"):
        sqn_from_bytes(bytes(5))
    with pytest.raises(ValueError):
        sqn_to_bytes(-1)


def test_next_sqn_increments_seq_and_sets_ind() -> None:
    assert next_sqn(0) == 32  # SEQ 1, IND 0
    assert next_sqn(make_sqn(7, 3)) == make_sqn(8, 3)  # IND kept
    assert next_sqn(make_sqn(7, 3), ind=IND_IMS) == make_sqn(8, IND_IMS)
    assert next_sqn(make_sqn(7, IND_IMS), ind=IND_EPS) == make_sqn(8, IND_EPS)
    with pytest.raises(ValueError, match="SEQ must fit"):
        next_sqn(SQN_MAX)


def test_resync_resets_past_sqn_ms() -> None:
    sqn_ms = make_sqn(100, 7)
    new = sqn_after_resync(sqn_ms, current=make_sqn(5, 1))
    assert new == make_sqn(101, IND_IMS)
    assert new > sqn_ms
    # Both the value itself and the next one are fresh for the USIM.
    usim = SqnArray.starting_at(sqn_ms)
    assert usim.is_fresh(new)
    assert usim.is_fresh(next_sqn(new))


def test_resync_keeps_a_counter_that_is_already_ahead() -> None:
    # A stale vector caused the failure; SQN_HE is fine and is kept.
    sqn_ms = make_sqn(100, 1)
    assert sqn_after_resync(sqn_ms, current=make_sqn(104, 1)) == make_sqn(104, 1)


def test_resync_pulls_back_a_counter_too_far_ahead() -> None:
    sqn_ms = make_sqn(100, 1)
    far = make_sqn(100 + DELTA + 5, 1)
    assert sqn_after_resync(sqn_ms, current=far, ind=IND_EPS) == make_sqn(101, IND_EPS)


def test_is_acceptable_window() -> None:
    sqn_ms = make_sqn(10, 0)
    assert is_acceptable(make_sqn(11, 0), sqn_ms)
    assert is_acceptable(make_sqn(10 + DELTA, 4), sqn_ms)
    assert not is_acceptable(make_sqn(10, 31), sqn_ms)  # same SEQ: replay
    assert not is_acceptable(make_sqn(9, 0), sqn_ms)
    assert not is_acceptable(make_sqn(11 + DELTA, 0), sqn_ms)  # jump beyond Δ


def test_array_accepts_out_of_order_across_ind() -> None:
    # Annex C.2.2: a vector with a lower SEQ is still fresh in another IND slot.
    usim = SqnArray().accept(make_sqn(5, IND_IMS))
    assert usim.is_fresh(make_sqn(3, IND_EPS))
    usim = usim.accept(make_sqn(3, IND_EPS))
    assert usim.seq_ms[IND_IMS] == 5
    assert usim.seq_ms[IND_EPS] == 3
    assert usim.highest == make_sqn(5, IND_IMS)


def test_array_rejects_replay_in_same_ind() -> None:
    usim = SqnArray().accept(make_sqn(5, 2))
    assert not usim.is_fresh(make_sqn(5, 2))
    assert not usim.is_fresh(make_sqn(4, 2))
    with pytest.raises(ValueError, match="not fresh"):
        usim.accept(make_sqn(4, 2))


def test_array_delta_and_limit() -> None:
    usim = SqnArray(limit=4).accept(make_sqn(100, 0))
    assert not usim.is_fresh(make_sqn(100 + DELTA + 1, 1))  # beyond Δ
    assert usim.is_fresh(make_sqn(97, 1))  # SEQ_MS - SEQ = 3 < L
    assert not usim.is_fresh(make_sqn(96, 1))  # SEQ_MS - SEQ = 4, not < L


def test_empty_array() -> None:
    usim = SqnArray()
    assert usim.highest == 0
    assert not usim.is_fresh(make_sqn(0, 9))  # SEQ must exceed the initial 0
    assert usim.is_fresh(make_sqn(1, 9))
    with pytest.raises(ValueError, match="32 entries"):
        SqnArray(seq_ms=(0,) * 31)


@given(
    start=st.integers(min_value=0, max_value=(1 << 40)),
    inds=st.lists(st.sampled_from([IND_EPS, IND_IMS]), min_size=1, max_size=20),
)
def test_hss_sequence_always_fresh_in_issue_order(start: int, inds: list[int]) -> None:
    # Vectors issued by next_sqn and used in order are always accepted.
    usim = SqnArray.starting_at(make_sqn(start, 0))
    sqn_he = make_sqn(start, 0)
    for ind in inds:
        sqn_he = next_sqn(sqn_he, ind=ind)
        usim = usim.accept(sqn_he)
    assert usim.highest == sqn_he

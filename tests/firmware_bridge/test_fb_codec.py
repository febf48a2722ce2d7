"""Register encoding: known vectors and round trips for every type and word order."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.codec import RegisterType, WordOrder, clamp_raw, decode, encode, raw_range


@pytest.mark.parametrize(("raw", "type_", "order", "words"), [
    (-2, "s32", "big", [0xFFFF, 0xFFFE]),
    (-2, "s32", "little", [0xFFFE, 0xFFFF]),
    (0x12345678, "u32", "big", [0x1234, 0x5678]),
    (0x12345678, "u32", "little", [0x5678, 0x1234]),
    (1, "u64", "big", [0, 0, 0, 1]),
    (1, "u64", "little", [1, 0, 0, 0]),
    (1.5, "f32", "big", [0x3FC0, 0x0000]),
    (-1, "s16", "big", [0xFFFF]),
    (65535, "u16", "little", [0xFFFF]),
])
def test_known_vectors(raw: float, type_: RegisterType, order: WordOrder,
                       words: list[int]) -> None:
    assert encode(raw, type_, order) == words
    assert decode(words, type_, order) == raw


@given(st.sampled_from(["u16", "s16", "u32", "s32", "u64"]), st.sampled_from(["big", "little"]),
       st.integers(-(2**64), 2**64))
def test_integer_round_trip(type_: RegisterType, order: WordOrder, value: int) -> None:
    low, high = raw_range(type_)
    raw = min(int(high), max(int(low), value)) if type_ != "u64" else min(2**64 - 1, max(0, value))
    words = encode(raw, type_, order)
    assert all(0 <= w <= 0xFFFF for w in words)
    assert decode(words, type_, order) == raw


@given(st.sampled_from(["big", "little"]), st.floats(-1e30, 1e30))
def test_f32_round_trip(order: WordOrder, value: float) -> None:
    assert math.isclose(decode(encode(value, "f32", order), "f32", order), value,
                        rel_tol=1e-6, abs_tol=1e-38)


def test_clamp_raw_saturates() -> None:
    assert clamp_raw(70000.4, "u16") == 65535
    assert clamp_raw(-3.6, "s16") == -4
    assert clamp_raw(float("inf"), "s32") == 2**31 - 1
    assert encode(2.0**70, "u64", "big") == [0xFFFF] * 4


def test_wrong_word_count() -> None:
    with pytest.raises(ValueError, match="u32 needs 2 words, got 1"):
        decode([1], "u32", "big")

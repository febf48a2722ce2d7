"""Robust aggregation: trimmed means, weighted medians and weight caps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from meanfield.robust import capped_weights, plain_mean, trimmed_mean


@pytest.mark.parametrize(("values", "trim", "want"), [
    ([1.0, 2.0, 3.0, 4.0, 100.0], 0.2, 3.0),
    ([1.0, 2.0, 3.0, 4.0, 100.0], 0.0, 22.0),
    ([1.0, 2.0, 3.0, 4.0, 100.0], 0.5, 3.0),
    ([-1e4, 5.0, 5.0, 5.0, 1e4], 0.2, 5.0),
    ([7.0], 0.25, 7.0),
    ([1.0, 3.0], 0.25, 2.0),
])
def test_trimmed_mean_table(values: list[float], trim: float, want: float) -> None:
    assert trimmed_mean(np.array(values)[:, None], trim)[0] == pytest.approx(want)


def test_weighted_median_and_cap() -> None:
    v = np.array([[0.0], [10.0], [20.0]])
    assert trimmed_mean(v, 0.5, weights=np.array([1.0, 1.0, 10.0]))[0] == 20.0
    # Capped at 40 %, the heavy report cannot carry the median alone.
    assert trimmed_mean(v, 0.5, weights=np.array([1.0, 1.0, 10.0]), cap=0.4)[0] == 10.0


@settings(max_examples=200)
@given(w=st.lists(st.floats(0, 100), min_size=1, max_size=30), cap=st.floats(0.01, 1.0))
@example(w=[0.0, 0.5, 5e-324], cap=0.25)   # a subnormal weight once left the sum at 0.83
def test_capped_weights_sum_to_one_under_the_cap(w: list[float], cap: float) -> None:
    out = capped_weights(np.array(w), cap)
    assert out.sum() == pytest.approx(1.0)
    assert np.all(out <= max(cap, 1 / len(w)) + 1e-9)
    assert np.all(out >= 0)


@settings(max_examples=300)
@given(honest=st.lists(st.floats(-10, 10), min_size=4, max_size=40),
       lies=st.lists(st.floats(-1e4, 1e4), max_size=40), trim=st.floats(0.05, 0.5))
def test_liars_below_the_trim_stay_inside_the_honest_range(honest: list[float],
                                                            lies: list[float],
                                                            trim: float) -> None:
    n_lies = len(lies)
    while n_lies > 0 and n_lies >= trim * (len(honest) + n_lies):  # liars hold < trim
        n_lies -= 1
    values = np.array(honest + lies[:n_lies])[:, None]
    est = trimmed_mean(values, trim)[0]
    assert min(honest) - 1e-9 <= est <= max(honest) + 1e-9


def test_plain_mean_follows_a_single_liar() -> None:
    values = np.array([[1.0], [1.0], [1.0], [1.0], [1e4]])
    assert plain_mean(values)[0] > 1000
    assert trimmed_mean(values, 0.25)[0] == pytest.approx(1.0)

"""The committed CityLearn slice, the train/held-out windows and the scores (no torch)."""

from __future__ import annotations

import numpy as np
import pytest

from agent.adapters.onnx import calendar
from models.forecast.metrics import crps_ensemble, crps_gaussian, gaussian_scores, pinball
from models.forecast.windows import FULL, GAP, QUICK, STEP_S, steps, windows
from sim import data


@pytest.fixture(scope="module")
def slice_ds() -> data.Dataset:
    return data.load_slice()


def test_slice_is_small_and_real(slice_ds: data.Dataset) -> None:
    assert data.SLICE.stat().st_size < 300_000
    assert set(slice_ds.buildings) == {"Building_1", "Building_2", "Building_16"}
    b1 = slice_ds.buildings["Building_1"]
    first = QUICK.train_days[0] * 24
    assert np.isnan(b1.load_kw[:first]).all()  # padded so hour offsets match the full set
    assert np.isfinite(b1.load_kw[first:]).all()
    assert (b1.load_kw[first:] >= 0).all()
    assert (b1.pv_kw[first:] >= 0).all()
    assert b1.pv_kw[first:].max() > 1.0  # a 4 kWp array in a Californian spring
    assert list(slice_ds.files) == [data.SLICE.name]


def test_splits_do_not_overlap() -> None:
    for split in (FULL, QUICK):
        assert split.train_days[1] <= split.val_days[0] < split.val_days[1] <= split.test_days[0]
        assert set(split.train_buildings) < set(split.test_buildings)
    assert FULL.describe()["test_period"] == ["2017-06-01", "2017-07-31"]
    assert FULL.describe()["unseen_buildings"] == ["Building_15", "Building_16", "Building_17"]


def test_windows_are_aligned_like_the_daemon(slice_ds: data.Dataset) -> None:
    w = windows(slice_ds, QUICK.test_buildings, QUICK.test_days, 7)
    s = steps(slice_ds.buildings["Building_1"].net_kw)
    for r in range(0, 50, 9):
        k = int((w.t_s[r] - data.START_S) // STEP_S)
        assert np.allclose(w.target[r], s[k:k + 96])
        assert np.allclose(w.history[r], s[k - GAP - 96:k - GAP])
        assert np.array_equal(w.calendar[r], calendar(float(w.t_s[r])))
    assert w.t_s.min() >= data.START_S + QUICK.test_days[0] * 86400
    assert np.isfinite(w.history).all()
    assert np.isfinite(w.target).all()


def test_gaussian_crps_matches_an_ensemble() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(0.3, 1.0, 500)
    members = np.tile(rng.normal(0.0, 2.0, 4000), (500, 1))
    assert crps_gaussian(np.zeros(500), np.full(500, 2.0), y) == pytest.approx(
        crps_ensemble(members, y), rel=0.03)


def test_scores_of_a_perfect_and_a_point_forecast() -> None:
    y = np.linspace(-2, 2, 200)
    assert pinball(y, y, 0.9) == 0.0
    tiny = gaussian_scores(y, np.full(200, 1e-6), y)
    assert tiny["crps"] < 1e-5
    assert tiny["mae"] == 0.0
    wide = gaussian_scores(np.zeros(200), np.full(200, 100.0), y)
    assert wide["coverage_80"] == 1.0
    assert wide["coverage_95"] == 1.0

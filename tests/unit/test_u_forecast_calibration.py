"""Online spread calibration: a home noisier or calmer than the model thinks gets honest
intervals; a home like the training data keeps factors near 1."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.forecast.calibration import CalibratedForecaster, SpreadCalibrator
from agent.ports import FloatArray, Forecast
from agent.services.state import AgentState

H, STEP = 96, 900.0
Z80, Z95 = 1.2815516, 1.9599640


class ConstantForecaster:
    """A stand-in model: mean 0, std 1 kW for every step (what a real one looks like)."""

    horizon = H

    def forecast(self, history_kw: FloatArray, t_s: float) -> Forecast:
        return Forecast(np.zeros(H, dtype=np.float32), np.ones(H, dtype=np.float32))

    def observe(self, interval_start_s: float, actual_kw: float) -> None:
        return None


def replay(true_sigma: float, days: int, seed: int = 0) -> tuple[CalibratedForecaster, float,
                                                                 float]:
    """Run the daemon's order of calls for `days`: observe interval k−1, forecast k+1.
    Returns the forecaster and the coverage of its 80/95% intervals over the last half."""
    fc = CalibratedForecaster(ConstantForecaster(), step_s=STEP)
    rng = np.random.default_rng(seed)
    n = days * 96
    actual = rng.normal(0.0, true_sigma, n + H + 2)
    hits80, hits95, total = 0, 0, 0
    for k in range(1, n):
        fc.observe((k - 1) * STEP, float(actual[k - 1]))
        out = fc.forecast(np.zeros(96, dtype=np.float32), (k + 1) * STEP)
        if k > n // 2:
            y = actual[k + 1:k + 1 + H]
            hits80 += int((np.abs(y - out.mean_kw) <= Z80 * out.std_kw).sum())
            hits95 += int((np.abs(y - out.mean_kw) <= Z95 * out.std_kw).sum())
            total += H
    return fc, hits80 / total, hits95 / total


def test_no_evidence_means_no_change() -> None:
    cal = SpreadCalibrator(H, STEP)
    assert np.array_equal(cal.factors(), np.ones(H, dtype=np.float32))
    out = cal.calibrate(0.0, np.zeros(H, dtype=np.float32), np.full(H, 0.5, dtype=np.float32))
    assert np.allclose(out.std_kw, 0.5)


@pytest.mark.parametrize("true_sigma", [0.4, 1.0, 3.0])
def test_intervals_become_calibrated(true_sigma: float) -> None:
    fc, cov80, cov95 = replay(true_sigma, days=8)
    assert abs(cov80 - 0.80) < 0.05
    assert abs(cov95 - 0.95) < 0.04
    assert np.median(fc.calibrator.factors()) == pytest.approx(true_sigma, rel=0.2)


def test_uncalibrated_model_would_be_wrong() -> None:
    """The check above means something: without calibration a 3x noisier home is
    covered far less than 80% of the time."""
    rng = np.random.default_rng(1)
    y = rng.normal(0.0, 3.0, 10_000)
    assert (np.abs(y) <= Z80).mean() < 0.4


@settings(max_examples=50, deadline=None)
@given(actuals=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=300),
       std=st.floats(1e-3, 1e3))
def test_factors_stay_bounded_and_finite(actuals: list[float], std: float) -> None:
    cal = SpreadCalibrator(H, STEP)
    for k, a in enumerate(actuals):
        cal.record((k + 2) * STEP, np.zeros(H, dtype=np.float32), np.full(H, std, np.float32))
        cal.observe(k * STEP, a)
    f = cal.factors()
    assert np.all(np.isfinite(f))
    assert np.all((f >= 0.25) & (f <= 4.0))


def test_each_interval_counts_once_and_nan_is_ignored() -> None:
    cal = SpreadCalibrator(4, STEP, prior_weight=0.0)
    cal.record(0.0, np.zeros(4, dtype=np.float32), np.ones(4, dtype=np.float32))
    cal.observe(0.0, 2.0)
    once = cal.factors().copy()
    cal.observe(0.0, 100.0)          # the same interval again: ignored
    cal.observe(-STEP, 100.0)        # an older one: ignored
    cal.observe(STEP, float("nan"))  # no measurement: ignored
    assert np.array_equal(cal.factors(), once)
    assert once[0] == pytest.approx(2.0)


def test_wrong_shapes_and_arguments() -> None:
    cal = SpreadCalibrator(H, STEP)
    with pytest.raises(ValueError, match="96 steps"):
        cal.record(0.0, np.zeros(95, dtype=np.float32), np.ones(95, dtype=np.float32))
    with pytest.raises(ValueError, match="must be > 0"):
        SpreadCalibrator(0, STEP)


def test_state_reports_the_last_completed_interval() -> None:
    state = AgentState("a1")
    state.add_sample(10, 1000.0)
    state.add_sample(10, 3000.0)
    assert state.last_completed is None
    state.add_sample(11, 500.0)
    assert state.last_completed == (10, 2.0)

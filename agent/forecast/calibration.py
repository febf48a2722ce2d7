"""Online calibration of the forecast spread on the home's own data.

`SpreadCalibrator` remembers the forecasts it was shown (`record`) and, as each
interval's measured net load arrives (`observe`), scores every remembered forecast that
covered it: z = (actual − mean) / std at that forecast's lead. Per lead it keeps an
exponentially weighted mean of z² (half-life `half_life_steps` observations), started
from `prior_weight` pseudo-observations of z² = 1 that fade like real ones, and
rescales the model's std by sqrt(that mean): a home noisier or calmer than the training
data gets wider or narrower intervals within a few days, and a home like the training
data keeps factors near 1.

`CalibratedForecaster` wraps any `Forecaster` with one. It is the daemon's forecaster;
the decision step calls `observe` once per completed interval.
"""

from __future__ import annotations

import numpy as np

from agent.ports import FloatArray, Forecast, Forecaster


class SpreadCalibrator:
    def __init__(self, horizon: int, step_s: float, *, half_life_steps: float = 192.0,
                 prior_weight: float = 24.0, min_factor: float = 0.25,
                 max_factor: float = 4.0) -> None:
        if horizon <= 0 or step_s <= 0 or half_life_steps <= 0 or prior_weight < 0:
            raise ValueError("horizon, step_s and half_life_steps must be > 0, "
                             "prior_weight >= 0")
        self.horizon = horizon
        self.step_s = step_s
        self._decay = 0.5 ** (1.0 / half_life_steps)
        self._lo, self._hi = min_factor, max_factor
        # The prior: `prior_weight` pseudo-observations of z² = 1, fading like real ones.
        self._sum_z2 = np.full(horizon, float(prior_weight))
        self._weight = np.full(horizon, float(prior_weight))
        self._issued: dict[int, tuple[FloatArray, FloatArray]] = {}
        self._last_observed: int | None = None

    def _step(self, t_s: float) -> int:
        return round(t_s / self.step_s)

    def record(self, start_s: float, mean_kw: FloatArray, std_kw: FloatArray) -> None:
        """Remember a forecast whose first step starts at `start_s` (raw model spread)."""
        if mean_kw.shape != (self.horizon,) or std_kw.shape != (self.horizon,):
            raise ValueError(f"forecast must have {self.horizon} steps")
        k = self._step(start_s)
        self._issued[k] = (mean_kw.astype(np.float64), std_kw.astype(np.float64))
        for old in [i for i in self._issued if i <= k - self.horizon]:
            del self._issued[old]

    def observe(self, interval_start_s: float, actual_kw: float) -> None:
        """The measured mean net load of the interval starting at `interval_start_s`."""
        if not np.isfinite(actual_kw):
            return
        k = self._step(interval_start_s)
        if self._last_observed is not None and k <= self._last_observed:
            return  # each interval counts once
        self._last_observed = k
        z2 = np.full(self.horizon, np.nan)
        for lead in range(self.horizon):
            fc = self._issued.get(k - lead)
            if fc is not None:
                mean, std = fc
                z2[lead] = ((actual_kw - mean[lead]) / max(float(std[lead]), 1e-6)) ** 2
        seen = np.isfinite(z2)
        self._sum_z2[seen] = self._decay * self._sum_z2[seen] + z2[seen]
        self._weight[seen] = self._decay * self._weight[seen] + 1.0
        for old in [i for i in self._issued if i <= k - self.horizon]:
            del self._issued[old]

    def factors(self) -> FloatArray:
        """Per-lead multipliers of the std (1 with no evidence)."""
        w = self._weight
        var = np.where(w > 0, self._sum_z2 / np.maximum(w, 1e-12), 1.0)
        return np.clip(np.sqrt(var), self._lo, self._hi).astype(np.float32)

    def calibrate(self, start_s: float, mean_kw: FloatArray, std_kw: FloatArray) -> Forecast:
        """Record the raw forecast, return it with its spread rescaled."""
        self.record(start_s, mean_kw, std_kw)
        return Forecast(mean_kw=mean_kw,
                        std_kw=(std_kw * self.factors()).astype(np.float32))


class CalibratedForecaster:
    """A `Forecaster` whose spread is recalibrated online from the home's residuals."""

    def __init__(self, inner: Forecaster, step_s: float, **kwargs: float) -> None:
        self.inner = inner
        self.horizon = inner.horizon
        self.calibrator = SpreadCalibrator(inner.horizon, step_s, **kwargs)

    def forecast(self, history_kw: FloatArray, t_s: float) -> Forecast:
        raw = self.inner.forecast(history_kw, t_s)
        return self.calibrator.calibrate(t_s, raw.mean_kw, raw.std_kw)

    def observe(self, interval_start_s: float, actual_kw: float) -> None:
        self.calibrator.observe(interval_start_s, actual_kw)

"""Scores of probabilistic forecasts (numpy): CRPS, pinball loss, interval coverage."""

from __future__ import annotations

import math

import numpy as np

Z = {0.1: -1.2815516, 0.5: 0.0, 0.9: 1.2815516}
Z80, Z95 = 1.2815516, 1.9599640


def _phi(z: np.ndarray) -> np.ndarray:
    return np.asarray(np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))


def crps_gaussian(mean: np.ndarray, std: np.ndarray, y: np.ndarray) -> float:
    """Closed form (Gneiting & Raftery 2007), averaged over all steps."""
    z = (y - mean) / std
    cdf = 0.5 * (1.0 + _erf(z / math.sqrt(2.0)))
    return float(np.mean(std * (z * (2 * cdf - 1) + 2 * _phi(z) - 1 / math.sqrt(math.pi))))


def _erf(x: np.ndarray) -> np.ndarray:
    """erf with fractional error < 1.2e-7 (Numerical Recipes' Chebyshev erfc)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = (-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277)))))))))
    erfc = t * np.exp(poly)
    return np.asarray(np.where(x >= 0, 1.0 - erfc, erfc - 1.0))


def crps_ensemble(members: np.ndarray, y: np.ndarray) -> float:
    """CRPS of an empirical distribution per row: members [N, M] (sorted or not), y [N]."""
    m = np.sort(members, axis=1)
    k = m.shape[1]
    term1 = np.abs(m - y[:, None]).mean(axis=1)
    w = (2 * np.arange(1, k + 1) - k - 1) / (k * k)
    term2 = (m * w).sum(axis=1)  # = E|X - X'| / 2
    return float(np.mean(term1 - term2))


def pinball(q_pred: np.ndarray, y: np.ndarray, tau: float) -> float:
    d = y - q_pred
    return float(np.mean(np.maximum(tau * d, (tau - 1) * d)))


def gaussian_scores(mean: np.ndarray, std: np.ndarray, y: np.ndarray) -> dict[str, float]:
    err = np.abs(y - mean)
    return {
        "crps": crps_gaussian(mean, std, y),
        "pinball_10": pinball(mean + Z[0.1] * std, y, 0.1),
        "pinball_50": pinball(mean, y, 0.5),
        "pinball_90": pinball(mean + Z[0.9] * std, y, 0.9),
        "coverage_80": float((err <= Z80 * std).mean()),
        "coverage_95": float((err <= Z95 * std).mean()),
        "mae": float(err.mean()),
    }

"""bench.negotiation_runs_summary: medians over runs of one code, and mixed runs refused."""

from __future__ import annotations

from typing import Any

import pytest

from bench.negotiation_runs_summary import summarise


def run(p99: float, homes: int = 1000, interval: float = 60.0) -> dict[str, Any]:
    return {"homes": homes, "interval_real_s": interval, "path": "expost", "label": "t",
            "latency_ms": {"p50": 10.0, "p95": 50.0, "p99": p99}, "within_100ms": 0.99,
            "messages_per_trade": 3.2, "matched_energy_share": 1.0, "trades": 100,
            "cpu_ms_per_trade": {"homes": 25.0, "broker": 0.4, "node": 5.0, "all": 30.4},
            "counters": {}, "trade_states": {"seller:paid": 9, "seller:agreed": 1},
            "load_avg_1m": {"before": 1.0, "after": 0.5}}


def test_median_interval_and_paid_share_over_runs() -> None:
    out = summarise([run(90.0), run(110.0), run(100.0)], ["a", "b", "c"])
    assert out["runs"] == 3
    assert out["files"] == ["a", "b", "c"]
    assert out["p99_ms"]["median"] == 100.0
    low, high = out["p99_ms"]["ci95"]
    assert low < 100.0 < high
    assert out["paid_share"]["median"] == 0.9


def test_runs_of_different_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="differ"):
        summarise([run(90.0), run(90.0, homes=100, interval=3.0)], ["a", "b"])

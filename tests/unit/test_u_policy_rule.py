"""The signal-following rule as a layout-v2 policy (models/build_rule_v2.py): the daemon's
OnnxPolicy loads it and it computes the documented formula from the v2 observation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx

from agent.adapters.onnx import OnnxPolicy
from agent.domain import policy_obs
from models.build_rule_v2 import rule_graph


def test_rule_v2_follows_its_formula_through_the_daemon_adapter(tmp_path: Path) -> None:
    path = tmp_path / "rule.onnx"
    alpha = 0.3
    onnx.save(rule_graph(alpha), path)
    policy = OnnxPolicy(path)
    rng = np.random.default_rng(3)
    for _ in range(50):
        mean = rng.normal(0.0, 2.0, 96)
        prices = rng.uniform(90_000, 330_000, 96)
        obs = policy_obs.observation(
            float(rng.uniform(10, 90)), 10_000.0, 5_000.0, 0.0, float(rng.uniform(0, 24)),
            mean, np.abs(rng.normal(0.3, 0.1, 96)), prices, 80_000, 333_333,
            np.zeros(96), True)
        z = float(obs[18])
        p_max = float(obs[2])
        want = min(p_max, max(-p_max, -float(obs[6]) - alpha * math.tanh(z) * p_max))
        got = policy.decide(obs)
        assert abs(got.battery_power_w - 1000.0 * want) < 1.0
        assert abs(got.price_position - (0.5 + 0.25 * math.tanh(z))) < 1e-5


def test_shipped_rule_file_is_the_built_one() -> None:
    shipped = Path(__file__).parents[2] / "agent" / "modelfiles" / "policy_rule_v2.onnx"
    built = rule_graph(0.3)
    assert onnx.load(shipped).graph == built.graph

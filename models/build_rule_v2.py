"""Write the signal-following rule as a layout-v2 policy (`policy_rule_v2.onnx`).

The rule that was `policy.onnx` before issue 9 (layout v1, retired), reading its
inputs from the v2 observation (agent/domain/policy_obs.py) so the daemon can run it:

    power    = clip(−mean₀ − α·tanh(z)·p_max, −p_max, p_max)     kW, + charge
    position = 0.5 + 0.25·tanh(z)

mean₀ = obs[6] (forecast net load of the decided interval, kW), p_max = obs[2] (battery
power limit, kW), z = obs[18] (the interval's price standardised within the signal's
path). Self-consumption on the forecast, shifted towards charging when the community
price is low and discharging when it is high; not learned. The daemon clamps the power to
its limits and SoC window outside the model, as for every policy.

    python -m models.build_rule_v2 [--alpha 0.3] [--out agent/modelfiles/policy_rule_v2.onnx]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from agent.adapters.onnx import OBS_VERSION_KEY
from agent.domain.policy_obs import OBS_SIZE, OBS_VERSION

MEAN0, PMAX, Z = 6, 2, 18


def rule_initializers(alpha: float) -> list[onnx.TensorProto]:
    f = np.float32
    return [numpy_helper.from_array(np.array(v, dtype=f), n) for n, v in
            (("alpha", alpha), ("minus1", -1.0), ("half", 0.5), ("quarter", 0.25))]


def rule_nodes() -> list[onnx.NodeProto]:
    """The rule on tensors `mean`, `pmax`, `z` ([N, 1] each) → `action` [N, 2]."""
    return [
        helper.make_node("Tanh", ["z"], ["tz"]),
        helper.make_node("Mul", ["tz", "pmax"], ["tzp"]),
        helper.make_node("Mul", ["tzp", "alpha"], ["shift"]),
        helper.make_node("Add", ["mean", "shift"], ["want_neg"]),
        helper.make_node("Mul", ["want_neg", "minus1"], ["want"]),
        helper.make_node("Mul", ["pmax", "minus1"], ["pmin"]),
        helper.make_node("Min", ["want", "pmax"], ["capped"]),
        helper.make_node("Max", ["capped", "pmin"], ["power"]),
        helper.make_node("Mul", ["tz", "quarter"], ["tzq"]),
        helper.make_node("Add", ["tzq", "half"], ["position"]),
        helper.make_node("Concat", ["power", "position"], ["action"], axis=1),
    ]


def rule_graph(alpha: float) -> onnx.ModelProto:
    inits = rule_initializers(alpha) + [
        numpy_helper.from_array(np.array([i], dtype=np.int64), n)
        for n, i in (("i_mean", MEAN0), ("i_pmax", PMAX), ("i_z", Z))]
    nodes = [
        helper.make_node("Gather", ["obs", "i_mean"], ["mean"], axis=1),
        helper.make_node("Gather", ["obs", "i_pmax"], ["pmax"], axis=1),
        helper.make_node("Gather", ["obs", "i_z"], ["z"], axis=1),
        *rule_nodes(),
    ]
    graph = helper.make_graph(
        nodes, "peerwatt_policy_rule_v2",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["N", OBS_SIZE])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["N", 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                              producer_name="peerwatt models.build_rule_v2")
    helper.set_model_props(model, {OBS_VERSION_KEY: str(OBS_VERSION),
                                   "peerwatt.policy": f"rule alpha={alpha}"})
    return model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alpha", type=float, default=0.3)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "agent"
                    / "modelfiles" / "policy_rule_v2.onnx")
    args = ap.parse_args()
    onnx.save(rule_graph(args.alpha), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

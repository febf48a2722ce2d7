"""Export a trained PPO actor to `policy.onnx` and check it against torch.

The graph is the actor's mean (deterministic action), clipped to [-1, 1], turned into the
daemon's contract: `action[:, 0]` = battery power kW = −forecast mean of the interval
(`obs[:, 6]`) + a × the power limit (`obs[:, 2]`), within ± the limit; `action[:, 1]` =
price position in [0, 1]. The file carries
`peerwatt.obs_version = 2` in its metadata; `agent.adapters.onnx.OnnxPolicy` refuses a
file without it.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from stable_baselines3 import PPO

from agent.adapters.onnx import OBS_VERSION_KEY, POLICY_OBS, OnnxPolicy
from agent.domain.policy_obs import OBS_VERSION


class Actor(torch.nn.Module):
    def __init__(self, model: PPO) -> None:
        super().__init__()
        self.body = model.policy.mlp_extractor.policy_net
        self.head = model.policy.action_net

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        a = torch.clamp(self.head(self.body(obs)), -1.0, 1.0)
        limit = obs[:, 2:3]
        wanted = a[:, 0:1] * limit - obs[:, 6:7]  # residual to self-consumption
        power = torch.maximum(torch.minimum(wanted, limit), -limit)
        position = (a[:, 1:2] + 1.0) * 0.5
        return torch.cat([power, position], dim=1)


def load_actor(zip_path: Path) -> Actor:
    model = PPO.load(str(zip_path), device="cpu")
    return Actor(model).eval()


def export(zip_path: Path, out: Path, samples: int = 4096, seed: int = 0) -> dict[str, Any]:
    torch.set_num_threads(1)
    actor = load_actor(zip_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, POLICY_OBS)
    tmp = out.with_suffix(".tmp.onnx")
    torch.onnx.export(actor, (dummy,), str(tmp), input_names=["obs"], output_names=["action"],
                      dynamic_axes={"obs": {0: "N"}, "action": {0: "N"}}, opset_version=17,
                      dynamo=False)
    proto = onnx.load(str(tmp))
    tmp.unlink()
    onnx.helper.set_model_props(proto, {OBS_VERSION_KEY: str(OBS_VERSION),
                                        "peerwatt.trained_from": zip_path.name})
    proto.producer_name = "peerwatt models.policy.export"
    onnx.save(proto, str(out))
    return {"path": str(out), "bytes": out.stat().st_size,
            "parity": parity(actor, out, samples, seed), "latency": latency(out)}


def random_obs(n: int, seed: int) -> np.ndarray:
    """Observations over the ranges the daemon produces (layout v2)."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(0.0, 1.0, (n, POLICY_OBS)).astype(np.float32)
    obs[:, 0] = rng.uniform(0, 1, n)
    obs[:, 1] = rng.uniform(0, 1.5, n)
    obs[:, 2] = rng.uniform(0, 5, n)
    obs[:, 3] = rng.uniform(0, 2, n)
    obs[:, 10:14] = np.abs(obs[:, 10:14])
    obs[:, 14:18] = rng.uniform(0, 1, (n, 4))
    obs[:, 23] = rng.integers(0, 2, n)
    return obs


def parity(actor: Actor, path: Path, n: int, seed: int) -> dict[str, float]:
    obs = random_obs(n, seed)
    with torch.no_grad():
        want = actor(torch.from_numpy(obs)).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"obs": obs})
    diff = np.abs(np.asarray(got) - want)
    return {"samples": n, "max_abs_diff": float(diff.max()),
            "mean_abs_diff": float(diff.mean())}


def latency(path: Path, runs: int = 2000) -> dict[str, float]:
    """One decision through the daemon's own `OnnxPolicy.decide` (one intra-op thread)."""
    pol = OnnxPolicy(path)
    obs = random_obs(runs, 1)
    for i in range(100):
        pol.decide(obs[i])
    times = []
    for i in range(runs):
        t = time.perf_counter()
        pol.decide(obs[i])
        times.append((time.perf_counter() - t) * 1000.0)
    times.sort()
    return {"runs": runs, "p50_ms": round(statistics.median(times), 4),
            "p99_ms": round(times[int(0.99 * runs) - 1], 4), "max_ms": round(times[-1], 4)}

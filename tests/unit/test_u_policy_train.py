"""`peerwatt models train policy --quick` then `export`: a real PPO run in the simulator's
market on the committed data slice, the ONNX file's contract with the daemon's OnnxPolicy,
and torch parity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("torch")

from agent.adapters.onnx import OBS_VERSION_KEY, POLICY_OBS, OnnxPolicy
from peerwatt.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("policy-run")
    assert main(["models", "train", "policy", "--quick", "--seed", "3", "--variants", "prob",
                 "--run-dir", str(run_dir)]) == 0
    return run_dir


def test_quick_train_writes_a_run(run: Path) -> None:
    info = json.loads((run / "train.json").read_text())
    assert info["seed"] == 3
    assert info["env"] == "market"
    prob = info["prob"]
    assert prob["learning_homes"] > 0
    assert prob["timesteps"] >= info["plan"]["episodes"] * 96 * prob["learning_homes"]
    assert len(prob["day_cost_eur_per_home"]) >= info["plan"]["episodes"]
    assert (run / "prob.zip").is_file()


def test_export_parity_and_daemon_contract(run: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "policy.onnx"
    capsys.readouterr()
    assert main(["models", "export", "policy", "--run-dir", str(run), "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["parity"]["max_abs_diff"] < 1e-4
    assert report["bytes"] == out.stat().st_size < 1_000_000
    pol = OnnxPolicy(out)  # the daemon's loader accepts it: layout v2, obs → action
    import onnxruntime as ort
    meta = ort.InferenceSession(str(out)).get_modelmeta().custom_metadata_map
    assert meta[OBS_VERSION_KEY] == "2"
    rng = np.random.default_rng(0)
    obs = rng.normal(0.0, 1.0, (200, POLICY_OBS)).astype(np.float32)
    obs[:, 2] = rng.uniform(0.0, 5.0, 200)
    act = pol.act_many(obs)
    assert np.all(np.abs(act[:, 0]) <= obs[:, 2] * 1000.0 + 1e-3)  # |power| ≤ limit
    assert np.all((act[:, 1] >= 0.0) & (act[:, 1] <= 1.0))


def test_export_without_a_run_says_so(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "export", "policy", "--run-dir", str(tmp_path),
                 "--out", str(tmp_path / "p.onnx")]) == 1
    assert "no trained run" in capsys.readouterr().err


def test_same_seed_same_weights(run: Path, tmp_path: Path) -> None:
    import torch

    from models.policy.export import load_actor
    assert main(["models", "train", "policy", "--quick", "--seed", "3", "--variants", "prob",
                 "--run-dir", str(tmp_path)]) == 0
    a, b = load_actor(run / "prob.zip"), load_actor(tmp_path / "prob.zip")
    for (na, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(pa, pb), na

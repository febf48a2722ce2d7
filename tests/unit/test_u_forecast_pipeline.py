"""`peerwatt models train|export|evaluate forecast` end to end on the committed slice,
and the shipped forecast.onnx scored on held-out measured data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.adapters.onnx import OnnxForecaster, shipped
from peerwatt.cli import main

KEYS = {"crps", "coverage_80", "coverage_95", "mae", "latency_ms", "data"}


def evaluate(tmp: Path, model: Path, baseline: Path) -> dict[str, Any]:
    out = tmp / "eval.json"
    assert main(["models", "evaluate", "forecast", "--quick", "--model", str(model),
                 "--baseline", str(baseline), "--json", str(out)]) == 0
    report: dict[str, Any] = json.loads(out.read_text())
    return report


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch", reason="training needs the train extra (torch)")
    run = tmp_path_factory.mktemp("run")
    assert main(["models", "train", "forecast", "--quick", "--seed", "3",
                 "--run-dir", str(run)]) == 0
    assert main(["models", "export", "--run-dir", str(run), "--out", str(run / "f.onnx"),
                 "--baseline-out", str(run / "d.onnx")]) == 0
    return run


def test_quick_train_export_is_parity_checked(quick_run: Path) -> None:
    export = json.loads((quick_run / "export.json").read_text())
    for name in ("prob", "det"):
        assert export[name]["parity_max_abs_diff"] <= 1e-4
        assert export[name]["bytes"] < 2_000_000
    info = json.loads((quick_run / "run.json").read_text())
    assert info["quick"]
    assert info["seed"] == 3
    assert info["data"]["unseen_buildings"] == ["Building_16"]
    fc = OnnxForecaster(quick_run / "f.onnx")
    out = fc.forecast(np.ones(96, dtype=np.float32), 1_700_000_000.0)
    assert out.mean_kw.shape == (96,)
    assert np.all(out.std_kw > 0)


def test_quick_train_is_reproducible(quick_run: Path, tmp_path: Path) -> None:
    import torch

    assert main(["models", "train", "forecast", "--quick", "--seed", "3",
                 "--run-dir", str(tmp_path)]) == 0
    for name in ("prob.pt", "det.pt"):
        a = torch.load(quick_run / name, weights_only=True)
        b = torch.load(tmp_path / name, weights_only=True)
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_quick_evaluate_writes_the_report(quick_run: Path, tmp_path: Path) -> None:
    report = evaluate(tmp_path, quick_run / "f.onnx", quick_run / "d.onnx")
    assert set(report) >= KEYS
    assert set(report["crps"]) >= {"model", "persistence", "deterministic", "climatology"}
    assert 0.0 <= report["coverage_80"] <= 1.0
    assert 0.0 <= report["coverage_95"] <= 1.0
    assert report["latency_ms"]["p50"] > 0
    assert report["latency_ms"]["p99"] > 0
    assert report["data"]["test_period"] == ["2017-06-01", "2017-07-31"]


def test_shipped_model_beats_persistence_and_covers(tmp_path: Path) -> None:
    """The shipped model on the slice's held-out summer (Buildings 1, 2 and the unseen 16):
    better CRPS than persistence, intervals within ±5 points of nominal after the
    daemon's online calibration."""
    report = evaluate(tmp_path, shipped("forecast.onnx"), shipped("forecast_baseline_mse.onnx"))
    assert report["crps"]["model"] < report["crps"]["persistence"]
    assert report["crps"]["model"] < report["crps"]["climatology"]
    assert abs(report["coverage_80"] - 0.80) <= 0.05
    assert abs(report["coverage_95"] - 0.95) <= 0.05
    assert shipped("forecast.onnx").stat().st_size < 2_000_000


def test_train_without_torch_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # as if the train extra were absent
    monkeypatch.delitem(sys.modules, "models.forecast.train", raising=False)
    assert main(["models", "train", "forecast", "--quick", "--run-dir", str(tmp_path)]) == 1
    assert "pip install 'peerwatt[train]'" in capsys.readouterr().err


@pytest.mark.parametrize(("model", "words"), [
    (Path("/nonexistent/forecast.onnx"), "not found"),
    (shipped("policy.onnx"), "expected {'history': 96, 'calendar': 25}"),
], ids=["missing", "policy-file"])
def test_evaluate_refuses_a_wrong_model(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        model: Path, words: str) -> None:
    assert main(["models", "evaluate", "forecast", "--quick", "--model", str(model),
                 "--json", str(tmp_path / "x.json")]) == 1
    assert words in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()

"""Train the probabilistic forecaster (Gaussian NLL) and its same-size deterministic
baseline (MSE), then export both to ONNX with a torch-vs-onnxruntime parity check.

A run directory holds `prob.pt`, `det.pt` (state dicts) and `run.json` (split, seed,
sizes, epochs, validation scores, wall time). Everything is seeded; on the same machine
and torch build a run repeats exactly.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agent.adapters.onnx import CALENDAR_FEATURES, FORECAST_HISTORY
from models.forecast.net import ForecastNet, gaussian_nll, n_params
from models.forecast.windows import Split, Windows, windows
from sim.data import Dataset

PARITY_TOL = 1e-4


def _tensors(w: Windows) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (torch.from_numpy(w.history), torch.from_numpy(w.calendar),
            torch.from_numpy(w.target))


def _loss(net: ForecastNet, h: torch.Tensor, c: torch.Tensor, y: torch.Tensor,
          kind: str) -> torch.Tensor:
    mean_n, std_n, scale = net.normalised(h, c)
    y_n = y / scale
    if kind == "nll":
        return gaussian_nll(mean_n, std_n, y_n)
    return ((mean_n - y_n) ** 2).mean()


def fit(train: Windows, val: Windows, *, kind: str, hidden: int, epochs: int, seed: int,
        batch: int = 512, lr: float = 2e-3, dropout: float = 0.0,
        weight_decay: float = 1e-4) -> tuple[ForecastNet, dict[str, Any]]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = ForecastNet(hidden, dropout=dropout)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    h, c, y = _tensors(train)
    vh, vc, vy = _tensors(val)
    best, best_state, history = float("inf"), net.state_dict(), []
    t0 = time.monotonic()
    for _epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = _loss(net, h[idx], c[idx], y[idx], kind)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
        sched.step()
        net.eval()
        with torch.no_grad():
            v = float(_loss(net, vh, vc, vy, kind))
        history.append(round(v, 5))
        if v < best:
            best = v
            best_state = {k: t.clone() for k, t in net.state_dict().items()}
    net.load_state_dict(best_state)
    net.eval()
    return net, {"kind": kind, "epochs_run": len(history), "val_loss": history,
                 "best_val_loss": best, "seconds": round(time.monotonic() - t0, 1)}


def train(ds: Dataset, split: Split, run_dir: Path, *, seed: int = 0, quick: bool = False,
          threads: int = 2) -> dict[str, Any]:
    torch.set_num_threads(threads)
    t0 = time.monotonic()
    tr = windows(ds, split.train_buildings, split.train_days, split.train_stride)
    va = windows(ds, split.train_buildings, split.val_days, split.train_stride)
    hidden, epochs = (32, 15) if quick else (256, 8)
    prob, prob_info = fit(tr, va, kind="nll", hidden=hidden, epochs=epochs, seed=seed)
    det, det_info = fit(tr, va, kind="mse", hidden=hidden, epochs=epochs, seed=seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.save(prob.state_dict(), run_dir / "prob.pt")
    torch.save(det.state_dict(), run_dir / "det.pt")
    info = {"seed": seed, "quick": quick, "hidden": hidden, "params": n_params(prob),
            "train_samples": len(tr), "val_samples": len(va), "data": split.describe(),
            "source": ds.source, "files": ds.files, "prob": prob_info, "det": det_info,
            "torch": torch.__version__, "wall_s": round(time.monotonic() - t0, 1)}
    (run_dir / "run.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _load(run_dir: Path, name: str) -> ForecastNet:
    info = json.loads((run_dir / "run.json").read_text())
    net = ForecastNet(int(info["hidden"]))
    net.load_state_dict(torch.load(run_dir / f"{name}.pt", weights_only=True))
    net.eval()
    return net


def export_one(net: ForecastNet, path: Path, seed: int = 0) -> float:
    """Write `path` (opset 17, inputs history/calendar, outputs mean/std); return the
    largest |torch − onnxruntime| over a random batch, raising if it exceeds 1e-4."""
    import onnxruntime as ort

    h = torch.zeros(1, FORECAST_HISTORY)
    c = torch.zeros(1, CALENDAR_FEATURES)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(net, (h, c), str(path), input_names=["history", "calendar"],
                      output_names=["mean", "std"], opset_version=17, dynamo=False,
                      dynamic_axes={n: {0: "N"} for n in ("history", "calendar", "mean",
                                                          "std")})
    rng = np.random.default_rng(seed)
    hb = rng.normal(0.5, 1.5, (512, FORECAST_HISTORY)).astype(np.float32)
    cb = np.zeros((512, CALENDAR_FEATURES), dtype=np.float32)
    cb[np.arange(512), rng.integers(0, 24, 512)] = 1.0
    cb[:, 24] = rng.integers(0, 2, 512)
    with torch.no_grad():
        tm, ts = net(torch.from_numpy(hb), torch.from_numpy(cb))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    om, os_ = sess.run(None, {"history": hb, "calendar": cb})
    diff = float(max(np.abs(om - tm.numpy()).max(), np.abs(os_ - ts.numpy()).max()))
    if diff > PARITY_TOL:
        raise RuntimeError(f"{path}: torch vs onnxruntime differ by {diff:.2e} > {PARITY_TOL}")
    return diff


def export(run_dir: Path, out: Path, baseline_out: Path) -> dict[str, Any]:
    report = {}
    for name, path in (("prob", out), ("det", baseline_out)):
        diff = export_one(_load(run_dir, name), path)
        report[name] = {"path": str(path), "bytes": path.stat().st_size,
                        "parity_max_abs_diff": diff}
    (run_dir / "export.json").write_text(json.dumps(report, indent=2) + "\n")
    return report

"""Real measured data for the forecaster: the CityLearn 2022 dataset from the CityLearn
2.1.2 wheel on PyPI (MIT), read as a zip without installing CityLearn.

`fetch()` runs `pip download --no-deps CityLearn==2.1.2` into the cache dir, checks the
wheel's SHA-256, extracts the 17 building files and `schema.json` and writes a
`MANIFEST.json` with every extracted file's SHA-256. `load()` turns either that directory
or the small committed slice (tests/fixtures/forecast/) into hourly load and PV series.

Net load = `Equipment Electric Power [kWh]` (hourly energy = mean kW) − PV, where PV kW =
`Solar Generation [W/kW]` × the building's `pv.attributes.nominal_power` (kW) / 1000, as
CityLearn itself computes it. Row 0 of each file is 2016-07-31 23:00 (Day Type 7 =
Sunday; Aug 1 2016 was a Monday); we start at row 1, 2016-08-01 00:00 local time.
"""

from __future__ import annotations

import calendar
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WHEEL_NAME = "CityLearn-2.1.2-py3-none-any.whl"
WHEEL_SPEC = "CityLearn==2.1.2"
WHEEL_SHA256 = "95730b1deed73b1f5a4d17eb8334be3c99efa4aef8677822378d62d8359511dd"
DATASET = "citylearn/data/citylearn_challenge_2022_phase_all/"
DATA_DIRNAME = "citylearn2022"
BUILDINGS = tuple(f"Building_{i}" for i in range(1, 18))
START_S = calendar.timegm((2016, 8, 1, 0, 0, 0))  # local time, used as if UTC
HOUR_S = 3600
SLICE = Path(__file__).resolve().parents[1] / "tests/fixtures/forecast/citylearn2022_slice.csv"


class DataError(RuntimeError):
    """The dataset is missing, fails its checksum, or cannot be read."""


@dataclass(frozen=True)
class Building:
    name: str
    load_kw: np.ndarray  # hourly means, from START_S
    pv_kw: np.ndarray

    @property
    def net_kw(self) -> np.ndarray:
        return np.asarray(self.load_kw - self.pv_kw)


@dataclass(frozen=True)
class Dataset:
    buildings: dict[str, Building]
    source: str               # what was read: the manifest dir or the slice file
    files: dict[str, str]     # file name -> sha256


def cache_dir() -> Path:
    env = os.environ.get("PEERWATT_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "peerwatt"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(cache: Path | None = None, *, quiet: bool = False) -> Path:
    """Download (once) and extract the dataset; return the directory with MANIFEST.json."""
    cache = cache or cache_dir()
    out = cache / DATA_DIRNAME
    if (out / "MANIFEST.json").is_file() and _manifest_ok(out):
        return out
    wheel = cache / "wheels" / WHEEL_NAME
    if not wheel.is_file() or sha256(wheel.read_bytes()) != WHEEL_SHA256:
        wheel.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "-d", str(wheel.parent), WHEEL_SPEC]
        if quiet:
            cmd.insert(4, "--quiet")
        res = subprocess.run(cmd, check=False)
        if res.returncode != 0 or not wheel.is_file():
            raise DataError(f"`pip download {WHEEL_SPEC}` failed (exit {res.returncode})")
    digest = sha256(wheel.read_bytes())
    if digest != WHEEL_SHA256:
        raise DataError(f"{wheel}: sha256 {digest}, expected {WHEEL_SHA256}")
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as zf:
        for name in [f"{b}.csv" for b in BUILDINGS] + ["schema.json", "weather.csv"]:
            data = zf.read(DATASET + name)
            (out / name).write_bytes(data)
            files[name] = sha256(data)
    manifest = {"wheel": WHEEL_NAME, "wheel_sha256": WHEEL_SHA256, "dataset": DATASET,
                "licence": "MIT (CityLearn)", "files": files}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def _manifest_ok(out: Path) -> bool:
    files = json.loads((out / "MANIFEST.json").read_text())["files"]
    return all((out / n).is_file() and sha256((out / n).read_bytes()) == h
               for n, h in files.items())


def _building_csv(text: str, pv_kwp: float) -> tuple[np.ndarray, np.ndarray]:
    rows = list(csv.DictReader(io.StringIO(text)))[1:]  # row 0 is 2016-07-31 23:00
    load = np.array([float(r["Equipment Electric Power [kWh]"]) for r in rows])
    solar = np.array([float(r["Solar Generation [W/kW]"]) for r in rows])
    return load, solar * pv_kwp / 1000.0


def load(path: Path | None = None) -> Dataset:
    """The full dataset from a fetched dir (default: fetch into the cache), or the slice."""
    if path is not None and path.is_file():
        return load_slice(path)
    out = path if path is not None else fetch()
    if not (out / "MANIFEST.json").is_file() or not _manifest_ok(out):
        raise DataError(f"{out}: missing or failing MANIFEST.json; run `peerwatt data fetch`")
    files = json.loads((out / "MANIFEST.json").read_text())["files"]
    schema = json.loads((out / "schema.json").read_text())
    blds = {}
    for b in BUILDINGS:
        kwp = float(schema["buildings"][b]["pv"]["attributes"]["nominal_power"])
        ld, pv = _building_csv((out / f"{b}.csv").read_text(), kwp)
        blds[b] = Building(b, ld, pv)
    return Dataset(blds, str(out), files)


def write_slice(ds: Dataset, path: Path, buildings: tuple[str, ...], first_day: int,
                days: int) -> None:
    """A small wide CSV (hour offset from START_S, then load/pv kW per building)."""
    lo = first_day * 24
    hi = min((first_day + days) * 24, min(len(ds.buildings[b].load_kw) for b in buildings))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["hour", *[f"{b}:{k}" for b in buildings for k in ("load_kw", "pv_kw")]])
        for h in range(lo, hi):
            vals = [v for b in buildings
                    for v in (ds.buildings[b].load_kw[h], ds.buildings[b].pv_kw[h])]
            w.writerow([h, *(f"{v:.4f}" for v in vals)])


def load_slice(path: Path = SLICE) -> Dataset:
    """The committed slice; series are padded with NaN before its first hour so hour
    offsets (and therefore dates) match the full dataset."""
    text = path.read_text()
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], np.array(rows[1:], dtype=np.float64)
    first = int(body[0, 0])
    blds = {}
    for j in range(1, len(header), 2):
        name = header[j].split(":")[0]
        pad = np.full(first, np.nan)
        blds[name] = Building(name, np.concatenate([pad, body[:, j]]),
                              np.concatenate([pad, body[:, j + 1]]))
    return Dataset(blds, str(path), {path.name: sha256(text.encode())})

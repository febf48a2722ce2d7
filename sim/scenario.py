"""Scenarios as data files (`scenarios/*.toml`), validated with pydantic.

A scenario fixes the community: the mix of home types (PV, battery, load scale, risk
attitude ranges), battery penetration, tariff, market parameters, the Lightning channels
and the Byzantine share and strategies. `--agents`, `--days`, `--byzantine` and `--seed`
on the command line override the file.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"
Attack = Literal["false_bids", "withholding", "reneging", "lying", "colluding"]
ATTACKS: tuple[Attack, ...] = ("false_bids", "withholding", "reneging", "lying", "colluding")
Range = tuple[float, float]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HomeType(_Model):
    name: str
    share: Annotated[float, Field(gt=0, le=1)]
    pv_scale: Range = (0.0, 0.0)          # × the measured building's PV system (4–5 kWp)
    battery_kwh: Range = (0.0, 0.0)
    battery_kw: Range = (0.0, 0.0)
    load_scale: Range = (0.7, 1.4)        # × the measured building's load
    risk_aversion_per_eur: Range = (0.0, 1.0)

    @model_validator(mode="after")
    def _ranges(self) -> HomeType:
        for name in ("pv_scale", "battery_kwh", "battery_kw", "load_scale",
                     "risk_aversion_per_eur"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"{name}: need 0 <= low <= high, got ({lo}, {hi})")
        return self


class TariffSpec(_Model):
    retail_eur_per_kwh: Annotated[float, Field(gt=0)] = 0.30
    peak_retail_eur_per_kwh: Annotated[float, Field(gt=0)] = 0.40
    feed_in_eur_per_kwh: Annotated[float, Field(ge=0)] = 0.08
    peak_hours: tuple[int, int] = (17, 21)
    eur_per_btc: Annotated[float, Field(gt=0)] = 90_000.0
    # A capacity charge per kW and year on the 15-minute peak import, charged on each day's
    # peak pro rata (days / 365): on each home's own peak ("home", the Flemish basis), or on
    # the community's coincident peak ("community", shared by the homes' own peaks).
    # sim/tariff.py.
    capacity_eur_per_kw_year: Annotated[float, Field(ge=0)] = 0.0
    capacity_basis: Literal["home", "community"] = "community"

    @model_validator(mode="after")
    def _order(self) -> TariffSpec:
        if self.feed_in_eur_per_kwh >= min(self.retail_eur_per_kwh,
                                           self.peak_retail_eur_per_kwh):
            raise ValueError("feed_in_eur_per_kwh must be below both retail prices")
        return self


class MarketSpec(_Model):
    interval_s: Literal[900] = 900       # the daemon's interval and the forecaster's step
    max_rounds: Annotated[int, Field(ge=1, le=10)] = 3
    gate_margin: Annotated[float, Field(gt=0, lt=0.9)] = 0.2
    hop_ms: Annotated[float, Field(ge=0)] = 1.2          # one MQTT hop (FIELD-NOTES, QoS 1)
    reply_timeout_s: Annotated[float, Field(gt=0)] = 2.0  # the daemon's silence timeout
    max_offers_per_interval: Annotated[int, Field(ge=1)] = 64
    # Each home bounds its set-point by what it has gained over itself alone so far
    # (agent.domain.rational): no home ends worse off than alone.
    rational_guard: bool = True


class CoordinatorSpec(_Model):
    """The coordinator's equilibrium (`coordinator.equilibrium.EquilibriumConfig`)."""

    types: Annotated[int, Field(ge=1, le=64)] = 16
    min_type_size: Annotated[int, Field(ge=1)] = 10
    trim: Annotated[float, Field(ge=0, le=0.45)] = 0.0
    quantile_z: Annotated[float, Field(ge=0, le=3)] = 0.5
    wear_eur_per_kwh: Annotated[float, Field(ge=0)] = 0.002
    # Homes run their unit's plan and let the battery absorb their own forecast's error
    # (what a battery in self-consumption mode around a set-point does).
    track_forecast_error: bool = True
    # The capacity charge the plan is made with, as a multiple of the tariff's: above 1 the
    # community gives up a little of its own gain for a lower peak (docs/simulate.md).
    peak_price_factor: Annotated[float, Field(ge=0, le=100)] = 1.0


class ByzantineSpec(_Model):
    share: Annotated[float, Field(ge=0, lt=1)] = 0.0
    strategies: tuple[Attack, ...] = ATTACKS
    sweep: tuple[float, ...] = (0.0, 0.05, 0.10, 0.20, 0.30)
    lie_kw: Annotated[float, Field(ge=0)] = 5.0          # lying state reports: + kW every step


class LightningSpec(_Model):
    channel_sat: Annotated[int, Field(gt=0)] = 2_000_000  # lnsim's default, hub topology


class Scenario(_Model):
    name: str = "default"
    description: str = ""
    agents: Annotated[int, Field(ge=2)] = 1000
    days: Annotated[int, Field(ge=1, le=14)] = 1
    start_day: date = date(2017, 6, 15)   # a day of the CityLearn 2022 year
    seed: int = 0
    battery_penetration: Annotated[float, Field(ge=0, le=1)] | None = None
    home_types: tuple[HomeType, ...]
    tariff: TariffSpec = TariffSpec()
    market: MarketSpec = MarketSpec()
    coordinator: CoordinatorSpec = CoordinatorSpec()
    byzantine: ByzantineSpec = ByzantineSpec()
    lightning: LightningSpec = LightningSpec()

    @model_validator(mode="after")
    def _shares(self) -> Scenario:
        total = sum(t.share for t in self.home_types)
        if not self.home_types or abs(total - 1.0) > 1e-6:
            raise ValueError(f"home_types shares must sum to 1, got {total}")
        return self


def load_scenario(spec: str | Path) -> Scenario:
    """A scenario by file path, or by name from `scenarios/` (`default`, `high-pv`, …)."""
    path = Path(spec)
    if not path.is_file():
        path = SCENARIO_DIR / f"{spec}.toml"
    if not path.is_file():
        names = sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))
        raise FileNotFoundError(f"no scenario file {spec!r} (named ones: {', '.join(names)})")
    return Scenario.model_validate(tomllib.loads(path.read_text()))

"""The rules between keys (issue 19): each broken one is its own exact line, whether the
file is loaded or the section is built in code; good values on the edge still load."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.settings import (
    AgentSettings,
    BatterySettings,
    ConfigError,
    CoordinatorSettings,
    LimitsSettings,
    MarketSettings,
    load,
)


def _problems(tmp_path: Path, text: str, model: type = AgentSettings) -> list[str]:
    path = tmp_path / "agent.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path, model)
    assert info.value.kind == "keys"
    return info.value.problems


A = 'agent_id = "a"\n'

CASES = [
    pytest.param(A + "[battery]\nmin_soc_pct = 90\nmax_soc_pct = 10\n",
                 ["battery.max_soc_pct: value 10 is not allowed: must be above min_soc_pct "
                  "(90.0), or the battery can never charge or discharge"], id="soc-inverted"),
    pytest.param(A + "[battery]\nmin_soc_pct = 50\nmax_soc_pct = 50\n",
                 ["battery.max_soc_pct: value 50 is not allowed: must be above min_soc_pct "
                  "(50.0), or the battery can never charge or discharge"], id="soc-empty"),
    pytest.param(A + "[battery]\nmax_charge_w = -1\nmax_discharge_w = -0.5\n",
                 ["battery.max_charge_w: value -1 is not allowed: Input should be greater "
                  "than or equal to 0",
                  "battery.max_discharge_w: value -0.5 is not allowed: Input should be greater "
                  "than or equal to 0"], id="negative-power"),
    pytest.param(A + "[market]\ninterval_s = 7\n",
                 ["market.interval_s: value 7 is not allowed: must divide the day (86400 s) "
                  "into whole intervals, e.g. 300, 900, 1800 or 3600"], id="interval-7s"),
    pytest.param(A + "[market]\ninterval_s = 1000\n",
                 ["market.interval_s: value 1000 is not allowed: must divide the day (86400 s) "
                  "into whole intervals, e.g. 300, 900, 1800 or 3600"], id="interval-1000s"),
    pytest.param(A + "[limits]\nmax_trade_msat = 6000\nmax_interval_msat = 5000\n"
                 "max_day_msat = 4000\n",
                 ["limits.max_interval_msat: value 5000 is not allowed: must be at least "
                  "max_trade_msat (6000)",
                  "limits.max_day_msat: value 4000 is not allowed: must be at least "
                  "max_trade_msat (6000)"], id="caps-inverted"),
    pytest.param(A + "[limits]\nmax_interval_msat = 5000\nmax_day_msat = 4000\n"
                 "max_trade_msat = 10\n",
                 ["limits.max_day_msat: value 4000 is not allowed: must be at least "
                  "max_interval_msat (5000)"], id="day-below-interval"),
    pytest.param(A + "[lightning]\nmax_fee_msat = 5000\n[limits]\nmax_fee_msat = 1000\n",
                 ["lightning.max_fee_msat: value 5000 is not allowed: must be at most "
                  "limits.max_fee_msat (1000), or every payment is refused"], id="fee-cap"),
    pytest.param(A + "[device]\npoll_s = 60\nmax_age_s = 60\n",
                 ["device.max_age_s: value 60.0 is not allowed: must be above device.poll_s "
                  "(60.0 s), or a decision can find every reading too old"], id="age-vs-poll"),
    pytest.param(A + '[device]\npoll_s = 1\nmax_age_s = 60\n[clock]\nmode = "sim"\n'
                 "speed = 100\n",
                 ["device.max_age_s: value 60.0 is not allowed: must be above device.poll_s "
                  "(1.0 x clock.speed 100 = 100 s), or a decision can find every reading "
                  "too old"], id="age-vs-poll-sim"),
    pytest.param(A + "[lightning]\nmax_fee_msat = 5000\n[limits]\nmax_fee_msat = 1000\n"
                 "[device]\npoll_s = 60\nmax_age_s = 60\n",
                 ["lightning.max_fee_msat: value 5000 is not allowed: must be at most "
                  "limits.max_fee_msat (1000), or every payment is refused",
                  "device.max_age_s: value 60.0 is not allowed: must be above device.poll_s "
                  "(60.0 s), or a decision can find every reading too old"],
                 id="two-rules-two-lines"),
    pytest.param(A + "[market]\neur_per_btc = inf\n[clock]\nspeed = nan\n",
                 ["market.eur_per_btc: value inf is not allowed: Input should be a finite "
                  "number",
                  "clock.speed: value nan is not allowed: Input should be a finite number"],
                 id="not-finite"),
    pytest.param(A + '[models]\ntimezone = "Europe"\n',
                 ["models.timezone: value 'Europe' is not allowed: unknown IANA time zone "
                  "'Europe'"], id="zone-directory"),
    pytest.param(A + '"a\\nb" = 1\n',
                 ["a\\nb: unknown key (value 1); allowed: agent_id, device, broker, lightning, "
                  "market, limits, settlement, liquidity, battery, models, paths, clock, "
                  "metrics, homeassistant"], id="newline-in-key"),
]


@pytest.mark.parametrize(("text", "lines"), CASES)
def test_each_broken_rule_is_one_exact_line(tmp_path: Path, text: str,
                                            lines: list[str]) -> None:
    assert _problems(tmp_path, text) == lines


def test_coordinator_market_has_the_same_rules(tmp_path: Path) -> None:
    assert _problems(tmp_path, "[market]\ninterval_s = 7\n", CoordinatorSettings) == [
        "market.interval_s: value 7 is not allowed: must divide the day (86400 s) into whole "
        "intervals, e.g. 300, 900, 1800 or 3600"]


@pytest.mark.parametrize(("model", "values"), [
    (BatterySettings, {"min_soc_pct": 90.0, "max_soc_pct": 10.0}),
    (LimitsSettings, {"max_trade_msat": 10, "max_interval_msat": 5}),
    (MarketSettings, {"interval_s": 7}),
])
def test_rules_hold_for_sections_built_in_code(model: type, values: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        model(**values)


@pytest.mark.parametrize("text", [
    A + "[battery]\nmin_soc_pct = 0\nmax_soc_pct = 0.1\n",
    A + "[battery]\nmax_charge_w = 0\nmax_discharge_w = 0\ncapacity_wh = 0\n",
    A + "[limits]\nmax_trade_msat = 5\nmax_interval_msat = 5\nmax_day_msat = 5\n",
    A + "[lightning]\nmax_fee_msat = 1000\n[limits]\nmax_fee_msat = 1000\n",
    A + "[market]\ninterval_s = 1\n",
    A + "[market]\ninterval_s = 3600\n",
    A + "[device]\npoll_s = 59.9\nmax_age_s = 60\n",
])
def test_values_on_the_edge_load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    load(path, AgentSettings)

"""bench.control_eval's --combine: reports of other controls on the same units, or of the
same controls on other units, join into one summary with paired differences; a unit that
lacks a control is refused with its name (a paired difference over it would be wrong)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.control_eval import combine

METRICS = ("cost_eur_per_home_day", "cost_held_out_eur_per_home_day", "peak_kw",
           "capacity_charge_eur_per_home", "intervals_above_threshold",
           "home_intervals_above_own_peak_pct")


def _unit(seed: int, costs: dict[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {"seed": seed, "day": "2017-06-15"}
    for name, cost in costs.items():
        out[name] = {m: (cost if m == "cost_eur_per_home_day" else 1.0) for m in METRICS}
    return out


def _report(units: list[dict[str, Any]], controls: list[str]) -> dict[str, Any]:
    return {"controls": controls, "units": units, "wall_s": 10.0, "seeds": [],
            "days": ["2017-06-15"]}


def _costs(seed: int) -> dict[str, float]:
    return {"no_trading": 7.0, "equilibrium": 6.0 + 0.01 * seed,
            "equilibrium_means_only": 6.1 + 0.01 * seed, "mpc": 5.9 + 0.02 * seed,
            "mpc_means_only": 6.0 + 0.02 * seed}


def test_units_of_other_seeds_join_and_pair_against_the_default() -> None:
    a = _report([_unit(s, _costs(s)) for s in (0, 1, 2)], ["equilibrium", "mpc"])
    b = _report([_unit(s, _costs(s)) for s in (3, 4)], ["equilibrium", "mpc"])
    out = combine([a, b])
    assert out["seeds"] == [0, 1, 2, 3, 4]
    assert len(out["units"]) == 5
    diff = out["paired"]["mpc_minus_equilibrium"]["cost_eur_per_home_day"]
    assert diff["n"] == 5
    assert diff["mean"] == pytest.approx(-0.1 + 0.01 * 2, abs=1e-4)  # mean of −0.1 + 0.01 s
    assert out["lowest_cost"] == "mpc"
    assert out["wall_s"] == 20.0


def test_a_unit_without_a_control_is_refused() -> None:
    a = _report([_unit(s, _costs(s)) for s in (0, 1)], ["equilibrium", "mpc"])
    only_eq = {k: v for k, v in _costs(2).items() if not k.startswith("mpc")}
    b = _report([_unit(2, only_eq)], ["equilibrium"])
    with pytest.raises(SystemExit, match="seed 2 day 2017-06-15 lacks mpc, mpc_means_only"):
        combine([a, b])

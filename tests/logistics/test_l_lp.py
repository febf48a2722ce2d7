"""The central optimum (logistics/optimum.py): hand-solved transport LPs, whole-parcel
vertices, prices in the competitive range, and the LP bounds every strategy."""

from __future__ import annotations

import numpy as np
import pytest

from logistics.agents import build_city
from logistics.baselines import first_come, optimum
from logistics.market import run_market
from logistics.metrics import welfare_msat
from logistics.optimum import Demand, Supply, assign
from logistics.scenario import load_scenario
from logistics.wire import SignedWire
from sim.settle import Ledger


def a(*rows: list[int]) -> np.ndarray:
    return np.array(rows, dtype=np.int64)


def test_scarce_slot_goes_to_the_most_valuable_parcels() -> None:
    # Three lots in zone 0, one window; one slot with room for 3 parcels at cost 2.
    d = Demand(a(0, 0, 0), a(2, 2, 2), a([10], [7], [4]))
    out = assign(d, Supply(a(0), a(0), a(3), a(2)), 1, 1)
    per_lot = out.per_lot(3, 1)[:, 0]
    assert list(per_lot) == [2, 1, 0]
    assert out.welfare_msat == 2 * 10 + 7 - 3 * 2
    # The marginal parcel is worth 7 (lot 1 is split): the price is 7.
    assert out.price_msat[0, 0] == pytest.approx(7)


def test_cheaper_carrier_is_used_first_and_sets_the_price_with_room_to_spare() -> None:
    d = Demand(a(0), a(5), a([10]))
    s = Supply(a(0, 0), a(0, 0), a(4, 4), a(5, 3))
    out = assign(d, s, 1, 1)
    assert list(out.carried) == [1, 4]
    assert out.welfare_msat == 5 * 10 - 4 * 3 - 1 * 5
    assert out.price_msat[0, 0] == pytest.approx(5)     # the marginal carrier's cost


def test_late_delivery_only_when_worth_its_cost() -> None:
    # Two windows; window 0 holds one parcel. Lot 0 is worth 10 on time (window 0) and 7
    # late; lot 1 worth 10 on time and 1 late. Late slot costs 2.
    d = Demand(a(0, 0), a(1, 1), a([10, 7], [10, 1]))
    s = Supply(a(0, 0), a(0, 1), a(1, 5), a(2, 2))
    out = assign(d, s, 1, 2)
    per_lot = out.per_lot(2, 2)
    assert per_lot.tolist() == [[0, 1], [1, 0]]           # lot 0 goes late, lot 1 on time
    assert out.welfare_msat == (10 - 2) + (7 - 2)
    d = Demand(a(0, 0), a(1, 1), a([10, 1], [10, 1]))     # late is worth less than it costs
    out = assign(d, s, 1, 2)
    assert out.per_lot(2, 2)[:, 1].sum() == 0


def test_zones_do_not_mix_and_infeasible_windows_stay_empty() -> None:
    d = Demand(a(0, 1), a(3, 3), a([-1, 9], [9, -1]))
    s = Supply(a(0, 0, 1, 1), a(0, 1, 0, 1), a(9, 9, 9, 9), a(1, 1, 1, 1))
    out = assign(d, s, 2, 2)
    assert out.per_lot(2, 2).tolist() == [[0, 3], [3, 0]]
    assert np.isnan(assign(d, Supply(a(0), a(1), a(9), a(1)), 2, 2).price_msat[1, 0])


def test_optimum_of_a_generated_city_is_whole_parcels_within_capacity() -> None:
    city = build_city(load_scenario("city"), 120, 5)
    run, out = optimum(city)
    assert np.all(run.used <= city.slots.capacity)
    assert np.all(run.delivered.sum(axis=1) <= city.lots.parcels)
    assert np.all((run.delivered == 0) | (city.value > 0))
    assert np.all(run.delivered == np.round(run.delivered))
    # Slot prices sit between the cheapest used cost and the best value there.
    finite = np.isfinite(out.price_msat)
    assert finite.any()
    assert np.all(out.price_msat[finite] >= -1e-6)


@pytest.mark.parametrize("seed", [1, 2])
def test_no_strategy_beats_the_lp(seed: int) -> None:
    city = build_city(load_scenario("city"), 80, seed)
    lp = welfare_msat(city, optimum(city)[0])
    fcfs = welfare_msat(city, first_come(city, np.random.default_rng(seed)))
    names = [*city.carriers, *city.shippers]
    for coordinated in (True, False):
        run = run_market(city, SignedWire(names, "logistics", seed),
                         Ledger(names, 20_000_000), np.random.default_rng(seed), coordinated)
        assert welfare_msat(city, run) <= lp + 1e-6
    assert fcfs <= lp + 1e-6

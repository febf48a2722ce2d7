"""The booking rounds (logistics/market.py) and first come, first served on generated
cities: no slot over capacity, no lot over its parcels, parcels only where they can be
delivered, money conserved; the coordinator's prices and the lots' choices."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from logistics.agents import City, build_city
from logistics.baselines import first_come
from logistics.coordinator import signal
from logistics.market import MarketRun, choose, run_market
from logistics.scenario import load_scenario
from logistics.wire import SignedWire
from sim.settle import Ledger

SCENARIO = load_scenario("city")


def _check(city: City, run: MarketRun) -> None:
    s, lots = city.slots, city.lots
    assert np.all(run.used >= 0)
    assert np.all(run.used <= s.capacity)
    assert np.all(run.delivered.sum(axis=1) <= lots.parcels)
    assert np.all((run.delivered == 0) | (city.value > 0))
    per_window = np.bincount(s.window, weights=run.used, minlength=city.windows)
    assert np.array_equal(per_window, run.delivered.sum(axis=0))
    assert run.paid_msat.sum() == run.received_msat.sum() + run.fees_msat


@settings(max_examples=12, deadline=None)
@given(agents=st.integers(3, 60), seed=st.integers(0, 10_000), coordinated=st.booleans())
def test_market_never_oversells_a_slot(agents: int, seed: int, coordinated: bool) -> None:
    city = build_city(SCENARIO, agents, seed)
    names = [*city.carriers, *city.shippers]
    wire = SignedWire(names, "logistics", seed)
    ledger = Ledger(names, SCENARIO.lightning.channel_sat)
    run = run_market(city, wire, ledger, np.random.default_rng(seed), coordinated)
    _check(city, run)
    assert run.agreements == ledger.stats.succeeded
    assert wire.counters["moves_verified"] == wire.counters["moves_sent"]


@settings(max_examples=20, deadline=None)
@given(agents=st.integers(3, 120), seed=st.integers(0, 10_000))
def test_first_come_never_oversells_a_slot(agents: int, seed: int) -> None:
    city = build_city(SCENARIO, agents, seed)
    run = first_come(city, np.random.default_rng(seed))
    _check(city, run)
    assert run.sessions == 0


def test_signal_prices_slots_and_lots_choose_their_best() -> None:
    city = build_city(SCENARIO, 100, 4)
    sig = signal(city, city.lots.parcels.copy(), city.slots.capacity.copy(), 8)
    have = sig.capacity > 0
    assert np.all(np.isfinite(sig.price_msat[have]))
    assert np.all(np.isnan(sig.price_msat[~have]))
    assert np.all(sig.demand <= sig.capacity + 1e-9)      # the mean field fits the slots
    tried = np.zeros(city.value.shape, dtype=bool)
    pick = choose(city, city.lots.parcels, sig.price_msat, tried)
    for i in np.flatnonzero(pick >= 0)[:200].tolist():
        p = sig.price_msat[city.lots.zone[i]]
        surplus = np.where((city.value[i] > 0) & np.isfinite(p), city.value[i] - p, -np.inf)
        assert surplus[pick[i]] >= 0
        assert surplus[pick[i]] >= surplus.max() - 1.0     # best, up to the tie-break
    # Without prices a lot goes for its wanted window first.
    first = choose(city, city.lots.parcels, None, tried)
    ok = first >= 0
    assert np.array_equal(first[ok], city.lots.due[ok])

"""The simulator's parts against the daemon's own: battery physics, the hub route, the
decision rules on scalars and arrays, the in-memory market."""

from __future__ import annotations

import numpy as np
import pytest

from agent.domain import decision as rules
from firmware_bridge.emulator.battery import Battery
from lnsim.graph import ChannelGraph
from lnsim.network import LSP_NAME
from sim.market import Book, clear
from sim.physics import Batteries
from sim.scenario import MarketSpec
from sim.settle import Ledger


def test_vector_battery_matches_the_simulated_device() -> None:
    rng = np.random.default_rng(0)
    n = 200
    cap = np.where(rng.random(n) < 0.8, rng.uniform(1000, 13500, n), 0.0)
    power = rng.uniform(500, 5000, n)
    soc = cap * rng.uniform(0.0, 1.0, n)
    vec = Batteries(cap.copy(), power.copy(), soc.copy())
    one = [Battery(float(c), float(p), 0.9, float(s)) for c, p, s in zip(cap, power, soc,
                                                                          strict=True)]
    vec.soc_wh = np.array([b.soc_wh for b in one])  # the device clamps the start
    for _ in range(20):
        setpoint = rng.uniform(-6000, 6000, n)
        got = vec.step(setpoint, 900.0)
        want = np.array([b.step(float(x), 900.0) for b, x in zip(one, setpoint, strict=True)])
        assert got == pytest.approx(want, abs=1e-9)
        assert vec.soc_wh == pytest.approx(np.array([b.soc_wh for b in one]), abs=1e-9)


def test_hub_route_is_the_route_lnsim_finds() -> None:
    ledger = Ledger(["a", "b", "c"], 2_000_000)
    graph = ChannelGraph()
    for name in ("a", "b", "c"):
        graph.add_channel(name, LSP_NAME, 2_000_000_000)
    for amount in (1, 999, 123_456, 50_000_000):
        assert ledger.hub_route("a", "c", amount) == graph.find_route("a", "c", amount)
    assert ledger.hub_route("a", "c", 1_500_000_000) is None
    assert graph.find_route("a", "c", 1_500_000_000) is None


def test_payment_moves_balances_and_charges_the_hub_fee() -> None:
    ledger = Ledger(["a", "b"], 1000)
    fee = ledger.pay("a", "b", 100_000)
    assert fee == 1000 + 100_000 * 10 // 1_000_000
    assert ledger.stats.succeeded == 1
    assert ledger.utilization()["max"] == pytest.approx((100_000 + fee) / 1_000_000)
    assert ledger.pay("a", "b", 10**9) is None
    assert ledger.stats.no_route == 1


@pytest.mark.parametrize(("expected", "margin", "side", "energy"), [
    (-500.0, 100.0, rules.SELL, 400), (-110.0, 100.0, rules.NONE, 0),
    (300.7, 50.0, rules.BUY, 300), (10.0, 0.0, rules.NONE, 0), (0.0, 0.0, rules.NONE, 0)])
def test_positions_scalar_and_array_agree(expected: float, margin: float, side: int,
                                          energy: int) -> None:
    one = rules.orders(expected, margin, 150, 80, 300)
    many = rules.orders(np.array([expected, expected]), margin, 150, 80, 300)
    assert int(one.side[0]) == side
    assert int(one.energy_wh[0]) == energy
    assert list(many.side) == [side, side]
    assert list(many.energy_wh) == [energy, energy]
    if side == rules.SELL:
        assert (int(one.start[0]), int(one.reservation[0])) == (150 + (300 - 150) // 4, 80)
    if side == rules.BUY:
        assert (int(one.start[0]), int(one.reservation[0])) == (150 - (150 - 80) // 4, 300)


def test_clamp_keeps_the_soc_window_and_power_limit() -> None:
    got = rules.clamp_setpoint(np.array([5000.0, -5000.0, 100.0]), np.array([99.0, 6.0, 50.0]),
                               10_000.0, 5.0, 100.0, 3000.0, 3000.0, 0.25)
    assert list(got) == pytest.approx([400.0, -400.0, 100.0])


def _book(homes: list[int], wh: list[int], start: int, res: int) -> Book:
    n = len(homes)
    return Book(np.array(homes), np.array(wh), np.full(n, start), np.full(n, res))


def test_market_conserves_energy_and_respects_reservations() -> None:
    names = [f"h{i}" for i in range(6)]
    spec = MarketSpec()
    out = clear(5, _book([0, 1, 2], [400, 90, 1000], 200, 80),
                _book([3, 4, 5], [300, 300, 50], 150, 300), names, 0.0, 700.0, spec,
                np.zeros(6, bool), np.random.default_rng(0))
    sold = {h: sum(e for s, e in zip(out.seller, out.energy_wh, strict=True) if s == h)
            for h in (0, 1, 2)}
    bought = {h: sum(e for b, e in zip(out.buyer, out.energy_wh, strict=True) if b == h)
              for h in (3, 4, 5)}
    assert sum(sold.values()) == sum(bought.values()) == 650  # all the buyers' need
    assert sold[0] <= 400
    assert sold[1] <= 90
    assert sold[2] <= 1000
    assert bought == {3: 300, 4: 300, 5: 50}
    assert all(80 <= p <= 300 for p in out.price_msat_per_kwh)
    assert len(out.latency_ms) == len(out.energy_wh)
    assert out.sessions >= len(out.energy_wh)


def test_silent_buyers_cost_time_and_trades() -> None:
    names = [f"h{i}" for i in range(4)]
    spec = MarketSpec(max_offers_per_interval=5)
    silent = np.array([False, True, True, True])
    out = clear(5, _book([0], [500], 200, 80), _book([1, 2, 3], [300, 300, 300], 150, 300),
                names, 0.0, 700.0, spec, silent, np.random.default_rng(0))
    assert out.energy_wh == []
    assert out.unanswered == 5

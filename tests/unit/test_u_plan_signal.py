"""The coordinator's equilibrium signal: prices and unit plans, a size that does not grow
with the community, the roster as its own signed message."""

from __future__ import annotations

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.adapters.mqtt import MqttTransport
from agent.clock import WallClock
from agent.crypto.signal_sig import public_hex, verify_signal
from agent.domain import follow
from agent.domain.units import Tariff
from agent.ports import InboundMessage
from agent.settings import CoordinatorSettings, MarketSettings
from agent.wire import (
    MAX_PAYLOAD_BYTES,
    MAX_ROSTER_BYTES,
    Roster,
    Signal,
    StateReport,
    decode,
    encode,
    roster_digest,
)
from coordinator.service import Coordinator

TARIFF = Tariff(300_000, 400_000, 80_000)
FIRST = 19_000 * 96


def coordinator(key: Ed25519PrivateKey | None = None) -> Coordinator:
    s = CoordinatorSettings(market=MarketSettings(community="test", horizon_steps=96),
                            min_type_size=10)
    return Coordinator(s, MqttTransport(s.broker, "coordinator-test"), WallClock(), TARIFF,
                       key=key)


def community(c: Coordinator, n: int) -> None:
    """Homes with a midday surplus and an evening need; every third has no battery."""
    t = np.arange(96)
    rng = np.random.default_rng(0)
    for i in range(n):
        mean = 0.6 - 1.5 * np.exp(-((t - 48) / 10.0) ** 2) + 0.8 * np.exp(-((t - 76) / 6.0) ** 2)
        mean = mean * rng.uniform(0.7, 1.3)
        battery = 0.0 if i % 3 == 0 else float(rng.choice([5_000.0, 10_000.0, 13_500.0]))
        r = StateReport(agent_id=f"home-{i}", node_id="02" + f"{i:064x}", interval=FIRST,
                        soc_pct=50.0, battery_wh=battery,
                        battery_max_w=0.0 if battery == 0 else float(rng.choice([2500, 5000])),
                        forecast_mean_kw=[float(x) for x in mean],
                        forecast_std_kw=[0.2] * 96)
        c.on_report(InboundMessage(f"peerwatt/v1/test/state/home-{i}", encode(r)))


def test_the_signal_carries_prices_and_unit_plans_and_is_signed() -> None:
    key = Ed25519PrivateKey.generate()
    c = coordinator(key)
    community(c, 60)
    s = c.compute(FIRST)
    assert s is not None
    assert s.solver == "equilibrium"
    assert s.has_plan
    assert len(s.price_msat_per_kwh) == 96
    for p in s.price_msat_per_kwh:
        assert TARIFF.feed_in_msat_per_kwh <= p <= TARIFF.peak_retail_msat_per_kwh
    # Midday surplus is cheap, the evening need dear: the duals follow the community's balance.
    assert s.price_msat_per_kwh[48] < s.price_msat_per_kwh[76]
    # The batteries charge at midday and discharge in the evening, per their unit's plan.
    plan = np.asarray(s.plan_power_per_kwh)
    assert plan.shape[1] == 96
    edges = [0.0, *s.plan_crate_edges, np.inf]
    day = np.stack([follow.setpoint_w(plan, edges, k, [10_000.0, 5_000.0], [5_000.0, 2_500.0])
                    for k in range(96)])
    assert (day[36:60].sum(axis=0) > 0).all()   # charged from the midday surplus
    assert (day[68:84].sum(axis=0) < 0).all()   # discharged into the evening need
    assert verify_signal(decode(encode(s), Signal), public_hex(key))
    roster = c.roster
    assert roster is not None
    assert verify_signal(roster, public_hex(key))
    assert s.roster_digest == roster.digest == roster_digest(roster.entries)
    assert len(roster.entries) == 60


@pytest.mark.parametrize("homes", [100, 10_000])
def test_the_signal_does_not_grow_with_the_community(homes: int) -> None:
    c = coordinator(Ed25519PrivateKey.generate())
    community(c, homes)
    s = c.compute(FIRST)
    assert s is not None
    payload = encode(s)
    assert len(payload) <= MAX_PAYLOAD_BYTES
    assert decode(payload, Signal) == s
    roster = c.roster
    assert roster is not None
    body = encode(roster)
    assert decode(body, Roster, max_bytes=MAX_ROSTER_BYTES) == roster
    # At most the planning units grow (16), never one entry per home.
    assert len(s.plan_power_per_kwh) <= 16


def test_the_signal_carries_the_homes_share_of_the_coincident_peak() -> None:
    """Half the homes peak in the morning, half in the evening: one kW more of a home's own
    peak adds about half a kW to its share of the community's (`capacity_share`)."""
    c = coordinator()
    t = np.arange(96)
    for i in range(40):
        at = 30 if i % 2 else 76
        mean = 0.2 + 2.0 * np.exp(-((t - at) / 3.0) ** 2)
        r = StateReport(agent_id=f"home-{i}", node_id="02" + f"{i:064x}", interval=FIRST,
                        soc_pct=50.0, battery_wh=10_000.0, battery_max_w=5000.0,
                        forecast_mean_kw=[float(x) for x in mean], forecast_std_kw=[0.1] * 96)
        c.on_report(InboundMessage(f"peerwatt/v1/test/state/home-{i}", encode(r)))
    s = c.compute(FIRST)
    assert s is not None
    assert 0.45 < s.capacity_share < 0.65, s.capacity_share
    same = coordinator()
    community(same, 30)        # every home the same shape: the peaks coincide
    s2 = same.compute(FIRST)
    assert s2 is not None
    assert s2.capacity_share > 0.95

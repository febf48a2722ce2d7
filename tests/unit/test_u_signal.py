"""The mean-field signal: the price band, monotonicity, aggregation and report alignment."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from agent.adapters.mqtt import MqttTransport
from agent.clock import WallClock
from agent.domain.units import Tariff
from agent.ports import InboundMessage
from agent.settings import CoordinatorSettings, MarketSettings
from agent.wire import Signal, StateReport, decode, encode
from coordinator.service import Coordinator
from coordinator.signal import Aggregate, Forecasts, aggregate, price_path

FEED_IN = 80_000
RETAIL = 300_000


def agg(mean: list[float] | np.ndarray) -> Aggregate:
    m = np.asarray(mean, dtype=np.float64)
    return Aggregate(m, np.zeros_like(m), 1)


def flat_retail(n: int, value: int = RETAIL) -> np.ndarray:
    return np.full(n, float(value))


# --- aggregate ------------------------------------------------------------------------------


@pytest.mark.parametrize(("means", "stds", "horizon", "mean", "std"), [
    pytest.param([[1.0, 2.0]], [[0.5, 0.0]], 2, [1.0, 2.0], [0.5, 0.0], id="one-agent"),
    pytest.param([[1.0, 2.0], [-3.0, 0.5]], [[3.0, 1.0], [4.0, 1.0]], 2, [-2.0, 2.5],
                 [5.0, np.sqrt(2.0)], id="two-agents-rss"),
    pytest.param([[1.0, 1.0, 1.0], [2.0]], [[1.0, 1.0, 1.0], [1.0]], 3, [3.0, 1.0, 1.0],
                 [np.sqrt(2.0), 1.0, 1.0], id="short-report-adds-nothing-beyond-its-end"),
    pytest.param([[1.0, 2.0, 3.0, 4.0]], [[1.0, 2.0, 3.0, 4.0]], 2, [1.0, 2.0], [1.0, 2.0],
                 id="long-report-truncated"),
    pytest.param([], [], 3, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], id="nobody"),
])
def test_aggregate_table(means: list[list[float]], stds: list[list[float]], horizon: int,
                         mean: list[float], std: list[float]) -> None:
    a = aggregate(Forecasts(means, stds), horizon)
    assert a.agents == len(means)
    np.testing.assert_allclose(a.mean_kw, mean)
    np.testing.assert_allclose(a.std_kw, std)


finite = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=200)
@given(data=st.data(), n=st.integers(1, 8), horizon=st.integers(1, 24))
def test_aggregate_sums_means_and_root_sum_squares_stds(data: st.DataObject, n: int,
                                                          horizon: int) -> None:
    means = [data.draw(st.lists(finite, min_size=horizon, max_size=horizon)) for _ in range(n)]
    stds = [data.draw(st.lists(st.floats(0, 1e3), min_size=horizon, max_size=horizon))
            for _ in range(n)]
    a = aggregate(Forecasts(means, stds), horizon)
    np.testing.assert_allclose(a.mean_kw, np.sum(means, axis=0), atol=1e-9)
    np.testing.assert_allclose(a.std_kw, np.sqrt(np.sum(np.square(stds), axis=0)), rtol=1e-12)
    assert np.all(a.std_kw >= np.max(stds, axis=0) - 1e-9)


# --- price path -----------------------------------------------------------------------------


@settings(max_examples=400)
@given(mean=hnp.arrays(np.float64, st.integers(1, 96),
                       elements=st.floats(-1e4, 1e4, allow_nan=False)),
       feed_in=st.integers(0, 500_000), extra=st.integers(0, 500_000),
       peak_extra=st.integers(0, 500_000), slope=st.floats(0, 50), data=st.data())
def test_price_stays_in_band(mean: np.ndarray, feed_in: int, extra: int, peak_extra: int,
                             slope: float, data: st.DataObject) -> None:
    peak = data.draw(hnp.arrays(np.bool_, mean.shape))
    retail = np.where(peak, feed_in + extra + peak_extra, feed_in + extra).astype(np.float64)
    prices = price_path(agg(mean), retail, feed_in, slope)
    assert prices.dtype == np.int64
    assert prices.shape == mean.shape
    assert np.all(prices >= feed_in)
    assert np.all(prices <= retail)


@settings(max_examples=400)
@given(mean=hnp.arrays(np.float64, st.integers(2, 96),
                       elements=st.floats(-1e4, 1e4, allow_nan=False)),
       slope=st.floats(0, 20))
def test_price_rises_with_aggregate_load(mean: np.ndarray, slope: float) -> None:
    prices = price_path(agg(mean), flat_retail(len(mean)), FEED_IN, slope)
    order = np.argsort(mean, kind="stable")
    assert np.all(np.diff(prices[order]) >= 0), (mean[order], prices[order])


def test_more_load_strictly_dearer_on_a_clear_spread() -> None:
    prices = price_path(agg([-5.0, -1.0, 0.0, 1.0, 5.0]), flat_retail(5), FEED_IN)
    assert list(prices) == sorted(prices)
    assert len(set(prices.tolist())) == 5


@pytest.mark.parametrize("level", [0.0, 3.5, -12.0, 1e4])
def test_flat_aggregate_is_mid_band(level: float) -> None:
    prices = price_path(agg([level] * 96), flat_retail(96), FEED_IN, 3.0)
    assert np.all(prices == (FEED_IN + RETAIL) // 2)


def test_flat_aggregate_follows_the_peak_tariff() -> None:
    retail = np.array([300_000.0, 400_000.0])
    assert price_path(agg([2.0, 2.0]), retail, 100_000).tolist() == [200_000, 250_000]


def test_zero_slope_is_mid_band() -> None:
    prices = price_path(agg([-3.0, 0.0, 9.0]), flat_retail(3), FEED_IN, slope=0.0)
    assert np.all(prices == (FEED_IN + RETAIL) // 2)


def test_documented_formula() -> None:
    mean = np.array([1.0, 2.0, 6.0])
    z = (mean - mean.mean()) / mean.std()
    want = FEED_IN + (RETAIL - FEED_IN) / (1 + np.exp(-2.0 * z))
    assert price_path(agg(mean), flat_retail(3), FEED_IN, 2.0).tolist() == np.rint(want).tolist()


# --- the coordinator's compute and intake ---------------------------------------------------

NODE = "02" + "11" * 32
HORIZON = 4
TARIFF = Tariff(RETAIL, 400_000, FEED_IN)


def coordinator(horizon: int = HORIZON) -> Coordinator:
    s = CoordinatorSettings(market=MarketSettings(community="test", horizon_steps=horizon))
    return Coordinator(s, MqttTransport(s.broker, "coordinator-test"), WallClock(), TARIFF)


def report(agent: str, interval: int, mean: list[float], std: list[float] | None = None,
           ) -> StateReport:
    return StateReport(agent_id=agent, node_id=NODE, interval=interval, soc_pct=50.0,
                       battery_wh=10_000.0, battery_max_w=5_000.0, forecast_mean_kw=mean,
                       forecast_std_kw=std if std is not None else [0.0] * len(mean))


def deliver(c: Coordinator, r: StateReport, topic_agent: str | None = None) -> None:
    topic = f"peerwatt/v1/test/state/{topic_agent or r.agent_id}"
    c.on_report(InboundMessage(topic, encode(r)))


def test_compute_without_reports_is_none() -> None:
    assert coordinator().compute(10) is None


def test_compute_aligns_reports_that_started_at_different_intervals() -> None:
    c = coordinator()
    first = 100
    deliver(c, report("a", first, [1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]))
    deliver(c, report("b", first - 1, [10.0, 20.0, 30.0, 40.0], [0.0, 3.0, 3.0, 3.0]))
    deliver(c, report("c", first - 2, [100.0, 200.0, 300.0, 400.0]))
    s = c.compute(first)
    assert s is not None
    # a starts at `first`; b's step 0 was `first - 1`; c's step 0 was `first - 2`.
    assert s.net_load_kw == [1.0 + 20.0 + 300.0, 2.0 + 30.0 + 400.0, 3.0 + 40.0, 4.0]
    np.testing.assert_allclose(s.net_load_std_kw, [np.sqrt(10.0)] * 3 + [1.0])
    assert s.agents == 3
    assert s.interval == first
    assert s.interval_s == 900


def test_compute_aligns_a_report_for_a_later_interval() -> None:
    """A report whose forecast starts after `first` (an agent whose clock runs ahead) must
    not have its steps pulled forward onto earlier intervals."""
    c = coordinator()
    deliver(c, report("a", 51, [5.0, 6.0, 7.0, 8.0]))
    s = c.compute(50)
    assert s is not None
    assert s.net_load_kw == [0.0, 5.0, 6.0, 7.0]


def test_compute_drops_reports_older_than_two_intervals() -> None:
    c = coordinator()
    deliver(c, report("fresh", 20, [1.0] * HORIZON))
    deliver(c, report("edge", 18, [1.0] * HORIZON))
    deliver(c, report("stale", 17, [1.0] * HORIZON))
    s = c.compute(20)
    assert s is not None
    assert s.agents == 2
    assert c.roster is not None
    assert [r.agent_id for r in c.roster.entries] == ["edge", "fresh"]
    assert s.roster_digest == c.roster.digest
    # The stale report is forgotten, not just skipped.
    s2 = c.compute(21)
    assert s2 is not None
    assert [r.agent_id for r in c.roster.entries] == ["fresh"]
    assert s2.roster_digest == c.roster.digest != s.roster_digest
    assert c.compute(30) is None


def test_newer_report_replaces_older_from_the_same_agent() -> None:
    c = coordinator()
    deliver(c, report("a", 5, [1.0] * HORIZON))
    deliver(c, report("a", 6, [2.0] * HORIZON))
    s = c.compute(6)
    assert s is not None
    assert s.agents == 1
    assert s.net_load_kw == [2.0] * HORIZON
    assert c.stats.reports == 2


def test_signal_prices_follow_the_tariff_and_round_trip() -> None:
    c = coordinator(horizon=96)
    first = 19_000 * 96  # midnight UTC: steps 68..83 are 17:00..21:00, the peak
    mean = list(np.sin(np.arange(96) / 10.0) * 3.0)
    deliver(c, report("a", first, mean, [0.5] * 96))
    s = c.compute(first)
    assert s is not None
    for i, p in enumerate(s.price_msat_per_kwh):
        assert FEED_IN <= p <= TARIFF.retail_at((first + i) * 900)
    assert max(s.price_msat_per_kwh[68:84]) > RETAIL
    assert decode(encode(s), Signal) == s
    assert s.seq == 1
    assert c.compute(first).seq == 2  # type: ignore[union-attr]


def test_report_under_another_agents_topic_is_rejected_and_counted() -> None:
    c = coordinator()
    deliver(c, report("mallory", 10, [50.0] * HORIZON), topic_agent="alice")
    deliver(c, report("ice", 10, [50.0] * HORIZON), topic_agent="alice")  # suffix, not id
    assert c.stats.reports_invalid == 2
    assert c.stats.reports == 0
    assert c.compute(10) is None
    deliver(c, report("alice", 10, [1.0] * HORIZON))
    assert c.stats.reports == 1
    assert c.compute(10) is not None


@pytest.mark.parametrize("payload", [b"", b"{}", b"garbage", b'{"v":1,"type":"presence"}'])
def test_undecodable_report_is_counted(payload: bytes) -> None:
    c = coordinator()
    c.on_report(InboundMessage("peerwatt/v1/test/state/a", payload))
    assert c.stats.reports_invalid == 1
    assert c.compute(0) is None

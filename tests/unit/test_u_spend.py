"""The spend policy against a real journal: each cap and the roster refuse, naming why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.adapters.journal import Journal
from agent.domain.market import Terms
from agent.domain.trade import Event
from agent.services.spend import SpendPolicy
from agent.settings import LimitsSettings

NOW = 1_700_000_000.0
LIMITS = LimitsSettings(max_trade_msat=1_000, max_interval_msat=2_500, max_day_msat=6_000)


def terms(n: int, amount_msat: int, interval: int = 10, seller: str = "sam") -> Terms:
    # 1 000 Wh at `amount_msat` msat/kWh costs exactly `amount_msat`.
    return Terms(f"{n:032x}", interval, seller, "bea", 1_000, amount_msat)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite")
    yield j
    j.close()


def spent(journal: Journal, n: int, amount: int, interval: int, created_s: float,
          event: Event | None = None) -> None:
    t = terms(n, amount, interval)
    assert journal.record_trade(t, "buyer", created_s, bolt11=None, payment_hash=None,
                                latency_ms=None)
    if event is not None:
        journal.advance(t.trade_id, event, created_s)


def test_allowed_within_every_cap(journal: Journal) -> None:
    assert SpendPolicy(LIMITS, journal).check(terms(1, 1_000), NOW, {"sam"}) == ""
    assert SpendPolicy(LIMITS, journal).check(terms(1, 1_000), NOW, None) == ""


@pytest.mark.parametrize(("history", "trade", "roster", "words"), [
    pytest.param([], terms(1, 1_001), None, "per-trade cap 1000 msat", id="per-trade"),
    pytest.param([(900, 10, 0.0, None), (700, 10, 0.0, "payment_complete")], terms(1, 901), None,
                 "interval spend 1600+901 msat exceeds cap 2500 msat", id="per-interval"),
    pytest.param([(1_000, d, NOW - 3_600 * d, None) for d in range(1, 6)] +
                 [(1_000, 20, NOW - 60, None)], terms(1, 1, 99), None,
                 "daily spend 6000+1 msat exceeds cap 6000 msat", id="per-day"),
    pytest.param([], terms(1, 10, seller="mallory"), {"sam", "sue"},
                 "seller mallory is not on the coordinator's roster", id="roster"),
])
def test_refusals_name_the_cap(journal: Journal, history: list[tuple[int, int, float,
                                                                      Event | None]],
                               trade: Terms, roster: set[str] | None, words: str) -> None:
    for n, (amount, interval, created_s, state) in enumerate(history, start=100):
        spent(journal, n, amount, interval, created_s or NOW, state)
    reason = SpendPolicy(LIMITS, journal).check(trade, NOW, roster)
    assert words in reason, reason


def test_interval_cap_is_inclusive_and_ignores_failed(journal: Journal) -> None:
    spent(journal, 1, 1_000, 10, NOW)
    spent(journal, 2, 1_000, 10, NOW, "payment_failed")
    spent(journal, 3, 1_000, 10, NOW, "declined")
    policy = SpendPolicy(LIMITS, journal)
    assert policy.check(terms(9, 1_000), NOW, None) == ""       # 1 000 + 1 000 ≤ 2 500
    spent(journal, 4, 500, 10, NOW)
    assert policy.check(terms(9, 1_000), NOW, None) == ""       # exactly 2 500
    assert "per-trade cap" in policy.check(terms(9, 1_001), NOW, None)
    spent(journal, 5, 1, 10, NOW)
    assert "interval spend 1501+1000 msat exceeds cap 2500 msat" in policy.check(
        terms(9, 1_000), NOW, None)
    assert policy.check(terms(9, 1_000, interval=11), NOW, None) == ""


def test_day_is_a_rolling_24_hours(journal: Journal) -> None:
    spent(journal, 1, 1_000, 1, NOW - 86_400 - 1)   # just outside the window
    for n in range(2, 7):
        spent(journal, n, 1_000, n, NOW - 86_400 + n)  # five inside it
    policy = SpendPolicy(LIMITS, journal)
    assert policy.check(terms(9, 1_000, 50), NOW, None) == ""   # 5 000 + 1 000 ≤ 6 000
    assert "daily spend 5000+1001" in SpendPolicy(
        LimitsSettings(max_trade_msat=2_000, max_interval_msat=2_500, max_day_msat=6_000),
        journal).check(terms(9, 1_001, 50), NOW, None)


def test_roster_checked_first_and_none_means_no_roster(journal: Journal) -> None:
    policy = SpendPolicy(LIMITS, journal)
    assert "roster" in policy.check(terms(1, 10**9, seller="eve"), NOW, set())
    assert "per-trade" in policy.check(terms(1, 10**9, seller="eve"), NOW, None)

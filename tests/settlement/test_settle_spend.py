"""The spend policy's newer rules against a real journal: fee cap, exposure, default list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from settle_helpers import SELLER, terms

from agent.adapters.journal import Journal
from agent.services.spend import SpendPolicy
from agent.settings import LimitsSettings

NOW = 900.0 * 1_000 + 10.0  # inside interval 1000


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite")
    yield j
    j.close()


def test_fee_cap_counts_in_every_cap_and_must_fit_the_policy(journal: Journal) -> None:
    lim = LimitsSettings(max_trade_msat=10_000, max_fee_msat=1_000)
    assert SpendPolicy(lim, journal, max_fee_msat=1_000).check(terms(1, 9_000), NOW, None) == ""
    assert "9001+1000 fee msat exceeds per-trade cap 10000" in SpendPolicy(
        lim, journal, max_fee_msat=1_000).check(terms(1, 9_001), NOW, None)
    assert "fee cap 1001 msat exceeds the policy's 1000 msat" in SpendPolicy(
        lim, journal, max_fee_msat=1_001).check(terms(1, 10), NOW, None)


def test_exposure_to_one_seller_counts_undelivered_energy_only(journal: Journal) -> None:
    lim = LimitsSettings(max_exposure_msat=3_000)
    policy = SpendPolicy(lim, journal)
    for n, interval in [(1, 999), (2, 1_000), (3, 1_001)]:  # 999 is delivered already
        journal.record_trade(terms(n, 1_000, interval=interval), "buyer", NOW, bolt11=None,
                             payment_hash=None, latency_ms=None)
    assert policy.check(terms(9, 1_000, interval=1_002), NOW, None) == ""
    assert f"exposure to {SELLER} 2000+1001 msat exceeds cap 3000 msat" in policy.check(
        terms(9, 1_001, interval=1_002), NOW, None)
    assert policy.check(terms(9, 1_001, interval=1_002, seller="other"), NOW, None) == ""
    # Before paying, the trade is journaled: it is counted once, not twice.
    t = terms(4, 1_000, interval=1_002)
    journal.record_trade(t, "buyer", NOW, bolt11=None, payment_hash=None, latency_ms=None)
    assert policy.check(t, NOW, None, journaled=True) == ""


def test_default_list_after_repeated_failures_then_forgiven(journal: Journal) -> None:
    lim = LimitsSettings(default_after_failures=2, default_window_s=1_000, default_for_s=500)
    policy = SpendPolicy(lim, journal)
    policy.failed(SELLER, "undelivered", "a", NOW - 900)
    assert policy.check(terms(1, 10), NOW, None) == ""
    policy.failed(SELLER, "unpayable", "b", NOW - 100)
    policy.failed(SELLER, "unpayable", "b", NOW - 50)  # same trade: counted once
    reason = policy.check(terms(1, 10), NOW, None)
    assert f"{SELLER} is on the default list until {NOW + 400:.0f}" in reason
    assert "2 failures: undelivered, unpayable" in reason
    assert policy.check(terms(1, 10, seller="other"), NOW, None) == ""
    assert policy.check(terms(1, 10), NOW + 401, None) == ""   # refused for a while only
    assert policy.defaulted(SELLER, NOW + 150) == ""           # first failure left the window


def test_require_roster(journal: Journal) -> None:
    strict = SpendPolicy(LimitsSettings(require_roster=True), journal)
    assert "no roster known yet" in strict.check(terms(1, 10), NOW, None)
    assert strict.check(terms(1, 10), NOW, {SELLER}) == ""
    assert SpendPolicy(LimitsSettings(), journal).check(terms(1, 10), NOW, None) == ""

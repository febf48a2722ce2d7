"""The SQLite journal on real files: WAL, idempotent trades, terminal states, spend sums."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.adapters.journal import Journal, JournalError, TradeState
from agent.domain import trade
from agent.domain.market import Terms
from agent.domain.trade import Event, Role
from agent.ports import PermanentError

T0 = 1_700_000_000.0


def terms(n: int, interval: int = 5, energy_wh: int = 1_000, price: int = 200_000,
          seller: str = "sam", buyer: str = "bea") -> Terms:
    return Terms(f"{n:032x}", interval, seller, buyer, energy_wh, price)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "state" / "journal.sqlite")
    yield j
    j.close()


def pragma(path: Path, name: str) -> str:
    with sqlite3.connect(path) as db:
        return str(db.execute(f"PRAGMA {name}").fetchone()[0])


def test_wal_mode_and_parent_dirs_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "journal.sqlite"
    j = Journal(path)
    try:
        assert path.is_file()
        assert pragma(path, "journal_mode") == "wal"
    finally:
        j.close()


def test_record_trade_is_idempotent(journal: Journal) -> None:
    t = terms(1)
    assert journal.record_trade(t, "buyer", T0, bolt11="lnbc1", payment_hash="ab" * 32,
                                latency_ms=12.5)
    assert not journal.record_trade(t, "buyer", T0 + 5, bolt11="lnbc2", payment_hash="cd" * 32,
                                    latency_ms=1.0)
    rec = journal.trade(t.trade_id)
    assert rec is not None
    assert rec.terms == t
    assert (rec.role, rec.state, rec.bolt11, rec.payment_hash) == ("buyer", "agreed", "lnbc1",
                                                                   "ab" * 32)
    assert len(journal.trades()) == 1
    assert journal.trade("f" * 32) is None


# (events on a buyer trade, final state): paid and cancelled are terminal; failed can
# still be reconciled to paid (the payment went through after all).
TRANSITIONS: list[tuple[list[Event], TradeState]] = [
    (["claimed", "payment_complete"], "paid"),
    (["claimed", "payment_complete", "payment_failed"], "paid"),
    (["payment_complete", "declined"], "paid"),
    (["payment_complete", "claimed"], "paid"),
    (["declined", "claimed"], "cancelled"),
    (["declined", "payment_complete"], "cancelled"),
    (["claimed", "payment_failed"], "failed"),
    (["claimed", "payment_failed", "payment_complete"], "paid"),
    (["payment_failed", "in_flight", "payment_complete"], "paid"),
    (["declined", "in_flight"], "cancelled"),
]


@pytest.mark.parametrize(("path", "final"), TRANSITIONS)
def test_events_move_the_journaled_trade(journal: Journal, path: list[Event],
                                         final: TradeState) -> None:
    t = terms(2)
    journal.record_trade(t, "buyer", T0, bolt11=None, payment_hash=None, latency_ms=None)
    for i, event in enumerate(path):
        journal.advance(t.trade_id, event, T0 + i + 1)
    rec = journal.trade(t.trade_id)
    assert rec is not None
    assert rec.state == final


@settings(max_examples=200, deadline=None)
@given(role=st.sampled_from(["seller", "buyer"]),
       path=st.lists(st.sampled_from(trade.EVENTS), max_size=8))
def test_paid_and_cancelled_are_never_left(tmp_path_factory: pytest.TempPathFactory,
                                           role: Role, path: list[Event]) -> None:
    j = Journal(tmp_path_factory.mktemp("j") / "journal.sqlite")
    try:
        t = terms(3)
        j.record_trade(t, role, T0, bolt11=None, payment_hash=None, latency_ms=None)
        terminal: TradeState | None = None
        state: TradeState = "agreed"
        for event in path:
            after = j.advance(t.trade_id, event, T0)
            state = trade.advance(role, state, event) or state
            assert after == state  # the journal applies the domain's rule, nothing else
            if terminal is None and state in ("paid", "cancelled"):
                terminal = state
        rec = j.trade(t.trade_id)
        assert rec is not None
        assert rec.state == (terminal or state)
    finally:
        j.close()


def test_error_is_kept_until_replaced(journal: Journal) -> None:
    t = terms(4)
    journal.record_trade(t, "buyer", T0, bolt11=None, payment_hash=None, latency_ms=None)
    journal.advance(t.trade_id, "payment_failed", T0 + 1, error="no route")
    journal.advance(t.trade_id, "in_flight", T0 + 2)
    rec = journal.trade(t.trade_id)
    assert rec is not None
    assert rec.error == "no route"


def test_an_event_for_an_unknown_trade_changes_nothing(journal: Journal) -> None:
    assert journal.advance("e" * 32, "payment_complete", T0) is None
    assert journal.trades() == []


def test_spent_msat_counts_committed_buyer_trades(journal: Journal) -> None:
    def add(n: int, interval: int, amount_kwh_price: int, event: Event | None,
            created_s: float, role: str = "buyer") -> None:
        t = terms(n, interval=interval, energy_wh=1_000, price=amount_kwh_price)
        journal.record_trade(t, role, created_s, bolt11=None,  # type: ignore[arg-type]
                             payment_hash=None, latency_ms=None)
        if event is not None:
            journal.advance(t.trade_id, event, created_s)

    add(1, 5, 100, None, T0)                      # agreed: counts
    add(2, 5, 200, "claimed", T0)                 # paying: counts
    add(3, 5, 400, "payment_complete", T0)        # paid: counts
    add(4, 5, 800, "payment_failed", T0)          # failed: does not
    add(5, 5, 1_600, "declined", T0)              # cancelled: does not
    add(6, 5, 3_200, None, T0, "seller")   # we are paid, not paying
    add(7, 6, 6_400, None, T0 + 900)       # another interval
    add(8, 4, 12_800, "payment_complete", T0 - 86_400 - 1)  # paid, older than a day
    assert journal.spent_msat(0.0, 5) == 700
    assert journal.spent_msat(0.0, 6) == 6_400
    assert journal.spent_msat(0.0, 4) == 12_800
    assert journal.spent_msat(T0 - 86_400) == 700 + 6_400
    assert journal.spent_msat(0.0) == 700 + 6_400 + 12_800
    assert journal.spent_msat(T0 + 1) == 6_400
    assert journal.spent_msat(0.0, 99) == 0
    # A failed payment that reconciles to paid counts again.
    journal.advance(f"{4:032x}", "payment_complete", T0 + 10)
    assert journal.spent_msat(0.0, 5) == 1_500


def test_filters(journal: Journal) -> None:
    journal.record_trade(terms(1), "buyer", T0, bolt11=None, payment_hash=None, latency_ms=None)
    journal.record_trade(terms(2), "seller", T0 + 1, bolt11=None, payment_hash=None,
                         latency_ms=None)
    journal.advance(terms(2).trade_id, "invoice_paid", T0 + 2)
    assert [r.terms.trade_id for r in journal.trades(role="seller")] == [terms(2).trade_id]
    assert [r.terms.trade_id for r in journal.trades(states=("agreed", "paying"))] == [
        terms(1).trade_id]
    assert [r.terms.trade_id for r in journal.trades()] == [terms(1).trade_id,
                                                            terms(2).trade_id]


def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    j = Journal(path)
    t = terms(9)
    j.record_trade(t, "buyer", T0, bolt11="lnbc9", payment_hash="99" * 32, latency_ms=3.0)
    j.advance(t.trade_id, "payment_complete", T0 + 1)
    j.record_reading(T0, 5, {"grid_power_w": 1_200.0, "battery_soc_pct": 50.0})
    j.record_decision(5, T0, forecast_kw=1.2, forecast_std_kw=0.3, setpoint_w=-500.0,
                      side="buy", energy_wh=300, price_msat_per_kwh=200_000, signal_seq=4)
    j.record_applied(5, -480.0)
    j.close()

    again = Journal(path)
    try:
        rec = again.trade(t.trade_id)
        assert rec is not None
        assert (rec.terms, rec.state, rec.bolt11) == (t, "paid", "lnbc9")
        assert again.spent_msat(0.0) == t.amount_msat
        # The reopened journal keeps working and does not duplicate.
        assert not again.record_trade(t, "buyer", T0, bolt11=None, payment_hash=None,
                                      latency_ms=None)
    finally:
        again.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT grid_w, soc_pct FROM readings").fetchall() == [(1200.0, 50.0)]
        assert db.execute("SELECT side, applied_w, signal_seq FROM decisions").fetchall() == [
            ("buy", -480.0, 4)]


def test_decision_rewrite_replaces(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.sqlite")
    for setpoint in (100.0, 200.0):
        j.record_decision(7, T0, forecast_kw=0.0, forecast_std_kw=0.0, setpoint_w=setpoint,
                          side="none", energy_wh=0, price_msat_per_kwh=0, signal_seq=None)
    j.close()
    with sqlite3.connect(j.path) as db:
        assert db.execute("SELECT setpoint_w FROM decisions").fetchall() == [(200.0,)]


def test_parent_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    path = blocker / "journal.sqlite"
    with pytest.raises(JournalError) as info:
        Journal(path)
    assert str(path) in str(info.value)
    assert "Not a directory" in str(info.value) or "File exists" in str(info.value)
    assert isinstance(info.value, PermanentError)


def test_path_is_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    path.mkdir()
    with pytest.raises(JournalError, match=r"journal .*journal\.sqlite: unable to open"):
        Journal(path)


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"this is not a database, just text" * 200)
    with pytest.raises(JournalError, match="not a database"):
        Journal(path)


def test_version_moves_with_every_write_of_any_connection(journal: Journal) -> None:
    """The settlement's watch loop skips its queries while the version stays put."""
    v0 = journal.version()
    assert journal.version() == v0  # reading changes nothing
    journal.trades(states=("agreed",), role="seller")
    assert journal.version() == v0
    journal.record_trade(terms(1), "seller", T0, bolt11="lnbc1", payment_hash="00" * 32,
                         latency_ms=1.0, amount_msat=200)
    v1 = journal.version()
    assert v1 != v0
    other = Journal(journal.path)  # another process's connection to the same file
    try:
        other.advance(f"{1:032x}", "invoice_paid", T0 + 1)
    finally:
        other.close()
    assert journal.version() != v1
    assert journal.trades(trade_id=f"{1:032x}")[0].state == "paid"

"""The journal's read-only reader (status, metrics, Home Assistant, the demo's summary) on a
real journal file, while the journal is open for writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.adapters.journal import Journal, JournalError
from agent.adapters.journal_reader import TRADE_FIELDS, JournalReader, LastDecision
from agent.domain.market import Terms

T0 = 1_700_000_000.0


def test_reader_sees_what_the_journal_wrote(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.sqlite")
    try:
        reader = JournalReader(j.path, timeout_s=1.0)
        assert reader.exists()
        assert reader.trade_counts() == []
        assert reader.last_reading() is None
        assert reader.last_decision() is None
        for k, (imp, exp) in enumerate([(10.0, 1.0), (12.5, 1.0), (13.0, 4.0)], start=5):
            j.record_reading(T0 + 900 * k, k, {"import_energy_wh": imp, "export_energy_wh": exp,
                                                "grid_power_w": 100.0 * k})
        j.record_decision(6, T0, forecast_kw=0.1, forecast_std_kw=0.1, setpoint_w=0.0,
                          side="sell", energy_wh=300, price_msat_per_kwh=150_000, signal_seq=1)
        sold = Terms("a" * 32, 6, "me", "bea", 300, 200_000)
        bought = Terms("b" * 32, 7, "sam", "me", 100, 250_000)
        j.record_trade(sold, "seller", T0, bolt11="x", payment_hash="h", latency_ms=12.5)
        j.record_trade(bought, "buyer", T0, bolt11="y", payment_hash="i", latency_ms=None)
        assert sorted(reader.trade_counts()) == [("buyer", "agreed", 1), ("seller", "agreed", 1)]
        assert reader.count_trades("seller") == 1
        assert reader.latencies_ms() == [12.5]
        assert reader.paid_totals() == {}
        assert reader.last_decision() == LastDecision("sell", 300, 150_000)
        last = reader.last_reading()
        assert last is not None
        assert (last.t_s, last.grid_w) == (T0 + 900 * 7, 700.0)
        assert reader.first_counters(5, 6) == [(5, 10.0, 1.0), (6, 12.5, 1.0)]
        rows = reader.trades()
        assert [r["trade_id"] for r in rows] == [sold.trade_id, bought.trade_id]
        assert set(rows[0]) == set(TRADE_FIELDS)
        assert (rows[0]["amount_msat"], rows[0]["payment_hash"]) == (sold.amount_msat, "h")
    finally:
        j.close()


def test_an_unreadable_journal_is_a_journal_error(tmp_path: Path) -> None:
    reader = JournalReader(tmp_path / "missing.sqlite", timeout_s=0.1)
    assert not reader.exists()
    with pytest.raises(JournalError, match=r"missing\.sqlite"):
        reader.trade_counts()

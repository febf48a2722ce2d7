"""The journal's settlement parts on real files: claims, old-file migration, peer events."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from settle_helpers import terms

from agent.adapters.journal import Journal

T0 = 1_700_000_000.0
OLD_SCHEMA = """
CREATE TABLE trades (
    trade_id TEXT PRIMARY KEY, interval INTEGER NOT NULL, role TEXT NOT NULL,
    seller TEXT NOT NULL, buyer TEXT NOT NULL, energy_wh INTEGER NOT NULL,
    price_msat_per_kwh INTEGER NOT NULL, amount_msat INTEGER NOT NULL, state TEXT NOT NULL,
    bolt11 TEXT, payment_hash TEXT, latency_ms REAL, error TEXT,
    created_s REAL NOT NULL, updated_s REAL NOT NULL);
INSERT INTO trades VALUES ('t1', 5, 'buyer', 's', 'b', 1000, 50, 50, 'paying', 'lnbcrt1x',
    'ab', NULL, NULL, 1.0, 1.0);
"""


def test_a_journal_from_the_first_release_opens_and_keeps_its_trades(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.close()
    j = Journal(path)
    rec = j.trade("t1")
    assert rec is not None
    assert (rec.state, rec.bolt11, rec.payment_hash) == ("paying", "lnbcrt1x", "ab")
    assert j.claim("t1", "w", T0, 10.0)
    j.close()


def test_one_claim_at_a_time_until_the_lease_ends(tmp_path: Path) -> None:
    a, b = Journal(tmp_path / "j.sqlite"), Journal(tmp_path / "j.sqlite")  # two connections
    t = terms(1)
    a.record_trade(t, "buyer", T0, bolt11="x", payment_hash="h", latency_ms=None)
    assert a.claim(t.trade_id, "w1", T0, 10.0)
    assert not b.claim(t.trade_id, "w2", T0 + 1, 10.0)      # held
    assert a.claim(t.trade_id, "w1", T0 + 2, 10.0)          # the holder renews
    assert b.claim(t.trade_id, "w2", T0 + 12.5, 10.0)       # lease over: taken over
    assert not a.claim(t.trade_id, "w1", T0 + 13, 10.0)
    b.release(t.trade_id, "w2")
    assert a.claim(t.trade_id, "w1", T0 + 14, 10.0)         # released: free at once
    a.advance(t.trade_id, "payment_complete", T0 + 15)
    assert not b.claim(t.trade_id, "w2", T0 + 100, 10.0)    # paid: never payable again
    a.close()
    b.close()


def test_only_buyer_trades_in_payable_states_are_claimed(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    sold, failed = terms(2), terms(3)
    j.record_trade(sold, "seller", T0, bolt11="x", payment_hash="h", latency_ms=None)
    j.record_trade(failed, "buyer", T0, bolt11="y", payment_hash="i", latency_ms=None)
    j.advance(failed.trade_id, "payment_failed", T0, "refused: policy: cap")
    assert not j.claim(sold.trade_id, "w", T0, 10.0)
    assert not j.claim(failed.trade_id, "w", T0, 10.0)
    assert not j.claim("nope", "w", T0, 10.0)
    j.close()


def test_peer_events_once_per_trade_and_exposure(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    assert j.record_peer_event("bob", "unpaid", "t1", T0)
    assert not j.record_peer_event("bob", "unpaid", "t1", T0 + 5)
    assert j.record_peer_event("bob", "undelivered", "t2", T0 + 6)
    assert j.peer_events("bob", T0 + 1) == [("undelivered", T0 + 6)]
    for n, (interval, event) in enumerate([(9, None), (10, "payment_complete"),
                                           (11, "payment_failed"), (12, "in_flight")],
                                          start=10):
        t = terms(n, 1_000, interval=interval)
        j.record_trade(t, "buyer", T0, bolt11=None, payment_hash=None, latency_ms=None)
        if event is not None:
            j.advance(t.trade_id, event, T0)
    assert j.exposure_msat("home-bob", 10) == 2_000  # intervals 10 (paid) and 12 (paying)
    assert j.exposure_msat("home-bob", 10, exclude=terms(13, interval=12).trade_id) == 1_000
    assert j.exposure_msat("someone-else", 0) == 0
    j.close()

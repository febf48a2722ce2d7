"""Read-only views of an agent's journal, for whoever is not the agent.

`peerwatt status`, the metrics endpoint, Home Assistant and the demo's summary read the
journal through this, never by SQL of their own: the schema stays inside the journal
adapter (agent/adapters/journal.py). Every call opens the file read-only (`mode=ro`), which
is safe while the agent writes (WAL), and closes it again; a file that cannot be read
raises JournalError.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.adapters.journal import JournalError

# What a trade row holds for a reader (the demo's summary): one dict per trade.
TRADE_FIELDS = ("trade_id", "interval", "role", "seller", "buyer", "energy_wh",
                "price_msat_per_kwh", "amount_msat", "state", "bolt11", "payment_hash",
                "latency_ms", "error", "created_s", "updated_s")


@dataclass(frozen=True, slots=True)
class LastReading:
    t_s: float
    grid_w: float | None
    pv_w: float | None
    battery_w: float | None
    soc_pct: float | None


@dataclass(frozen=True, slots=True)
class PaidTotal:
    trades: int
    energy_wh: int
    amount_msat: int


@dataclass(frozen=True, slots=True)
class LastDecision:
    side: str | None
    energy_wh: int | None
    price_msat_per_kwh: int | None


class JournalReader:
    def __init__(self, path: Path, timeout_s: float = 5.0) -> None:
        self.path = path
        self._timeout_s = timeout_s

    def exists(self) -> bool:
        return self.path.exists()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=self._timeout_s)
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path}: {exc}") from exc
        try:
            yield db
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path}: {exc}") from exc
        finally:
            db.close()

    def trade_counts(self) -> list[tuple[str, str, int]]:
        """(role, state, number of trades) for every role and state present."""
        with self._db() as db:
            return [(str(r), str(s), int(n)) for r, s, n in db.execute(
                "SELECT role, state, COUNT(*) FROM trades GROUP BY role, state")]

    def count_trades(self, role: str) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COUNT(*) FROM trades WHERE role=?",
                                  (role,)).fetchone()[0])

    def latencies_ms(self) -> list[float]:
        """Negotiation latency (offer → agreement) of every trade that has one (sales)."""
        with self._db() as db:
            return [float(v) for (v,) in db.execute(
                "SELECT latency_ms FROM trades WHERE latency_ms IS NOT NULL")]

    def paid_totals(self) -> dict[str, PaidTotal]:
        """Per role: paid trades, their energy and their amount."""
        with self._db() as db:
            return {str(role): PaidTotal(int(n), int(wh), int(msat)) for role, n, wh, msat in
                    db.execute("SELECT role, COUNT(*), COALESCE(SUM(energy_wh), 0), "
                               "COALESCE(SUM(amount_msat), 0) FROM trades WHERE state='paid' "
                               "GROUP BY role")}

    def last_decision(self) -> LastDecision | None:
        with self._db() as db:
            row = db.execute("SELECT side, energy_wh, price_msat_per_kwh FROM decisions "
                             "ORDER BY interval DESC LIMIT 1").fetchone()
        return None if row is None else LastDecision(row[0], row[1], row[2])

    def last_reading(self) -> LastReading | None:
        with self._db() as db:
            row = db.execute("SELECT t_s, grid_w, pv_w, battery_w, soc_pct FROM readings "
                             "ORDER BY rowid DESC LIMIT 1").fetchone()
        return None if row is None else LastReading(*row)

    def first_counters(self, first: int, last: int) -> list[tuple[int, float | None,
                                                                  float | None]]:
        """(interval, import Wh, export Wh) of the meter's first reading in each interval
        of first..last that has one, in order."""
        with self._db() as db:
            rows = db.execute(
                "SELECT interval, MIN(t_s), import_wh, export_wh FROM readings "
                "WHERE interval BETWEEN ? AND ? GROUP BY interval ORDER BY interval",
                (first, last)).fetchall()
        return [(int(r[0]), r[2], r[3]) for r in rows]

    def first_soc(self, first: int, last: int) -> dict[int, float]:
        """The battery's SoC % at the first reading of each interval of first..last that
        has one."""
        with self._db() as db:
            rows = db.execute(
                "SELECT interval, MIN(t_s), soc_pct FROM readings "
                "WHERE interval BETWEEN ? AND ? GROUP BY interval", (first, last)).fetchall()
        return {int(r[0]): float(r[2]) for r in rows if r[2] is not None}

    def trades(self) -> list[dict[str, Any]]:
        """Every trade, oldest first, as a dict of TRADE_FIELDS (reports after a run)."""
        with self._db() as db:
            rows = db.execute(f"SELECT {', '.join(TRADE_FIELDS)} FROM trades "
                              "ORDER BY created_s").fetchall()
        return [dict(zip(TRADE_FIELDS, r, strict=True)) for r in rows]

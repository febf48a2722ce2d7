"""The durable journal: one SQLite file in WAL mode under the state dir.

Everything the agent must not forget goes here before it acts on it: meter readings,
each interval's decision, each agreed trade (with its invoice and payment hash before
any payment is attempted) and each payment outcome. Writes are small and synchronous
(sub-millisecond with WAL + synchronous=NORMAL on a local file).

A trade's state changes only by `advance` (and `claim`), which apply an event by the rules
of agent/domain/trade.py inside one transaction. Readers other than the agent use
agent/adapters/journal_reader.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from agent.domain import trade
from agent.domain.market import Terms
from agent.domain.trade import FINAL_STATES, Event, Role, TradeState
from agent.ports import PermanentError

__all__ = ["FINAL_STATES", "GuardState", "Journal", "JournalError", "Metered", "Role",
           "TradeRecord", "TradeState"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    t_s REAL NOT NULL, interval INTEGER NOT NULL, grid_w REAL, pv_w REAL, load_w REAL,
    battery_w REAL, soc_pct REAL, import_wh REAL, export_wh REAL);
CREATE INDEX IF NOT EXISTS readings_interval ON readings(interval);
CREATE TABLE IF NOT EXISTS decisions (
    interval INTEGER PRIMARY KEY, t_s REAL NOT NULL, forecast_kw REAL, forecast_std_kw REAL,
    setpoint_w REAL, applied_w REAL, side TEXT, energy_wh INTEGER, price_msat_per_kwh INTEGER,
    signal_seq INTEGER);
CREATE TABLE IF NOT EXISTS trades (
    trade_id TEXT PRIMARY KEY, interval INTEGER NOT NULL, role TEXT NOT NULL,
    seller TEXT NOT NULL, buyer TEXT NOT NULL, energy_wh INTEGER NOT NULL,
    price_msat_per_kwh INTEGER NOT NULL, amount_msat INTEGER NOT NULL, state TEXT NOT NULL,
    bolt11 TEXT, payment_hash TEXT, latency_ms REAL, error TEXT,
    created_s REAL NOT NULL, updated_s REAL NOT NULL);
CREATE INDEX IF NOT EXISTS trades_state ON trades(state);
CREATE TABLE IF NOT EXISTS peer_events (
    peer TEXT NOT NULL, kind TEXT NOT NULL, trade_id TEXT NOT NULL, t_s REAL NOT NULL,
    UNIQUE (peer, kind, trade_id));
CREATE TABLE IF NOT EXISTS deliveries (
    trade_id TEXT PRIMARY KEY, delivered_wh INTEGER NOT NULL, action TEXT NOT NULL,
    credit_msat INTEGER NOT NULL, t_s REAL NOT NULL, done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS guard (
    id INTEGER PRIMARY KEY CHECK (id = 1), settled INTEGER NOT NULL, day INTEGER NOT NULL,
    margin_msat REAL NOT NULL, shadow_wh REAL NOT NULL, own_peak_kw REAL NOT NULL,
    shadow_peak_kw REAL NOT NULL);
CREATE TABLE IF NOT EXISTS interval_net (
    interval INTEGER PRIMARY KEY, net_w REAL NOT NULL, samples INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS guard_committed (
    interval INTEGER PRIMARY KEY, cost_msat REAL NOT NULL);
CREATE TABLE IF NOT EXISTS credits (
    peer TEXT NOT NULL, trade_id TEXT NOT NULL, kind TEXT NOT NULL,
    delta_msat INTEGER NOT NULL, t_s REAL NOT NULL, PRIMARY KEY (trade_id, kind));
"""
# Credits owed to a buyer: shortfalls (+) less what later invoices netted (-), where the
# netting trade is alive (not failed or cancelled: then the credit is owed again).
_OUTSTANDING = (
    "SELECT COALESCE(SUM(c.delta_msat), 0) FROM credits c LEFT JOIN trades t "
    "ON t.trade_id = c.trade_id WHERE c.peer=? AND (c.kind='shortfall' OR t.state IS NULL "
    "OR t.state NOT IN ('failed', 'cancelled'))")
# Columns added after the first release: (name, SQL type), added in place on open.
_LATER_COLUMNS = (("claimed_by", "TEXT"), ("claimed_until", "REAL"))


@dataclass(frozen=True, slots=True)
class Metered:
    """One closed interval as the meters measured it."""

    imported_wh: float
    exported_wh: float
    soc_start_pct: float   # the first SoC reading of the interval, and of the next one
    soc_end_pct: float
    net_w: float           # mean pre-battery net load (grid − battery), W


@dataclass(frozen=True, slots=True)
class GuardState:
    """The rationality guard's memory (agent/services/rational.py)."""

    settled: int           # the last interval settled into the margin
    day: int
    margin_msat: float
    shadow_wh: float
    own_peak_kw: float
    shadow_peak_kw: float


@dataclass(frozen=True, slots=True)
class TradeRecord:
    terms: Terms
    role: Role
    state: TradeState
    bolt11: str | None
    payment_hash: str | None
    latency_ms: float | None
    error: str | None


class JournalError(PermanentError):
    """The journal file cannot be opened or written (disk full, corrupt, read-only)."""


class Journal:
    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            have = {r[1] for r in self._db.execute("PRAGMA table_info(trades)")}
            for name, kind in _LATER_COLUMNS:
                if name not in have:
                    self._db.execute(f"ALTER TABLE trades ADD COLUMN {name} {kind}")
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(f"journal {path}: {exc}") from exc
        self.path = path
        self._on_commit: list[Callable[[], None]] = []

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every write this connection commits, on the writer's
        thread (the daemon writes on its event loop's). Writes by other connections call
        nothing: `version` sees those."""
        self._on_commit.append(listener)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield self._db
            self._db.execute("COMMIT")
            for listener in self._on_commit:
                listener()
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise JournalError(f"journal {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def version(self) -> tuple[int, int]:
        """Changes so far by this connection and by any other (PRAGMA data_version): while
        it stays equal, every query answers as before."""
        return self._db.total_changes, int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def record_reading(self, t_s: float, interval: int, values: Mapping[str, float]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO readings VALUES (?,?,?,?,?,?,?,?,?)",
                (t_s, interval, values.get("grid_power_w"), values.get("pv_power_w"),
                 values.get("load_power_w"), values.get("battery_power_w"),
                 values.get("battery_soc_pct"), values.get("import_energy_wh"),
                 values.get("export_energy_wh")),
            )

    def record_interval_net(self, interval: int, net_w: float, samples: int) -> None:
        """The mean pre-battery net load of a closed interval over all of its `samples`
        polls (the readings table keeps only each interval's first poll)."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO interval_net VALUES (?,?,?)",
                       (interval, net_w, samples))

    def record_decision(self, interval: int, t_s: float, *, forecast_kw: float,
                        forecast_std_kw: float, setpoint_w: float, side: str, energy_wh: int,
                        price_msat_per_kwh: int, signal_seq: int | None) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO decisions VALUES (?,?,?,?,?,NULL,?,?,?,?)",
                (interval, t_s, forecast_kw, forecast_std_kw, setpoint_w, side, energy_wh,
                 price_msat_per_kwh, signal_seq),
            )

    def record_applied(self, interval: int, applied_w: float) -> None:
        with self._tx() as db:
            db.execute("UPDATE decisions SET applied_w=? WHERE interval=?", (applied_w, interval))

    def record_trade(self, terms: Terms, role: Role, now_s: float, *, bolt11: str | None,
                     payment_hash: str | None, latency_ms: float | None,
                     amount_msat: int | None = None) -> bool:
        """Journal an agreed trade (`amount_msat`: what it is paid, if not the terms'
        energy × price); False if this trade id was already journaled."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO trades (trade_id, interval, role, seller, buyer, "
                "energy_wh, price_msat_per_kwh, amount_msat, state, bolt11, payment_hash, "
                "latency_ms, error, created_s, updated_s) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,NULL,?,?)",
                (terms.trade_id, terms.interval, role, terms.seller, terms.buyer,
                 terms.energy_wh, terms.price_msat_per_kwh,
                 terms.amount_msat if amount_msat is None else amount_msat, trade.AGREED,
                 bolt11, payment_hash, latency_ms, now_s, now_s),
            )
            return cur.rowcount == 1

    def advance(self, trade_id: str, event: Event, now_s: float,
                error: str | None = None) -> TradeState | None:
        """Apply `event` to the trade (agent.domain.trade.advance) in one transaction; the
        state it is in afterwards, or None if the trade is unknown. An event that does not
        apply leaves the trade (and its error) as it is."""
        with self._tx() as db:
            row = db.execute("SELECT role, state FROM trades WHERE trade_id=?",
                             (trade_id,)).fetchone()
            if row is None:
                return None
            role, state = cast(Role, row[0]), cast(TradeState, row[1])
            target = trade.advance(role, state, event)
            if target is None:
                return state
            db.execute("UPDATE trades SET state=?, error=COALESCE(?, error), updated_s=? "
                       "WHERE trade_id=?", (target, error, now_s, trade_id))
            return target

    def claim(self, trade_id: str, worker: str, now_s: float, lease_s: float) -> bool:
        """Take the buyer trade for paying (event `claimed`: state `paying`, held by
        `worker` for `lease_s`).

        False if another worker holds an unexpired claim, or the trade is not payable: of
        two workers racing on one trade, exactly one gets it. `now_s` is wall time."""
        with self._tx() as db:
            row = db.execute("SELECT role, state, claimed_by, COALESCE(claimed_until, 0) "
                             "FROM trades WHERE trade_id=?", (trade_id,)).fetchone()
            if row is None:
                return False
            target = trade.advance(cast(Role, row[0]), cast(TradeState, row[1]), "claimed")
            held = row[2] is not None and row[2] != worker and float(row[3]) >= now_s
            if target is None or held:
                return False
            db.execute("UPDATE trades SET state=?, claimed_by=?, claimed_until=?, updated_s=? "
                       "WHERE trade_id=?", (target, worker, now_s + lease_s, now_s, trade_id))
            return True

    def release(self, trade_id: str, worker: str) -> None:
        """Give up `worker`'s claim on the trade (its outcome is journaled, or it waits)."""
        with self._tx() as db:
            db.execute("UPDATE trades SET claimed_until=0 WHERE trade_id=? AND claimed_by=?",
                       (trade_id, worker))

    def record_peer_event(self, peer: str, kind: str, trade_id: str, t_s: float) -> bool:
        """Journal a counterparty's failure (`kind`) once per trade; False if known."""
        with self._tx() as db:
            cur = db.execute("INSERT OR IGNORE INTO peer_events VALUES (?,?,?,?)",
                             (peer, kind, trade_id, t_s))
            return cur.rowcount == 1

    def peer_events(self, peer: str, since_s: float) -> list[tuple[str, float]]:
        """(kind, time) of `peer`'s failures since `since_s`, oldest first."""
        rows = self._db.execute("SELECT kind, t_s FROM peer_events WHERE peer=? AND t_s >= ? "
                                "ORDER BY t_s", (peer, since_s)).fetchall()
        return [(str(r[0]), float(r[1])) for r in rows]

    def exposure_msat(self, seller: str, from_interval: int, exclude: str | None = None) -> int:
        """Paid or promised to `seller` for energy not yet delivered (interval ≥ from)."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(amount_msat), 0) FROM trades WHERE role='buyer' AND seller=?"
            " AND state IN ('agreed', 'paying', 'paid') AND interval >= ? AND trade_id != ?",
            (seller, from_interval, exclude or "")).fetchone()
        return int(row[0])

    def exported_wh(self, interval: int) -> float | None:
        """The meter's export over `interval`: first reading of the next interval minus
        the first of this one; None while either is missing."""
        return self._counter_delta("export_wh", interval)

    def imported_wh(self, interval: int) -> float | None:
        """The meter's import over `interval`, as `exported_wh`."""
        return self._counter_delta("import_wh", interval)

    def _counter_delta(self, column: str, interval: int) -> float | None:
        def first(k: int) -> float | None:
            row = self._db.execute(f"SELECT {column} FROM readings WHERE interval=? AND "
                                   f"{column} IS NOT NULL ORDER BY t_s LIMIT 1", (k,)).fetchone()
            return None if row is None else float(row[0])
        start, end = first(interval), first(interval + 1)
        return None if start is None or end is None else max(0.0, end - start)

    def metered(self, interval: int) -> Metered | None:
        """`interval` as measured: its counters' deltas, the SoC at its start and at the
        next one's, its mean pre-battery net load over every poll (`interval_net`); None
        while any of them is missing."""
        imported, exported = self.imported_wh(interval), self.exported_wh(interval)
        soc = {int(r[0]): r[2] for r in self._db.execute(
            "SELECT interval, MIN(t_s), soc_pct FROM readings WHERE interval IN (?, ?) "
            "AND soc_pct IS NOT NULL GROUP BY interval", (interval, interval + 1))}
        row = self._db.execute("SELECT net_w FROM interval_net WHERE interval=?",
                               (interval,)).fetchone()
        # Without the interval's mean (a journal from before it was kept, or an interval
        # whose end the agent did not see) its first poll stands for it.
        net = row[0] if row is not None else self._db.execute(
            "SELECT AVG(grid_w - battery_w) FROM readings WHERE interval=? AND grid_w IS NOT "
            "NULL AND battery_w IS NOT NULL", (interval,)).fetchone()[0]
        if (imported is None or exported is None or net is None or interval not in soc
                or interval + 1 not in soc):
            return None
        return Metered(imported, exported, float(soc[interval]), float(soc[interval + 1]),
                       float(net))

    def paid_trades(self, interval: int) -> list[tuple[Role, int, int, int]]:
        """(role, energy Wh, price msat/kWh, amount msat) of the interval's paid trades."""
        rows = self._db.execute("SELECT role, energy_wh, price_msat_per_kwh, amount_msat FROM"
                                " trades WHERE interval=? AND state='paid'", (interval,))
        return [(cast(Role, r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def save_guard(self, g: GuardState) -> None:
        """The guard's state; the commitments of the intervals it settled are dropped."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO guard VALUES (1,?,?,?,?,?,?)",
                       (g.settled, g.day, g.margin_msat, g.shadow_wh, g.own_peak_kw,
                        g.shadow_peak_kw))
            db.execute("DELETE FROM guard_committed WHERE interval <= ?", (g.settled,))

    def commit_guard(self, interval: int, cost_msat: float) -> None:
        """The worst-case cost a bounded set-point committed for an unsettled interval."""
        with self._tx() as db:
            db.execute("INSERT INTO guard_committed VALUES (?,?) ON CONFLICT(interval) DO "
                       "UPDATE SET cost_msat=MAX(cost_msat, excluded.cost_msat)",
                       (interval, cost_msat))

    def guard_committed(self) -> dict[int, float]:
        rows = self._db.execute("SELECT interval, cost_msat FROM guard_committed")
        return {int(r[0]): float(r[1]) for r in rows}

    def load_guard(self) -> GuardState | None:
        row = self._db.execute("SELECT settled, day, margin_msat, shadow_wh, own_peak_kw, "
                               "shadow_peak_kw FROM guard WHERE id=1").fetchone()
        return None if row is None else GuardState(int(row[0]), int(row[1]), *map(float,
                                                                               row[2:]))

    def record_delivery(self, trade_id: str, buyer: str, delivered_wh: int, action: str,
                        credit_msat: int, t_s: float) -> tuple[str, int, int, bool]:
        """Journal the verdict on a sale (once: a second call returns the first) and the
        credit it leaves the buyer; returns (action, delivered_wh, credit_msat, done)."""
        with self._tx() as db:
            if db.execute("INSERT OR IGNORE INTO deliveries VALUES (?,?,?,?,?,0)",
                          (trade_id, delivered_wh, action, credit_msat, t_s)).rowcount \
                    and credit_msat > 0:
                db.execute("INSERT OR IGNORE INTO credits VALUES (?,?,'shortfall',?,?)",
                           (buyer, trade_id, credit_msat, t_s))
            row = db.execute("SELECT action, delivered_wh, credit_msat, done FROM deliveries "
                             "WHERE trade_id=?", (trade_id,)).fetchone()
        return str(row[0]), int(row[1]), int(row[2]), bool(row[3])

    def delivery_done(self, trade_id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE deliveries SET done=1 WHERE trade_id=?", (trade_id,))

    def delivery(self, trade_id: str) -> tuple[str, int, int, bool] | None:
        row = self._db.execute("SELECT action, delivered_wh, credit_msat, done FROM "
                               "deliveries WHERE trade_id=?", (trade_id,)).fetchone()
        return None if row is None else (str(row[0]), int(row[1]), int(row[2]), bool(row[3]))

    def outstanding_credit(self, buyer: str) -> int:
        return int(self._db.execute(_OUTSTANDING, (buyer,)).fetchone()[0])

    def apply_credit(self, buyer: str, trade_id: str, amount_msat: int, t_s: float) -> int:
        """Net the buyer's outstanding credit into trade `trade_id` (at most amount − 1
        msat); asking again for the same trade returns the same figure."""
        with self._tx() as db:
            row = db.execute("SELECT -delta_msat FROM credits WHERE trade_id=? AND "
                             "kind='applied'", (trade_id,)).fetchone()
            if row is not None:
                return int(row[0])
            owed = int(db.execute(_OUTSTANDING, (buyer,)).fetchone()[0])
            applied = max(0, min(owed, amount_msat - 1))
            if applied:
                db.execute("INSERT INTO credits VALUES (?,?,'applied',?,?)",
                           (buyer, trade_id, -applied, t_s))
            return applied

    def sales_to_judge(self, from_interval: int, to_interval: int) -> list[TradeRecord]:
        """Sales of delivery intervals in [from, to) with no carried-out verdict yet."""
        done = {r[0] for r in self._db.execute("SELECT trade_id FROM deliveries WHERE done=1")}
        return [r for r in self.trades(states=("agreed", "paid"), role="seller")
                if from_interval <= r.terms.interval < to_interval
                and r.terms.trade_id not in done]

    def drop_orphan_credits(self) -> int:
        """Forget nettings whose trade never reached the journal (a crash in between)."""
        with self._tx() as db:
            return int(db.execute("DELETE FROM credits WHERE kind='applied' AND trade_id NOT "
                                  "IN (SELECT trade_id FROM trades)").rowcount)

    def trades(self, *, states: tuple[TradeState, ...] | None = None,
               role: Role | None = None, trade_id: str | None = None) -> list[TradeRecord]:
        sql = ("SELECT trade_id, interval, seller, buyer, energy_wh, price_msat_per_kwh, role,"
               " state, bolt11, payment_hash, latency_ms, error FROM trades WHERE 1=1")
        args: list[object] = []
        if states is not None:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += states
        if role is not None:
            sql += " AND role=?"
            args.append(role)
        if trade_id is not None:
            sql += " AND trade_id=?"
            args.append(trade_id)
        rows = self._db.execute(sql + " ORDER BY created_s", args).fetchall()
        return [
            TradeRecord(Terms(r[0], r[1], r[2], r[3], r[4], r[5]), r[6], r[7], r[8], r[9],
                        r[10], r[11])
            for r in rows
        ]

    def unpaid_sales(self, buyer: str, to_interval: int, since_s: float) -> list[str]:
        """Trade ids of our sales to `buyer` for intervals up to `to_interval`, agreed since
        `since_s` and still not paid."""
        rows = self._db.execute(
            "SELECT trade_id FROM trades WHERE role='seller' AND buyer=? AND state='agreed'"
            " AND interval <= ? AND created_s >= ?", (buyer, to_interval, since_s)).fetchall()
        return [str(r[0]) for r in rows]

    def open_sales(self, buyer: str, since_s: float) -> list[str]:
        """Trade ids of our sales to `buyer` agreed since `since_s` and not yet paid, due or
        not (the credit this home has given it)."""
        rows = self._db.execute(
            "SELECT trade_id FROM trades WHERE role='seller' AND buyer=? AND state='agreed'"
            " AND created_s >= ?", (buyer, since_s)).fetchall()
        return [str(r[0]) for r in rows]

    def trade(self, trade_id: str) -> TradeRecord | None:
        found = self.trades(trade_id=trade_id)
        return found[0] if found else None

    def spent_msat(self, since_s: float, interval: int | None = None,
                   exclude: str | None = None) -> int:
        """What this home committed to pay (not failed or cancelled) since `since_s`,
        leaving out the trade `exclude` (the one being checked)."""
        sql = ("SELECT COALESCE(SUM(amount_msat), 0) FROM trades WHERE role='buyer'"
               " AND state NOT IN ('failed', 'cancelled') AND created_s >= ? AND trade_id != ?")
        args: list[object] = [since_s, exclude or ""]
        if interval is not None:
            sql += " AND interval=?"
            args.append(interval)
        return int(self._db.execute(sql, args).fetchone()[0])


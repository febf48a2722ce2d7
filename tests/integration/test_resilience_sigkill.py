"""SIGKILL of trading agents at random moments, then restart: nothing paid twice.

Two homes (a buyer and a seller) trade every second of real time (15-min intervals at
900×), so every moment is inside some negotiation, journal write or settlement. The test
kills one agent or both with SIGKILL at random moments (the seed is in every failure
message), checks right after each kill that the journal passes SQLite's
`PRAGMA integrity_check`, and restarts them on the same state directory. At the end:
the books of both homes agree trade by trade, every trade the buyer's journal calls paid
was paid exactly once according to its Lightning node (`listsendpays`, through
pyln-client), and no payment hash was paid twice.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from community import (
    Community,
    Home,
    assert_books_agree,
    sellers_paid_are_buyers_paid,
    start_community,
    wait_for,
)
from pyln.client import LightningRpc

from demo.procs import Fleet, peerwatt_cmd

pytestmark = pytest.mark.integration

KILLS = 6


def _start(c: Community, name: str, generation: int) -> Home:
    home = c.homes[name]
    cfg = c.write_config(home)
    proc_name = f"agent-{name}-{generation}"
    home.proc = c.fleet.start(proc_name, peerwatt_cmd("run", "--config", str(cfg),
                                                      "--log-level", "debug"))
    home.log = c.workdir / "logs" / f"{proc_name}.log"
    return home


def _integrity(journal: Path) -> str:
    db = sqlite3.connect(journal, timeout=10.0)  # read-write: recovers the WAL as a restart would
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def _paid(c: Community) -> int:
    return sum(h.query("SELECT COUNT(*) FROM trades WHERE role='buyer' AND state='paid'")[0][0]
               for h in c.homes.values())


def test_sigkill_at_random_points_never_pays_twice(fleet: Fleet, mosquitto: Any) -> None:
    seed = time.time_ns() % 1_000_000
    rng = random.Random(seed)
    c = start_community(fleet, mosquitto.url, "sigkill", homes=2, speed=900.0)
    c.start_coordinator()
    generation = dict.fromkeys(c.homes, 0)
    for name in c.homes:
        _start(c, name, 0)
    c.wait_ready(list(c.homes), timeout_s=60.0)
    wait_for(f"a first paid trade (seed {seed})", lambda: _paid(c) > 0, 60.0)

    kills: list[tuple[str, float]] = []
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.2, 2.5))
        victims = rng.choice([["home-0"], ["home-1"], ["home-0", "home-1"]])
        for name in victims:
            home = c.homes[name]
            assert home.proc is not None
            home.alive()
            home.proc.send_signal(signal.SIGKILL)
            home.proc.wait(10)
            kills.append((name, time.time()))
            assert _integrity(home.journal) == "ok", f"{name} journal after SIGKILL (seed {seed})"
        for name in victims:
            generation[name] += 1
            _start(c, name, generation[name])
        c.wait_ready(victims, timeout_s=60.0)

    paid_before = _paid(c)
    wait_for(f"trading after the last restart (seed {seed})",
             lambda: _paid(c) > paid_before, 60.0)
    # Payments in flight settle before the clean stop: wait until the books show it.
    wait_for(f"paid sales paid by their buyers (seed {seed})",
             lambda: sellers_paid_are_buyers_paid(c), 60.0)
    live = {f"agent-{n}-{g}" for n, g in generation.items()}
    codes = {n: code for n, code in c.fleet.stop("agent-", timeout_s=30.0).items() if n in live}
    assert codes == dict.fromkeys(live, 0), (codes, seed)

    for h in c.homes.values():
        assert _integrity(h.journal) == "ok", (h.name, seed)
    paid = assert_books_agree(c)
    assert paid > 0

    # The node's view: each payment hash paid at most once, and every trade the buyer's
    # journal says is paid was paid (exactly once) by its node.
    nodes = c.node_sockets()
    for h in c.homes.values():
        sends = LightningRpc(nodes[h.name]).listsendpays()["payments"]
        complete = Counter(p["payment_hash"] for p in sends if p["status"] == "complete")
        twice = {k: v for k, v in complete.items() if v > 1}
        assert not twice, f"{h.name} paid twice: {twice} (seed {seed}, kills {kills})"
        journal_paid = {r[0] for r in h.query(
            "SELECT payment_hash FROM trades WHERE role='buyer' AND state='paid'")}
        assert journal_paid <= set(complete), \
            f"{h.name}: journal says paid, node does not: {journal_paid - set(complete)}"
        # a payment the node made for a trade the journal still has unfinished is resumed
        # and journaled by reconciliation, never paid again: nothing complete is unknown
        known = {r[0] for r in h.query("SELECT payment_hash FROM trades WHERE role='buyer'")}
        assert set(complete) <= known, (h.name, set(complete) - known, seed)
    print(f"seed {seed}: {len(kills)} SIGKILLs, {paid} trades paid, none twice")

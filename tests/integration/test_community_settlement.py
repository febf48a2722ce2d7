"""Three homes trade a handful of intervals through real processes; then the books add up.

Broker (the session mosquitto), lnsim, the device emulator, the coordinator and three
`peerwatt run` agents on one accelerated clock from 10:00. Afterwards the agents' journals
and the Lightning nodes must tell the same story: every trade a seller was paid for was
bought, on identical terms, and paid exactly once by exactly one buyer.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

import pytest
from community import Community, Home, start_community, wait_for
from pyln.client import LightningRpc

from demo.procs import Fleet

pytestmark = pytest.mark.integration

TRADE_COLUMNS = "trade_id, interval, seller, buyer, energy_wh, price_msat_per_kwh, amount_msat"
MIN_INTERVALS = 4


def _paid_trades(home: Home, role: str) -> dict[str, tuple[Any, ...]]:
    rows = home.query(f"SELECT {TRADE_COLUMNS}, payment_hash FROM trades "
                      "WHERE role=? AND state='paid'", (role,))
    return {r[0]: r for r in rows}


def _seller_paid_count(c: Community) -> int:
    return sum(len(_paid_trades(h, "seller")) for h in c.homes.values())


def _decided_intervals(home: Home) -> int:
    return len(home.query("SELECT interval FROM decisions"))


@pytest.fixture
def community(fleet: Fleet, mosquitto: Any) -> Community:
    # Seeds 19..21: two homes without PV (buyers competing for every offer through the
    # shared subscription) and one with 5.7 kWp (the seller).
    c = start_community(fleet, mosquitto.url, "settle", homes=3, first_seed=19, speed=900.0)
    assert not c.homes["home-0"].params.pv_kwp, "seed choice: home-0 must have a deficit"
    assert not c.homes["home-2"].params.pv_kwp, "seed choice: home-2 must have a deficit"
    assert c.homes["home-1"].params.pv_kwp > 0, "seed choice: home-1 must have PV"
    c.start_coordinator()
    for name in c.homes:
        c.start_agent(name)
    c.wait_ready(list(c.homes))
    return c


def test_community_trades_settle_exactly_once(community: Community) -> None:
    c = community
    homes = list(c.homes.values())

    def alive() -> None:
        for h in homes:
            h.alive()

    wait_for("paid trades and a handful of intervals",
             lambda: _seller_paid_count(c) > 0
             and min(_decided_intervals(h) for h in homes) >= MIN_INTERVALS,
             timeout_s=45.0, alive=alive, every_s=0.5)

    codes = c.stop_agents()
    assert codes == {f"agent-{h.name}": 0 for h in homes}, "agents must exit 0 on SIGTERM"

    # The journals: intact, in WAL mode.
    for h in homes:
        db = sqlite3.connect(h.journal)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",), h.name
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",), h.name
        finally:
            db.close()

    agreed = sum(h.query("SELECT COUNT(*) FROM trades WHERE role='seller'")[0][0]
                 for h in homes)
    assert agreed > 0

    # Every trade a seller journaled as paid: exactly one buyer journaled it as paid,
    # with identical terms (and the same payment hash).
    sold = {tid: row for h in homes for tid, row in _paid_trades(h, "seller").items()}
    bought: dict[str, list[tuple[Any, ...]]] = {}
    for h in homes:
        for tid, row in _paid_trades(h, "buyer").items():
            bought.setdefault(tid, []).append(row)
    assert sold, "no trade was paid"
    for tid, row in sold.items():
        buyers = bought.get(tid, [])
        assert len(buyers) == 1, f"trade {tid}: paid by {len(buyers)} buyers"
        assert buyers[0] == row, f"trade {tid}: seller {row} != buyer {buyers[0]}"
        seller, buyer = row[2], row[3]
        assert seller != buyer
        assert row[6] > 0

    # The Lightning nodes: each paid invoice paid once; one complete payment per hash.
    rpcs = {name: LightningRpc(path) for name, path in c.node_sockets().items()}
    complete: Counter[str] = Counter()
    for name in c.homes:
        for pay in rpcs[name].listsendpays()["payments"]:
            if pay["status"] == "complete":
                complete[pay["payment_hash"]] += 1
    paid_labels = 0
    for name in c.homes:
        for inv in rpcs[name].listinvoices()["invoices"]:
            if not inv["label"].startswith("peerwatt-") or inv["status"] != "paid":
                continue
            paid_labels += 1
            tid = inv["label"].removeprefix("peerwatt-")
            assert int(inv["amount_received_msat"]) == int(inv["amount_msat"]), inv
            assert complete[inv["payment_hash"]] == 1, (
                f"invoice {inv['label']}: {complete[inv['payment_hash']]} complete payments")
            if tid in sold:
                assert sold[tid][2] == name, f"{inv['label']} paid to {name}, not the seller"
                assert inv["payment_hash"] == sold[tid][7]
                assert int(inv["amount_msat"]) == sold[tid][6]
    assert paid_labels >= len(sold)
    assert all(n == 1 for n in complete.values()), complete
    # Every buyer-journaled payment is one complete payment on the buyer's own node, for
    # an invoice its seller issued, journaled on the same terms and not given up on.
    for h in homes:
        for tid, row in _paid_trades(h, "buyer").items():
            pays = rpcs[h.name].listsendpays(payment_hash=row[7])["payments"]
            assert [p["status"] for p in pays] == ["complete"], (tid, pays)
            seller = c.homes[row[2]]
            on_seller = seller.query(f"SELECT {TRADE_COLUMNS}, payment_hash, state FROM trades"
                                     " WHERE trade_id=? AND role='seller'", (tid,))
            assert len(on_seller) == 1, f"trade {tid} paid but not journaled by {seller.name}"
            assert on_seller[0][:8] == row, (on_seller[0], row)
            assert on_seller[0][8] in ("agreed", "paid"), on_seller[0]
            invoices = rpcs[seller.name].listinvoices(label=f"peerwatt-{tid}")["invoices"]
            assert [i["status"] for i in invoices] == ["paid"], invoices

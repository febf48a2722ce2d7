"""One home reneges (agrees to buy, never pays); its honest peers stop trading with it.

Real processes: broker, lnsim, the device emulator, the coordinator and four `peerwatt run`
agents from 10:00, trading on their meters. home-0 runs the test-only reneging mode
(`PEERWATT_TEST_RENEGE=1`, honoured only under pytest): its purchases are journaled and
never handed to settlement. Each seller judges it on its own journal (an agreed sale still
unpaid after its settlement deadline) and refuses it from then on, so no honest home loses
more than one trade's value to it; the honest homes go on trading with each other.
"""

from __future__ import annotations

from typing import Any

import pytest
from community import Community, Home, start_community, wait_for

from agent.services.agreement import RENEGE_ENV
from demo.procs import Fleet

pytestmark = pytest.mark.integration

CHEAT = "home-0"


def _sales_to(home: Home, buyer: str) -> list[tuple[Any, ...]]:
    return home.query("SELECT trade_id, interval, amount_msat, state FROM trades "
                      "WHERE role='seller' AND buyer=? ORDER BY created_s", (buyer,))


def _refused(home: Home) -> bool:
    return any(e.get("peer") == CHEAT for e in home.events("peer_refused"))


@pytest.fixture
def community(fleet: Fleet, mosquitto: Any) -> Community:
    # Seeds 19..22: two homes without PV (buyers: home-0 the cheat, home-2 honest), two
    # with PV (sellers home-1 at 5.7 kWp, home-3 at 2.4 kWp).
    c = start_community(fleet, mosquitto.url, "renege", homes=4, first_seed=19, speed=900.0)
    assert not c.homes["home-0"].params.pv_kwp
    assert not c.homes["home-2"].params.pv_kwp
    assert c.homes["home-1"].params.pv_kwp > 0
    assert c.homes["home-3"].params.pv_kwp > 0
    c.start_coordinator()
    for name in c.homes:
        c.start_agent(name, env={RENEGE_ENV: "1"} if name == CHEAT else None)
    c.wait_ready(list(c.homes))
    return c


def test_honest_peers_stop_trading_with_a_reneging_buyer(community: Community) -> None:
    c = community
    sellers = [c.homes["home-1"], c.homes["home-3"]]
    honest_buyer = c.homes["home-2"]

    def alive() -> None:
        for h in c.homes.values():
            h.alive()

    # Every seller that sold to the cheat has refused it since, and then sold again to the
    # honest buyer (it trades on); the cheat was served at least once.
    def settled() -> bool:
        cheated = [s for s in sellers if _sales_to(s, CHEAT)]
        if not cheated or not all(_refused(s) for s in cheated):
            return False
        for s in cheated:
            first_unpaid = min(k for _, k, _, _ in _sales_to(s, CHEAT))
            if not any(k > first_unpaid + 2 and state == "paid"
                       for _, k, _, state in _sales_to(s, honest_buyer.name)):
                return False
        return True

    wait_for("the cheat served, refused by each seller it cheated, honest trade going on",
             settled, timeout_s=240.0, alive=alive, every_s=0.5)
    # A few more windows: a refused cheat stays refused.
    k0 = c.interval_now()
    wait_for("three more intervals", lambda: c.interval_now() >= k0 + 3, 60.0, alive)
    codes = c.stop_agents()
    assert codes == {f"agent-{n}": 0 for n in c.homes}

    cheat = c.homes[CHEAT]
    assert cheat.events("reneging_mode")
    assert not cheat.query("SELECT trade_id FROM trades WHERE role='buyer' AND state='paid'")
    assert c.stopped_counters(CHEAT)["trades_reneged"] >= 1
    for s in sellers:
        sales = _sales_to(s, CHEAT)
        unpaid = [r for r in sales if r[3] != "paid"]
        assert not [r for r in sales if r[3] == "paid"], sales  # it never pays
        # No more than one trade's value lost to it: at most one unpaid sale, worth no more
        # than the seller's largest trade.
        assert len(unpaid) <= 1, (s.name, sales)
        largest = max((a for (a,) in s.query("SELECT amount_msat FROM trades "
                                              "WHERE role='seller'")), default=0)
        assert sum(r[2] for r in unpaid) <= largest
        print(f"{s.name}: {len(sales)} sale(s) to {CHEAT}, {len(unpaid)} unpaid "
              f"({sum(r[2] for r in unpaid)} msat; its largest trade {largest} msat)")
        if sales:
            assert c.stopped_counters(s.name)["moves_refused_reputation"] >= 1
    # The honest homes traded with each other, and paid every trade.
    honest = [h for n, h in c.homes.items() if n != CHEAT]
    paid = sum(h.query("SELECT COUNT(*) FROM trades WHERE role='buyer' AND state='paid'")[0][0]
               for h in honest)
    assert paid > 0
    for h in honest:
        assert not h.events("child_crashed"), h.name

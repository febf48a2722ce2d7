"""A seller gives each buyer credit for one trade at a time (Agreements.in_credit), over
the stand-in node through pyln-client and real journal files: a second accept from a buyer
whose earlier sale is still unpaid is refused, and served again once the node shows that
sale paid, however long before its deadline the buyer pays."""

from __future__ import annotations

from pathlib import Path

from lnsim_harness import Lnsim
from settle_helpers import BUYER, agree, running, side, state_of, terms, until

from agent.clock import WallClock
from agent.domain.market import IntervalClock
from agent.services.agreement import Agreements
from agent.services.handover import Handover
from agent.services.spend import SpendPolicy
from agent.settings import LimitsSettings


async def test_one_unpaid_sale_per_buyer_until_the_node_shows_it_paid(
        ln: Lnsim, tmp_path: Path) -> None:
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite", worker="bob")
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite", worker="alice")
    agreements = Agreements(seller.journal, seller.invoicing, Handover(),
                            SpendPolicy(LimitsSettings(), seller.journal, max_fee_msat=5_000,
                                        interval_s=900),
                            WallClock(), seller.state, intervals=IntervalClock(900))
    assert await agreements.serves(BUYER, 0.0, selling=True) == (True, [])

    t = terms(1, 40_000)
    await agree(seller, buyer, t)
    # Not yet due (its interval is the next one): no reputation verdict, but in credit.
    assert await agreements.in_credit(BUYER) == t.trade_id
    ok, unpaid = await agreements.serves(BUYER, 0.0, selling=True)
    assert (ok, unpaid) == (False, [])
    assert seller.state.counters["moves_refused_credit"] == 1
    assert seller.state.counters["moves_refused_reputation"] == 0
    # A buyer of ours buying from someone else is no business of this check.
    assert (await agreements.serves(BUYER, 0.0))[0]

    async with running(buyer):  # only the buyer pays; the seller's watch loop is off
        await until(lambda: state_of(buyer, t.trade_id) == "paid")
    assert state_of(seller, t.trade_id) == "agreed"
    # The node is asked: the sale is paid, journaled so, and the buyer is served again.
    assert await agreements.serves(BUYER, 0.0, selling=True) == (True, [])
    assert state_of(seller, t.trade_id) == "paid"
    assert await agreements.in_credit(BUYER) is None
    assert seller.state.counters["moves_refused_credit"] == 1

"""The pure channel graph: cheapest routes, liquidity, conservation of money."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lnsim.graph import ChannelGraph, FeePolicy


def line_and_shortcut() -> ChannelGraph:
    g = ChannelGraph()
    g.add_channel("a", "b", 1_000_000)  # a-b-d: b charges 1000 + 10 ppm
    g.add_channel("b", "d", 1_000_000)
    g.add_channel("a", "c", 1_000_000)  # a-c-d: c charges 5 msat flat
    g.add_channel("c", "d", 1_000_000, policy_a=FeePolicy(5, 0))
    return g


def test_cheapest_route_by_fee_wins_and_amounts_add_up() -> None:
    route = line_and_shortcut().find_route("a", "d", 10_000)
    assert route is not None
    assert [h.receiver for h in route.hops] == ["c", "d"]
    assert route.amount_delivered_msat == 10_000
    assert route.fee_msat == 5


def test_route_respects_spendable_liquidity_and_avoidance() -> None:
    g = line_and_shortcut()
    # 500k each side minus the 10k reserve: a can send 490_000, of which c keeps 5 msat.
    assert g.find_route("a", "d", 489_995) is not None
    assert g.find_route("a", "d", 489_996) is None
    route = g.find_route("a", "d", 10_000, avoid=["c"])
    assert route is not None
    assert [h.receiver for h in route.hops] == ["b", "d"]
    assert route.fee_msat == 1000
    assert g.find_route("a", "d", 10_000, avoid=["b", "c"]) is None
    assert g.find_route("a", "a", 10_000) is None


def total(g: ChannelGraph) -> int:
    return sum(sum(c.balance_msat.values()) + sum(c.in_flight_msat.values())
               for c in g.channels.values())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("abcd"),
                          st.integers(1, 600_000), st.booleans()), max_size=25))
def test_money_is_conserved_whatever_the_payments(
    payments: list[tuple[str, str, int, bool]],
) -> None:
    g = line_and_shortcut()
    start = total(g)
    for src, dst, amount, succeed in payments:
        route = g.find_route(src, dst, amount)
        if route is None:
            continue
        g.lock(route)
        assert total(g) == start
        (g.settle if succeed else g.fail)(route)
        assert total(g) == start
        assert all(v >= 0 for c in g.channels.values() for v in c.balance_msat.values())
    assert all(v == 0 for c in g.channels.values() for v in c.in_flight_msat.values())

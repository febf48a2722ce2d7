"""The trade's lifecycle after agreement (agent/domain/trade.py): table and properties.

Whatever events arrive, in whatever order and how often (a restart replays reconciliation,
two workers race, the node reports a failure and then the payment), a trade never moves
backwards, never leaves paid or cancelled, and is paid at most once.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.domain import trade
from agent.domain.trade import Event, Role, TradeState

# (role, state, event, state after): the call sites' transitions, and refusals (None).
TABLE: list[tuple[Role, TradeState, Event, TradeState | None]] = [
    ("buyer", "agreed", "claimed", "paying"),            # settlement: a worker takes it
    ("buyer", "paying", "claimed", "paying"),            # the holder renews its lease
    ("buyer", "failed", "claimed", None),                # a failed trade is not paid again
    ("buyer", "paid", "claimed", None),                  # paid: never payable again
    ("seller", "agreed", "claimed", None),               # we never pay our own sale
    ("buyer", "agreed", "in_flight", "paying"),          # reconcile: the node has it pending
    ("buyer", "failed", "in_flight", "paying"),          # ... after a failure report
    ("buyer", "paying", "payment_complete", "paid"),
    ("buyer", "failed", "payment_complete", "paid"),     # reported failed, went through
    ("buyer", "paying", "payment_failed", "failed"),
    ("buyer", "agreed", "payment_failed", "failed"),     # refused before any attempt
    ("buyer", "paid", "payment_failed", None),
    ("seller", "agreed", "invoice_paid", "paid"),
    ("seller", "agreed", "invoice_lapsed", "failed"),
    ("seller", "paid", "invoice_lapsed", None),
    ("seller", "agreed", "declined", "cancelled"),        # negotiation: confirm declined
    ("seller", "paid", "declined", None),
    ("seller", "agreed", "hold_unpaid", "failed"),       # delivery
    ("seller", "agreed", "hold_cancelled", "failed"),
    ("seller", "paid", "hold_cancelled", None),          # a settled sale stays paid
    ("buyer", "agreed", "invoice_paid", None),           # a seller's event on a purchase
    ("seller", "agreed", "payment_complete", None),      # a buyer's event on a sale
]


@pytest.mark.parametrize(("role", "state", "event", "after"), TABLE)
def test_transitions(role: Role, state: TradeState, event: Event,
                     after: TradeState | None) -> None:
    assert trade.advance(role, state, event) == after


def test_every_event_has_a_rule_and_the_states_are_the_journals() -> None:
    assert set(trade.RULES) == set(trade.EVENTS)
    assert set(trade.STAGE) == set(trade.STATES)
    assert trade.claimable_states() == ("agreed", "paying")
    assert set(trade.FINAL_STATES) >= trade.TERMINAL


@settings(max_examples=2_000, deadline=None)
@given(role=st.sampled_from(["seller", "buyer"]),
       events=st.lists(st.sampled_from(trade.EVENTS), max_size=30))
def test_no_sequence_moves_a_trade_backwards_or_pays_it_twice(role: Role,
                                                              events: list[Event]) -> None:
    state: TradeState = trade.AGREED
    entered_paid = 0
    claims_after_paid = 0
    for event in events:
        after = trade.advance(role, state, event)
        if after is None:
            continue
        assert trade.STAGE[after] >= trade.STAGE[state], (state, event, after)
        assert state not in trade.TERMINAL or after == state, (state, event, after)
        if event == "claimed" and entered_paid:
            claims_after_paid += 1
        if after == "paid" and state != "paid":
            entered_paid += 1
        state = after
    assert entered_paid <= 1
    assert claims_after_paid == 0
    if role == "seller":
        assert all(trade.advance("seller", s, "claimed") is None for s in trade.STATES)

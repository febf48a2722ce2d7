"""A trade after agreement: its states, the events that move it, and nothing else. Pure.

Negotiation creates a trade `agreed` (journaled with its invoice before anything is paid);
from then on settlement and delivery report what happened as an `Event`, and `advance`
says where that leaves the trade. The journal (agent/adapters/journal.py) applies it in
one transaction, so no service ever writes a state by hand.

Stages only go forward: agreed → paying/failed → paid/cancelled. `paid` and `cancelled`
are final. A buyer's `failed` is the node's verdict so far, not final: the node can still
show the payment in flight (→ paying, watched) or complete (→ paid), since a Lightning
failure report may come for a payment that went through (docs/settlement.md). Only a
buyer trade in `agreed` or `paying` may be claimed for paying, so once paid it is never
paid again; a seller trade is never claimed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TradeState = Literal["agreed", "paying", "paid", "failed", "cancelled"]
Role = Literal["seller", "buyer"]
Event = Literal[
    "claimed",           # buyer: a worker takes the trade to pay it (a lease in the journal)
    "in_flight",         # buyer: the node shows a payment of its hash under way
    "payment_complete",  # buyer: the node shows it complete (preimage checked)
    "payment_failed",    # buyer: a final failure, or a refusal (policy, signer, payee)
    "invoice_paid",      # seller: the node shows our invoice paid
    "invoice_lapsed",    # seller: our invoice expired unpaid, or the node does not know it
    "declined",          # the other side refused the confirmed terms before any payment
    "hold_unpaid",       # seller: delivery judged, but the buyer never locked the payment
    "hold_cancelled",    # seller: not delivered; the hold invoice was cancelled
]

AGREED: TradeState = "agreed"  # every trade starts here, journaled with its invoice
STATES: tuple[TradeState, ...] = ("agreed", "paying", "paid", "failed", "cancelled")
EVENTS: tuple[Event, ...] = ("claimed", "in_flight", "payment_complete", "payment_failed",
                             "invoice_paid", "invoice_lapsed", "declined", "hold_unpaid",
                             "hold_cancelled")
FINAL_STATES: tuple[TradeState, ...] = ("paid", "failed", "cancelled")  # settlement ended
TERMINAL: frozenset[TradeState] = frozenset({"paid", "cancelled"})     # never left
# How far along a trade is: no event lowers it.
STAGE: dict[TradeState, int] = {"agreed": 0, "paying": 1, "failed": 1, "paid": 2,
                                "cancelled": 2}


@dataclass(frozen=True, slots=True)
class Rule:
    roles: frozenset[Role]
    sources: frozenset[TradeState]
    target: TradeState


def _rule(roles: str, sources: str, target: TradeState) -> Rule:
    return Rule(frozenset(roles.split()), frozenset(sources.split()),  # type: ignore[arg-type]
                target)


RULES: dict[Event, Rule] = {
    "claimed": _rule("buyer", "agreed paying", "paying"),
    "in_flight": _rule("buyer", "agreed paying failed", "paying"),
    "payment_complete": _rule("buyer", "agreed paying failed", "paid"),
    "payment_failed": _rule("buyer", "agreed paying failed", "failed"),
    "invoice_paid": _rule("seller", "agreed", "paid"),
    "invoice_lapsed": _rule("seller", "agreed failed", "failed"),
    "declined": _rule("seller buyer", "agreed", "cancelled"),
    "hold_unpaid": _rule("seller", "agreed failed", "failed"),
    "hold_cancelled": _rule("seller", "agreed failed", "failed"),
}


def advance(role: Role, state: TradeState, event: Event) -> TradeState | None:
    """The state `event` moves a trade in `state` to, or None if it does not apply (the
    trade is past it, or the event is not for this role): the trade stays as it is."""
    rule = RULES[event]
    if role not in rule.roles or state not in rule.sources:
        return None
    return rule.target


def payable(role: Role, state: TradeState) -> bool:
    """Whether settlement may (try to) pay this trade now."""
    return advance(role, state, "claimed") is not None


def claimable_states() -> tuple[TradeState, ...]:
    """The states a buyer trade may be claimed for paying from."""
    return tuple(s for s in STATES if s in RULES["claimed"].sources)

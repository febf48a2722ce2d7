"""The seller's invoice for an agreed trade: one trade id, one label, one payment hash.

Negotiation asks for it on agreement, before the trade is journaled and confirmed; asking
again for the same trade (after a crash) returns the same invoice (the node's label clash,
900). A hold invoice where the node has the plugin (settled after metered delivery, see
agent/services/delivery.py); the buyer's outstanding shortfall credit is netted first,
journaled before the invoice exists, so a retry nets the same amount.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import structlog

from agent.adapters.journal import Journal
from agent.clock import Clock
from agent.domain.market import IntervalClock, Terms
from agent.ports import HoldInvoiceNode, Invoice, PaymentRefused, SettlementNode
from agent.services.state import AgentState

log = structlog.get_logger("settlement")

MIN_INVOICE_EXPIRY_S = 30  # real seconds a payment needs at least, whatever the clock


def label_of(trade_id: str) -> str:
    """The invoice label of a trade: one trade id, one label, one payment hash."""
    return f"peerwatt-{trade_id}"


@dataclass(frozen=True, slots=True)
class InvoiceConfig:
    expiry_s: int                          # real seconds an invoice lives at most
    intervals: IntervalClock | None = None  # with it: never past the delivery interval's end
    net_credits: bool = False              # net the buyer's shortfall credit into the amount
    hold_cltv: int = 144
    hold_extra_s: float = 1_860.0          # a hold invoice outlives delivery by this


class Invoicing:
    def __init__(self, node: SettlementNode, journal: Journal, clock: Clock, state: AgentState,
                 config: InvoiceConfig, hold: HoldInvoiceNode | None = None) -> None:
        self._node = node
        self._journal = journal
        self._clock = clock
        self._state = state
        self._c = config
        self._hold = hold

    def expiry_s(self, terms: Terms) -> int:
        """Real seconds the invoice lives: until the end of the delivery interval (the
        settlement deadline), at most `expiry_s`, at least MIN_INVOICE_EXPIRY_S."""
        expiry = self._c.expiry_s
        if self._c.intervals is not None:
            left_s = self._c.intervals.start_s(terms.interval + 1) - self._clock.now_s()
            if left_s <= 0:
                raise PaymentRefused(f"trade {terms.trade_id}: settlement deadline passed")
            expiry = min(expiry, math.floor(self._clock.real_duration_s(left_s)))
        return max(MIN_INVOICE_EXPIRY_S, expiry)

    async def invoice_for(self, terms: Terms) -> Invoice:
        """The trade's invoice (the same one when asked again)."""
        expiry_s = self.expiry_s(terms)  # refuses past the deadline, before netting
        amount = terms.amount_msat
        if self._c.net_credits:
            netted = self._journal.apply_credit(terms.buyer, terms.trade_id, amount,
                                                self._clock.now_s())
            if netted:
                amount -= netted
                self._state.counters["credits_netted_msat"] += netted
                log.info("credit_netted", trade_id=terms.trade_id, buyer=terms.buyer,
                         netted_msat=netted)
        label = label_of(terms.trade_id)
        description = (f"peerwatt {terms.energy_wh} Wh interval {terms.interval} "
                       f"{terms.seller}->{terms.buyer}")
        if self._hold is not None and await self._hold.has_hold_invoices():
            # Alive past delivery, the meter's margin and the plugin's own cancel window.
            return await self._hold.create_hold_invoice(
                label, amount, description, expiry_s + math.ceil(self._c.hold_extra_s),
                self._c.hold_cltv)
        return await self._node.create_invoice(label, amount, description, expiry_s)

"""The seller's invoice for an agreed trade: one trade id, one label, one payment hash.

Negotiation asks for it on agreement, before the trade is journaled and confirmed; asking
again for the same trade (after a crash) returns the same invoice (the node's label clash,
900). A hold invoice where the node has the plugin (settled after metered delivery, see
agent/services/delivery.py); the buyer's outstanding shortfall credit is netted first,
journaled before the invoice exists, so a retry nets the same amount.

With the tariff (trading on the meters), the amount is `agent.domain.expost.amount_msat`
of the terms: the price, capped so the buyer pays at most retail with the routing fee
(`fee_msat`, the community's fee cap); a trade that would leave the seller less than
feed-in is refused (PaymentRefused: negotiation rejects it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import structlog

from agent.adapters.journal import Journal
from agent.clock import Clock
from agent.domain.expost import amount_msat
from agent.domain.market import IntervalClock, Terms
from agent.domain.units import Tariff
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
    # The settlement deadline: the start of interval + this (2: trades on the meters,
    # whose window runs in the interval after the metered one).
    settle_intervals: int = 1
    tariff: Tariff | None = None           # with it: the amount rule (amount_msat)
    fee_msat: int = 0                      # the routing fee the amount rule allows for


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
            left_s = (self._c.intervals.start_s(terms.interval + self._c.settle_intervals)
                      - self._clock.now_s())
            if left_s <= 0:
                raise PaymentRefused(f"trade {terms.trade_id}: settlement deadline passed")
            expiry = min(expiry, math.floor(self._clock.real_duration_s(left_s)))
        return max(MIN_INVOICE_EXPIRY_S, expiry)

    def amount_msat(self, terms: Terms) -> int:
        """What the trade is invoiced (before netting a credit)."""
        t, iv = self._c.tariff, self._c.intervals
        if t is None or iv is None:
            return terms.amount_msat
        amount = amount_msat(terms.energy_wh, terms.price_msat_per_kwh,
                             t.retail_at(iv.start_s(terms.interval)), t.feed_in_msat_per_kwh,
                             self._c.fee_msat)
        if amount is None:
            raise PaymentRefused(f"trade {terms.trade_id}: {terms.energy_wh} Wh does not pay "
                                 f"its {self._c.fee_msat} msat fee above feed-in")
        return amount

    async def status(self, trade_id: str) -> str | None:
        """The node's word on the trade's invoice (paid, unpaid, expired; None: unknown)."""
        return await self._node.invoice_status(label_of(trade_id))

    async def invoice_for(self, terms: Terms) -> Invoice:
        """The trade's invoice (the same one when asked again)."""
        expiry_s = self.expiry_s(terms)  # refuses past the deadline, before netting
        amount = self.amount_msat(terms)
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

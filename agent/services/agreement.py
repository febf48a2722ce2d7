"""What follows agreed terms, for negotiation: the seller's invoice and journal entry; the
buyer's checks of that invoice, its journal entry and the hand-over to settlement; and the
cancel of a sale whose confirm the buyer declined.

The order of writes is the settlement's (docs/settlement.md): a trade is journaled with its
invoice before the seller confirms and before the buyer hands it over to be paid. After
that, the trade's lifecycle belongs to agent/domain/trade.py through the journal.
"""

from __future__ import annotations

import time

import structlog

from agent.adapters.cln.node import decode_invoice
from agent.adapters.journal import Journal, TradeRecord
from agent.clock import Clock
from agent.domain.market import Terms
from agent.ports import DecodedInvoice, Invoice
from agent.services.handover import Handover
from agent.services.invoicing import Invoicing
from agent.services.spend import SpendPolicy
from agent.services.state import AgentState

log = structlog.get_logger("negotiation")


class Agreements:
    def __init__(self, journal: Journal, invoicing: Invoicing, handover: Handover,
                 spend: SpendPolicy, clock: Clock, state: AgentState) -> None:
        self._journal = journal
        self._invoicing = invoicing
        self._handover = handover
        self._spend = spend
        self._clock = clock
        self._state = state

    async def sold(self, terms: Terms, latency_ms: float) -> Invoice:
        """Invoice the buyer and journal the sale; the node's errors pass through
        (NodeUnavailable, TransientError, PaymentRefused) and nothing is journaled."""
        invoice = await self._invoicing.invoice_for(terms)
        self._journal.record_trade(terms, "seller", self._clock.now_s(), bolt11=invoice.bolt11,
                                   payment_hash=invoice.payment_hash, latency_ms=latency_ms)
        self._state.counters["trades_sold"] += 1
        return invoice

    async def bought(self, terms: Terms, bolt11: str, seller_node: str) -> str:
        """Check the seller's invoice and our spend policy; journal the purchase and hand it
        over to be paid. An empty string, or why the trade is refused (nothing journaled)."""
        try:
            # Decoding checks a signature: ~0.33 ms of CPU (bench/results/bolt11.json), less
            # than handing it to a thread and back costs, so on the loop.
            invoice = decode_invoice(bolt11)
            problem = invoice_problem(terms, invoice, seller_node)
        except ValueError as exc:
            invoice, problem = None, f"undecodable invoice: {exc}"
        problem = problem or self._spend.check(terms, self._clock.now_s(), self._state.roster())
        if problem or invoice is None:
            self._state.counters["trades_refused"] += 1
            log.warning("trade_refused", trade_id=terms.trade_id, seller=terms.seller,
                        reason=problem)
            return problem or "no invoice"
        if self._journal.record_trade(terms, "buyer", self._clock.now_s(), bolt11=bolt11,
                                      payment_hash=invoice.payment_hash, latency_ms=None):
            self._state.counters["trades_bought"] += 1
            await self._handover.put(terms.trade_id)
        return ""

    def journaled(self, trade_id: str) -> TradeRecord | None:
        return self._journal.trade(trade_id)

    def declined(self, trade_id: str) -> None:
        """The buyer refused the confirm of a sale: cancel it (nothing was paid)."""
        self._journal.advance(trade_id, "declined", self._clock.now_s(),
                              "buyer declined the confirm")
        self._state.counters["trades_cancelled"] += 1


def invoice_problem(terms: Terms, inv: DecodedInvoice, seller_node: str) -> str:
    """Why this invoice cannot pay for these terms, or an empty string."""
    if inv.payee != seller_node:
        return f"invoice payee {inv.payee[:16]}… is not the seller's node"
    # Less than agreed is the seller netting a shortfall credit it owes us (settlement).
    if inv.amount_msat is None or not 0 < inv.amount_msat <= terms.amount_msat:
        return f"invoice amount {inv.amount_msat} msat is not within 1..{terms.amount_msat} msat"
    if inv.expires_at <= time.time():
        return "invoice already expired"
    return ""

"""What follows agreed terms, for negotiation: the seller's invoice and journal entry; the
buyer's checks of that invoice, its journal entry and the hand-over to settlement; the
cancel of a sale whose confirm the buyer declined; and each peer's record from this home's
own journal (`record_of`, judged by agent/domain/reputation.py).

The order of writes is the settlement's (docs/settlement.md): a trade is journaled with its
invoice before the seller confirms and before the buyer hands it over to be paid. After
that, the trade's lifecycle belongs to agent/domain/trade.py through the journal.
"""

from __future__ import annotations

import os
import time

import structlog

from agent.adapters.cln.node import decode_invoice
from agent.adapters.journal import Journal, TradeRecord
from agent.clock import Clock
from agent.domain import reputation
from agent.domain.market import IntervalClock, Terms
from agent.ports import DecodedInvoice, Invoice, NodeUnavailable, TransientError
from agent.services.handover import Handover
from agent.services.invoicing import Invoicing
from agent.services.spend import SpendPolicy
from agent.services.state import AgentState

log = structlog.get_logger("negotiation")

# Tests only: a home that agrees to buy and never pays (issue 15's integration test). Honoured
# only while pytest runs the process (PYTEST_CURRENT_TEST is set), never from a config file.
RENEGE_ENV = "PEERWATT_TEST_RENEGE"


def reneging() -> bool:
    return os.environ.get(RENEGE_ENV) == "1" and "PYTEST_CURRENT_TEST" in os.environ


class Agreements:
    def __init__(self, journal: Journal, invoicing: Invoicing, handover: Handover,
                 spend: SpendPolicy, clock: Clock, state: AgentState, *,
                 intervals: IntervalClock | None = None, window_s: float = 86_400.0) -> None:
        self._intervals = intervals
        self._window_s = window_s
        self.renege = reneging()
        self._shunned: set[str] = set()  # peers refused so far (logged once each)
        if self.renege:
            log.warning("reneging_mode", reason=f"{RENEGE_ENV}=1 under pytest: never pays")
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
                                   payment_hash=invoice.payment_hash, latency_ms=latency_ms,
                                   amount_msat=self._invoicing.amount_msat(terms))
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
                                      payment_hash=invoice.payment_hash, latency_ms=None,
                                      amount_msat=invoice.amount_msat):
            self._state.counters["trades_bought"] += 1
            if self.renege:  # tests only: agreed, journaled, never paid
                self._state.counters["trades_reneged"] += 1
                return ""
            await self._handover.put(terms.trade_id)
        return ""

    async def record_of(self, peer: str) -> tuple[reputation.PeerRecord, list[TradeRecord]]:
        """What this home's journal says `peer` failed to do lately: its peer events, and
        our sales to it that are still unpaid after their settlement deadline (asked of the
        node first: a payment the settlement has not yet noticed is no failure); with
        those sales."""
        now = self._clock.now_s()
        since = now - self._window_s
        record = reputation.of_events([k for k, _ in self._journal.peer_events(peer, since)])
        unpaid: list[TradeRecord] = []
        if self._intervals is None:
            return record, unpaid
        # Sales on the meters settle by the start of their interval + 2.
        due = self._intervals.index(now) - 2
        for trade_id in self._journal.unpaid_sales(peer, due, since):
            try:
                paid = await self._invoicing.status(trade_id) == "paid"
            except (NodeUnavailable, TransientError):
                continue  # cannot tell now: no verdict
            if paid:
                self._journal.advance(trade_id, "invoice_paid", now)
            elif (rec := self._journal.trade(trade_id)) is not None:
                record = record.add("unpaid")
                unpaid.append(rec)
        return record, unpaid

    async def serves(self, peer: str, window_share: float, *,
                     selling: bool = False) -> tuple[bool, list[TradeRecord]]:
        """Whether to trade with `peer` now, `window_share` into the trading window (and,
        `selling`, whether it has no unpaid sale of ours: `in_credit`), and our sales to it
        still unpaid after their deadline; a refusal is counted, and logged once per peer."""
        record, unpaid = await self.record_of(peer)
        if reputation.serves(record, window_share):
            if selling and (open_id := await self.in_credit(peer)) is not None:
                self._state.counters["moves_refused_credit"] += 1
                log.debug("accept_refused_credit", buyer=peer, unpaid_trade=open_id)
                return False, unpaid
            return True, unpaid
        self._state.counters["moves_refused_reputation"] += 1
        if peer not in self._shunned and reputation.standing(record) == "refused":
            self._shunned.add(peer)
            log.warning("peer_refused", peer=peer, unpaid=record.unpaid,
                        unanswered=record.unanswered, undelivered=record.undelivered)
        return False, unpaid

    async def in_credit(self, buyer: str) -> str | None:
        """A sale to `buyer` still unpaid (due or not), or None. A seller gives each buyer
        credit for one trade at a time: until it is paid, that buyer's next accept is
        rejected, so a buyer that never pays costs this home one trade, even when it takes
        several offers before the first one falls due (the simulator's sellers learn of
        an unpaid trade at once, the daemon's only at its deadline). An honest buyer pays
        an ex-post trade within moments of its confirm, and its next accept is served."""
        for trade_id in self._journal.open_sales(buyer, self._clock.now_s() - self._window_s):
            try:
                paid = await self._invoicing.status(trade_id) == "paid"
            except (NodeUnavailable, TransientError):
                return trade_id  # cannot tell now: still in credit
            if not paid:
                return trade_id
            self._journal.advance(trade_id, "invoice_paid", self._clock.now_s())
        return None

    def peer_failed(self, peer: str, kind: str, trade_id: str) -> None:
        """Journal a counterparty's failure (once per trade)."""
        self._journal.record_peer_event(peer, kind, trade_id, self._clock.now_s())

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

"""Seller side: once the meter shows what a delivery interval exported, judge each sale.

With hold invoices (the holdinvoice plugin) the buyer's payment is locked at agreement and
this service settles it, or cancels it, by `agent.domain.delivery.judge`. Without them the
buyer paid on agreement, so a shortfall can only be credited: its value is owed to the
buyer and netted from the next invoice between the same pair. The verdict is journaled
(with the credit) before the node is asked; a restart carries out journaled verdicts.
Rules: docs/settlement.md, "Shortfall rule".
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import structlog

from agent.adapters.journal import Journal, TradeRecord
from agent.clock import Clock
from agent.domain.delivery import allocate, judge
from agent.domain.market import IntervalClock
from agent.ports import HoldInvoiceNode, NodeUnavailable, PaymentRefused
from agent.services.spend import SpendPolicy
from agent.services.state import AgentState

log = structlog.get_logger("delivery")

LOOKBACK_INTERVALS = 96  # sales older than this (in intervals) are never judged


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    intervals: IntervalClock
    min_share: float        # below this share delivered a hold invoice is cancelled
    meter_margin_s: float   # wait this long after delivery for the meter's reading
    poll_s: float


class Delivery:
    def __init__(self, hold: HoldInvoiceNode | None, journal: Journal, clock: Clock,
                 state: AgentState, spend: SpendPolicy | None, config: DeliveryConfig) -> None:
        self._hold = hold
        self._journal = journal
        self._clock = clock
        self._intervals = config.intervals
        self._state = state
        self._spend = spend
        self._min_share = config.min_share
        self._margin_s = config.meter_margin_s
        self._poll_s = config.poll_s

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except NodeUnavailable as exc:
                log.debug("node_unavailable", error=str(exc))
            self._state.heartbeats["delivery"] = time.monotonic()
            await asyncio.sleep(self._poll_s)

    async def step(self) -> None:
        """Judge every sale whose delivery interval ended `meter_margin_s` ago."""
        now = self._clock.now_s()
        ended = self._intervals.index(now - self._margin_s)  # intervals before this ended
        by_interval: dict[int, list[TradeRecord]] = {}
        for rec in self._journal.sales_to_judge(ended - LOOKBACK_INTERVALS, ended):
            by_interval.setdefault(rec.terms.interval, []).append(rec)
        for k, sales in sorted(by_interval.items()):
            exported = self._journal.exported_wh(k)
            if exported is None:
                if now < self._intervals.start_s(k + 2):
                    continue  # the meter's reading for k+1 may still come
                exported = 0.0  # no reading, no proof of delivery
                self._state.counters["deliveries_unmetered"] += 1
            shares = allocate(exported, {r.terms.trade_id: r.terms.energy_wh for r in sales})
            for rec in sales:
                await self._verdict(rec, shares[rec.terms.trade_id], now)

    async def _verdict(self, rec: TradeRecord, delivered_wh: int, now: float) -> None:
        t = rec.terms
        state = None
        if self._hold is not None and rec.payment_hash is not None \
                and await self._hold.has_hold_invoices():
            state = await self._hold.hold_state(rec.payment_hash)
        # A paid ordinary invoice cannot be undone: any shortfall becomes a credit.
        v = judge(t.energy_wh, delivered_wh, t.amount_msat,
                  self._min_share if state is not None else 0.0)
        action, delivered, credit, done = self._journal.record_delivery(
            t.trade_id, t.buyer, v.delivered_wh, v.action, v.credit_msat, now)
        if done:
            return
        if state is not None and rec.payment_hash is not None:
            try:
                await self._carry_out(rec, rec.payment_hash, state, action)
            except PaymentRefused as exc:
                self._state.counters["deliveries_refused"] += 1
                log.exception("hold_invoice_refused", trade_id=t.trade_id, error=str(exc))
                return
        self._journal.delivery_done(t.trade_id)
        self._state.counters[f"deliveries_{action}"] += 1
        if credit:
            self._state.counters["shortfall_credit_msat"] += credit
        if delivered < t.energy_wh:
            log.info("delivery_short", trade_id=t.trade_id, buyer=t.buyer, sold_wh=t.energy_wh,
                     delivered_wh=delivered, action=action, credit_msat=credit)

    async def _carry_out(self, rec: TradeRecord, payment_hash: str, state: str,
                         action: str) -> None:
        assert self._hold is not None
        tid, now = rec.terms.trade_id, self._clock.now_s()
        if state in ("OPEN", "CANCELED") and action == "settle":
            # Nothing locked to settle: the buyer never paid (or the plugin gave up).
            if state == "OPEN":
                await self._hold.cancel_hold(payment_hash)
            self._journal.advance(tid, "hold_unpaid", now, f"buyer did not pay (hold {state})")
            if self._spend is not None:
                self._spend.failed(rec.terms.buyer, "unpaid", tid, now)
        elif action == "settle":
            await self._hold.settle_hold(payment_hash)  # listinvoices -> paid (settlement)
        else:
            await self._hold.cancel_hold(payment_hash)
            self._journal.advance(tid, "hold_cancelled", now, "undelivered: hold invoice cancelled")

"""Settlement: pay each agreed trade exactly once, and notice when ours are paid.

Buyer side: a trade is journaled with its bolt11 and payment hash before it reaches this
queue. The worker marks it `paying`, asks the node to pay (always the same bolt11) and
journals the outcome. A pending outcome is watched until final. On start, every
unfinished trade is reconciled against the node (`listsendpays` by hash) before any
new payment: a payment the node already made is never made again.

Seller side: agreed trades wait for their invoice to be paid (`listinvoices`), or to
expire, which fails the trade.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from agent.adapters.journal import Journal, TradeRecord
from agent.clock import Clock
from agent.domain.market import Terms
from agent.ports import Invoice, NodeUnavailable, PaymentRefused, SettlementNode
from agent.services.state import AgentState

log = structlog.get_logger("settlement")

MAX_ATTEMPTS = 5


class Settlement:
    def __init__(self, node: SettlementNode, journal: Journal, clock: Clock, state: AgentState,
                 *, max_fee_msat: int, invoice_expiry_s: int, poll_s: float) -> None:
        self._node = node
        self._journal = journal
        self._clock = clock
        self._state = state
        self._max_fee_msat = max_fee_msat
        self._invoice_expiry_s = invoice_expiry_s
        self._poll_s = poll_s
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._busy = 0
        self._attempts: dict[str, int] = {}
        self._queued: set[str] = set()

    def submit(self, trade_id: str) -> None:
        if trade_id not in self._queued:
            self._queued.add(trade_id)
            self._queue.put_nowait(trade_id)

    async def invoice_for(self, terms: Terms) -> Invoice:
        return await self._node.create_invoice(
            f"peerwatt-{terms.trade_id}", terms.amount_msat,
            f"peerwatt {terms.energy_wh} Wh interval {terms.interval} {terms.seller}->"
            f"{terms.buyer}", self._invoice_expiry_s)

    async def run(self) -> None:
        await self.reconcile()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._pay_loop(), name="settlement-pay")
            tg.create_task(self._watch_loop(), name="settlement-watch")

    async def reconcile(self) -> None:
        """Before paying anything: ask the node what became of every unfinished trade."""
        for rec in self._journal.trades(states=("agreed", "paying", "failed"), role="buyer"):
            if rec.state == "failed" and rec.error and rec.error.startswith("refused"):
                continue
            await self._resolve(rec, after_restart=True)

    async def _resolve(self, rec: TradeRecord, *, after_restart: bool) -> None:
        assert rec.payment_hash is not None
        outcome = await self._node.payment_status(rec.payment_hash)
        now = self._clock.now_s()
        if outcome is not None and outcome.status == "complete":
            self._journal.set_state(rec.terms.trade_id, "paid", now)
            self._state.counters["payments_settled"] += 1
            if after_restart:
                log.info("payment_reconciled", trade_id=rec.terms.trade_id, status="complete")
        elif outcome is not None and outcome.status == "pending":
            self._journal.set_state(rec.terms.trade_id, "paying", now)
        elif rec.state in ("agreed", "paying"):
            self.submit(rec.terms.trade_id)

    async def _pay_loop(self) -> None:
        while True:
            trade_id = await self._queue.get()
            self._queued.discard(trade_id)
            self._busy += 1
            try:
                await self._pay(trade_id)
            finally:
                self._busy -= 1

    async def _pay(self, trade_id: str) -> None:
        rec = self._journal.trade(trade_id)
        if rec is None or rec.state in ("paid", "cancelled") or rec.bolt11 is None:
            return
        assert rec.payment_hash is not None
        # Never pay blind: if an earlier attempt may have gone out, ask the node first.
        if self._attempts.get(trade_id) or rec.state == "paying":
            prior = await self._node.payment_status(rec.payment_hash)
            if prior is not None and prior.status in ("complete", "pending"):
                self._journal.set_state(
                    trade_id, "paid" if prior.status == "complete" else "paying",
                    self._clock.now_s())
                return
        self._attempts[trade_id] = self._attempts.get(trade_id, 0) + 1
        self._journal.set_state(trade_id, "paying", self._clock.now_s())
        try:
            outcome = await self._node.pay(rec.bolt11, self._max_fee_msat)
        except PaymentRefused as exc:
            self._journal.set_state(trade_id, "failed", self._clock.now_s(), f"refused: {exc}")
            self._state.counters["payments_refused"] += 1
            log.exception("payment_refused", trade_id=trade_id, error=str(exc))
            return
        except NodeUnavailable as exc:
            self._state.counters["node_unavailable"] += 1
            log.warning("node_unavailable", trade_id=trade_id, error=str(exc))
            await asyncio.sleep(self._poll_s)
            self.submit(trade_id)
            return
        now = self._clock.now_s()
        if outcome.status == "complete":
            self._journal.set_state(trade_id, "paid", now)
            self._state.counters["payments_settled"] += 1
            log.debug("trade_settled", trade_id=trade_id, amount_msat=rec.terms.amount_msat)
        elif outcome.status == "pending":
            self._state.counters["payments_pending"] += 1
        elif self._attempts[trade_id] < MAX_ATTEMPTS:
            self._state.counters["payment_retries"] += 1
            log.info("payment_retry", trade_id=trade_id, code=outcome.error_code,
                     error=outcome.message, attempt=self._attempts[trade_id])
            await asyncio.sleep(self._poll_s)
            self.submit(trade_id)
        else:
            self._journal.set_state(trade_id, "failed", now,
                                    f"code {outcome.error_code}: {outcome.message}")
            self._state.counters["payments_failed"] += 1
            log.warning("payment_failed", trade_id=trade_id, code=outcome.error_code,
                        error=outcome.message)

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                for rec in self._journal.trades(states=("paying",), role="buyer"):
                    if rec.terms.trade_id not in self._attempts or self._busy == 0:
                        await self._resolve(rec, after_restart=False)
                for rec in self._journal.trades(states=("agreed",), role="seller"):
                    status = await self._node.invoice_status(f"peerwatt-{rec.terms.trade_id}")
                    if status == "paid":
                        self._journal.set_state(rec.terms.trade_id, "paid", self._clock.now_s())
                        self._state.counters["invoices_paid"] += 1
                    elif status in ("expired", None):
                        self._journal.set_state(rec.terms.trade_id, "failed",
                                                self._clock.now_s(), f"invoice {status}")
                        self._state.counters["invoices_expired"] += 1
            except NodeUnavailable as exc:
                log.debug("node_unavailable", error=str(exc))
            self._state.heartbeats["settlement"] = time.monotonic()

    async def drain(self) -> None:
        """Wait until no payment is queued or under way (the caller bounds the wait)."""
        while not self._queue.empty() or self._busy:  # noqa: ASYNC110 - two conditions, polled
            await asyncio.sleep(0.05)

"""Settlement: pay each agreed trade exactly once, and notice when ours are paid.

Buyer side: a trade is journaled with its bolt11 and payment hash (the intent) before its
id reaches this service through the handover queue (agent/services/handover.py), the one
message negotiation sends it. The worker claims it in the journal (state `paying`, a lease held by
this worker), checks the spend policy again, asks the node to pay (always the same
bolt11) and journals the outcome. Before any attempt that might follow an earlier one
it asks the node (`listsendpays`) what became of it. A pending outcome is watched until
final. On start, every unfinished trade, bought or sold, is reconciled against the node
before any new payment. Rules and the error table: docs/settlement.md.

Seller side: agreed trades wait for their invoice to be paid (`listinvoices` by label),
or to expire, which fails the trade and counts against the buyer. (The invoice itself is
agent/services/invoicing.py's.)

Every outcome is an event of the trade's lifecycle (agent/domain/trade.py), applied by the
journal; this service never writes a state.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import structlog

from agent.adapters.cln.node import decode_invoice
from agent.adapters.journal import Journal, TradeRecord
from agent.clock import Clock
from agent.domain import trade
from agent.ports import (
    NodeUnavailable,
    PaymentOutcome,
    PaymentRefused,
    PolicyRefused,
    SettlementNode,
)
from agent.services.handover import Handover
from agent.services.invoicing import label_of
from agent.services.spend import SpendPolicy
from agent.services.state import AgentState

log = structlog.get_logger("settlement")

MAX_ATTEMPTS = 5
# With nothing to watch the loop sleeps until this process's journal commits a write, or
# for this many polls: what another connection writes (a tool, a second process) is seen
# within that time.
IDLE_POLLS = 10


@dataclass(frozen=True, slots=True)
class PayConfig:
    max_fee_msat: int
    poll_s: float                 # how often pending payments and unpaid invoices are asked
    worker: str = "settlement"    # who holds a claim in the journal
    lease_s: float = 120.0        # how long a claim holds
    max_attempts: int = MAX_ATTEMPTS
    concurrency: int = 4          # payments under way at once


class Settlement:
    def __init__(self, node: SettlementNode, journal: Journal, clock: Clock, state: AgentState,
                 config: PayConfig, *, spend: SpendPolicy | None = None,
                 handover: Handover | None = None) -> None:
        self._node = node
        self._journal = journal
        self._clock = clock
        self._state = state
        self._c = config
        self._max_fee_msat = config.max_fee_msat
        self._poll_s = config.poll_s
        self._worker = config.worker
        self._spend = spend
        self.handover = handover or Handover()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._inflight: set[str] = set()
        self._again: set[str] = set()
        self._queue: asyncio.Queue[str] = asyncio.Queue()  # deduplicated by `_queued`
        self._busy = 0
        self._attempts: dict[str, int] = {}
        self._queued: set[str] = set()
        self.reconciled = asyncio.Event()  # set once every unfinished trade was reconciled
        self._written = asyncio.Event()    # the journal committed a write since last cleared
        journal.on_commit(self._written.set)

    def submit(self, trade_id: str) -> None:
        """Queue the trade for paying (once: a trade already waiting is not queued twice)."""
        if trade_id not in self._queued:
            self._queued.add(trade_id)
            self._queue.put_nowait(trade_id)

    async def _intake(self) -> None:
        """Take what negotiation hands over; queued at once, paid after reconciliation."""
        while True:
            self.submit(await self.handover.get())

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._intake(), name="settlement-intake")
            tg.create_task(self._settle(), name="settlement-settle")

    async def _settle(self) -> None:
        attempt = 0
        while True:  # nothing is paid before every unfinished trade has been reconciled
            try:
                await self.reconcile()
                break
            except NodeUnavailable as exc:
                attempt += 1
                self._state.counters["reconcile_waits"] += 1
                (log.warning if attempt == 1 else log.debug)(
                    "reconcile_waiting_for_node", error=str(exc), attempt=attempt)
                await asyncio.sleep(min(30.0, self._poll_s * 2 ** min(attempt, 8)))
        self.reconciled.set()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._pay_loop(), name="settlement-pay")
            tg.create_task(self._watch_loop(), name="settlement-watch")

    async def reconcile(self) -> None:
        """Before paying anything: ask the node what became of every unfinished trade."""
        if self._journal.drop_orphan_credits():
            log.info("credits_restored", reason="netted into a trade that was never journaled")
        for rec in self._journal.trades(states=("agreed", "paying", "failed"), role="buyer"):
            if rec.state == "failed" and rec.error and rec.error.startswith("refused"):
                continue
            await self._resolve(rec, after_restart=True)
        for rec in self._journal.trades(states=("agreed",), role="seller"):
            await self._check_invoice(rec)

    async def _resolve(self, rec: TradeRecord, *, after_restart: bool) -> None:
        assert rec.payment_hash is not None
        outcome = await self._node.payment_status(rec.payment_hash)
        tid = rec.terms.trade_id
        if outcome is not None and outcome.status == "complete":
            self._paid(rec, outcome)
            if after_restart:
                log.info("payment_reconciled", trade_id=tid, status="complete")
        elif outcome is not None and outcome.status == "pending":
            self._journal.advance(tid, "in_flight", self._clock.now_s())
        elif trade.payable(rec.role, rec.state):
            self.submit(tid)

    def _paid(self, rec: TradeRecord, outcome: PaymentOutcome) -> None:
        tid = rec.terms.trade_id
        self._journal.advance(tid, "payment_complete", self._clock.now_s())
        self._journal.release(tid, self._worker)
        self._state.counters["payments_settled"] += 1
        if outcome.amount_sent_msat is not None:
            fee = outcome.amount_sent_msat - rec.terms.amount_msat
            self._state.counters["routing_fees_msat"] += max(0, fee)
        log.debug("trade_settled", trade_id=tid, amount_msat=rec.terms.amount_msat)

    async def _pay_loop(self) -> None:
        """Up to `concurrency` payments at once (a hold invoice keeps one pending until the
        seller settles); never two of one trade in this process."""
        async with asyncio.TaskGroup() as tg:
            while True:
                trade_id = await self._queue.get()
                self._queued.discard(trade_id)
                if trade_id in self._inflight:
                    self._again.add(trade_id)  # once this attempt has ended
                    continue
                await self._slots.acquire()
                self._inflight.add(trade_id)
                self._busy += 1
                tg.create_task(self._pay_one(trade_id), name=f"pay-{trade_id[:8]}")

    async def _pay_one(self, trade_id: str) -> None:
        try:
            await self._pay(trade_id)
        except NodeUnavailable as exc:  # while asking what became of an earlier attempt
            self._state.counters["node_unavailable"] += 1
            log.warning("node_unavailable", trade_id=trade_id, error=str(exc))
            self._journal.release(trade_id, self._worker)
            self._again.add(trade_id)
            await asyncio.sleep(self._poll_s)
        finally:
            self._busy -= 1
            self._inflight.discard(trade_id)
            self._slots.release()
            if trade_id in self._again:
                self._again.discard(trade_id)
                self.submit(trade_id)

    async def _pay(self, trade_id: str) -> None:
        rec = self._journal.trade(trade_id)
        if rec is None or not trade.payable(rec.role, rec.state) or rec.bolt11 is None:
            return
        assert rec.payment_hash is not None
        if not self._journal.claim(trade_id, self._worker, time.time(), self._c.lease_s):
            self._state.counters["payments_claimed_elsewhere"] += 1
            log.debug("payment_claimed_elsewhere", trade_id=trade_id)
            return
        # Never pay blind: if an earlier attempt may have gone out, ask the node first.
        if self._attempts.get(trade_id) or rec.state == "paying":
            prior = await self._node.payment_status(rec.payment_hash)
            if prior is not None and prior.status == "complete":
                self._paid(rec, prior)
                return
            if prior is not None and prior.status == "pending":
                self._journal.release(trade_id, self._worker)
                return
        problem = "" if self._spend is None else self._spend.check(
            rec.terms, self._clock.now_s(), self._roster(), journaled=True)
        problem = problem or await self._payee_problem(rec)
        if problem:
            self._refused(rec, f"refused: policy: {problem}", policy=True)
            return
        self._attempts[trade_id] = self._attempts.get(trade_id, 0) + 1
        self._state.counters["payment_attempts"] += 1
        try:
            outcome = await self._node.pay(rec.bolt11, self._max_fee_msat)
        except PolicyRefused as exc:
            self._refused(rec, f"refused: policy: {exc}", policy=True)
            return
        except PaymentRefused as exc:
            self._refused(rec, f"refused: {exc}", policy=False)
            return
        except NodeUnavailable as exc:
            self._state.counters["node_unavailable"] += 1
            log.warning("node_unavailable", trade_id=trade_id, error=str(exc))
            self._journal.release(trade_id, self._worker)
            await asyncio.sleep(self._poll_s)
            self.submit(trade_id)
            return
        await self._outcome(rec, outcome)

    async def _outcome(self, rec: TradeRecord, outcome: PaymentOutcome) -> None:
        tid, now = rec.terms.trade_id, self._clock.now_s()
        if outcome.status == "complete":
            self._paid(rec, outcome)
        elif outcome.status == "pending":
            self._state.counters["payments_pending"] += 1
            self._journal.release(tid, self._worker)
        elif outcome.retryable and self._attempts[tid] < self._c.max_attempts:
            self._state.counters["payment_retries"] += 1
            log.info("payment_retry", trade_id=tid, code=outcome.error_code,
                     error=outcome.message, attempt=self._attempts[tid])
            await asyncio.sleep(self._poll_s)
            self.submit(tid)
        else:
            self._journal.advance(tid, "payment_failed", now,
                                  f"code {outcome.error_code}: {outcome.message}")
            self._journal.release(tid, self._worker)
            self._state.counters["payments_failed"] += 1
            if outcome.message.startswith("destination") and self._spend is not None:
                self._spend.failed(rec.terms.seller, "unpayable", tid, now)
            log.warning("payment_failed", trade_id=tid, code=outcome.error_code,
                        error=outcome.message)

    def _refused(self, rec: TradeRecord, error: str, *, policy: bool) -> None:
        """A refusal is permanent: journal it, alert, never retry."""
        tid = rec.terms.trade_id
        self._journal.advance(tid, "payment_failed", self._clock.now_s(), error)
        self._journal.release(tid, self._worker)
        self._state.counters["payments_refused_policy" if policy else "payments_refused"] += 1
        log.error("payment_refused", trade_id=tid, seller=rec.terms.seller,
                  amount_msat=rec.terms.amount_msat, policy=policy, error=error)

    def _roster(self) -> set[str] | None:
        return self._state.roster()

    async def _payee_problem(self, rec: TradeRecord) -> str:
        """Pay only the node the current roster lists for the seller (when there is one)."""
        nodes = self._state.roster_nodes()
        if nodes is None or rec.bolt11 is None:
            return ""
        listed = nodes.get(rec.terms.seller)
        try:  # decoding checks a signature (~0.3 ms of CPU): off the event loop
            payee = (await asyncio.to_thread(decode_invoice, rec.bolt11)).payee
        except ValueError as exc:
            return str(exc)
        if payee != listed:
            return (f"invoice payee {payee[:16]}… is not the roster's node for "
                    f"{rec.terms.seller}")
        return ""

    async def _check_invoice(self, rec: TradeRecord) -> None:
        tid, now = rec.terms.trade_id, self._clock.now_s()
        status = await self._node.invoice_status(label_of(tid))
        if status == "paid":
            self._journal.advance(tid, "invoice_paid", now)
            self._state.counters["invoices_paid"] += 1
        elif status in ("expired", None):
            self._journal.advance(tid, "invoice_lapsed", now, f"invoice {status}")
            self._state.counters["invoices_expired"] += 1
            if self._spend is not None and status == "expired":  # not a node that lost it
                self._spend.failed(rec.terms.buyer, "unpaid", tid, now)

    async def _watch_loop(self) -> None:
        idle_at: tuple[int, int] | None = None  # the journal's version with nothing to watch
        while True:
            if idle_at is None:
                await asyncio.sleep(self._poll_s)
            else:  # nothing pending: asleep until a write (a wake every poll was about half
                # of an idle agent's CPU in bench.negotiation), and at least a poll apart
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(IDLE_POLLS * self._poll_s):
                        await self._written.wait()
                await asyncio.sleep(self._poll_s)
            self._written.clear()  # before reading the version: a later write wakes again
            version = self._journal.version()
            if version != idle_at:  # else nothing was pending, and nothing was written since
                try:
                    paying = self._journal.trades(states=("paying",), role="buyer")
                    for rec in paying:
                        if rec.terms.trade_id not in self._queued | self._inflight:
                            await self._resolve(rec, after_restart=False)
                    agreed = self._journal.trades(states=("agreed",), role="seller")
                    for rec in agreed:
                        await self._check_invoice(rec)
                    idle_at = None if paying or agreed else version
                except NodeUnavailable as exc:
                    log.debug("node_unavailable", error=str(exc))
            self._state.heartbeats["settlement"] = time.monotonic()

    async def drain(self) -> None:
        """Wait until no payment is queued or under way (the caller bounds the wait)."""
        while not (self.handover.empty() and self._queue.empty()) or self._busy:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

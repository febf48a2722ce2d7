"""Negotiation over MQTT: sellers offer, one buyer per offer answers, terms are confirmed.

Matching without broadcast: a seller publishes each offer for delivery interval k to
`offers/k/{seller}`; homes that need energy for k hold a *shared* subscription
(`$share/buyers/.../offers/k/+`), so the broker hands each offer to exactly one of them.
Replies go to the other side's `inbox/{agent}/{sender}`. Every topic a home publishes on
ends with its own id, so a broker ACL (`pattern write …/%u`) stops impersonation, and
every move is signed (see `agent.services.identity`). A seller whose offer meets no
buyer, a reject or silence re-offers the remainder (a new trade id) until the deadline.
An agreed trade is journaled — with its invoice (agent/services/invoicing.py) — before the
confirm is sent (seller), and before its id goes to settlement over the handover queue
(buyer, agent/services/handover.py): that id is the only thing negotiation tells settlement.

Each home judges its peers on its own journal (`Agreements.record_of`, the rule of
agent/domain/reputation.py): it rejects the moves of a peer it refuses, serves a
deprioritised one only late in the window, and journals one that went silent.
Orders, books and when each falls due: agent/services/books.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from dataclasses import dataclass, replace

import structlog

from agent import topics
from agent.clock import Clock
from agent.domain.market import IntervalClock, Terms, start_offset
from agent.domain.negotiation import BuyerSession, Move, SellerSession, State
from agent.ports import InboundMessage, NodeUnavailable, PaymentRefused, TransientError, Transport
from agent.services import books
from agent.services.agreement import Agreements
from agent.services.books import Book, Confirmed, Live, Order
from agent.services.identity import Bindings
from agent.services.state import AgentState
from agent.topics import Topics
from agent.wire import MoveMsg, WireError, decode, encode

__all__ = ["Negotiation", "NegotiationConfig", "Order"]  # Order: agent/services/books.py

log = structlog.get_logger("negotiation")


@dataclass(frozen=True, slots=True)
class NegotiationConfig:
    agent_id: str
    community: str
    intervals: IntervalClock
    max_rounds: int = 3
    shared_subscriptions: bool = True  # False only on MQTT 3.1.1 brokers (fan-out)
    # A seller's first offer waits until its own point (`start_offset`) in this first share
    # of the interval, so a community's offers do not all arrive at the interval's start.
    start_spread: float = 0.25


class Negotiation:
    def __init__(self, config: NegotiationConfig, state: AgentState, clock: Clock,
                 transport: Transport, bindings: Bindings, agreements: Agreements) -> None:
        self._me = config.agent_id
        self._topics = Topics(config.community)
        self._rounds = config.max_rounds
        self._offset = start_offset(config.agent_id, config.start_spread)
        self._state = state
        self._clock = clock
        self._intervals = config.intervals
        self._transport = transport
        self._agreements = agreements
        self._bindings = bindings
        self._last_drop_log = 0.0
        self._books: dict[int, Book] = {}
        self._live: dict[str, Live] = {}
        self._confirmed = Confirmed()  # seller: trade id -> buyer's node
        self._wake = asyncio.Event()  # something is due sooner than the timer loop sleeps
        self.draining = False
        self.shared_subscriptions = config.shared_subscriptions
        # Silence longer than this ends a session; a tenth of an interval in real time.
        self.reply_timeout_s = min(2.0, 0.1 * clock.real_duration_s(self._intervals.length_s))
        self._tick_s = max(0.01, self.reply_timeout_s / 4)  # the timer loop's old fixed tick

    @property
    def inbox(self) -> str:
        return self._topics.inbox(self._me)

    def _to(self, agent: str) -> str:
        return self._topics.inbox(agent, self._me)

    def _offers(self, k: int, shared: bool) -> str:
        """Publish on offers/{k}/{me}; buyers hold a shared subscription to offers/{k}/+."""
        if not shared:
            return self._topics.offers(k, self._me)
        topic = self._topics.offers(k)
        return topics.shared(topics.BUYERS, topic) if self.shared_subscriptions else topic

    async def open(self, order: Order) -> None:
        if self.draining or order.energy_wh < order.min_wh:
            return
        book = Book(order, order.energy_wh)
        self._books[order.interval] = book
        self._wake.set()
        if order.side == "sell":
            now = self._clock.now_s()
            at = self._intervals.start_s(self._intervals.index(now)) + self._offset * (
                self._intervals.length_s)
            if at > now:  # the timer loop (`run`) sends the first offer at our point
                book.retry_at = time.monotonic() + self._clock.real_duration_s(at - now)
                return
            await self._offer_next(book)
        else:
            await self._subscribe(book, True)

    def _deadline(self, k: int) -> float:
        """When negotiations for interval `k` end: its order's deadline, else its gate."""
        book = self._books.get(k)
        if book is not None and book.order.deadline_s is not None:
            return book.order.deadline_s
        return self._intervals.deadline_s(k)

    async def _subscribe(self, book: Book, on: bool) -> None:
        if book.subscribed == on:
            return
        topic = self._offers(book.order.interval, shared=True)
        try:
            await (self._transport.subscribe(topic) if on else self._transport.unsubscribe(topic))
            book.subscribed = on
        except TransientError as exc:
            log.debug("offer_subscription_failed", topic=topic, on=on, error=str(exc))

    async def _send(self, move: Move, topic: str, *, introduce: bool = False,
                    qos: int = 1) -> None:
        msg = self._bindings.sign(topic, MoveMsg.of(move, self._state.node_id,
                                                    self._clock.now_s()), introduce=introduce)
        # A move is void after its deadline: let the broker drop it then (MQTT 5 expiry).
        expiry_s = math.ceil(self._clock.real_duration_s(max(0.0, move.deadline_s - msg.sent_s)))
        try:
            await self._transport.publish(topic, encode(msg), qos=qos, expiry_s=max(1, expiry_s))
        except TransientError as exc:
            self._state.counters["moves_unsent"] += 1
            log.debug("move_unsent", kind=move.kind, trade_id=move.trade_id, error=str(exc))
            return
        self._state.counters[f"sent_{move.kind}"] += 1

    async def _reject(self, move: Move) -> None:
        """Answer `move` with a reject of the same trade, sent back to its sender."""
        reply = replace(move, kind="reject", sender=self._me, receiver=move.sender, invoice="")
        await self._send(reply, self._to(move.sender), introduce=True)

    async def _offer_next(self, book: Book) -> None:
        pos = book.order
        deadline = self._deadline(pos.interval)
        if self.draining or book.open_wh < pos.min_wh or self._clock.now_s() >= deadline:
            return
        session = SellerSession(uuid.uuid4().hex, pos.interval, self._me, book.open_wh,
                                pos.start, pos.reservation, deadline, self._rounds)
        self._live[session.trade_id] = Live(session)
        book.live = session.trade_id
        self._wake.set()
        # QoS 0: a lost offer is silence, which re-offers anyway; no PUBACK each way.
        await self._send(session.offer(), self._offers(pos.interval, shared=False),
                         introduce=True, qos=0)

    async def handle(self, message: InboundMessage) -> None:
        try:
            msg = decode(message.payload, MoveMsg)
        except WireError as exc:
            self._drop("moves_invalid", message.topic, "?")
            log.debug("move_dropped", topic=message.topic, reason=exc.reason)
            return
        move = msg.to_move()
        now = self._clock.now_s()
        if move.sender == self._me or move.deadline_s <= now:
            self._state.counters["moves_ignored"] += 1
            return
        roster = self._state.roster()
        problem = ("moves_wrong_topic" if topics.last_level(message.topic) != move.sender
                   else self._bindings.check(message.topic, msg)) or (
            "moves_off_roster" if roster is not None and move.sender not in roster else "")
        if problem:
            self._drop(problem, message.topic, move.sender)
            return
        if move.kind == "offer":
            await self._on_offer(move, msg.node_id, now)
            return
        live = self._live.get(move.trade_id)
        if live is None:
            await self._unmatched(move, msg.node_id)
            return
        live.peer_node = live.peer_node or msg.node_id
        if live.peer_node != msg.node_id:
            self._state.counters["moves_wrong_node"] += 1
            return
        if isinstance(live.session, SellerSession):
            await self._seller_move(live, live.session, move, now)
        else:
            await self._buyer_move(live, live.session, move, now)

    def _drop(self, counter: str, topic: str, sender: str) -> None:
        """Count a refused move; log at most one line a second about it."""
        self._state.counters[counter] += 1
        if time.monotonic() - self._last_drop_log > 1.0:
            self._last_drop_log = time.monotonic()
            log.info("move_refused", reason=counter, topic=topic, sender=sender,
                     total=self._state.counters[counter])

    async def _unmatched(self, move: Move, node_id: str) -> None:
        """A move for no live session. A confirm we can no longer honour (we gave up
        waiting) is answered with a reject, and a reject of a trade we confirmed cancels
        it: both sides' books stay identical."""
        self._state.counters["moves_unmatched"] += 1
        known = self._agreements.journaled(move.trade_id)
        if move.kind == "confirm" and known is None:
            self._state.counters["confirms_declined"] += 1
            await self._reject(move)
        elif (move.kind == "reject" and known is not None and known.role == "seller"
              and known.state == "agreed" and known.terms.buyer == move.sender
              and self._confirmed.pop(move.trade_id) == node_id):
            self._agreements.declined(move.trade_id)
            log.info("trade_cancelled", trade_id=move.trade_id, buyer=move.sender)
            book = self._books.get(move.interval)
            if book is not None:
                book.open_wh += known.terms.energy_wh

    async def _serves(self, peer: str, k: int, *, selling: bool = False) -> bool:
        """Whether this home trades with `peer` now, by its own record of the peer."""
        start = self._intervals.start_s(k + 1)  # the window on the meters runs in k + 1
        deadline = self._deadline(k)
        share = (1.0 if deadline <= start else
                 min(1.0, max(0.0, (self._clock.now_s() - start) / (deadline - start))))
        ok, unpaid = await self._agreements.serves(peer, share, selling=selling)
        for rec in unpaid:  # its confirm may never have arrived (a broker that died)
            await self._reconfirm(rec.terms, rec.bolt11 or "")
        return ok

    async def _reconfirm(self, terms: Terms, bolt11: str) -> None:
        """Send an unpaid sale's confirm again, once: a buyer that never journaled it
        rejects it, and the sale is cancelled (no failure); one that did stays unpaid."""
        if not self._confirmed.once_more(terms.trade_id):
            return
        deadline = self._clock.now_s() + self._intervals.length_s
        await self._send(Move("confirm", terms.trade_id, terms.interval, self._me,
                              terms.buyer, 0, terms.energy_wh, terms.price_msat_per_kwh,
                              deadline, bolt11), self._to(terms.buyer))

    async def _on_offer(self, move: Move, node_id: str, now: float) -> None:
        book = self._books.get(move.interval)
        free = 0 if book is None else book.open_wh - book.reserved_wh
        if book is None or book.order.side != "buy" or free < book.order.min_wh or self.draining:
            self._state.counters["offers_declined_" + ("full" if book else "unbooked")] += 1
            await self._reject(move)
            return
        if not await self._serves(move.sender, move.interval):
            await self._reject(move)
            return
        pos = book.order
        session = BuyerSession(move.trade_id, move.interval, self._me, move.sender, free,
                               pos.start, pos.reservation,
                               self._deadline(move.interval), self._rounds)
        live = Live(session, peer_node=node_id)
        self._live[move.trade_id] = live
        self._wake.set()
        await self._buyer_move(live, session, move, now)

    async def _buyer_move(self, live: Live, s: BuyerSession, move: Move, now: float) -> None:
        book = self._books.get(s.interval)
        outcome = s.on_move(move, now)
        if book is not None:
            book.reserved_wh -= live.reserved_wh
            live.reserved_wh = s.pending.energy_wh if s.state in (State.OPEN, State.ACCEPTED) \
                and s.pending is not None else 0
            book.reserved_wh += live.reserved_wh
        for reply in outcome.replies:
            await self._send(reply, self._to(reply.receiver), introduce=not live.introduced)
            live.introduced = True
        live.last_move = time.monotonic()
        if outcome.agreed is not None:
            await self._buyer_agreed(live, outcome.agreed, move.invoice, book)
        if s.state is State.CLOSED:
            self._live.pop(s.trade_id, None)

    async def _buyer_agreed(self, live: Live, terms: Terms, bolt11: str,
                            book: Book | None) -> None:
        self._live.pop(terms.trade_id, None)
        if book is not None:  # count it bought before any await, so no offer over-fills us
            book.open_wh -= terms.energy_wh
        if await self._agreements.bought(terms, bolt11, live.peer_node):  # refused
            if book is not None:
                book.open_wh += terms.energy_wh
            await self._reject(Move("confirm", terms.trade_id, terms.interval, terms.seller,
                                    self._me, 0, terms.energy_wh, terms.price_msat_per_kwh,
                                    self._deadline(terms.interval)))
            return
        if book is not None and book.open_wh - book.reserved_wh < book.order.min_wh:
            await self._subscribe(book, False)

    async def _seller_move(self, live: Live, s: SellerSession, move: Move, now: float) -> None:
        if (book := self._books.get(s.interval)) is not None:
            book.unanswered = 0  # someone is there
        if move.kind in ("accept", "counter") and not await self._serves(
                move.sender, s.interval, selling=True):
            s.state = State.CLOSED
            self._live.pop(s.trade_id, None)
            self._release(s)
            await self._reject(move)
            return
        outcome = s.on_move(move, now)
        for reply in outcome.replies:
            await self._send(reply, self._to(reply.receiver))
        live.last_move = time.monotonic()
        if outcome.agreed is not None:
            await self._seller_agreed(live, s, outcome.agreed)
        elif s.state is State.CLOSED:
            self._live.pop(s.trade_id, None)
            self._release(s)

    async def _seller_agreed(self, live: Live, s: SellerSession, terms: Terms) -> None:
        # Negotiation latency: offer published → agreement (the invoice comes after).
        latency_ms = (time.monotonic() - live.started) * 1000.0
        self._live.pop(terms.trade_id, None)
        book = self._release(s)
        if book is not None:  # sold before any await, so the re-offer cannot oversell
            book.open_wh -= terms.energy_wh
        try:
            invoice = await self._agreements.sold(terms, latency_ms)
        except (NodeUnavailable, TransientError, PaymentRefused) as exc:
            self._state.counters["invoice_failed"] += 1
            if book is not None:
                book.open_wh += terms.energy_wh
            log.warning("invoice_failed", trade_id=terms.trade_id, error=str(exc))
            await self._reject(Move("accept", terms.trade_id, terms.interval, terms.buyer,
                                    self._me, s.round, terms.energy_wh,
                                    terms.price_msat_per_kwh, s.deadline_s))
            return
        self._confirmed.add(terms.trade_id, live.peer_node)
        await self._send(s.confirm(invoice.bolt11), self._to(terms.buyer))
        if book is not None and book.live is None:  # the timer may have re-offered meanwhile
            await self._offer_next(book)

    def _release(self, s: SellerSession) -> Book | None:
        """The seller's offer is no longer out; the timer loop offers the rest again."""
        book = self._books.get(s.interval)
        if book is not None and book.live == s.trade_id:
            book.live = None
            books.paced(book, time.monotonic(), self._tick_s)
            self._wake.set()  # the timer loop offers the rest at `retry_at`
        return book

    async def run(self) -> None:
        """Expire sessions past their deadline or silent too long; re-offer; tidy books;
        asleep until the earliest is due, or a change that brings it forward wakes it."""
        await self._transport.subscribe(self.inbox)
        tick_s = self._tick_s
        while True:
            mono = time.monotonic()
            due = books.next_due_s(
                self._live.values(), ((b, self._deadline(k)) for k, b in self._books.items()),
                self._clock.now_s(), mono, self.reply_timeout_s, self._clock.real_duration_s)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(books.sleep_s(due, mono, tick_s)):
                    await self._wake.wait()
            await self._tick()

    async def _tick(self) -> None:
        now, mono = self._clock.now_s(), time.monotonic()
        for trade_id, live in list(self._live.items()):
            if not (counter := books.lapsed(live, now, mono, self.reply_timeout_s)):
                continue
            self._state.counters[counter] += 1
            s, silent = live.session, counter == "sessions_timed_out"
            peer = s.buyer if isinstance(s, SellerSession) else s.seller
            if silent and peer and (isinstance(s, BuyerSession) or s.round > 0):
                self._agreements.peer_failed(peer, "unanswered", trade_id)
            self._live.pop(trade_id, None)
            if isinstance(s, SellerSession):
                book = self._release(s)
                if book is not None and silent and s.round == 0:  # nobody answered
                    books.back_off(book, mono, self.reply_timeout_s)
            elif (book := self._books.get(s.interval)) is not None:
                book.reserved_wh -= live.reserved_wh
        for k, book in list(self._books.items()):
            if now >= self._deadline(k):
                await self._subscribe(book, False)
                del self._books[k]
            elif book.order.side == "sell" and book.live is None and mono >= book.retry_at:
                await self._offer_next(book)

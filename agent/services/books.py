"""A home's negotiation books: its orders, what each has left, its live sessions, and
when the next of them falls due.

`Negotiation` (agent/services/negotiation.py) keeps one `Book` per delivery interval it
trades and one `Live` per session under way. Its timer loop sleeps until `next_due_s`,
the earliest moment one of them needs it: a session's silence limit or deadline, a
seller's next offer (`retry_at`), a book's deadline; a change that brings that moment
forward (a new book, a new session, an offer no longer out) wakes it early.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from agent.domain.negotiation import BuyerSession, SellerSession, State

MIN_TRADE_WH = 20
MAX_SLEEP_S = 5.0  # the timer loop looks at least this often, whatever is due


@dataclass(frozen=True, slots=True)
class Order:
    """What this home wants to sell or buy for one delivery interval, and at what prices."""

    interval: int
    side: Literal["sell", "buy"]
    energy_wh: int
    start: int        # opening price, msat/kWh
    reservation: int  # the price beyond which this home would rather use the grid
    # When negotiations for it end; None: the interval's gate (trading ahead of delivery).
    # Trades on the meters (agent/domain/expost.py) end in the interval after.
    deadline_s: float | None = None
    min_wh: int = MIN_TRADE_WH  # no trade below this (one that would not pay its fee)


@dataclass
class Book:
    order: Order
    open_wh: int                 # seller: not yet sold; buyer: not yet bought
    reserved_wh: int = 0         # buyer: promised in an accept/counter still pending
    subscribed: bool = False
    live: str | None = None      # seller: the trade id of the offer now out
    unanswered: int = 0          # seller: offers in a row that met only silence
    retry_at: float = 0.0        # seller: no new offer before this (monotonic), backoff


@dataclass
class Live:
    session: SellerSession | BuyerSession
    peer_node: str = ""
    started: float = field(default_factory=time.monotonic)
    last_move: float = field(default_factory=time.monotonic)
    reserved_wh: int = 0
    introduced: bool = False  # buyer: our binding went out with our first reply


class Confirmed:
    """A seller's confirmed sales: the buyer's node each confirm went to, and whether it
    went again; bounded (the journal keeps the record)."""

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._node: dict[str, str] = {}
        self._again: set[str] = set()

    def add(self, trade_id: str, buyer_node: str) -> None:
        if len(self._node) >= self._limit:
            self._node.clear()
            self._again.clear()
        self._node[trade_id] = buyer_node

    def pop(self, trade_id: str) -> str | None:
        return self._node.pop(trade_id, None)

    def once_more(self, trade_id: str) -> bool:
        """Whether this sale's confirm may go again: once, and only for one we confirmed."""
        if trade_id in self._again or trade_id not in self._node:
            return False
        self._again.add(trade_id)
        return True


def patience_s(live: Live, reply_timeout_s: float) -> float:
    """How long a session may stay silent. A buyer that accepted waits longer: the seller
    still has to invoice, and a buyer that gives up costs a trade (the seller cancels on
    its reject)."""
    s = live.session
    waiting = isinstance(s, BuyerSession) and s.state is State.ACCEPTED
    return reply_timeout_s * (10 if waiting else 1)


def next_due_s(live: Iterable[Live], books: Iterable[tuple[Book, float]], now_s: float,
               mono: float, reply_timeout_s: float,
               real_s: Callable[[float], float]) -> float:
    """The monotonic moment the earliest session or book needs the timer loop: `books` are
    (book, its deadline in simulated seconds); `real_s` turns simulated seconds into real
    ones. A session is silent strictly after its patience, hence the millisecond."""
    due = float("inf")
    for x in live:
        due = min(due, x.last_move + patience_s(x, reply_timeout_s) + 0.001,
                  mono + real_s(x.session.deadline_s - now_s))
    for book, deadline_s in books:
        due = min(due, mono + real_s(deadline_s - now_s))
        if book.order.side == "sell" and book.live is None:
            due = min(due, book.retry_at)
    return due


def sleep_s(due: float, mono: float, tick_s: float) -> float | None:
    """How long the timer loop sleeps for `due`; still due after a tick (a session that
    cannot expire): the fixed tick it used to poll at. None when nothing is due (no session,
    no book): then only a new book or session can give it work, and each wakes it; at
    most `MAX_SLEEP_S` otherwise, for a wall clock that jumps under a deadline."""
    if due == float("inf"):
        return None
    return tick_s if due <= mono else min(MAX_SLEEP_S, max(0.01, due - mono))


def lapsed(live: Live, now_s: float, mono: float, reply_timeout_s: float) -> str:
    """The counter of a session that ends now (closing it), or an empty string."""
    silent = mono - live.last_move > patience_s(live, reply_timeout_s)
    if live.session.expire(now_s) or silent:
        live.session.state = State.CLOSED
        return "sessions_timed_out" if silent else "sessions_expired"
    return ""


def paced(book: Book, mono: float, tick_s: float) -> None:
    """An offer is no longer out: the next one waits a uniform share of the fixed tick the
    timer loop used to poll at (as it did then), so a seller whose offers meet rejects
    does not re-offer as fast as the loop can turn."""
    book.retry_at = max(book.retry_at, mono + random.uniform(0, tick_s))


def back_off(book: Book, mono: float, reply_timeout_s: float) -> None:
    """A seller's offer met silence: no new one for a while (full jitter, capped) rather
    than into an overloaded broker or an empty buyer group."""
    book.unanswered += 1
    book.retry_at = mono + reply_timeout_s * random.uniform(0, 2 ** min(4, book.unanswered))

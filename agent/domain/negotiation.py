"""The bilateral negotiation: propose → counter (at most R rounds) → accept → confirm.

Pure state machines, one per side. A seller opens a session with an offer; one buyer
answers it (accept, counter or reject); sides alternate counters, each conceding a
share of the gap to its reservation price per round, never past it. The seller ends a
successful negotiation with `confirm`, which carries the final terms (and, in the
service, the invoice); the buyer checks them against what it agreed to.

Rounds: the offer is round 0 and each counter adds one. After round R no side may
counter: it accepts if the price is within its reservation, else it rejects. Every
move carries the deadline; nothing is accepted at or after it. Duplicate, stale or
misaddressed moves change nothing.

The machines trade a quantity of any resource at a price per unit (`agent.domain.resource`):
`energy_wh` is the quantity in the resource's unit, `price_msat_per_kwh` the price per
priced unit, `interval` the resource's window; the names are energy's because the wire and
the journal carry them. A session's `unit` (Wh by default) prices the agreed terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from agent.domain.market import Terms
from agent.domain.resource import WH, Unit

MoveKind = Literal["offer", "counter", "accept", "confirm", "reject"]


@dataclass(frozen=True, slots=True)
class Move:
    kind: MoveKind
    trade_id: str
    interval: int
    sender: str
    receiver: str  # "" for an offer, which goes to whichever buyer the broker picks
    round: int
    energy_wh: int
    price_msat_per_kwh: int
    deadline_s: float
    invoice: str = ""

    @property
    def quantity(self) -> int:
        return self.energy_wh

    @property
    def price_msat_per_unit(self) -> int:
        return self.price_msat_per_kwh


class State(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"  # buyer: sent accept, waiting for confirm
    AGREED = "agreed"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Outcome:
    replies: tuple[Move, ...] = ()
    agreed: Terms | None = None


NOTHING = Outcome()


def concede(start: int, reservation: int, round_: int, max_rounds: int) -> int:
    """Linear concession from `start` towards `reservation`, reached at round `max_rounds`."""
    share = min(1.0, round_ / max_rounds) if max_rounds > 0 else 1.0
    return round(start + (reservation - start) * share)


@dataclass(slots=True)
class SellerSession:
    trade_id: str
    interval: int
    seller: str
    energy_wh: int
    ask_msat_per_kwh: int
    reservation_msat_per_kwh: int  # lowest acceptable price
    deadline_s: float
    max_rounds: int
    state: State = State.OPEN
    round: int = 0
    buyer: str = ""
    terms: Terms | None = field(default=None)
    unit: Unit = WH

    def __post_init__(self) -> None:
        if self.energy_wh <= 0:
            raise ValueError("an offer needs a positive energy")
        self.ask_msat_per_kwh = max(self.ask_msat_per_kwh, self.reservation_msat_per_kwh)

    def _ask(self, round_: int) -> int:
        return concede(self.ask_msat_per_kwh, self.reservation_msat_per_kwh, round_,
                       self.max_rounds)

    def offer(self) -> Move:
        return Move("offer", self.trade_id, self.interval, self.seller, "", 0,
                    self.energy_wh, self.ask_msat_per_kwh, self.deadline_s)

    def expire(self, now_s: float) -> bool:
        if self.state is State.OPEN and now_s >= self.deadline_s:
            self.state = State.CLOSED
            return True
        return False

    def on_move(self, move: Move, now_s: float) -> Outcome:
        if (self.state is not State.OPEN or now_s >= self.deadline_s
                or move.trade_id != self.trade_id or move.interval != self.interval
                or move.receiver != self.seller
                or (self.buyer and move.sender != self.buyer)
                or not 0 < move.energy_wh <= self.energy_wh):
            return NOTHING
        if move.kind == "reject" and move.round in (self.round, self.round + 1):
            self.state = State.CLOSED
            return NOTHING
        if move.kind == "accept":
            if move.round != self.round or move.price_msat_per_kwh != self._ask(self.round):
                return NOTHING
            return self._agree(move.sender, move.energy_wh, move.price_msat_per_kwh)
        if move.kind != "counter" or move.round != self.round + 1:
            return NOTHING
        bid = move.price_msat_per_kwh
        if move.round >= self.max_rounds or bid >= self._ask(move.round + 1):
            if bid >= self.reservation_msat_per_kwh:
                self.round = move.round
                return self._agree(move.sender, move.energy_wh, bid)
            self.state = State.CLOSED
            return Outcome((self._reply(move, "reject", move.energy_wh, bid),))
        self.buyer = move.sender
        self.round = move.round + 1
        return Outcome((self._reply(move, "counter", move.energy_wh, self._ask(self.round)),))

    def _agree(self, buyer: str, energy_wh: int, price: int) -> Outcome:
        self.state = State.AGREED
        self.buyer = buyer
        self.terms = Terms(self.trade_id, self.interval, self.seller, buyer, energy_wh, price,
                           self.unit)
        return Outcome(agreed=self.terms)

    def _reply(self, to: Move, kind: MoveKind, energy_wh: int, price: int) -> Move:
        return Move(kind, self.trade_id, self.interval, self.seller, to.sender, self.round,
                    energy_wh, price, self.deadline_s)

    def confirm(self, invoice: str) -> Move:
        """The closing move, once the service has an invoice for the agreed terms."""
        if self.terms is None:
            raise RuntimeError("confirm before agreement")
        t = self.terms
        return Move("confirm", t.trade_id, t.interval, t.seller, t.buyer, self.round,
                    t.energy_wh, t.price_msat_per_kwh, self.deadline_s, invoice)


@dataclass(slots=True)
class BuyerSession:
    trade_id: str
    interval: int
    buyer: str
    seller: str
    need_wh: int
    bid_msat_per_kwh: int
    limit_msat_per_kwh: int  # highest acceptable price
    deadline_s: float
    max_rounds: int
    state: State = State.OPEN
    round: int = 0
    pending: Move | None = None  # our last accept or counter
    terms: Terms | None = None
    unit: Unit = WH

    def _bid(self, round_: int) -> int:
        return concede(min(self.bid_msat_per_kwh, self.limit_msat_per_kwh),
                       self.limit_msat_per_kwh, round_, self.max_rounds)

    def on_move(self, move: Move, now_s: float) -> Outcome:
        if (self.state in (State.AGREED, State.CLOSED) or now_s >= self.deadline_s
                or move.trade_id != self.trade_id or move.interval != self.interval
                or move.sender != self.seller or move.receiver not in ("", self.buyer)):
            return NOTHING
        if move.kind == "confirm":
            return self._on_confirm(move)
        if move.kind == "reject":
            self.state = State.CLOSED
            return NOTHING
        expected = 0 if self.pending is None else self.round + 1
        if (move.kind not in ("offer", "counter") or self.state is not State.OPEN
                or move.round != expected or (move.kind == "offer") != (expected == 0)
                or move.energy_wh <= 0):
            return NOTHING
        energy = min(move.energy_wh, self.need_wh)
        if energy <= 0:
            return self._send(move, "reject", move.energy_wh, move.price_msat_per_kwh,
                              State.CLOSED)
        ask = move.price_msat_per_kwh
        if move.round >= self.max_rounds or ask <= self._bid(move.round + 1):
            if ask <= self.limit_msat_per_kwh:
                return self._send(move, "accept", energy, ask, State.ACCEPTED)
            return self._send(move, "reject", energy, ask, State.CLOSED)
        self.round = move.round + 1
        return self._send(move, "counter", energy, self._bid(self.round), State.OPEN,
                          round_=self.round)

    def _send(self, to: Move, kind: MoveKind, energy_wh: int, price: int, state: State,
              round_: int | None = None) -> Outcome:
        reply = Move(kind, self.trade_id, self.interval, self.buyer, to.sender,
                     to.round if round_ is None else round_, energy_wh, price, self.deadline_s)
        self.state = state
        self.pending = reply if kind != "reject" else None
        return Outcome((reply,))

    def _on_confirm(self, move: Move) -> Outcome:
        mine = self.pending
        if (mine is None or move.round != mine.round or not 0 < move.energy_wh <= mine.energy_wh
                or move.price_msat_per_kwh != mine.price_msat_per_kwh):
            return NOTHING
        self.state = State.AGREED
        self.terms = Terms(self.trade_id, self.interval, self.seller, self.buyer,
                           move.energy_wh, move.price_msat_per_kwh, self.unit)
        return Outcome(agreed=self.terms)

    def expire(self, now_s: float) -> bool:
        if self.state in (State.OPEN, State.ACCEPTED) and now_s >= self.deadline_s:
            self.state = State.CLOSED
            return True
        return False



"""The negotiation state machines: table-driven cases and hypothesis properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.domain.negotiation import BuyerSession, Move, SellerSession, State, concede

DEADLINE = 1_000.0


def seller(energy: int = 1_000, ask: int = 300, res: int = 100, rounds: int = 3) -> SellerSession:
    return SellerSession("t" * 32, 7, "sam", energy, ask, res, DEADLINE, rounds)


def buyer(need: int = 600, bid: int = 120, limit: int = 280, rounds: int = 3,
          seller_id: str = "sam") -> BuyerSession:
    return BuyerSession("t" * 32, 7, "bea", seller_id, need, bid, limit, DEADLINE, rounds)


def play(s: SellerSession, b: BuyerSession, now: float = 1.0) -> list[Move]:
    """Alternate moves until neither side answers; return the transcript."""
    transcript = [s.offer()]
    to_buyer = True
    for _ in range(50):
        move = transcript[-1]
        out = (b if to_buyer else s).on_move(move, now)
        if not to_buyer and out.agreed is not None:
            transcript.append(s.confirm("lnbcrt1invoice"))
            to_buyer = True
            continue
        if not out.replies:
            break
        transcript.append(out.replies[0])
        to_buyer = not to_buyer
    return transcript


@pytest.mark.parametrize(
    ("ask", "res", "bid", "limit", "agreed_price"),
    [
        (300, 100, 120, 280, 173),   # meet in the middle after one counter
        (200, 100, 250, 280, 200),   # buyer accepts the opening ask at once
        (300, 290, 100, 200, None),  # bands never overlap: rejected, no trade
    ],
)
def test_outcomes(ask: int, res: int, bid: int, limit: int, agreed_price: int | None) -> None:
    s, b = seller(ask=ask, res=res), buyer(bid=bid, limit=limit)
    play(s, b)
    if agreed_price is None:
        assert s.terms is None
        assert b.terms is None
        assert s.state is State.CLOSED or b.state is State.CLOSED
    else:
        assert s.terms == b.terms
        assert s.terms is not None
        assert s.terms.price_msat_per_kwh == agreed_price
        assert s.terms.energy_wh == 600


def test_concession_reaches_reservation_at_last_round() -> None:
    assert concede(300, 100, 0, 3) == 300
    assert concede(300, 100, 3, 3) == 100
    assert concede(100, 300, 5, 3) == 300


def test_moves_after_deadline_change_nothing() -> None:
    s, b = seller(), buyer()
    offer = s.offer()
    assert b.on_move(offer, DEADLINE).replies == ()
    assert b.state is State.OPEN
    assert b.pending is None
    accept = Move("accept", s.trade_id, 7, "bea", "sam", 0, 500, 300, DEADLINE)
    assert s.on_move(accept, DEADLINE + 1).agreed is None
    assert s.state is State.OPEN
    assert s.expire(DEADLINE)
    assert s.state is State.CLOSED


def test_out_of_interval_and_misaddressed_moves_change_nothing() -> None:
    s = seller()
    wrong_interval = Move("accept", s.trade_id, 8, "bea", "sam", 0, 500, 300, DEADLINE)
    wrong_receiver = Move("accept", s.trade_id, 7, "bea", "sue", 0, 500, 300, DEADLINE)
    too_much = Move("accept", s.trade_id, 7, "bea", "sam", 0, 5_000, 300, DEADLINE)
    for move in (wrong_interval, wrong_receiver, too_much):
        assert s.on_move(move, 1.0).agreed is None
    assert s.state is State.OPEN


def test_duplicate_accept_agrees_once() -> None:
    s = seller()
    accept = Move("accept", s.trade_id, 7, "bea", "sam", 0, 500, 300, DEADLINE)
    first = s.on_move(accept, 1.0)
    second = s.on_move(accept, 1.0)
    assert first.agreed is not None
    assert second.agreed is None


def test_confirm_with_other_terms_is_ignored() -> None:
    s, b = seller(), buyer(bid=300, limit=320)
    out = b.on_move(s.offer(), 1.0)
    assert out.replies[0].kind == "accept"
    forged = Move("confirm", s.trade_id, 7, "sam", "bea", 0, 600, 301, DEADLINE, "lnbc")
    assert b.on_move(forged, 1.0).agreed is None
    genuine = Move("confirm", s.trade_id, 7, "sam", "bea", 0, 600, 300, DEADLINE, "lnbc")
    assert b.on_move(genuine, 1.0).agreed is not None


prices = st.integers(min_value=0, max_value=1_000_000)


@settings(max_examples=400, deadline=None)
@given(ask=prices, res=prices, bid=prices, limit=prices,
       energy=st.integers(1, 10_000), need=st.integers(1, 10_000),
       rounds=st.integers(1, 6), seed=st.integers(0, 2**32 - 1),
       drop=st.floats(0, 0.4), dup=st.floats(0, 0.4))
def test_random_interleavings(ask: int, res: int, bid: int, limit: int, energy: int, need: int,
                              rounds: int, seed: int, drop: float, dup: float) -> None:
    """Losses, duplicates and reorderings: terminates, agrees at most once, same terms on
    both sides, never more energy than offered, never past either reservation."""
    rng = random.Random(seed)
    s = SellerSession("a" * 32, 3, "sam", energy, ask, res, DEADLINE, rounds)
    b = BuyerSession("a" * 32, 3, "bea", "sam", need, bid, limit, DEADLINE, rounds)
    in_flight: list[Move] = [s.offer()]
    agreements = {"sam": 0, "bea": 0}
    steps = 0
    while in_flight and steps < 500:
        steps += 1
        move = in_flight.pop(rng.randrange(len(in_flight)))  # reorder
        if rng.random() < drop:
            continue
        if rng.random() < dup:
            in_flight.append(move)
        target = b if move.receiver in ("", "bea") else s
        out = target.on_move(move, 1.0)
        if out.agreed is not None:
            agreements[target.buyer if target is b else "sam"] += 1
            if target is s:
                in_flight.append(s.confirm("lnbcrt1x"))
        in_flight.extend(out.replies)
    assert steps < 500, "negotiation did not terminate"
    assert agreements["sam"] <= 1
    assert agreements["bea"] <= 1
    if b.terms is not None:
        assert s.terms == b.terms
    for t in (s.terms, b.terms):
        if t is not None:
            assert 0 < t.energy_wh <= energy
            assert t.energy_wh <= need
            assert max(res, ask) >= t.price_msat_per_kwh >= res
            assert t.price_msat_per_kwh <= limit
    # After the deadline nothing is open any more.
    s.expire(DEADLINE)
    b.expire(DEADLINE)
    assert s.state is not State.OPEN
    assert b.state not in (State.OPEN, State.ACCEPTED)

"""Online price-position adaptation: bounded, in the band, and moving the right way."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent.domain.adaptation import AdaptationSettings, PricePositionAdapter
from agent.domain.decision import BUY, SELL
from agent.domain.policy_obs import start_price

FEED, RETAIL = 88_889, 333_333
anything = st.floats(allow_nan=True, allow_infinity=True)
outcome = st.tuples(st.sampled_from([SELL, BUY]), anything, anything, anything,
                    st.none() | anything, anything)


@given(events=st.lists(outcome, max_size=200), policy_position=anything,
       side=st.sampled_from([SELL, BUY]))
def test_never_leaves_the_band(events: list[tuple[int, float, float, float, float | None,
                                                  float]],
                               policy_position: float, side: int) -> None:
    a = PricePositionAdapter()
    for e in events:
        a.observe(*e)
        for s in (SELL, BUY):
            assert abs(a.offset(s)) <= a.settings.max_offset
    pos = a.position(side, policy_position)
    assert 0.0 <= pos <= 1.0
    assert FEED <= int(start_price(side, pos, FEED, RETAIL)) <= RETAIL


def test_unfilled_offers_lower_the_ask_filled_ones_raise_it() -> None:
    a = PricePositionAdapter()
    start = int(start_price(SELL, 0.6, FEED, RETAIL))
    for _ in range(30):
        a.observe(SELL, 1000, 0, start, None, FEED)  # nobody buys
    assert a.position(SELL, 0.6) < 0.6
    assert a.offset(SELL) == -AdaptationSettings().max_offset  # bounded, however long
    b = PricePositionAdapter()
    for _ in range(30):
        b.observe(SELL, 1000, 1000, start, start, FEED)  # all sold at the opening price
    assert b.position(SELL, 0.6) > 0.6
    assert b.offset(BUY) == 0.0  # sides adapt separately


def test_deep_concessions_lower_the_ask() -> None:
    a = PricePositionAdapter(AdaptationSettings(target_fill=1.0))
    start = int(start_price(BUY, 0.8, FEED, RETAIL))
    for _ in range(10):
        a.observe(BUY, 500, 500, start, RETAIL, RETAIL)  # filled, but only at the reservation
    assert a.position(BUY, 0.8) < 0.8


def test_nothing_offered_changes_nothing() -> None:
    a = PricePositionAdapter()
    for offered in (0.0, -5.0, float("nan")):
        a.observe(SELL, offered, 100, 200_000, 150_000, FEED)
    assert a.offset(SELL) == 0.0

"""Online correction of the policy's price position from what the market did. Pure.

Per side (selling, buying) the adapter keeps a moving average of the fill (agreed energy
/ offered energy) and of the concession (how far from the opening price towards the
reservation price the agreed price landed, 0…1). After each interval with an offer it
moves an offset by `gain` × ((fill − target_fill) − (concession − target_concession)):
offers that fill easily and at the opening price ask for more, offers that go unfilled
or need deep concessions ask for less. The offset is bounded by ±`max_offset` and the
corrected position is clipped to [0, 1], so the opening price
(`agent.domain.policy_obs.start_price`) stays in the band [feed-in, retail] whatever the
model or the feedback say. A few floats per side: nothing for a Pi.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from agent.domain.decision import BUY, SELL


@dataclass(frozen=True, slots=True)
class AdaptationSettings:
    target_fill: float = 0.7
    target_concession: float = 0.5
    gain: float = 0.05
    memory: float = 0.8            # weight of the past in the moving averages
    max_offset: float = 0.25


@dataclass(slots=True)
class _Side:
    fill: float
    concession: float
    offset: float = 0.0


def _unit(x: float, default: float) -> float:
    return min(1.0, max(0.0, x)) if math.isfinite(x) else default


@dataclass
class PricePositionAdapter:
    settings: AdaptationSettings = field(default_factory=AdaptationSettings)
    _sides: dict[int, _Side] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = self.settings
        self._sides = {side: _Side(s.target_fill, s.target_concession) for side in (SELL, BUY)}

    def offset(self, side: int) -> float:
        return self._sides[side].offset if side in self._sides else 0.0

    def position(self, side: int, policy_position: float) -> float:
        """The policy's position corrected for `side`, always in [0, 1]."""
        return _unit(_unit(policy_position, 0.5) + self.offset(side), 0.5)

    def observe(self, side: int, offered_wh: float, agreed_wh: float,
                start_price: float, agreed_price: float | None, reservation: float) -> None:
        """One interval's outcome for an offer on `side`; `agreed_price` is the
        volume-weighted price of its agreements (None when nothing was agreed)."""
        st = self._sides.get(side)
        if st is None or not (math.isfinite(offered_wh) and offered_wh > 0):
            return
        s = self.settings
        fill = _unit(agreed_wh / offered_wh, 0.0)
        st.fill = s.memory * st.fill + (1 - s.memory) * fill
        span = start_price - reservation
        if agreed_price is not None and math.isfinite(span) and abs(span) > 0:
            conceded = _unit((start_price - agreed_price) / span, s.target_concession)
            st.concession = s.memory * st.concession + (1 - s.memory) * conceded
        step = s.gain * ((st.fill - s.target_fill) - (st.concession - s.target_concession))
        st.offset = max(-s.max_offset, min(s.max_offset, st.offset + step))

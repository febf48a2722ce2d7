"""Each home's own judgement of a peer, from its own journal: deprioritise, then refuse.

No central authority: a home counts what it saw a peer fail to do (a buyer that agreed and
never paid by the end of the trading window, a peer that took an offer or an accept and
then never answered, a seller whose invoice could not be paid or who did not deliver) and
trades with it accordingly. One unpaid agreement is refused at once: the energy was
promised and not paid for, and a seller who keeps selling to such a buyer keeps losing
a trade's value. Silence and failed deliveries are also what an honest home suffers from
a flaky link, so they first deprioritise (the peer gets only what is left in the second
half of the window, after the others had their turn) and refuse from the third.

The fleet simulator's market (`sim.market.clear`) and the daemon's negotiation apply the
same rule. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Standing = Literal["trusted", "deprioritised", "refused"]

REFUSE_AFTER_UNPAID = 1
REFUSE_AFTER_FAILURES = 3     # unanswered + undelivered
LATE_SHARE = 0.5              # a deprioritised peer is served from this share of the window


@dataclass(frozen=True, slots=True)
class PeerRecord:
    unpaid: int = 0        # agreed and not paid by the window's end (the peer bought)
    unanswered: int = 0    # took an offer or an accept and never answered
    undelivered: int = 0   # its invoice could not be paid, or it did not deliver

    def add(self, kind: str) -> PeerRecord:
        return PeerRecord(self.unpaid + (kind == "unpaid"),
                          self.unanswered + (kind == "unanswered"),
                          self.undelivered + (kind in ("undelivered", "unpayable")))


CLEAN = PeerRecord()


def standing(record: PeerRecord) -> Standing:
    if (record.unpaid >= REFUSE_AFTER_UNPAID
            or record.unanswered + record.undelivered >= REFUSE_AFTER_FAILURES):
        return "refused"
    if record.unanswered or record.undelivered:
        return "deprioritised"
    return "trusted"


def serves(record: PeerRecord, window_share: float) -> bool:
    """Whether to trade with the peer now, `window_share` (0..1) into the trading window:
    a refused peer never, a deprioritised one only late in the window."""
    s = standing(record)
    return s == "trusted" or (s == "deprioritised" and window_share >= LATE_SHARE)


def of_events(kinds: list[str]) -> PeerRecord:
    """The record from a journal's peer events (their kinds)."""
    record = CLEAN
    for kind in kinds:
        record = record.add(kind)
    return record

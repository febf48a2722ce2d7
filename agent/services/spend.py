"""The agent's own spend policy, checked at agreement and again before every payment.

Caps count what the home committed to pay (journaled buyer trades not failed or
cancelled) plus the worst-case routing fee of this payment. A counterparty is refused
while it is off the coordinator's roster, while the home's undelivered exposure to it
would pass the cap, or while it is on the default list: `default_after_failures` failures
to pay or deliver within `default_window_s` keep it refused for `default_for_s` after the
last one. A refusal is permanent for that trade (docs/settlement.md).
"""

from __future__ import annotations

from typing import Literal

from agent.adapters.journal import Journal
from agent.domain.market import Terms
from agent.settings import LimitsSettings

# What a counterparty failed to do; journaled once per trade (peer_events).
PeerFailure = Literal["unpaid", "undelivered", "unpayable"]
DAY_S = 86_400.0


class SpendPolicy:
    def __init__(self, limits: LimitsSettings, journal: Journal, *, max_fee_msat: int = 0,
                 interval_s: int = 900) -> None:
        self._limits = limits
        self._journal = journal
        self._max_fee_msat = max_fee_msat
        self._interval_s = interval_s

    def check(self, terms: Terms, now_s: float, roster: set[str] | None, *,
              journaled: bool = False) -> str:
        """An empty string if paying for `terms` is allowed, else the reason it is not.

        `journaled`: the trade is already in the journal (the check before paying), so
        the sums leave it out and add it once."""
        lim = self._limits
        amount = terms.amount_msat
        worst = amount + self._max_fee_msat
        me = terms.trade_id if journaled else None
        if roster is None and lim.require_roster:
            return f"no roster known yet: seller {terms.seller} cannot be checked"
        if roster is not None and terms.seller not in roster:
            return f"seller {terms.seller} is not on the coordinator's roster"
        if lim.max_fee_msat is not None and self._max_fee_msat > lim.max_fee_msat:
            return (f"fee cap {self._max_fee_msat} msat exceeds the policy's "
                    f"{lim.max_fee_msat} msat")
        if worst > lim.max_trade_msat:
            return (f"trade {amount}+{self._max_fee_msat} fee msat exceeds per-trade cap "
                    f"{lim.max_trade_msat} msat" if self._max_fee_msat else
                    f"trade {amount} msat exceeds per-trade cap {lim.max_trade_msat} msat")
        in_interval = self._journal.spent_msat(0.0, terms.interval, exclude=me)
        if in_interval + worst > lim.max_interval_msat:
            return (f"interval spend {in_interval}+{worst} msat exceeds cap "
                    f"{lim.max_interval_msat} msat")
        today = self._journal.spent_msat(now_s - DAY_S, exclude=me)
        if today + worst > lim.max_day_msat:
            return f"daily spend {today}+{worst} msat exceeds cap {lim.max_day_msat} msat"
        exposed = self._journal.exposure_msat(terms.seller, int(now_s // self._interval_s),
                                              exclude=me)
        if exposed + amount > lim.max_exposure_msat:
            return (f"exposure to {terms.seller} {exposed}+{amount} msat exceeds cap "
                    f"{lim.max_exposure_msat} msat")
        return self.defaulted(terms.seller, now_s)

    def defaulted(self, peer: str, now_s: float) -> str:
        """Why `peer` is on the default list now, or an empty string."""
        lim = self._limits
        events = self._journal.peer_events(peer, now_s - lim.default_window_s)
        if len(events) < lim.default_after_failures:
            return ""
        until = events[-1][1] + lim.default_for_s
        if now_s >= until:
            return ""
        kinds = ", ".join(sorted({k for k, _ in events}))
        return (f"{peer} is on the default list until {until:.0f} ({len(events)} failures: "
                f"{kinds})")

    def failed(self, peer: str, kind: PeerFailure, trade_id: str, now_s: float) -> None:
        """Journal that `peer` failed to pay or deliver on `trade_id` (once per trade)."""
        self._journal.record_peer_event(peer, kind, trade_id, now_s)

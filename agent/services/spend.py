"""The agent's own spend policy, checked before it ever asks the node to pay."""

from __future__ import annotations

from agent.adapters.journal import Journal
from agent.domain.market import Terms
from agent.settings import LimitsSettings


class SpendPolicy:
    def __init__(self, limits: LimitsSettings, journal: Journal) -> None:
        self._limits = limits
        self._journal = journal

    def check(self, terms: Terms, now_s: float, roster: set[str] | None) -> str:
        """An empty string if the payment is allowed, else the reason it is not."""
        amount = terms.amount_msat
        lim = self._limits
        if roster is not None and terms.seller not in roster:
            return f"seller {terms.seller} is not on the coordinator's roster"
        if amount > lim.max_trade_msat:
            return f"trade {amount} msat exceeds per-trade cap {lim.max_trade_msat} msat"
        in_interval = self._journal.spent_msat(0.0, terms.interval)
        if in_interval + amount > lim.max_interval_msat:
            return (f"interval spend {in_interval}+{amount} msat exceeds cap "
                    f"{lim.max_interval_msat} msat")
        today = self._journal.spent_msat(now_s - 86_400.0)
        if today + amount > lim.max_day_msat:
            return f"daily spend {today}+{amount} msat exceeds cap {lim.max_day_msat} msat"
        return ""

"""Paying for metered delivery: who delivered how much, and what a shortfall costs.

Pure: the seller's meter says how much it exported in the delivery interval; that energy
is shared out over the interval's sales pro rata; each sale is then settled in full,
settled with the undelivered part credited to the buyer, or cancelled. A hold invoice can
only be settled in full or cancelled, so a partial delivery is settled in full and the
value of the undelivered part is owed to the buyer, netted from the next invoice between
the same pair (docs/settlement.md, "Shortfall rule").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Literal["settle", "cancel"]
    delivered_wh: int
    credit_msat: int  # owed to the buyer for energy paid for and not delivered


def allocate(exported_wh: float, sales_wh: dict[str, int]) -> dict[str, int]:
    """Share the interval's export over its sales pro rata (whole Wh, never more than
    sold, the rounding remainder to the largest sales first)."""
    total = sum(sales_wh.values())
    if total <= 0:
        return dict.fromkeys(sales_wh, 0)
    available = max(0, min(total, int(exported_wh)))
    shares = {tid: available * wh // total for tid, wh in sales_wh.items()}
    left = available - sum(shares.values())
    for tid in sorted(sales_wh, key=lambda t: (-sales_wh[t], t)):
        if left <= 0:
            break
        if shares[tid] < sales_wh[tid]:
            shares[tid] += 1
            left -= 1
    return shares


def judge(energy_wh: int, delivered_wh: int, amount_msat: int, min_share: float) -> Verdict:
    """Full delivery: settle. Below `min_share` of the energy: cancel (the buyer gets its
    money back, the seller nothing). In between: settle, and credit the buyer the
    undelivered part's value, rounded in the buyer's favour."""
    if energy_wh <= 0 or amount_msat <= 0:
        raise ValueError(f"a trade needs energy and an amount, got {energy_wh} Wh, "
                         f"{amount_msat} msat")
    delivered = max(0, min(energy_wh, delivered_wh))
    if delivered == energy_wh:
        return Verdict("settle", delivered, 0)
    if delivered < min_share * energy_wh:
        return Verdict("cancel", delivered, 0)
    earned = amount_msat * delivered // energy_wh
    return Verdict("settle", delivered, amount_msat - earned)


def netted(outstanding_msat: int, amount_msat: int) -> int:
    """How much of a credit owed to the buyer the next invoice can absorb: all of it,
    leaving at least 1 msat to invoice (an invoice needs an amount)."""
    return max(0, min(outstanding_msat, amount_msat - 1))

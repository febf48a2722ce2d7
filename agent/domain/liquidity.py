"""Channel liquidity for the next horizon: what the home will need, and what to do about it.

Pure. The forecast's net load (+ import) gives, step by step, the energy the home may buy
(mean + z·std, when positive) and sell (−(mean − z·std), when positive); at the expected
price that is the outbound capacity its payments need and the inbound capacity its sales
need. `plan` compares that with the channels:

- outbound short → splice in from the on-chain wallet (what the wallet holds, at most);
- outbound far beyond the need (`idle_factor` × need) → splice the idle part out;
- enough in total but no single channel can carry the largest payment → a circular
  rebalance into the fullest channel, under a fee budget (ppm of the amount);
- inbound short → reported: only a peer can add inbound capacity (or our own payments).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class ChannelState:
    scid: str
    peer_id: str
    capacity_msat: int
    spendable_msat: int   # outbound: what we can send now
    receivable_msat: int  # inbound: what we can receive now


@dataclass(frozen=True, slots=True)
class Need:
    outbound_msat: int
    inbound_msat: int
    largest_payment_msat: int
    largest_receipt_msat: int


@dataclass(frozen=True, slots=True)
class Action:
    kind: Literal["splice_in", "splice_out", "rebalance", "inbound_short"]
    scid: str
    amount_msat: int
    to_scid: str = ""
    max_fee_msat: int = 0
    reason: str = ""


def need_from_forecast(mean_kw: Sequence[float], std_kw: Sequence[float], step_s: float,
                       price_msat_per_kwh: Sequence[int], z: float = 1.0) -> Need:
    """Capacity the horizon needs at `z` standard deviations of forecast error."""
    if not len(mean_kw) == len(std_kw) == len(price_msat_per_kwh):
        raise ValueError("forecast mean, std and prices must cover the same steps")
    hours = step_s / 3600.0
    buys = [max(0.0, m + z * s) * hours * p for m, s, p in
            zip(mean_kw, std_kw, price_msat_per_kwh, strict=True)]
    sells = [max(0.0, -(m - z * s)) * hours * p for m, s, p in
             zip(mean_kw, std_kw, price_msat_per_kwh, strict=True)]
    return Need(round(sum(buys)), round(sum(sells)), round(max(buys, default=0.0)),
                round(max(sells, default=0.0)))


def plan(channels: Sequence[ChannelState], need: Need, *, wallet_msat: int,
         margin: float = 0.2, idle_factor: float = 3.0, min_splice_msat: int = 10_000_000,
         rebalance_fee_ppm: int = 1_000) -> list[Action]:
    """What to do so the channels carry the horizon's payments and sales (see module)."""
    if not channels:
        return []
    out = sum(c.spendable_msat for c in channels)
    inbound = sum(c.receivable_msat for c in channels)
    want_out = round(need.outbound_msat * (1 + margin))
    want_in = round(need.inbound_msat * (1 + margin))
    fullest = max(channels, key=lambda c: (c.spendable_msat, c.scid))
    actions: list[Action] = []
    if out < want_out:
        amount = min(want_out - out, wallet_msat) // 1000 * 1000
        if amount >= min_splice_msat:
            actions.append(Action("splice_in", fullest.scid, amount,
                                  reason=f"outbound {out} < needed {want_out} msat"))
    elif out > idle_factor * max(want_out, 1) + min_splice_msat:
        idle = (out - round(idle_factor * want_out)) // 1000 * 1000
        amount = min(idle, fullest.spendable_msat // 1000 * 1000)
        if amount >= min_splice_msat:
            actions.append(Action("splice_out", fullest.scid, amount,
                                  reason=f"outbound {out} idle beyond {idle_factor}x the "
                                         f"needed {want_out} msat"))
    elif fullest.spendable_msat < need.largest_payment_msat <= out and len(channels) > 1:
        source = max((c for c in channels if c.scid != fullest.scid),
                     key=lambda c: (c.spendable_msat, c.scid))
        amount = min(need.largest_payment_msat - fullest.spendable_msat, source.spendable_msat)
        actions.append(Action("rebalance", source.scid, amount, to_scid=fullest.scid,
                              max_fee_msat=amount * rebalance_fee_ppm // 1_000_000,
                              reason="no channel carries the largest payment alone"))
    if inbound < want_in:
        actions.append(Action("inbound_short", max(channels, key=lambda c: (
            c.receivable_msat, c.scid)).scid, want_in - inbound,
            reason=f"inbound {inbound} < needed {want_in} msat"))
    return actions


def utilisation(channels: Sequence[ChannelState]) -> float:
    """Share of total capacity on our side (0 = all inbound, 1 = all outbound)."""
    capacity = sum(c.capacity_msat for c in channels)
    return 0.0 if capacity == 0 else sum(c.spendable_msat for c in channels) / capacity

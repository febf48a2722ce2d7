"""Individual rationality, interval by interval: a home never ends worse off than alone.

Each home keeps a shadow of itself alone: the same battery in self-consumption on the same
measured net load (what `no_trading` does), billed at the tariff. The home's **margin** is
what it has gained over that shadow so far, counted on what the meters measured: the
shadow's bill − the home's own bill (its trades included) + the terminal value of the
difference in stored energy. From it the guard takes what the stored-energy difference may
still cost (`divergence_msat`) and the capacity charge on an own peak above the shadow's,
and what is left, the **budget**, bounds how far the coming interval's set-point may move
away from self-consumption:

- charging d W more than self-consumption can cost at most (r − f) per Wh — bought at
  retail r, and the stored surplus later exported at feed-in f when the shadow's battery
  would have stored it — plus the capacity rate per kW, should it raise the own peak;
- discharging d W more (or charging less) can cost at most (r_max − f) per Wh — sold at
  feed-in, and the missing energy later bought at the dearest retail r_max when the
  shadow would have drawn it from its battery — plus the capacity rate per kW, since the
  deficit can force an import that large at a later peak.

The budget also keeps back the peak an existing deficit can force. A property test
(tests/unit/test_u_rational_guard.py) runs random plans, prices and trades through the
simulator's battery and checks the guarded home never ends below its alone self.

So when the budget is gone the home runs exactly what the shadow runs, and a plan can only
spend what trading has already earned. Trades on the meters never cost a home more than
the tariff (`agent.domain.expost`), so a home that followed self-consumption never falls
behind. Pure numpy, arrays of homes (the fleet simulator) or one home (the daemon).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Tariff:
    """Prices in msat per kWh (and per kW of peak for the capacity charge)."""

    retail: float          # this interval's retail price
    retail_max: float      # the dearest retail price of the billing day
    feed_in: float
    terminal: float        # the value of a kWh still stored (√η × mean retail)
    capacity_per_kw: float  # the capacity charge per kW of the billing period's peak


def divergence_msat(own_wh: Floats, shadow_wh: Floats, t: Tariff, efficiency: float) -> Floats:
    """What the difference in stored energy (Wh above the floor) may still cost at worst,
    beyond its terminal value: a deficit the shadow would have spent at the dearest retail,
    a surplus the shadow would have stored while the home's full battery exports it."""
    eta = math.sqrt(efficiency)
    deficit = np.maximum(shadow_wh - own_wh, 0.0)
    surplus = np.maximum(own_wh - shadow_wh, 0.0)
    per_deficit = max(eta * t.retail_max - t.terminal, 0.0)
    per_surplus = max(t.terminal - t.feed_in / eta, 0.0)
    out: Floats = (per_deficit * deficit + per_surplus * surplus) / 1000.0
    return out


class Guard:
    """The margin over the alone shadow of each home and the bound it puts on a set-point."""

    def __init__(self, capacity_wh: npt.ArrayLike, max_power_w: npt.ArrayLike,
                 soc_wh: npt.ArrayLike, min_soc_pct: float, max_soc_pct: float,
                 efficiency: float) -> None:
        self.capacity_wh = np.asarray(capacity_wh, dtype=np.float64).copy()
        self.max_power_w = np.asarray(max_power_w, dtype=np.float64).copy()
        self.shadow_wh = np.asarray(soc_wh, dtype=np.float64).copy()   # the shadow's SoC
        self.min_wh = self.capacity_wh * min_soc_pct / 100.0
        self.max_wh = self.capacity_wh * max_soc_pct / 100.0
        self.efficiency = efficiency
        n = self.capacity_wh.shape
        self.margin_msat: Floats = np.zeros(n)   # bills and stored value, capacity aside
        self.own_peak_kw: Floats = np.zeros(n)
        self.shadow_peak_kw: Floats = np.zeros(n)
        self.bounded = 0                          # set-points the guard changed
        self.last_cost_msat: Floats = np.zeros(n)  # worst-case cost of the last bound_w

    def exposure_msat(self, t: Tariff) -> Floats:
        """The capacity charge on an own peak above the shadow's (the share of the
        community's charge is at most the rate per kW of the own peak)."""
        out: Floats = t.capacity_per_kw * np.maximum(self.own_peak_kw - self.shadow_peak_kw,
                                                     0.0)
        return out

    def budget_msat(self, own_soc_wh: npt.ArrayLike, t: Tariff, dt_h: float) -> Floats:
        """The margin less what may still be lost: the capacity exposure so far, the stored
        energy's divergence, and the peak a deficit can force (when the home's battery is
        empty and the shadow's is not, the home imports what the shadow draws from its
        battery: at most the deficit's power, at most the battery's)."""
        own = np.asarray(own_soc_wh, dtype=np.float64) - self.min_wh
        shadow = self.shadow_wh - self.min_wh
        deficit_w = np.minimum(np.maximum(shadow - own, 0.0) * math.sqrt(self.efficiency)
                               / dt_h, self.max_power_w)
        out: Floats = (self.margin_msat - self.exposure_msat(t)
                       - divergence_msat(own, shadow, t, self.efficiency)
                       - t.capacity_per_kw * deficit_w / 1000.0)
        return out

    def bound_w(self, setpoint_w: npt.ArrayLike, net_w: npt.ArrayLike,
                own_soc_wh: npt.ArrayLike, t: Tariff, dt_h: float,
                reserved_msat: npt.ArrayLike = 0.0) -> Floats:
        """The set-point moved towards self-consumption (−net) as far as the budget needs.

        `reserved_msat`: budget already committed to set-points whose intervals are not
        settled yet (the daemon settles an interval only once its trading window closes);
        the worst-case cost this set-point commits is left in `last_cost_msat`."""
        wanted = np.asarray(setpoint_w, dtype=np.float64)
        alone = -np.asarray(net_w, dtype=np.float64)
        budget = np.maximum(self.budget_msat(own_soc_wh, t, dt_h)
                            - np.asarray(reserved_msat, dtype=np.float64), 0.0)
        own = np.asarray(own_soc_wh, dtype=np.float64) - self.min_wh
        shadow = self.shadow_wh - self.min_wh
        eta = math.sqrt(self.efficiency)
        per_w = dt_h / 1000.0          # msat per W over the interval, per msat/kWh
        kappa = t.capacity_per_kw / 1000.0
        # Charging more: while it refills a deficit against the shadow it costs at most
        # r − η·r_max per Wh (the refilled energy spares the dearest import); beyond,
        # r − f; past the higher of the two peaks so far (the self-consumption command
        # itself draws nothing), also the capacity rate per kW.
        refill_w = np.maximum(shadow - own, 0.0) / (eta * dt_h)
        c1 = max(t.retail - self.efficiency * t.retail_max, 0.0) * per_w
        c2 = max(t.retail - t.feed_in, 0.0) * per_w
        head = 1000.0 * np.maximum(self.own_peak_kw, self.shadow_peak_kw)
        up: list[tuple[float, float | Floats]] = [
            (c1, 0.0), (c2, (c1 - c2) * refill_w), (c1 + kappa, -kappa * head),
            (c2 + kappa, (c1 - c2) * refill_w - kappa * head)]
        hi = _reach(budget, up)
        # Discharging more (or charging less): while it spends a surplus over the shadow it
        # costs at most f·(1/η − 1) per Wh; beyond, (r_max − f) per Wh — sold at feed-in,
        # bought back at the dearest retail — and the capacity rate per kW, since the
        # deficit it leaves can force an import that large at a later peak.
        spend_w = np.maximum(own - shadow, 0.0) * eta / dt_h
        c3 = t.feed_in * (1.0 / self.efficiency - 1.0) * per_w
        c4 = max(t.retail_max - t.feed_in, 0.0) * per_w + kappa
        down: list[tuple[float, float | Floats]] = [(c3, 0.0), (c4, (c3 - c4) * spend_w)]
        lo = _reach(budget, down)
        out: Floats = alone + np.clip(wanted - alone, -lo, hi)
        spent: Floats = (_cost(np.maximum(out - alone, 0.0), up)
                         + _cost(np.maximum(alone - out, 0.0), down))
        self.last_cost_msat = np.where(self.capacity_wh > 0, np.minimum(spent, budget), 0.0)
        has = self.capacity_wh > 0
        out = np.where(has, out, wanted)
        self.bounded += int(np.count_nonzero(has & (np.abs(out - wanted) > 0.5)))
        return out

    def shadow_step(self, net_w: npt.ArrayLike, dt_h: float) -> Floats:
        """The shadow battery in self-consumption for one interval; its grid Wh (+ import)."""
        net = np.asarray(net_w, dtype=np.float64)
        eta = math.sqrt(self.efficiency)
        want = np.clip(-net, -self.max_power_w, self.max_power_w)
        room = np.maximum(self.max_wh - self.shadow_wh, 0.0)
        avail = np.maximum(self.shadow_wh - self.min_wh, 0.0)
        charge = np.minimum(np.maximum(want, 0.0), room / (eta * dt_h))
        discharge = np.minimum(np.maximum(-want, 0.0), avail * eta / dt_h)
        power = np.where(self.capacity_wh > 0, charge - discharge, 0.0)
        self.shadow_wh = np.clip(self.shadow_wh + np.where(power > 0, power * eta,
                                                           power / eta) * dt_h,
                                 self.min_wh, self.max_wh)
        out: Floats = (net + power) * dt_h
        return out

    def settle(self, own_cost_msat: npt.ArrayLike, shadow_grid_wh: npt.ArrayLike,
               own_grid_wh: npt.ArrayLike, own_before_wh: npt.ArrayLike,
               own_after_wh: npt.ArrayLike, shadow_before_wh: npt.ArrayLike,
               t: Tariff, dt_h: float) -> None:
        """After the interval: the home's own cost (bill, trades and fees; measured) against
        the shadow's bill at the tariff, and the change of both stored energies."""
        sg = np.asarray(shadow_grid_wh, dtype=np.float64)
        shadow_cost = (t.retail * np.maximum(sg, 0.0) - t.feed_in * np.maximum(-sg, 0.0)) / 1000.0
        stored = ((np.asarray(own_after_wh, dtype=np.float64)
                   - np.asarray(own_before_wh, dtype=np.float64))
                  - (self.shadow_wh - np.asarray(shadow_before_wh, dtype=np.float64)))
        self.margin_msat = (self.margin_msat + shadow_cost
                            - np.asarray(own_cost_msat, dtype=np.float64)
                            + t.terminal * stored / 1000.0)
        self.own_peak_kw = np.maximum(self.own_peak_kw,
                                      np.asarray(own_grid_wh, dtype=np.float64) / 1000.0 / dt_h)
        self.shadow_peak_kw = np.maximum(self.shadow_peak_kw, sg / 1000.0 / dt_h)

    def close_period(self, t: Tariff) -> None:
        """A billing period ends: its capacity exposure is charged to the margin, the peaks
        start again."""
        self.margin_msat = self.margin_msat - self.exposure_msat(t)
        self.own_peak_kw = np.zeros_like(self.own_peak_kw)
        self.shadow_peak_kw = np.zeros_like(self.shadow_peak_kw)


def _cost(u: Floats, lines: list[tuple[float, float | Floats]]) -> Floats:
    """The worst-case cost of moving u ≥ 0: the upper envelope of the lines, at least 0."""
    out: Floats = np.zeros_like(u)
    for slope, intercept in lines:
        out = np.maximum(out, slope * u + intercept)
    return out


def _reach(budget: Floats, lines: list[tuple[float, float | Floats]]) -> Floats:
    """The largest u ≥ 0 whose cost, the upper envelope of the lines slope·u + intercept
    (a convex, increasing piecewise-linear cost), stays within the budget."""
    out: Floats = np.full_like(budget, np.inf)
    for slope, intercept in lines:
        out = np.minimum(out, (budget - intercept) / max(slope, 1e-12))
    reach: Floats = np.maximum(out, 0.0)
    return reach

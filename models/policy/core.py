"""The policy environment's dynamics for many homes at once (one `Day`, numpy).

Each interval: the action (in [-1, 1]², one row per home) becomes a wanted battery power
and an offer price position ((a + 1) / 2). The power is residual to self-consumption:
wanted = −(forecast mean of the interval) + a × the home's power limit, so the zero action
is the self-consumption rule and learning starts from it. The daemon's clamp
(`agent.domain.decision.clamp_setpoint`) bounds the set-point by the power limit and the
SoC window before the battery sees it, then the daemon's own rule
(`agent.domain.decision.orders`) turns the expected net energy into a sell or buy
position and `agent.domain.policy_obs.start_price` puts its price in the band.

Market (a stated model, not the negotiation state machines): a position is filled with
probability sigmoid((p* − ask) / w) for a seller, sigmoid((bid − p*) / w) for a buyer,
times the community's matching share on its side (demand / supply of the reference run,
capped at 1); p* is the true community price, w = `accept_width` × the band; filled energy
trades at the home's price. The battery and meter are `sim.physics`; what the trades
do not cover goes to the grid at retail / feed-in.

Reward (€, × `reward_scale`): −(cost − passive + risk), cost = grid bill + payments −
receipts, passive = the bill without battery or market (independent of the action: it
only lowers the variance), risk = the home's risk aversion × (cost − the cost had the
forecast mean come true)²;
the last interval adds the stored energy's change at the feed-in price (as
`sim.engine` values it).

Signals: `perturb` rescales the day's price deviations (× U(0.5, 1.5)) and shifts them
(± 15 % of the band) — the world's prices move with what the home sees — adds
observation noise (2 % of the band), and in 10 % of episodes hides the signal (the
daemon's tariff fallback: retail prices, no mean field, flag 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.domain import decision as rules
from agent.domain import policy_obs
from models.policy.episodes import INTERVAL_S, STEPS, Day
from sim.physics import Batteries, grid_cost_msat

Floats = npt.NDArray[np.float64]
DT_H = INTERVAL_S / 3600.0


@dataclass(frozen=True)
class EnvConfig:
    perturb: bool = True
    deterministic: bool = False    # forecast means only: spread 0 in the obs and the offer
    accept_width: float = 0.1
    reward_scale: float = 10.0
    fallback_share: float = 0.1
    obs_noise: float = 0.02


@dataclass
class StepOutcome:
    cost_msat: Floats      # (n,) bill + payments made − payments received
    revenue_msat: Floats   # (n,) payments received
    grid_w: Floats         # (n,) + import
    sold_wh: Floats
    bought_wh: Floats
    price_msat: Floats     # (n,) opening price of each position (0 when none)
    side: npt.NDArray[np.int64]


def sigmoid(x: Floats) -> Floats:
    out: Floats = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


class Core:
    """`idx` picks the day's homes this core runs (repeats allowed)."""

    def __init__(self, day: Day, idx: npt.NDArray[np.int64], cfg: EnvConfig,
                 rng: np.random.Generator) -> None:
        self.day, self.idx, self.cfg, self.rng = day, idx, cfg, rng
        h = day.homes
        self.cap = h.capacity_wh[idx]
        self.pmax = h.max_power_w[idx]
        self.risk = h.risk_aversion[idx]
        self.feed = day.tariff.feed_in_msat_per_kwh
        self.batteries = Batteries(self.cap.copy(), self.pmax.copy(), self.cap * 0.5)
        self.step_no = 0
        self._signals()

    @property
    def n(self) -> int:
        return int(self.idx.size)

    def _signals(self) -> None:
        """True prices p* (S,), what the homes see (S, 10) and the fair price they offer
        around (S,), after this episode's perturbation."""
        d, cfg, rng = self.day, self.cfg, self.rng
        retail = d.retail
        band = retail - self.feed
        scale, shift, hide = 1.0, 0.0, False
        if cfg.perturb:
            scale = rng.uniform(0.5, 1.5)
            shift = rng.uniform(-0.15, 0.15)
            hide = bool(rng.random() < cfg.fallback_share)
        level = float(np.mean([p[0] for p in d.prices]))
        shared, true, seen0 = [], np.zeros(STEPS), np.zeros(STEPS)
        for s in range(STEPS):
            path = level + scale * (d.prices[s] - level) + shift * band[s]
            if cfg.perturb:
                path = path + rng.normal(0.0, cfg.obs_noise, path.size) * band[s]
            ret = np.array([d.retail[min(STEPS - 1, s + i)] for i in range(path.size)])
            path = np.clip(path, self.feed, np.maximum(ret, d.retail[s]))
            true[s] = np.clip(level + scale * (d.prices[s][0] - level) + shift * band[s],
                              self.feed, retail[s])
            if hide:
                seen = np.array([d.retail[min(STEPS - 1, s + i)] for i in range(STEPS)])
                shared.append(policy_obs.shared_features(seen, self.feed, retail[s],
                                                         np.zeros(1), on_signal=False))
                seen0[s] = retail[s]
            else:
                shared.append(policy_obs.shared_features(path, self.feed, retail[s],
                                                         d.meanfield[s], on_signal=True))
                seen0[s] = path[0]
        self.shared = np.stack(shared)
        self.true_price = true
        self.seen_price = seen0

    def reset(self, soc_pct: Floats | None = None) -> npt.NDArray[np.float32]:
        soc = soc_pct if soc_pct is not None else self.rng.uniform(20.0, 80.0, self.n)
        self.batteries.soc_wh = self.cap * soc / 100.0
        self.stored0 = self.batteries.stored_wh.copy()
        self.step_no = 0
        return self.observe()

    def observe(self) -> npt.NDArray[np.float32]:
        s = min(self.step_no, STEPS - 1)
        d = self.day
        std = d.fc_std[s, self.idx] * (0.0 if self.cfg.deterministic else 1.0)
        return policy_obs.from_blocks(self.batteries.soc_pct, self.cap, self.pmax, self.risk,
                                      d.hour[s], d.fc_mean[s, self.idx], std, self.shared[s])

    def wanted_w(self, power_action: Floats) -> Floats:
        """Self-consumption on the forecast plus the action's share of the power limit."""
        mean0 = self.day.fc_mean[min(self.step_no, STEPS - 1), self.idx, 0]
        out: Floats = (-mean0 * 1000.0
                       + np.clip(np.nan_to_num(power_action), -1.0, 1.0) * self.pmax)
        return out

    def setpoint(self, wanted_w: Floats) -> Floats:
        """The daemon's clamp: power limit and SoC window, for any wanted power."""
        return rules.clamp_setpoint(np.nan_to_num(wanted_w), self.batteries.soc_pct, self.cap,
                                    self.batteries.min_soc_pct, self.batteries.max_soc_pct,
                                    self.pmax, self.pmax, DT_H)

    def step(self, action: Floats) -> tuple[Floats, bool, StepOutcome]:
        """Returns (reward per home, done, what happened)."""
        a = np.asarray(action, dtype=np.float64).reshape(self.n, 2)
        return self.step_power(self.wanted_w(a[:, 0]), (np.clip(np.nan_to_num(a[:, 1]),
                                                                 -1.0, 1.0) + 1.0) / 2.0)

    def step_power(self, wanted_w: Floats, position: Floats) -> tuple[Floats, bool,
                                                                       StepOutcome]:
        """A step from a wanted battery power (W, before the clamp) and a position."""
        s, d, cfg = self.step_no, self.day, self.cfg
        setpoint = self.setpoint(wanted_w)
        retail = int(d.retail[s])
        mean0 = d.fc_mean[s, self.idx, 0]
        std0 = 0.0 if cfg.deterministic else d.fc_std[s, self.idx, 0]
        expected = (mean0 * 1000.0 + setpoint) * DT_H
        pos = rules.orders(expected, 0.5 * std0 * 1000.0 * DT_H, int(self.seen_price[s]),
                              self.feed, retail)
        price = policy_obs.start_price(pos.side, position, self.feed, retail).astype(float)
        width = cfg.accept_width * (retail - self.feed)
        ratio = d.ratio[s]
        share = np.where(pos.side == rules.SELL, min(1.0, ratio),
                         min(1.0, 1.0 / ratio) if ratio > 0 else 1.0)
        edge = np.where(pos.side == rules.SELL, self.true_price[s] - price,
                        price - self.true_price[s])
        filled = np.where(pos.side == rules.NONE, 0.0, sigmoid(edge / width) * share)
        traded = pos.energy_wh * filled
        sold = np.where(pos.side == rules.SELL, traded, 0.0)
        bought = np.where(pos.side == rules.BUY, traded, 0.0)
        money = (bought - sold) * price / 1000.0
        power = self.batteries.step(setpoint, INTERVAL_S)
        actual = d.net_kw[self.idx, s]
        cost = grid_cost_msat((actual * 1000.0 + power) * DT_H + sold - bought, retail,
                              self.feed) + money
        planned = grid_cost_msat((mean0 * 1000.0 + power) * DT_H + sold - bought, retail,
                                 self.feed) + money
        dev_eur = (cost - planned) * d.eur_per_msat
        # Learning signal relative to the home doing nothing (no battery, no market): the
        # passive bill does not depend on the action, so the optimum is unchanged, but the
        # household's own load no longer dominates the variance of the returns.
        passive = grid_cost_msat(actual * 1000.0 * DT_H, retail, self.feed)
        reward = -((cost - passive) * d.eur_per_msat + self.risk * dev_eur**2)
        self.step_no += 1
        done = self.step_no >= STEPS
        if done:
            gain = self.feed * (self.batteries.stored_wh - self.stored0) / 1000.0
            reward = reward + gain * d.eur_per_msat
        out = StepOutcome(cost, sold * price / 1000.0, actual * 1000.0 + power, sold, bought,
                          np.where(pos.side == rules.NONE, 0.0, price), pos.side)
        return reward * cfg.reward_scale, done, out

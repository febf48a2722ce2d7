"""`peerwatt coordinator`: gather state reports, publish the mean-field signal each interval.

Each interval it solves the community's equilibrium from the live reports (`solver =
"equilibrium"`, the default: `coordinator.plan`, the simulator's own call — prices and each
planning unit's battery plan), in a worker thread on a snapshot of the reports, and signs
the signal with its Ed25519 key; `solver = "mftg"` solves the mean-field-type game
(`coordinator.game`, prices only, warm-started), `"v0"` the first one-pass price.

The roster (agent id → node id of every live home) is its own retained, signed message on
`roster`, published when it changes; the signal names it by its digest, so the signal's
size depends on the horizon and the planning units, not on the number of homes.

It holds no money and makes no trades. The signal is published retained with an MQTT 5
message expiry, so an agent that (re)connects gets the current one and a stale one
disappears by itself; agents keep trading on their last signal while it is silent.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import topics
from agent.adapters.mqtt import MqttTransport
from agent.clock import Clock
from agent.crypto.signal_sig import sign_signal
from agent.domain.market import IntervalClock
from agent.domain.units import MSAT_PER_BTC, Tariff
from agent.ports import InboundMessage, TransientError
from agent.settings import CoordinatorSettings
from agent.topics import Topics
from agent.wire import (
    Roster,
    RosterEntry,
    Signal,
    StateReport,
    WireError,
    decode,
    encode,
    roster_digest,
)
from coordinator.equilibrium import EquilibriumConfig
from coordinator.game import GameConfig, Report, exploitability_rel, solve_reports
from coordinator.group import Group
from coordinator.plan import PlanInputs, signal_fields, solve_plan
from coordinator.signal import Forecasts, aggregate, price_path
from meanfield.home import capacity_share, receding_for

log = structlog.get_logger("coordinator")


@dataclass
class CoordinatorStats:
    reports: int = 0
    reports_invalid: int = 0
    reports_forwarded: int = 0
    signals: int = 0
    signals_withheld: int = 0  # computed but not published: another coordinator leads
    rosters: int = 0
    solve_s: float = 0.0
    exploitability_eur_per_kwh: float = 0.0


class Coordinator:
    def __init__(self, settings: CoordinatorSettings, transport: MqttTransport, clock: Clock,
                 tariff: Tariff, key: Ed25519PrivateKey | None = None) -> None:
        self._s = settings
        self._key = key
        self._game = GameConfig(points=settings.soc_points, max_types=settings.max_types,
                                min_type_size=settings.min_type_size, trim=settings.trim,
                                price_scale_kw=settings.price_scale_kw_per_home,
                                dt_h=settings.market.interval_s / 3600)
        self._eq = EquilibriumConfig(types=settings.max_types,
                                     min_type_size=settings.min_type_size, trim=settings.trim,
                                     quantile_z=settings.quantile_z,
                                     # Among equally good plans the middle one: batteries
                                     # spread their work over equal-price steps (a vertex
                                     # plan runs a unit all at once, then not at all).
                                     lp_method="ipm_interior")
        self._transport = transport
        self._clock = clock
        self._tariff = tariff
        self._intervals = IntervalClock(settings.market.interval_s)
        self._topics = Topics(settings.market.community)
        self._reports: dict[str, StateReport] = {}
        self._seq = 0
        self._roster: Roster | None = None       # the latest roster, signed
        self._roster_sent = ""                   # digest of the last one published
        self._warm: tuple[int, npt.NDArray[np.float64]] | None = None  # (first, per-home z)
        self.group = Group(settings.coordinator_id) if settings.group else None
        self.stats = CoordinatorStats()

    async def run(self) -> None:
        state = self._topics.state()
        if self.group is None:
            await self._transport.subscribe(state, qos=0)
        else:
            await self._transport.subscribe(topics.shared(topics.COORDINATORS, state), qos=0)
            await self._transport.subscribe(self._topics.coordinator_reports(), qos=0)
            await self._transport.subscribe(self._topics.coordinator_presence(), qos=1)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._receive(), name="coordinator-receive")
                tg.create_task(self._publish_loop(), name="coordinator-publish")
        finally:
            log.info("coordinator_stopped", **asdict(self.stats))

    async def _receive(self) -> None:
        async for message in self._transport.messages():
            if self.group is None:
                self.on_report(message)
            elif self._topics.is_channel(message.topic, "coordinator_presence"):
                self.group.on_presence(message.topic, message.payload)
            elif self._topics.is_channel(message.topic, "coordinator_reports"):
                if not message.topic.endswith(f"/{self._s.coordinator_id}"):  # not our echo
                    self.on_report(message, forwarded=True)
            elif self.on_report(message):
                # Our share of the reports: pass it on so every coordinator sees them all.
                try:
                    await self._transport.publish(
                        self._topics.coordinator_reports(self._s.coordinator_id),
                        message.payload, qos=0)
                    self.stats.reports_forwarded += 1
                except TransientError as exc:
                    log.debug("report_not_forwarded", error=str(exc))

    def on_report(self, message: InboundMessage, *, forwarded: bool = False) -> bool:
        try:
            report = decode(message.payload, StateReport)
        except WireError as exc:
            self.stats.reports_invalid += 1
            log.debug("report_dropped", topic=message.topic, reason=exc.reason)
            return False
        if not forwarded and not message.topic.endswith(topics.suffix("state",
                                                                      agent=report.agent_id)):
            self.stats.reports_invalid += 1
            log.debug("report_dropped", topic=message.topic, reason="agent id != topic")
            return False
        self.stats.reports += 1
        self._reports[report.agent_id] = report
        return True

    async def _publish_loop(self) -> None:
        while True:
            k = self._intervals.index(self._clock.now_s())
            # Mid-interval: the agents' reports from this interval's start are in.
            await self._clock.sleep_until(self._intervals.start_s(k) +
                                          0.5 * self._intervals.length_s)
            # The solve takes a fraction of a second: off the event loop, on a snapshot.
            signal = await asyncio.to_thread(self._compute, dict(self._reports), k + 1)
            if signal is None:
                await self._clock.sleep_until(self._intervals.start_s(k + 1))
                continue
            if self.group is not None and not self.group.leads():
                self.stats.signals_withheld += 1
                await self._clock.sleep_until(self._intervals.start_s(k + 1))
                continue
            expiry = math.ceil(self._clock.real_duration_s(
                self._s.signal_expiry_intervals * self._intervals.length_s))
            await self._publish_roster()
            try:
                await self._transport.publish(self._topics.signal, encode(signal),
                                              qos=1, retain=True, expiry_s=max(1, expiry))
                self.stats.signals += 1
                log.debug("signal_published", seq=signal.seq, interval=signal.interval,
                          agents=signal.agents)
            except TransientError as exc:
                log.warning("signal_unpublished", error=str(exc))
            await self._clock.sleep_until(self._intervals.start_s(k + 1))

    async def _publish_roster(self) -> None:
        """The roster, retained, when it changed since it was last published."""
        roster = self._roster
        if roster is None or roster.digest == self._roster_sent:
            return
        try:
            await self._transport.publish(self._topics.roster, encode(roster), qos=1,
                                          retain=True)
            self._roster_sent = roster.digest
            self.stats.rosters += 1
            log.info("roster_published", homes=len(roster.entries), digest=roster.digest[:12])
        except TransientError as exc:
            log.warning("roster_unpublished", error=str(exc))

    @property
    def roster(self) -> Roster | None:
        return self._roster

    def compute(self, first: int) -> Signal | None:
        return self._compute(self._reports, first)

    def _compute(self, reports: dict[str, StateReport], first: int) -> Signal | None:
        horizon = self._s.market.horizon_steps
        live = {a: r for a, r in reports.items() if r.interval >= first - 2}
        for gone in set(reports) - set(live):
            if self._reports.get(gone) is reports[gone]:  # not replaced by a newer report
                del self._reports[gone]
        if not live:
            return None
        means, stds = [], []
        for r in live.values():
            # Step i of a report is interval r.interval + i: drop the steps before `first`,
            # or (a report that starts later) add nothing before its first step.
            offset = first - r.interval
            pad = [0.0] * max(0, -offset)
            means.append(pad + r.forecast_mean_kw[max(0, offset):])
            stds.append(pad + r.forecast_std_kw[max(0, offset):])
        agg = aggregate(Forecasts(means, stds), horizon)
        retail = np.asarray([self._tariff.retail_at(self._intervals.start_s(first + i))
                             for i in range(horizon)], dtype=np.float64)
        entries = [RosterEntry(agent_id=a, node_id=r.node_id) for a, r in sorted(live.items())]
        digest = roster_digest(entries)
        if self._roster is None or self._roster.digest != digest:
            roster = Roster(seq=self._seq + 1, digest=digest, entries=entries,
                            issued_s=self._clock.now_s())
            self._roster = sign_signal(roster, self._key) if self._key is not None else roster
        common: dict[str, Any] = {"interval": first, "interval_s": self._intervals.length_s,
                  "net_load_kw": [float(x) for x in agg.mean_kw],
                  "net_load_std_kw": [float(x) for x in agg.std_kw],
                  "agents": agg.agents, "roster_digest": digest,
                  "issued_s": self._clock.now_s()}
        if self._s.solver == "v0":
            prices = price_path(agg, retail, self._tariff.feed_in_msat_per_kwh,
                                self._s.price_slope)
            self._seq += 1
            signal = Signal(seq=self._seq, price_msat_per_kwh=[int(p) for p in prices],
                            residual=0.0, **common)
        elif self._s.solver == "equilibrium":
            signal = self._plan(list(live.values()), means, stds, retail, common)
        else:
            signal = self._solve(list(live.values()), means, stds, retail, common)
        return sign_signal(signal, self._key) if self._key is not None else signal

    def _plan(self, live: list[StateReport], means: list[list[float]],
              stds: list[list[float]], retail_msat: npt.NDArray[np.float64],
              common: dict[str, Any]) -> Signal:
        horizon = self._s.market.horizon_steps
        reports = [Report(r.soc_pct, r.battery_wh, r.battery_max_w, _path(m, horizon),
                          _path(s, horizon), r.risk_aversion_per_eur, r.pv_kwp)
                   for r, m, s in zip(live, means, stds, strict=True)]
        inputs = PlanInputs(int(common["interval"]), self._intervals.length_s, retail_msat,
                            float(self._tariff.feed_in_msat_per_kwh),
                            self._s.market.eur_per_btc / MSAT_PER_BTC,
                            self._s.capacity_eur_per_kw_year)
        started = time.perf_counter()
        eq = solve_plan(reports, inputs, self._eq)
        self.stats.solve_s = time.perf_counter() - started
        self.stats.exploitability_eur_per_kwh = float(eq.exploitability)
        self._seq += 1
        log.debug("plan_solved", seq=self._seq, units=int(eq.power_per_kwh.shape[0]),
                  exploitability_eur_per_kwh=round(float(eq.exploitability), 6),
                  solve_s=round(self.stats.solve_s, 3))
        share = capacity_share(np.array([r.mean_kw for r in reports], dtype=np.float64),
                               receding_for(self._intervals.length_s).block)
        return Signal(seq=self._seq, **signal_fields(eq, inputs), **common,
                      capacity_share=round(share, 6))

    def _solve(self, live: list[StateReport], means: list[list[float]],
               stds: list[list[float]], retail_msat: npt.NDArray[np.float64],
               common: dict[str, Any]) -> Signal:
        horizon = self._s.market.horizon_steps
        eur = self._s.market.eur_per_btc / MSAT_PER_BTC  # € per msat

        def path(values: list[float]) -> npt.NDArray[np.float64]:
            out = np.zeros(horizon)
            out[: min(horizon, len(values))] = values[:horizon]
            return out

        reports = [Report(r.soc_pct, r.battery_wh, r.battery_max_w, path(m), path(s),
                          r.risk_aversion_per_eur, r.pv_kwp)
                   for r, m, s in zip(live, means, stds, strict=True)]
        first = int(common["interval"])
        start = None
        if self._warm is not None and 0 <= first - self._warm[0] < horizon:
            # Last interval's mean field, moved on by the steps that have passed.
            shift, z = first - self._warm[0], self._warm[1]
            start = np.concatenate([z[shift:horizon], np.full(shift, z[horizon - 1]), [0.0]])
        started = time.perf_counter()
        outcome = solve_reports(reports, retail_msat * eur,
                                self._tariff.feed_in_msat_per_kwh * eur, self._game, start)
        self.stats.solve_s = time.perf_counter() - started
        self._warm = (first, outcome.per_home_kw)
        prices = np.clip(np.rint(outcome.price / eur), self._tariff.feed_in_msat_per_kwh,
                         retail_msat)
        sol = outcome.solution
        self._seq += 1
        log.debug("game_solved", seq=self._seq, iterations=sol.iterations,
                  residual=sol.residual, solve_s=round(self.stats.solve_s, 3))
        return Signal(seq=self._seq, price_msat_per_kwh=[int(p) for p in prices],
                      residual=float(sol.residual), solver="mftg", iterations=sol.iterations,
                      exploitability_rel=max(0.0, exploitability_rel(outcome)),
                      equilibrium_net_load_kw=[float(x) for x in outcome.net_load_kw],
                      **common)


def _path(values: list[float], horizon: int) -> npt.NDArray[np.float64]:
    out = np.zeros(horizon)
    out[: min(horizon, len(values))] = values[:horizon]
    return out

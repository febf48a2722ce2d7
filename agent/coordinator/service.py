"""`peerwatt coordinator`: gather state reports, publish the mean-field signal each interval.

It holds no money and makes no trades. The signal is published retained with an MQTT 5
message expiry, so an agent that (re)connects gets the current one and a stale one
disappears by itself; agents keep trading on their last signal while it is silent.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

import numpy as np
import structlog

from agent.adapters.mqtt import MqttTransport
from agent.clock import Clock
from agent.coordinator.signal import Forecasts, aggregate, price_path
from agent.domain.market import IntervalClock
from agent.domain.units import Tariff
from agent.ports import InboundMessage, TransientError
from agent.settings import CoordinatorSettings
from agent.wire import RosterEntry, Signal, StateReport, WireError, decode, encode

log = structlog.get_logger("coordinator")


@dataclass
class CoordinatorStats:
    reports: int = 0
    reports_invalid: int = 0
    signals: int = 0


class Coordinator:
    def __init__(self, settings: CoordinatorSettings, transport: MqttTransport, clock: Clock,
                 tariff: Tariff) -> None:
        self._s = settings
        self._transport = transport
        self._clock = clock
        self._tariff = tariff
        self._intervals = IntervalClock(settings.market.interval_s)
        self._prefix = f"peerwatt/v1/{settings.market.community}"
        self._reports: dict[str, StateReport] = {}
        self._seq = 0
        self.stats = CoordinatorStats()

    async def run(self) -> None:
        await self._transport.subscribe(f"{self._prefix}/state/+", qos=0)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._receive(), name="coordinator-receive")
            tg.create_task(self._publish_loop(), name="coordinator-publish")

    async def _receive(self) -> None:
        async for message in self._transport.messages():
            self.on_report(message)

    def on_report(self, message: InboundMessage) -> None:
        try:
            report = decode(message.payload, StateReport)
        except WireError as exc:
            self.stats.reports_invalid += 1
            log.debug("report_dropped", topic=message.topic, reason=exc.reason)
            return
        if not message.topic.endswith(f"/state/{report.agent_id}"):
            self.stats.reports_invalid += 1
            log.debug("report_dropped", topic=message.topic, reason="agent id != topic")
            return
        self.stats.reports += 1
        self._reports[report.agent_id] = report

    async def _publish_loop(self) -> None:
        while True:
            k = self._intervals.index(self._clock.now_s())
            # Mid-interval: the agents' reports from this interval's start are in.
            await self._clock.sleep_until(self._intervals.start_s(k) +
                                          0.5 * self._intervals.length_s)
            signal = self.compute(k + 1)
            if signal is None:
                await self._clock.sleep_until(self._intervals.start_s(k + 1))
                continue
            expiry = math.ceil(self._clock.real_duration_s(
                self._s.signal_expiry_intervals * self._intervals.length_s))
            try:
                await self._transport.publish(f"{self._prefix}/meanfield", encode(signal),
                                              qos=1, retain=True, expiry_s=max(1, expiry))
                self.stats.signals += 1
                log.debug("signal_published", seq=signal.seq, interval=signal.interval,
                          agents=signal.agents)
            except TransientError as exc:
                log.warning("signal_unpublished", error=str(exc))
            await self._clock.sleep_until(self._intervals.start_s(k + 1))

    def compute(self, first: int) -> Signal | None:
        horizon = self._s.market.horizon_steps
        live = {a: r for a, r in self._reports.items() if r.interval >= first - 2}
        self._reports = live
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
        prices = price_path(agg, retail, self._tariff.feed_in_msat_per_kwh, self._s.price_slope)
        self._seq += 1
        return Signal(
            seq=self._seq, interval=first, interval_s=self._intervals.length_s,
            price_msat_per_kwh=[int(p) for p in prices],
            net_load_kw=[float(x) for x in agg.mean_kw],
            net_load_std_kw=[float(x) for x in agg.std_kw], agents=agg.agents,
            roster=[RosterEntry(agent_id=a, node_id=r.node_id) for a, r in sorted(live.items())],
            residual=0.0, issued_s=self._clock.now_s())

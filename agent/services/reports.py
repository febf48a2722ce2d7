"""The agent's state report for the coordinator, once per decision (QoS 0).

Its SoC, battery and the forecast just made, on `state/{agent}`; sent only once the agent
knows its node id (the coordinator's roster pairs each agent with its node). A report the
broker does not take is counted (`state_report_failed`) and not retried: the next interval
brings a fresh one.
"""

from __future__ import annotations

import math

import structlog

from agent.ports import Forecast, TransientError, Transport
from agent.services.state import AgentState
from agent.settings import AgentSettings
from agent.topics import Topics
from agent.wire import StateReport, encode

log = structlog.get_logger("decision")


class StateReports:
    def __init__(self, settings: AgentSettings, state: AgentState, transport: Transport) -> None:
        self._s = settings
        self._state = state
        self._transport = transport
        self._topic = Topics(settings.market.community).state(settings.agent_id)

    async def publish(self, k: int, soc_pct: float, fc: Forecast) -> None:
        if not self._state.node_id:
            return
        b = self._s.battery
        report = StateReport(
            agent_id=self._s.agent_id, node_id=self._state.node_id, interval=k,
            soc_pct=soc_pct, battery_wh=b.capacity_wh, battery_max_w=b.max_charge_w,
            forecast_mean_kw=[_finite(x) for x in fc.mean_kw],
            forecast_std_kw=[max(0.0, _finite(x)) for x in fc.std_kw])
        try:
            await self._transport.publish(self._topic, encode(report), qos=0)
        except TransientError as exc:
            self._state.counters["state_report_failed"] += 1
            log.debug("state_report_failed", error=str(exc))


def _finite(x: float) -> float:
    v = float(x)
    return v if math.isfinite(v) else 0.0

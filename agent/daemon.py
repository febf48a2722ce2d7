"""`peerwatt run`: compose the agent from its settings and run its supervision tree."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from pathlib import Path

import structlog

from agent.adapters.cln.channels import ClnChannels
from agent.adapters.cln.node import ClnNode
from agent.adapters.journal import Journal
from agent.adapters.journal_reader import JournalReader
from agent.adapters.mqtt import LastWill, MqttTransport
from agent.adapters.onnx import DEFAULT_POLICY, OnnxForecaster, OnnxPolicy, shipped
from agent.clock import make_clock
from agent.crypto.envelope import Identity
from agent.domain.market import IntervalClock
from agent.forecast.calibration import CalibratedForecaster
from agent.ports import TransientError
from agent.reload import Reloader
from agent.sdnotify import Notifier
from agent.services.agreement import Agreements
from agent.services.decision import DecisionOutputs, DecisionStep, Models
from agent.services.delivery import Delivery, DeliveryConfig
from agent.services.expost import MeteredTrading
from agent.services.handover import Handover
from agent.services.health import Health
from agent.services.homeassistant import HomeAssistant
from agent.services.identity import Bindings
from agent.services.invoicing import InvoiceConfig, Invoicing
from agent.services.liquidity import Liquidity, LiquidityConfig
from agent.services.liquidity_need import HorizonNeed
from agent.services.metering import Metering
from agent.services.negotiation import Negotiation, NegotiationConfig
from agent.services.node_binding import NodeBinding
from agent.services.rational import RationalGuard
from agent.services.reports import StateReports
from agent.services.router import Router
from agent.services.settlement import PayConfig, Settlement
from agent.services.signals import SignalIntake
from agent.services.spend import SpendPolicy
from agent.services.state import AgentState
from agent.settings import AgentSettings
from agent.supervisor import Child, install_signal_handlers, supervise
from agent.tariff import make_tariff
from agent.topics import Topics
from agent.wire import Presence, encode
from firmware_bridge.factory import open_device

log = structlog.get_logger("daemon")


class Agent:
    """The agent's parts, wired; `run` supervises them until stopped."""

    def __init__(self, s: AgentSettings) -> None:
        self.s = s
        self.clock = make_clock(s.clock)
        self.intervals = IntervalClock(s.market.interval_s, s.market.gate_margin)
        tariff = make_tariff(s.market)
        self.state = AgentState(s.agent_id)
        self.journal = Journal(s.paths.state_dir / "journal.sqlite")
        self.topics = Topics(s.market.community)
        presence = self.topics.presence(s.agent_id)
        self.transport = MqttTransport(s.broker, f"peerwatt-{s.agent_id}", will=LastWill(
            presence, encode(Presence(agent_id=s.agent_id, online=False)),
            encode(Presence(agent_id=s.agent_id, online=True))))
        self.presence_topic = presence
        d = s.device
        self.device = open_device(d, now_s=self.clock.now_s, max_charge_w=s.battery.max_charge_w,
                                  max_discharge_w=s.battery.max_discharge_w)
        self.node = ClnNode(s.lightning.rpc_socket, timeout_s=s.lightning.timeout_s)
        real_interval = self.clock.real_duration_s(s.market.interval_s)
        self.spend = SpendPolicy(s.limits, self.journal, max_fee_msat=s.lightning.max_fee_msat,
                                 interval_s=s.market.interval_s)
        st = s.settlement
        self.handover = Handover()
        self.settlement = Settlement(
            self.node, self.journal, self.clock, self.state, PayConfig(
                max_fee_msat=s.lightning.max_fee_msat,
                poll_s=min(1.0, max(0.05, real_interval / 10)), worker=s.agent_id,
                lease_s=s.lightning.timeout_s + 30),
            spend=self.spend, handover=self.handover)
        self.invoicing = Invoicing(
            self.node, self.journal, self.clock, self.state, InvoiceConfig(
                expiry_s=max(60, math.ceil(4 * real_interval)), intervals=self.intervals,
                net_credits=st.net_shortfall, hold_cltv=st.hold_cltv,
                hold_extra_s=st.meter_margin_s + st.hold_cancel_before_expiry_s,
                settle_intervals=2, tariff=tariff, fee_msat=s.lightning.max_fee_msat),
            hold=self.node if st.hold_invoices == "auto" else None)
        self.bindings = Bindings(s.market.community, s.agent_id, Identity.load_or_create(
            s.paths.state_dir / "identity.ed25519"), self.state)
        self.negotiation = Negotiation(
            NegotiationConfig(s.agent_id, s.market.community, self.intervals,
                              s.market.max_rounds, shared_subscriptions=s.broker.v5),
            self.state, self.clock, self.transport, self.bindings,
            Agreements(self.journal, self.invoicing, self.handover, self.spend, self.clock,
                       self.state, intervals=self.intervals,
                       window_s=s.limits.default_window_s))
        self.trading = MeteredTrading(self.negotiation, self.journal, self.state, self.clock,
                                      self.intervals, tariff, s.lightning.max_fee_msat)
        self.metering = Metering(self.device, self.state, self.journal, self.clock,
                                 self.intervals, d.poll_s)
        self.forecaster = CalibratedForecaster(
            OnnxForecaster(s.models.forecast or shipped("forecast.onnx"), s.models.timezone),
            step_s=s.market.interval_s)
        self.decision = DecisionStep(
            s, self.state, self.clock,
            Models(self.forecaster, OnnxPolicy(s.models.policy or shipped(DEFAULT_POLICY))),
            self.device, self.journal,
            DecisionOutputs(self.trading, StateReports(s, self.state, self.transport),
                            RationalGuard(s, self.journal, self.state, self.intervals, tariff,
                                          s.lightning.max_fee_msat)
                            if s.market.rational_guard else None))
        self.health = Health(self.state, self.transport, self.metering, Notifier(),
                             stale_after_s=max(30.0, 10 * (d.poll_s + d.timeout_s)))
        self.extra_children: list[Child] = []
        if s.metrics.enabled:  # prometheus-client is imported only then
            from agent.services.metrics import AgentCollector, MetricsEndpoint

            self.metrics = MetricsEndpoint(s.metrics.host, s.metrics.port, AgentCollector(
                self.state, JournalReader(self.journal.path, timeout_s=1.0), self.clock.now_s,
                self.transport.connected.is_set, self.health.live))
            self.extra_children.append(Child("metrics", self.metrics.run))
        self.ha: HomeAssistant | None = None
        if s.homeassistant.enabled:
            self.ha = HomeAssistant(s, self.state, self.transport, self.clock,
                                    JournalReader(self.journal.path, timeout_s=1.0), presence)
            self.extra_children.append(Child("homeassistant", self.ha.run))
        if st.hold_invoices == "auto" or st.net_shortfall:  # judge sales by the meter
            self.delivery = Delivery(
                self.node if st.hold_invoices == "auto" else None, self.journal, self.clock,
                self.state, self.spend, DeliveryConfig(
                    self.intervals, min_share=st.min_delivery_share,
                    meter_margin_s=st.meter_margin_s, poll_s=max(1.0, real_interval / 10)))
            self.extra_children.append(Child("delivery", self.delivery.run))
        if s.liquidity.enabled:
            lq = s.liquidity
            self.liquidity_need = HorizonNeed(self.forecaster, self.state, self.clock,
                                              self.intervals, tariff.retail_msat_per_kwh, lq.z)
            self.liquidity = Liquidity(
                ClnChannels(self.node), self.state, self.liquidity_need, LiquidityConfig(
                    every_s=lq.every_intervals * real_interval, margin=lq.margin,
                    idle_factor=lq.idle_factor, min_splice_msat=lq.min_splice_sat * 1000,
                    rebalance_fee_ppm=lq.rebalance_fee_ppm,
                    max_onchain_fee_share=lq.max_onchain_fee_share))
            self.extra_children.append(Child("liquidity", self.liquidity.run))
        self.tariff = tariff
        self.signals = SignalIntake(self.state, self.clock, s.market.coordinator_key)
        self.router = Router(self.transport, self.topics.signal, self.signals.on_signal,
                             self.negotiation.handle)
        self.router.route(self.topics.roster, self.signals.on_roster, subscribe=True)
        if self.ha is not None:
            self.router.route(self.ha.status_topic, self.ha.on_status)
        self.node_binding = NodeBinding(self.node, self.bindings, self.transport, self.state)

    def apply(self, new: AgentSettings) -> None:
        """Take the settings that can change at run time (agent/reload.py says which)."""
        self.s = new
        self.decision.update(new)
        self.spend._limits = new.limits  # SpendPolicy reads its limits at each check
        self.signals.trusted_key = new.market.coordinator_key

    async def _drain(self) -> None:
        self.negotiation.draining = True
        await self.settlement.drain()
        with contextlib.suppress(TransientError):
            await self.transport.publish(self.presence_topic, encode(
                Presence(agent_id=self.s.agent_id, online=False)), retain=True, timeout_s=1)

    async def run(self, stop: asyncio.Event) -> None:
        children = [
            Child("mqtt", self.transport.run),
            Child("router", self.router.run),
            Child("lightning", self.node_binding.run),
            Child("metering", self.metering.run),
            Child("decision", self.decision.run),
            Child("negotiation", self.negotiation.run),
            Child("settlement", self.settlement.run),
            Child("health", self.health.run),
            *self.extra_children,
        ]
        started = time.monotonic()
        try:
            await supervise(children, stop, drain=self._drain)
        finally:
            self.journal.close()
            log.info("agent_stopped", agent=self.s.agent_id,
                     uptime_s=round(time.monotonic() - started, 1),
                     **dict(sorted(self.state.counters.items())))


async def run_agent(settings: AgentSettings, config_path: Path | None = None) -> None:
    stop = asyncio.Event()
    agent = Agent(settings)
    reloader = None if config_path is None else Reloader(config_path, settings, agent.apply)
    install_signal_handlers(stop, on_hup=None if reloader is None else reloader)
    await agent.run(stop)


def state_path(settings: AgentSettings) -> Path:
    return settings.paths.state_dir / "journal.sqlite"

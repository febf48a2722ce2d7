"""One worker process of bench.negotiation: many homes' negotiation stacks on one loop.

`path` "expost" (the daemon's): after each interval every home opens the order
`MeteredTrading` makes from its metered position, one price for seller and buyer, open
until the window's deadline in the next interval; buyers pay through the daemon's own
`Settlement`, so a seller's credit rule (`Agreements.in_credit`) meets honest payers.
`path` "forward" (before issue 14): an order per delivery interval ahead of it, with an
opening price and concessions; bought trades are handed over and never paid."""

from __future__ import annotations

import asyncio
import cProfile
import json
import math
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

import agent
from agent.adapters.cln.node import ClnNode
from agent.adapters.journal import Journal
from agent.adapters.mqtt import MqttTransport
from agent.clock import AcceleratedClock
from agent.crypto.envelope import Identity
from agent.domain import expost
from agent.domain.market import IntervalClock
from agent.domain.units import Tariff
from agent.services.agreement import Agreements
from agent.services.handover import Handover
from agent.services.identity import Bindings
from agent.services.invoicing import InvoiceConfig, Invoicing
from agent.services.negotiation import Negotiation, NegotiationConfig, Order
from agent.services.settlement import PayConfig, Settlement
from agent.services.spend import SpendPolicy
from agent.services.state import AgentState
from agent.settings import BrokerSettings, LightningSettings, LimitsSettings

COMMUNITY = "bench"
INTERVAL_S = 900
FEED_IN, FAIR, RETAIL = 88_889, 222_222, 333_333  # msat/kWh at 90k EUR/BTC
TARIFF = Tariff(RETAIL, RETAIL, FEED_IN)
FEE_MSAT = LightningSettings().max_fee_msat
AGENT_SOURCE = str(Path(agent.__file__).resolve().parent)  # which code ran


def _channel(topic: str) -> str:
    """offers/… (seller to the buyers' group) or inbox/… (one peer to another)."""
    return "offers" if "/offers/" in topic else ("inbox" if "/inbox/" in topic else "other")


class Home:
    def __init__(self, name: str, rpc: str, broker_port: int, clock: AcceleratedClock,
                 intervals: IntervalClock, workdir: Path, path: str) -> None:
        self.name = name
        self.state = AgentState(name)
        self.journal = Journal(workdir / name / "journal.sqlite")
        self.node = ClnNode(rpc, timeout_s=30.0)
        self.transport = MqttTransport(BrokerSettings(url=f"mqtt://127.0.0.1:{broker_port}"),
                                       f"bench-{name}")
        self.bytes: dict[str, int] = {}
        self.count: dict[str, int] = {}
        publish = self.transport.publish

        async def counted(topic: str, payload: bytes, **kw: Any) -> None:
            await publish(topic, payload, **kw)
            ch = _channel(topic)
            self.bytes[ch] = self.bytes.get(ch, 0) + len(payload)
            self.count[ch] = self.count.get(ch, 0) + 1

        self.transport.publish = counted  # type: ignore[method-assign]
        real_interval = clock.real_duration_s(INTERVAL_S)
        handover = Handover()
        self.settlement: Settlement | None = None
        if path == "expost":  # as agent/daemon.py composes them
            spend = SpendPolicy(LimitsSettings(), self.journal, max_fee_msat=FEE_MSAT,
                                interval_s=INTERVAL_S)
            invoicing = Invoicing(self.node, self.journal, clock, self.state, InvoiceConfig(
                expiry_s=max(60, math.ceil(4 * real_interval)), intervals=intervals,
                settle_intervals=2, tariff=TARIFF, fee_msat=FEE_MSAT))
            self.settlement = Settlement(self.node, self.journal, clock, self.state, PayConfig(
                max_fee_msat=FEE_MSAT, poll_s=min(1.0, max(0.05, real_interval / 10)),
                worker=name, lease_s=60.0), spend=spend, handover=handover)
            agreements = Agreements(self.journal, invoicing, handover, spend, clock, self.state,
                                    intervals=intervals,
                                    window_s=LimitsSettings().default_window_s)
        else:  # bought trades are handed over, never paid
            spend = SpendPolicy(LimitsSettings(), self.journal)
            invoicing = Invoicing(self.node, self.journal, clock, self.state,
                                  InvoiceConfig(expiry_s=3600))
            agreements = Agreements(self.journal, invoicing, handover, spend, clock, self.state)
        self.bindings = Bindings(COMMUNITY, name, Identity.load_or_create(
            workdir / name / "identity.ed25519"), self.state)
        self.negotiation = Negotiation(
            NegotiationConfig(name, COMMUNITY, intervals), self.state, clock, self.transport,
            self.bindings, agreements)

    async def start(self) -> None:
        self.state.node_id = await self.node.node_id()
        await self.bindings.own_binding(self.state.node_id, self.node)

    async def route(self) -> None:
        async for message in self.transport.messages():
            await self.negotiation.handle(message)


def _order(path: str, interval: int, sell: bool, energy_wh: int,
           intervals: IntervalClock) -> Order:
    if path == "expost":  # as MeteredTrading.tick makes it: one price, the metered energy
        return Order(interval, "sell" if sell else "buy", energy_wh, start=FAIR,
                     reservation=FAIR, deadline_s=expost.window_deadline_s(intervals, interval),
                     min_wh=expost.min_trade_wh(RETAIL, FEED_IN, FEE_MSAT))
    if sell:
        return Order(interval, "sell", energy_wh, FAIR + (RETAIL - FAIR) // 4, FEED_IN)
    return Order(interval, "buy", energy_wh, FAIR - (FAIR - FEED_IN) // 4, RETAIL)


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    speed = INTERVAL_S / spec["interval_real_s"]
    first = int(time.time() // INTERVAL_S) + 1000  # any fixed simulated day will do
    start_sim = float(first * INTERVAL_S) - INTERVAL_S  # trading for `first` opens at epoch
    clock = AcceleratedClock(spec["epoch"], start_sim, speed)
    intervals = IntervalClock(INTERVAL_S, 0.2)
    workdir = Path(spec["workdir"])
    path = spec.get("path", "expost")
    homes = [Home(n, rpc, spec["broker_port"], clock, intervals, workdir, path)
             for n, rpc in spec["homes"].items()]
    rng = random.Random(spec["seed"])
    supply, demand = [0.0] * spec["intervals"], [0.0] * spec["intervals"]
    positions: dict[tuple[str, int], int] = {}
    async with asyncio.TaskGroup() as tg:
        tasks = []
        for i, h in enumerate(homes):
            tasks.append(tg.create_task(h.transport.run()))
            if i % 50 == 49:
                await asyncio.sleep(0.2)  # connect in batches
        for h in homes:
            await asyncio.wait_for(h.transport.connected.wait(), 60)
            await h.start()
            tasks.append(tg.create_task(h.route()))
            tasks.append(tg.create_task(h.negotiation.run()))
            if h.settlement is not None:
                tasks.append(tg.create_task(h.settlement.run()))
        # PW_PROFILE=1 (bench.negotiation): cProfile over the trading window only.
        prof = cProfile.Profile() if spec.get("profile") else None
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        if prof is not None:
            prof.enable()
        await clock.sleep_until(start_sim)
        t0 = time.monotonic()
        for k in range(spec["intervals"]):
            # Forward: orders for delivery interval first+k, ahead of it, until its gate.
            # Ex-post: orders for the interval the meter just closed (first+k-2), in the
            # window that ends at the same moment (agent.domain.expost.window_deadline_s).
            delivery = first + k if path == "forward" else first + k - 2
            await clock.sleep_until(intervals.start_s(first + k - 1) + 0.01 * INTERVAL_S)
            opens = []
            for h in homes:
                if spec.get("idle"):  # no positions: what the homes cost doing nothing
                    continue
                energy = rng.randint(100, 1500)
                sell = rng.random() < 0.5
                if sell:
                    supply[k] += energy
                else:
                    demand[k] += energy
                opens.append(h.negotiation.open(_order(path, delivery, sell, energy,
                                                       intervals)))
                positions[(h.name, delivery)] = energy
            # Each home decides on its own gateway at the same moment: open them together.
            await asyncio.gather(*opens)
        await clock.sleep_until(intervals.start_s(first + spec["intervals"]))
        window = time.monotonic() - t0
        if prof is not None:
            prof.disable()
            prof.dump_stats(spec["profile"])
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        for t in tasks:
            t.cancel()
    latencies, traded_wh, sent, offers, refused = [], 0, 0, 0, 0
    totals: dict[str, int] = {}
    channel_bytes: dict[str, int] = {}
    channel_messages: dict[str, int] = {}
    over_wh = 0  # energy a home bought or sold beyond its position (must stay 0)
    states: dict[str, int] = {}  # "seller:paid", "buyer:agreed", … at the window's end
    for h in homes:
        for rec in h.journal.trades():
            key = f"{rec.role}:{rec.state}"
            states[key] = states.get(key, 0) + 1
        done: dict[int, int] = {}
        for rec in h.journal.trades(states=("agreed", "paying", "paid")):
            done[rec.terms.interval] = done.get(rec.terms.interval, 0) + rec.terms.energy_wh
        over_wh += sum(max(0, e - positions.get((h.name, k), 0)) for k, e in done.items())
        for key, v in h.state.counters.items():
            totals[key] = totals.get(key, 0) + v
        for key, v in h.bytes.items():
            channel_bytes[key] = channel_bytes.get(key, 0) + v
        for key, v in h.count.items():
            channel_messages[key] = channel_messages.get(key, 0) + v
        for rec in h.journal.trades(role="seller", states=("agreed", "paying", "paid")):
            if rec.latency_ms is not None:
                latencies.append(rec.latency_ms)
        # Matched energy from the buyers' side: what a buyer journaled it will pay for.
        traded_wh += sum(r.terms.energy_wh for r in h.journal.trades(role="buyer"))
        c = h.state.counters
        sent += sum(v for k, v in c.items() if k.startswith("sent_"))
        offers += c["sent_offer"]
        refused += sum(v for k, v in c.items() if k.startswith("moves_") and k not in
                       ("moves_unmatched", "moves_ignored"))
        h.journal.close()
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    cpu_sys = cpu1.ru_stime - cpu0.ru_stime
    return {"latencies_ms": latencies, "trades": len(latencies), "traded_wh": traded_wh,
            "moves_sent": sent, "offers": offers, "refused": refused, "cpu_s": cpu,
            "cpu_sys_s": cpu_sys,
            "window_s": window, "supply_wh": supply, "demand_wh": demand, "counters": totals,
            "over_wh": over_wh, "channel_bytes": channel_bytes,
            "channel_messages": channel_messages, "trade_states": states,
            "agent_source": AGENT_SOURCE}


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    result = asyncio.run(run(spec))
    Path(spec["out"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()

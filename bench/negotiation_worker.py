"""One worker process of bench.negotiation: many homes' negotiation stacks on one loop."""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

from agent.adapters.cln.node import ClnNode
from agent.adapters.journal import Journal
from agent.adapters.mqtt import MqttTransport
from agent.clock import AcceleratedClock
from agent.crypto.envelope import Identity
from agent.domain.market import IntervalClock
from agent.services.agreement import Agreements
from agent.services.handover import Handover
from agent.services.identity import Bindings
from agent.services.invoicing import InvoiceConfig, Invoicing
from agent.services.negotiation import Negotiation, NegotiationConfig, Order
from agent.services.spend import SpendPolicy
from agent.services.state import AgentState
from agent.settings import BrokerSettings, LimitsSettings

COMMUNITY = "bench"
INTERVAL_S = 900
FEED_IN, FAIR, RETAIL = 88_889, 222_222, 333_333  # msat/kWh at 90k EUR/BTC


def _channel(topic: str) -> str:
    """offers/… (seller to the buyers' group) or inbox/… (one peer to another)."""
    return "offers" if "/offers/" in topic else ("inbox" if "/inbox/" in topic else "other")


class Home:
    def __init__(self, name: str, rpc: str, broker_port: int, clock: AcceleratedClock,
                 intervals: IntervalClock, workdir: Path) -> None:
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
        # Invoices from the home's node; bought trades are handed over, never paid here.
        invoicing = Invoicing(self.node, self.journal, clock, self.state,
                              InvoiceConfig(expiry_s=3600))
        self.bindings = Bindings(COMMUNITY, name, Identity.load_or_create(
            workdir / name / "identity.ed25519"), self.state)
        self.negotiation = Negotiation(
            NegotiationConfig(name, COMMUNITY, intervals), self.state, clock, self.transport,
            self.bindings, Agreements(self.journal, invoicing, Handover(),
                                      SpendPolicy(LimitsSettings(), self.journal), clock,
                                      self.state))

    async def start(self) -> None:
        self.state.node_id = await self.node.node_id()
        await self.bindings.own_binding(self.state.node_id, self.node)

    async def route(self) -> None:
        async for message in self.transport.messages():
            await self.negotiation.handle(message)


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    speed = INTERVAL_S / spec["interval_real_s"]
    first = int(time.time() // INTERVAL_S) + 1000  # any fixed simulated day will do
    start_sim = float(first * INTERVAL_S) - INTERVAL_S  # trading for `first` opens at epoch
    clock = AcceleratedClock(spec["epoch"], start_sim, speed)
    intervals = IntervalClock(INTERVAL_S, 0.2)
    workdir = Path(spec["workdir"])
    homes = [Home(n, rpc, spec["broker_port"], clock, intervals, workdir)
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
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        await clock.sleep_until(start_sim)
        t0 = time.monotonic()
        for k in range(spec["intervals"]):
            delivery = first + k
            await clock.sleep_until(intervals.start_s(delivery - 1) + 0.01 * INTERVAL_S)
            opens = []
            for h in homes:
                if spec.get("idle"):  # no positions: what the homes cost doing nothing
                    continue
                energy = rng.randint(100, 1500)
                if rng.random() < 0.5:
                    supply[k] += energy
                    pos = Order(delivery, "sell", energy, FAIR + (RETAIL - FAIR) // 4, FEED_IN)
                else:
                    demand[k] += energy
                    pos = Order(delivery, "buy", energy, FAIR - (FAIR - FEED_IN) // 4, RETAIL)
                opens.append(h.negotiation.open(pos))
                positions[(h.name, delivery)] = pos.energy_wh
            # Each home decides on its own gateway at the same moment: open them together,
            # buyers (who subscribe) first so the first offers find someone.
            await asyncio.gather(*opens)
        await clock.sleep_until(intervals.start_s(first + spec["intervals"]))
        window = time.monotonic() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        for t in tasks:
            t.cancel()
    latencies, traded_wh, sent, offers, refused = [], 0, 0, 0, 0
    totals: dict[str, int] = {}
    channel_bytes: dict[str, int] = {}
    channel_messages: dict[str, int] = {}
    over_wh = 0  # energy a home bought or sold beyond its position (must stay 0)
    for h in homes:
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
            "channel_messages": channel_messages}


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    result = asyncio.run(run(spec))
    Path(spec["out"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()

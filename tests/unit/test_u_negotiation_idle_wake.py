"""A home with no book and no session sleeps without a bound (`books.sleep_s` is None);
opening a book must wake it, or its first offer would never go out. Real mosquitto, real
journal; the node is never called (nobody accepts the offer)."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from agent.adapters.cln.node import ClnNode
from agent.adapters.journal import Journal
from agent.adapters.mqtt import MqttTransport
from agent.crypto.envelope import Identity
from agent.domain.market import IntervalClock, start_offset
from agent.services import books
from agent.services.agreement import Agreements
from agent.services.handover import Handover
from agent.services.identity import Bindings
from agent.services.invoicing import InvoiceConfig, Invoicing
from agent.services.negotiation import Negotiation, NegotiationConfig, Order
from agent.services.spend import SpendPolicy
from agent.services.state import AgentState
from agent.settings import BrokerSettings, LimitsSettings
from agent.topics import Topics
from tests.unit.test_u_mqtt import Broker, next_message, running, until

INTERVAL_S = 900
NODE_ID = "02" + "11" * 32  # any well-formed key: no node is asked


class RestartableClock:
    """The wall clock's pace from a chosen moment: `restart(t)` makes now `t`."""

    def __init__(self) -> None:
        self._origin, self._at = time.time(), time.time()

    def restart(self, t_s: float) -> None:
        self._origin, self._at = time.time(), t_s

    def now_s(self) -> float:
        return self._at + time.time() - self._origin

    async def sleep_until(self, t_s: float) -> None:
        await asyncio.sleep(max(0.0, t_s - self.now_s()))

    def real_duration_s(self, sim_duration_s: float) -> float:
        return sim_duration_s


async def test_opening_a_book_wakes_the_unbounded_sleep(
        mosquitto: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No cap to fall back on: only the wake-up in `open` can end the loop's sleep.
    monkeypatch.setattr(books, "MAX_SLEEP_S", 1e6)
    community, me = f"c{uuid.uuid4().hex[:8]}", "seller"
    clock, intervals, state = RestartableClock(), IntervalClock(INTERVAL_S), AgentState(me)
    state.node_id = NODE_ID
    spread = 0.002  # this home's first offer waits ~1 s into the interval
    journal = Journal(tmp_path / "journal.sqlite")
    node = ClnNode(str(tmp_path / "no-node.rpc"))
    spend = SpendPolicy(LimitsSettings(), journal)
    agreements = Agreements(journal, Invoicing(node, journal, clock, state,
                                               InvoiceConfig(expiry_s=3600)),
                            Handover(), spend, clock, state)
    transport = MqttTransport(BrokerSettings(url=mosquitto.url), f"{me}-{uuid.uuid4().hex[:6]}",
                              session_expiry_s=0)
    negotiation = Negotiation(
        NegotiationConfig(me, community, intervals, start_spread=spread), state, clock,
        transport, Bindings(community, me, Identity.load_or_create(tmp_path / "id"), state),
        agreements)
    k = intervals.index(clock.now_s())
    async with running(mosquitto.url, "observer") as observer:
        await observer.subscribe(Topics(community).offers(k), qos=1)
        tasks = [asyncio.create_task(transport.run()), asyncio.create_task(negotiation.run())]
        try:
            await until(lambda: negotiation.inbox in transport._subs)
            # asleep on its wake-up event with nothing due (asyncio's waiter list)
            await until(lambda: len(negotiation._wake._waiters) > 0)  # type: ignore[attr-defined]
            clock.restart(intervals.start_s(k))  # the interval starts now
            await negotiation.open(Order(k, "sell", 500, start=100_000, reservation=80_000,
                                         deadline_s=clock.now_s() + 600))
            # not yet due: the timer loop, woken by `open`, sends it at its point
            assert state.counters["sent_offer"] == 0
            assert start_offset(me, spread) * INTERVAL_S > 0.5
            offer = await next_message(observer)
            assert offer.topic == Topics(community).offers(k, me)
            assert state.counters["sent_offer"] == 1
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            journal.close()

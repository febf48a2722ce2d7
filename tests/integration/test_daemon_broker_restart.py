"""The broker goes away and comes back; the agents ride it out and trade again.

Our own mosquitto (no persistence: its retained messages and sessions are gone after the
restart) serves a buyer, a seller and the coordinator. While it is down the agents keep
running; after it is back they say so, announce themselves online again (the retained
presence is theirs to restore) and settle new trades.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from community import Community, MqttProbe, assert_books_agree, start_community, wait_for

from demo.procs import Fleet

pytestmark = pytest.mark.integration


def _paid(c: Community) -> int:
    return sum(h.query("SELECT COUNT(*) FROM trades WHERE role='seller' AND state='paid'")[0][0]
               for h in c.homes.values())


def test_daemon_rides_out_broker_restart(fleet: Fleet, own_broker: Any) -> None:
    c = start_community(fleet, own_broker.url, "restart", homes=2, speed=900.0)
    c.start_coordinator()
    for name in c.homes:
        c.start_agent(name)
    c.wait_ready(list(c.homes))

    def alive() -> None:
        for h in c.homes.values():
            h.alive()

    wait_for("a paid trade before the restart", lambda: _paid(c) > 0, 30.0, alive)

    own_broker.stop()
    for h in c.homes.values():
        wait_for(f"{h.name} broker_unavailable",
                 lambda h=h: h.events("broker_unavailable"), 15.0, alive)
    time.sleep(1.5)  # a couple of market intervals without a broker
    alive()
    own_broker.restart()  # same port; the stopped process is only reaped again

    for h in c.homes.values():
        wait_for(f"{h.name} broker_reconnected",
                 lambda h=h: h.events("broker_reconnected"), 30.0, alive)
    first_down = min(e["timestamp"] for h in c.homes.values()
                     for e in h.events("broker_unavailable"))
    assert all(e["timestamp"] > first_down for h in c.homes.values()
               for e in h.events("broker_reconnected"))
    for h in c.homes.values():  # once at WARNING, then DEBUG while the outage lasts
        levels = [e["level"] for e in h.events("broker_unavailable")]
        assert levels[0] == "warning", levels
        assert set(levels[1:]) <= {"debug"}, levels

    probe = MqttProbe(own_broker.port, "restart-probe")
    try:
        probe.subscribe(f"{c.prefix}/presence/+")

        def online() -> bool:
            seen = {}
            for name in c.homes:
                msgs = probe.messages(f"{c.prefix}/presence/{name}")
                seen[name] = bool(msgs) and json.loads(msgs[-1])["online"]
            return all(seen.values())

        wait_for("retained presence online again", online, 15.0, alive)
    finally:
        probe.close()

    paid_before = _paid(c)
    wait_for("a paid trade after the restart", lambda: _paid(c) > paid_before, 40.0, alive)

    codes = c.stop_agents()
    assert codes == {"agent-home-0": 0, "agent-home-1": 0}
    for name in c.homes:
        assert not c.homes[name].events("child_crashed"), name
    assert assert_books_agree(c) >= 2  # nothing lost or duplicated across the outage

"""Garbage on every topic an agent listens to: it counts and drops, and keeps trading.

A buyer (home-0) and a seller (home-1) trade through real processes. A stranger then
publishes payloads that are not JSON, JSON of the wrong shape, oversize (> 64 KiB) or
of a future protocol version to home-0's inbox, to the offers topics it holds a shared
subscription on, and to the community's mean-field topic. home-0 must stay up, keep
reading its meter and keep trading, and report what it dropped when it stops.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from community import Community, MqttProbe, start_community, wait_for

from demo.procs import Fleet

pytestmark = pytest.mark.integration

NODE_ID = "02" + "ab" * 32
SPEED = 900.0
INTERVAL_REAL_S = 900 / SPEED  # one market interval in real seconds


def _move(**over: Any) -> dict[str, Any]:
    move: dict[str, Any] = {
        "v": 1, "type": "move", "kind": "offer", "trade_id": uuid.uuid4().hex,
        "interval": 0, "sender": "stranger", "receiver": "", "round": 0, "energy_wh": 100,
        "price_msat_per_kwh": 100_000, "deadline_s": 4e9, "invoice": "",
        "node_id": NODE_ID, "sent_s": 1.0}
    return {**move, **over}


def _signal(**over: Any) -> dict[str, Any]:
    sig: dict[str, Any] = {
        "v": 1, "type": "meanfield", "seq": 1, "interval": 0, "interval_s": 900,
        "price_msat_per_kwh": [100_000], "net_load_kw": [0.0], "net_load_std_kw": [0.0],
        "agents": 1, "residual": 0.0, "issued_s": 4e9}
    return {**sig, **over}


def _garbage(valid: dict[str, Any]) -> list[bytes]:
    """Payloads no agent may act on; `valid` is a well-formed message of the topic's kind."""
    return [
        b"not json at all",
        b"\xff\xfe\x00binary",
        b"",
        b"[" * 20_000 + b"]" * 20_000,                              # nesting bomb
        json.dumps({"hello": "world"}).encode(),                   # wrong schema
        json.dumps({**valid, "energy_wh": "lots"}).encode(),       # wrong type
        json.dumps({**valid, "extra": 1}).encode(),                # unknown field
        json.dumps({**valid, "v": 2}).encode(),                    # wrong version
        json.dumps({**valid, "pad": "x" * (65 * 1024)}).encode(),  # oversize
    ]


@pytest.fixture
def community(fleet: Fleet, mosquitto: Any) -> Community:
    c = start_community(fleet, mosquitto.url, "garbage", homes=2, speed=SPEED)
    c.start_coordinator()
    for name in c.homes:
        c.start_agent(name)
    c.wait_ready(list(c.homes))
    return c


def _bought(c: Community) -> int:
    return c.homes["home-0"].query(
        "SELECT COUNT(*) FROM trades WHERE role='buyer' AND state='paid'")[0][0]


def test_daemon_survives_malformed_mqtt(community: Community) -> None:
    c = community
    buyer = c.homes["home-0"]

    def alive() -> None:
        for h in c.homes.values():
            h.alive()

    wait_for("a first paid trade", lambda: _bought(c) > 0, 30.0, alive)

    probe = MqttProbe(c.broker_port, "garbage-probe")
    try:
        inbox = _garbage(_move(receiver="home-0", kind="accept"))
        signals = _garbage(_signal())
        for payload in inbox:
            probe.publish(f"{c.prefix}/inbox/home-0/stranger", payload)
        # Offers reach a buyer only while it holds the shared subscription for the
        # interval its meter just closed (trading on the meters: the window for k-1 runs
        # in k), until it has bought what it needs. Keep sending until home-0 has dropped
        # garbage of every kind (the deadline only fails a hung run).
        def hit() -> bool:
            topics = [e["topic"] for e in buyer.events("move_dropped")]
            return (any("/offers/" in tp for tp in topics)
                    and any("/inbox/" in tp for tp in topics)
                    and bool(buyer.events("signal_dropped")))

        deadline = time.monotonic() + max(60.0, 30 * INTERVAL_REAL_S)
        rounds = 0
        while rounds % 10 or not hit():
            assert time.monotonic() < deadline, "home-0 never dropped garbage of every kind"
            k = c.interval_now()
            for payload in _garbage(_move(interval=k - 1)):
                probe.publish(f"{c.prefix}/offers/{k - 1}/stranger", payload)
            if rounds % 10 == 0:
                for payload in signals:
                    probe.publish(f"{c.prefix}/meanfield", payload)
            rounds += 1
            alive()
            time.sleep(0.02)
    finally:
        probe.close()

    after_garbage = _bought(c)
    reads = buyer.query("SELECT COUNT(*) FROM readings")[0][0]
    wait_for("home-0 to trade again after the garbage", lambda: _bought(c) > after_garbage,
             30.0, alive)
    wait_for("home-0 to keep reading its meter",
             lambda: buyer.query("SELECT COUNT(*) FROM readings")[0][0] > reads + 1, 15.0, alive)

    dropped = buyer.events("move_dropped")
    assert any("/inbox/" in e["topic"] for e in dropped), "inbox garbage not counted"
    assert any("/offers/" in e["topic"] for e in dropped), "offer garbage not counted"
    assert buyer.events("signal_dropped"), "mean-field garbage not counted"
    reasons = " | ".join(e["reason"] for e in dropped)
    assert "oversize payload" in reasons
    assert "Invalid JSON" in reasons
    assert "v: Input should be 1" in reasons

    codes = c.stop_agents()
    assert codes == {"agent-home-0": 0, "agent-home-1": 0}
    final = c.stopped_counters("home-0")
    assert final["moves_invalid"] >= len(inbox), final
    assert final["signals_invalid"] > 0, final
    assert c.stopped_counters("home-1")["signals_invalid"] > 0
    assert not buyer.events("child_crashed"), buyer.events("child_crashed")


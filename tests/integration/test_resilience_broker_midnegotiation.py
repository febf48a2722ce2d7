"""The broker dies in the middle of a negotiation: right after a buyer's `accept`.

A probe subscribed to the inboxes freezes the broker (SIGSTOP) the moment it sees an
accept go by — so the seller's confirm (with the invoice) cannot get through — then kills
it (SIGKILL: sessions and retained messages are gone, no persistence) and starts a new one
on the same port. The homes reconnect and trade again. That accepted trade is neither lost
nor duplicated: both books agree trade by trade, and it is either paid on both sides or
unpaid on both (the seller's unpaid invoice then expires; nobody paid for nothing).
`test_daemon_broker_restart.py` covers a clean stop/start of the broker.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Any

import paho.mqtt.client as paho
import pytest
from community import (
    Community,
    MqttProbe,
    assert_books_agree,
    sellers_paid_are_buyers_paid,
    start_community,
    wait_for,
)

from demo.procs import Fleet

pytestmark = pytest.mark.integration


class AcceptTrap(MqttProbe):
    """Freezes the broker process when the first `accept` passes through it."""

    def __init__(self, port: int, broker_pid: int) -> None:
        self.broker_pid = broker_pid
        self.trade_id: str | None = None
        self.frozen = threading.Event()
        self.armed = threading.Event()
        super().__init__(port, "accept-trap")

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        if self.armed.is_set() and not self.frozen.is_set():
            try:
                move = json.loads(message.payload)
            except ValueError:
                move = {}
            if move.get("kind") == "accept":
                os.kill(self.broker_pid, signal.SIGSTOP)
                self.trade_id = str(move["trade_id"])
                self.frozen.set()
        super()._on_message(client, userdata, message)


def _paid(c: Community) -> int:
    return sum(h.query("SELECT COUNT(*) FROM trades WHERE role='buyer' AND state='paid'")[0][0]
               for h in c.homes.values())


def _states(c: Community, trade_id: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for h in c.homes.values():
        for role, state in h.query("SELECT role, state FROM trades WHERE trade_id=?",
                                   (trade_id,)):
            found[role] = state
    return found


def test_broker_killed_between_accept_and_confirm(fleet: Fleet, own_broker: Any) -> None:
    c = start_community(fleet, own_broker.url, "midneg", homes=2, speed=900.0)
    c.start_coordinator()
    for name in c.homes:
        c.start_agent(name)
    c.wait_ready(list(c.homes))

    def alive() -> None:
        for h in c.homes.values():
            h.alive()

    wait_for("a paid trade first", lambda: _paid(c) > 0, 60.0, alive)
    trap = AcceptTrap(own_broker.port, own_broker.proc.pid)
    try:
        trap.subscribe(f"{c.prefix}/inbox/#")
        trap.armed.set()
        wait_for("an accept to trap", trap.frozen.is_set, 60.0, alive)
        time.sleep(1.5)  # frozen: nothing moves; the seller's confirm is stuck
        own_broker.proc.send_signal(signal.SIGKILL)
        own_broker.proc.wait(10)
    finally:
        trap.close()
    trade_id = trap.trade_id
    assert trade_id is not None
    own_broker.restart()

    for h in c.homes.values():
        wait_for(f"{h.name} reconnected", lambda h=h: h.events("broker_reconnected"), 60.0,
                 alive)
    paid_before = _paid(c)
    wait_for("a paid trade after the new broker", lambda: _paid(c) > paid_before, 60.0, alive)
    wait_for("payments in flight to settle", lambda: sellers_paid_are_buyers_paid(c), 60.0,
             alive)
    codes = c.stop_agents()
    assert codes == {"agent-home-0": 0, "agent-home-1": 0}
    for h in c.homes.values():
        assert not h.events("child_crashed"), h.name

    assert assert_books_agree(c) >= 2
    states = _states(c, trade_id)
    buyer, seller = states.get("buyer"), states.get("seller")
    # Paid on both sides, or money never moved: the buyer has not paid, and the seller's
    # invoice is unpaid (cancelled, expired, or still waiting to expire).
    assert (buyer, seller) == ("paid", "paid") or (buyer != "paid" and seller != "paid"), \
        (trade_id, states)
    print(f"trapped trade {trade_id}: {states}")

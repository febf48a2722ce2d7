"""Agents pinned to the coordinator's key use only its signals; forgeries are counted."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from community import MqttProbe, start_community, wait_for
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.crypto.signal_sig import load_or_create_key, public_hex, sign_signal
from agent.wire import Signal, encode
from demo.procs import Fleet

pytestmark = pytest.mark.integration


def test_only_the_pinned_coordinator_is_believed(fleet: Fleet, mosquitto: Any) -> None:
    c = start_community(fleet, mosquitto.url, "trust", homes=2, speed=900.0)
    key_file = c.workdir / "coordinator.key"
    pinned = public_hex(load_or_create_key(key_file))
    c.start_coordinator(key_file=key_file)
    for name in c.homes:
        c.start_agent(name, market={"coordinator_key": pinned})
    c.wait_ready(list(c.homes))
    home = c.homes["home-0"]
    wait_for("a signal received", lambda: any(
        e.get("price_source") == "signal" for e in home.events("decided")), 30.0, home.alive)

    forged = Signal(seq=10**6, interval=c.interval_now() + 1, interval_s=900,
                    price_msat_per_kwh=[1] * 96, net_load_kw=[0.0] * 96,
                    net_load_std_kw=[0.0] * 96, agents=2, residual=0.0,
                    issued_s=time.time() * 10)
    probe = MqttProbe(c.broker_port, "trust-probe")
    try:
        probe.publish(f"{c.prefix}/meanfield", encode(forged))                       # unsigned
        probe.publish(f"{c.prefix}/meanfield",
                      encode(sign_signal(forged, Ed25519PrivateKey.generate())))   # other key
        lying = json.loads(encode(sign_signal(forged, load_or_create_key(key_file))))
        lying["price_msat_per_kwh"][0] = 2                                          # tampered
        probe.publish(f"{c.prefix}/meanfield", json.dumps(lying).encode())
    finally:
        probe.close()
    decided = len(home.events("decided"))
    wait_for("two more decisions", lambda: len(home.events("decided")) >= decided + 2, 30.0,
             home.alive)
    assert c.stop_agents() == {"agent-home-0": 0, "agent-home-1": 0}
    final = c.stopped_counters("home-0")
    assert final.get("signals_unverified", 0) >= 3, final
    assert final.get("signals", 0) >= 1, final
    # No decision was ever taken on the forged signal (its seq is unmistakable).
    seqs = {row[0] for row in home.query("SELECT DISTINCT signal_seq FROM decisions")}
    assert 10**6 not in seqs, seqs
    assert seqs - {None}, "no decision used the genuine signal"

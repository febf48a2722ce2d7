"""Two coordinators as one shared-subscription group: one publishes, both see every report,
and when the leader dies (SIGKILL, so only its Last Will speaks) the other takes over."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest
from community import MqttProbe, read_events, start_community, wait_for

from agent.crypto.signal_sig import load_or_create_key, public_hex
from agent.wire import Signal
from demo.procs import Fleet, peerwatt_cmd
from demo.runner import to_toml

pytestmark = pytest.mark.integration


def test_coordinator_group_shares_reports_and_fails_over(fleet: Fleet, mosquitto: Any) -> None:
    c = start_community(fleet, mosquitto.url, "group", homes=3, speed=900.0)
    key_file = c.workdir / "coordinator.key"
    pinned = public_hex(load_or_create_key(key_file))
    procs = {}
    for cid in ("coord-a", "coord-b"):
        cfg = c.workdir / f"{cid}.toml"
        cfg.write_text(to_toml({"coordinator_id": cid, "group": True,
                                "key_file": str(key_file),
                                "broker": {"url": c.broker_url},
                                "market": {"community": c.name}, "clock": c.clock}))
        procs[cid] = fleet.start(f"coordinator-{cid}", peerwatt_cmd(
            "coordinator", "--config", str(cfg), "--log-level", "debug"))
    for name in c.homes:
        c.start_agent(name, market={"coordinator_key": pinned})
    c.wait_ready(list(c.homes))

    probe = MqttProbe(c.broker_port, "group-probe")
    probe.subscribe(f"{c.prefix}/meanfield")
    log_b = c.workdir / "logs" / "coordinator-coord-b.log"
    try:
        def signals() -> list[Signal]:
            return [Signal.model_validate_json(p) for p in probe.messages(f"{c.prefix}/meanfield")
                    if p]

        def alive() -> None:
            for h in c.homes.values():
                h.alive()
            for p in procs.values():
                assert p.poll() is None or p.returncode == -signal.SIGKILL

        wait_for("signals from the group", lambda: len(signals()) >= 2, 40.0, alive)
        # Both coordinators aggregated all three homes although each got only a share.
        assert max(s.agents for s in signals()) == 3
        assert {e["role"] for e in read_events(log_b) if e["event"] == "coordinator_role"} \
            == {"standby"}
        procs["coord-a"].send_signal(signal.SIGKILL)
        killed = time.time()
        wait_for("coord-b to lead", lambda: any(
            e["event"] == "coordinator_role" and e["role"] == "leader"
            for e in read_events(log_b)), 30.0, alive)
        wait_for("a signal published after the failover",
                 lambda: any(s.issued_s > c.clock["start_sim_s"] + (killed - c.clock[
                     "epoch_real_s"]) * c.clock["speed"] and s.agents == 3
                             for s in signals()), 30.0, alive)
    finally:
        probe.close()
    assert c.stop_agents() == {f"agent-{n}": 0 for n in c.homes}
    codes = fleet.stop("coordinator-")
    assert codes.get("coordinator-coord-b") == 0, codes
    stopped = [e for e in read_events(log_b) if e["event"] == "coordinator_stopped"]
    assert stopped, "coord-b wrote no coordinator_stopped line"
    final = stopped[-1]
    assert final["reports_forwarded"] > 0, final     # it got a share of the reports itself
    assert final["signals"] > 0, final               # and published after taking over
    assert final["signals_withheld"] > 0, final      # while coord-a led, it stood by
    for home in c.homes:
        assert c.stopped_counters(home).get("signals_unverified", 0) == 0

"""Home Assistant MQTT discovery, seen by a client that subscribes as Home Assistant does.

A trading agent with `[homeassistant] enabled = true` against the real mosquitto: the
retained configs under `homeassistant/<component>/<node_id>/<object_id>/config` are
checked for what Home Assistant needs (unique ids, one device, availability on the
agent's presence topic, energy totals fit for the Energy dashboard), the state topic
carries every key the templates read, the birth message `online` brings the configs
again, and the agent's Last Will makes its entities unavailable.
"""

from __future__ import annotations

import json
import re
import signal
from typing import Any

import pytest
from community import Community, MqttProbe, start_community, wait_for

from demo.procs import Fleet

pytestmark = pytest.mark.integration

CONFIG = re.compile(r"^homeassistant/(sensor|binary_sensor)/([A-Za-z0-9_-]+)/([A-Za-z0-9_-]+)"
                    r"/config$")
REQUIRED = {"grid_power_w", "pv_power_w", "battery_soc_pct", "grid_import_kwh",
            "grid_export_kwh", "sold_energy_kwh", "bought_energy_kwh", "trades_sold",
            "trades_bought", "net_position_wh", "price_sat_per_kwh", "earnings_sat",
            "spent_sat", "channel_balance_sat", "price_signal"}


def _configs(probe: MqttProbe) -> dict[str, tuple[dict[str, Any], bool]]:
    out = {}
    for m in list(probe.received):
        if CONFIG.match(m.topic):
            out[m.topic] = (json.loads(m.payload), bool(m.retain))
    return out


def _paid(c: Community) -> int:
    return sum(h.query("SELECT COUNT(*) FROM trades WHERE role='buyer' AND state='paid'")[0][0]
               for h in c.homes.values())


def test_home_assistant_discovery(fleet: Fleet, mosquitto: Any) -> None:
    c = start_community(fleet, mosquitto.url, "ha", homes=2, speed=900.0)
    c.start_coordinator()
    ha = {"enabled": True, "publish_s": 1.0}
    seller = c.start_agent("home-1", homeassistant=ha)
    c.start_agent("home-0")
    c.wait_ready(["home-0", "home-1"])

    def alive() -> None:
        for h in c.homes.values():
            h.alive()

    wait_for("a paid trade", lambda: _paid(c) > 0, 60.0, alive)
    node = "peerwatt_home-1"
    # Subscribing late, as a Home Assistant that starts after the agent: retained configs.
    probe = MqttProbe(c.broker_port, "home-assistant")
    try:
        probe.subscribe("homeassistant/#")
        probe.subscribe(f"{c.prefix}/presence/home-1")
        configs = wait_for("the retained discovery configs",
                           lambda: (found := _configs(probe)) and len(found) >= len(REQUIRED)
                           and found, 30.0, alive)
        assert all(retained for _, retained in configs.values()), "configs must be retained"
        by_key = {}
        for topic, (cfg, _) in configs.items():
            match = CONFIG.match(topic)
            assert match is not None
            component, node_id, object_id = match.groups()
            assert node_id == node
            by_key[object_id] = (component, cfg)
        assert set(by_key) >= REQUIRED, set(by_key) ^ REQUIRED
        unique = [cfg["unique_id"] for _, cfg in by_key.values()]
        assert len(unique) == len(set(unique))
        devices = {json.dumps(cfg["device"], sort_keys=True) for _, cfg in by_key.values()}
        assert len(devices) == 1, devices
        state_topics = {cfg["state_topic"] for _, cfg in by_key.values()}
        assert state_topics == {f"{c.prefix}/ha/home-1"}
        for key, (_, cfg) in by_key.items():
            assert cfg["availability_topic"] == f"{c.prefix}/presence/home-1", key
            assert "value_json.online" in cfg["availability_template"]
            if cfg.get("device_class") == "energy":
                assert cfg["state_class"] == "total_increasing", key
                assert cfg["unit_of_measurement"] in ("Wh", "kWh"), key
        energy = [k for k, (_, cfg) in by_key.items() if cfg.get("device_class") == "energy"]
        assert set(energy) >= {"grid_import_kwh", "grid_export_kwh", "sold_energy_kwh",
                               "bought_energy_kwh"}, energy
        assert by_key["price_signal"][0] == "binary_sensor"

        # the state topic: every key a template reads, with values
        probe.subscribe(f"{c.prefix}/ha/home-1")
        states = wait_for("a state message", lambda: probe.messages(f"{c.prefix}/ha/home-1"),
                          30.0, alive)
        state = json.loads(states[-1])
        for key, (_, cfg) in by_key.items():
            (read,) = re.findall(r"value_json\.(\w+)", cfg["value_template"])
            assert read == key
            assert key in state, key
        assert state["grid_power_w"] is not None
        assert state["battery_soc_pct"] is not None
        assert state["trades_sold"] >= 0
        assert state["channel_balance_sat"] is not None
        assert state["channel_balance_sat"] > 0
        assert state["price_signal"] in ("ON", "OFF")
        paid_sold = seller.query(
            "SELECT COUNT(*) FROM trades WHERE role='seller' AND state='paid'")[0][0]
        assert state["trades_sold"] <= paid_sold

        # Home Assistant restarts: its birth message brings every config again
        before = sum(1 for m in probe.received if CONFIG.match(m.topic))
        probe.publish("homeassistant/status", b"online")
        wait_for("configs again after the birth message", lambda: sum(
            1 for m in probe.received if CONFIG.match(m.topic)) >= before + len(by_key),
            30.0, alive)

        # the agent dies: its Last Will marks the entities unavailable
        assert seller.proc is not None
        seller.proc.send_signal(signal.SIGKILL)
        seller.proc.wait(10)

        def offline() -> bool:
            msgs = probe.messages(f"{c.prefix}/presence/home-1")
            return bool(msgs) and json.loads(msgs[-1])["online"] is False

        wait_for("the Last Will on the availability topic", offline, 60.0)
    finally:
        probe.close()
    assert c.fleet.stop("agent-home-0", timeout_s=30.0) == {"agent-home-0": 0}

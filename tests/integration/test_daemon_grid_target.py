"""The daemon on a device with a grid set-point (the simulated home's `grid_setpoint_w`):
following the community plan it hands the device the exchange the plan expects, and the
rationality guard bounds that target's distance from 0 (self-consumption); with no margin
earned yet the target is 0, the inverter's own self-consumption, instead of tracking
corrections one poll late."""

from __future__ import annotations

from typing import Any

import pytest
from community import start_community, wait_for

from demo.procs import Fleet

pytestmark = pytest.mark.integration


def test_plan_goes_to_the_device_as_a_grid_target(fleet: Fleet, mosquitto: Any) -> None:
    # seed 7: 6.6 kWp of PV and an 11.3 kWh battery, so the plan moves the battery
    c = start_community(fleet, mosquitto.url, "gridtarget", homes=1, first_seed=7)
    c.start_coordinator()
    home = c.start_agent("home-0", battery={"control": "plan"})   # the default is "mpc"
    c.wait_ready(["home-0"])

    wait_for("two intervals on a grid target", lambda: home.events("grid_target")[1:], 60.0,
             home.alive)
    assert c.stop_agents() == {"agent-home-0": 0}
    counters = c.stopped_counters("home-0")
    assert counters.get("intervals_on_grid_target", 0) >= 2, counters
    written = [e for e in home.events("battery_setpoint_written")
               if e.get("register") == "grid_setpoint_w"]
    assert written, home.events("battery_setpoint_written")[:3]
    # The guard only moves a target towards 0 (self-consumption), never past it.
    for e in home.events("grid_target"):
        assert abs(e["grid_setpoint_w"]) <= abs(e["planned_w"]) + 0.5, e
    # Before the first interval settles the margin is exactly 0: whatever the plan wanted,
    # the target is 0, the inverter's own self-consumption.
    settled = [e["timestamp"] for e in home.events("guard_settled")]
    early = [e for e in home.events("grid_target")
             if not settled or e["timestamp"] < min(settled)]
    assert all(e["grid_setpoint_w"] == 0.0 for e in early), early
    first = home.events("grid_target")[0]["grid_setpoint_w"]
    assert abs(written[0]["setpoint_w"] - first) <= 0.6, (written[0], first)  # 1 W raw

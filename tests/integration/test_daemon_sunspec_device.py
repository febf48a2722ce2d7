"""The daemon on a SunSpec device: `profile = "sunspec"` in `[device]` makes it discover
the simulator's SunSpec map, read meter, inverter and battery from it and drive the battery
through the storage controls (model 124)."""

from __future__ import annotations

from typing import Any

import pytest
from community import start_community, wait_for

from demo.procs import Fleet

pytestmark = pytest.mark.integration


def test_daemon_reads_and_controls_a_sunspec_home(fleet: Fleet, mosquitto: Any) -> None:
    # seed 7: 6.6 kWp of PV and an 11.3 kWh battery, so the agent has set-points to write
    c = start_community(fleet, mosquitto.url, "sunspec", homes=1, first_seed=7,
                        sim_args=("--sunspec",))
    c.start_coordinator()
    home = c.start_agent("home-0", device={"profile": "sunspec"})
    c.wait_ready(["home-0"])
    discovered = wait_for("sunspec_discovered", lambda: home.events("sunspec_discovered"),
                          30.0, home.alive)
    assert discovered[0]["models"] == [1, 103, 160, 203, 124, 802]
    written = wait_for("a battery set-point written and read back",
                       lambda: home.events("battery_setpoint_written"), 30.0, home.alive)
    assert "setpoint_w" in written[0]
    assert c.stop_agents() == {"agent-home-0": 0}
    counters = c.stopped_counters("home-0")
    assert counters.get("device_reads", 0) > 0, counters
    assert not home.events("battery_setpoint_mismatch")

"""A device that refuses battery control: the agent stops asking and keeps going."""

from __future__ import annotations

from typing import Any

import pytest
from community import start_community, wait_for

from demo.procs import Fleet

pytestmark = pytest.mark.integration


def test_read_only_battery_is_not_retried_and_nothing_crashes(fleet: Fleet,
                                                              mosquitto: Any) -> None:
    c = start_community(fleet, mosquitto.url, "readonly", homes=1, first_seed=23, speed=900.0)
    home = c.start_agent("home-0", device={"read_only": True})
    c.wait_ready(["home-0"])
    wait_for("three decisions", lambda: len(home.events("decided")) >= 3, 30.0, home.alive)
    refused = home.events("battery_not_controllable")
    assert len(refused) == 1, refused  # said once, then never asked again
    assert "read-only" in refused[0]["error"] or "read only" in refused[0]["error"]
    assert not home.events("child_crashed")
    assert c.stop_agents() == {"agent-home-0": 0}
    assert c.stopped_counters("home-0")["setpoint_refused"] == 1

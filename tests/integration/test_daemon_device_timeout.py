"""A Modbus device that accepts the connection and never answers.

The agent must say so (host:port and the timeout in the log line), decide nothing on
stale or missing data — no offer, no bid — keep running, and stop cleanly on SIGTERM.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from community import INTERVAL_S, Community, HangingDevice, Home, start_community, wait_for

from demo.procs import Fleet

pytestmark = pytest.mark.integration

TIMEOUT_S = 0.3
SPEED = 900.0
MAX_AGE_S = 4 * INTERVAL_S * 0.1  # the community helper's device.max_age_s (simulated)


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"]).timestamp()


def _check_timeout_logged(home: Home, device: HangingDevice) -> None:
    failed = wait_for("a device_read_failed warning",
                      lambda: [e for e in home.events("device_read_failed")
                               if e["level"] == "warning"], 30.0, home.alive)
    error = failed[0]["error"]
    assert f"127.0.0.1:{device.port}" in error, error
    assert f"no response within {TIMEOUT_S} s" in error, error


def _skipped(home: Home, after_s: float, n: int) -> list[dict[str, Any]]:
    return wait_for(f"{n} decision_skipped warnings",
                    lambda: len([e for e in home.events("decision_skipped")
                                 if _at(e) > after_s]) >= n and home.events("decision_skipped"),
                    30.0, home.alive)


def _stop(c: Community) -> dict[str, Any]:
    assert c.stop_agents() == {"agent-home-0": 0}
    return c.stopped_counters("home-0")


def test_daemon_device_never_answers(fleet: Fleet, mosquitto: Any) -> None:
    c = start_community(fleet, mosquitto.url, "hung", homes=1, speed=SPEED)
    c.start_coordinator()
    with HangingDevice() as device:
        home = c.start_agent("home-0", device={"port": device.port, "timeout_s": TIMEOUT_S})
        _check_timeout_logged(home, device)
        skipped = _skipped(home, 0.0, 2)
        assert {e["level"] for e in skipped} == {"warning"}
        assert all(e["reason"] == "no fresh device reading" for e in skipped)
        assert device.accepted > 0, "the agent never connected to the device"
        final = _stop(c)

    assert not home.events("decided"), "decided without a device reading"
    assert not home.events("agent_ready"), "ready without a device reading"
    assert home.query("SELECT COUNT(*) FROM decisions") == [(0,)]
    assert home.query("SELECT COUNT(*) FROM trades") == [(0,)]
    assert final["decision_skipped_stale"] >= 2, final
    assert final["device_read_failed"] >= 1, final
    assert "sent_offer" not in final, final
    assert "device_reads" not in final, final


def test_daemon_device_hangs_midway_no_decision_on_stale_data(fleet: Fleet,
                                                               mosquitto: Any) -> None:
    c = start_community(fleet, mosquitto.url, "stale", homes=1, speed=SPEED)
    c.start_coordinator()
    real = c.homes["home-0"]
    with HangingDevice(upstream_port=real.device_port) as device:
        home = c.start_agent("home-0", device={"port": device.port, "timeout_s": TIMEOUT_S})
        c.wait_ready(["home-0"])
        wait_for("a first decision on fresh data", lambda: home.events("decided"), 30.0,
                 home.alive)
        device.hang()
        assert device.hung_at is not None
        _check_timeout_logged(home, device)
        _skipped(home, device.hung_at, 2)
        home.alive()
        final = _stop(c)

    # The last good reading is at most as new as the hang; once it is older than
    # max_age_s (plus a beat for the two processes' clocks) no decision may be made.
    stale_from = device.hung_at + MAX_AGE_S / SPEED + 0.25
    late = [e for e in home.events("decided") if _at(e) > stale_from]
    assert not late, f"decided on stale data: {late}"
    assert final["decision_skipped_stale"] >= 2, final
    assert final["device_reads"] > 0, final

"""Modbus faults from the real device emulator (`--fault-*`), seen by a running agent.

The simulated home serves normally, then for FAULT_FOR_S drops every connection, serves
implausible values, or holds its energy counters still while power flows; then it is well
again. Throughout: no decision (so no offer or bid) on stale or implausible data, nothing
implausible in the journal, and decisions again once the device is back. A device that
hangs without answering is `test_daemon_device_timeout.py`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from community import INTERVAL_S, Community, Home, start_community, wait_for

from demo.procs import Fleet

pytestmark = pytest.mark.integration

SPEED = 900.0
FAULT_AFTER_S = 6.0
FAULT_FOR_S = 5.0
MAX_AGE_REAL_S = 4 * INTERVAL_S * 0.1 / SPEED  # the community helper's device.max_age_s
FIRST_SIGN = {"drop": "device_read_failed", "garbage": "device_value_rejected",
              "frozen": "energy_counter_frozen"}


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"]).timestamp()


def _sim_s(c: Community, real_s: float) -> float:
    return c.clock["start_sim_s"] + (real_s - c.clock["epoch_real_s"]) * c.clock["speed"]


def _start(fleet: Fleet, broker: str, fault: str) -> tuple[Community, Home]:
    c = start_community(fleet, broker, f"modbus-{fault}", homes=1, speed=SPEED, sim_args=(
        f"--fault-{fault}", "--fault-after-s", str(FAULT_AFTER_S),
        "--fault-for-s", str(FAULT_FOR_S)))
    home = c.start_agent("home-0")
    c.wait_ready(["home-0"])
    return c, home


def _plausible(home: Home) -> None:
    """Nothing a home cannot do reached the journal."""
    for grid, pv, load, soc in home.query("SELECT grid_w, pv_w, load_w, soc_pct FROM readings"):
        for w in (grid, pv, load):
            assert w is None or abs(w) < 100_000, (grid, pv, load)
        assert soc is None or 0 <= soc <= 100, soc


@pytest.mark.parametrize("fault", ["drop", "garbage"])
def test_no_decision_on_a_failing_device_then_recovery(fleet: Fleet, mosquitto: Any,
                                                       fault: str) -> None:
    c, home = _start(fleet, mosquitto.url, fault)
    wait_for("a decision before the fault", lambda: home.events("decided"), 30.0, home.alive)
    sign = wait_for(f"the fault ({FIRST_SIGN[fault]})", lambda: home.events(FIRST_SIGN[fault]),
                    30.0, home.alive)
    fault_seen = _at(sign[0])
    wait_for("a decision skipped for want of a fresh reading",
             lambda: [e for e in home.events("decision_skipped") if _at(e) > fault_seen],
             30.0, home.alive)
    # The device layer warns on its first consecutive failure (a failed set-point write
    # may have been that one) and the metering loop on its first failed poll: a person
    # reading the log sees a warning either way.
    signs = home.events(FIRST_SIGN[fault])
    assert any(e["level"] == "warning" for e in signs), signs
    # well again: it reads, and decides on fresh data
    wait_for("decisions again after the fault",
             lambda: [e for e in home.events("decided")
                      if _at(e) > fault_seen + FAULT_FOR_S + 1.0], 40.0, home.alive)
    if fault == "drop":
        assert home.events("device_recovered"), "recovery not logged"
    assert c.stop_agents() == {"agent-home-0": 0}

    last_fault = max(_at(e) for e in home.events(FIRST_SIGN[fault]))
    stale_from = fault_seen + MAX_AGE_REAL_S + 0.25  # the last good reading ages out
    late = [e for e in home.events("decided") if stale_from < _at(e) < last_fault]
    assert not late, f"decided on stale or implausible data: {late}"
    counters = c.stopped_counters("home-0")
    assert counters["decision_skipped_stale"] >= 1, counters
    assert not home.events("child_crashed")
    _plausible(home)
    if fault == "garbage":  # readings of the fault's intervals: the values are missing
        window = (_sim_s(c, fault_seen + 0.5), _sim_s(c, last_fault))
        rows = home.query("SELECT grid_w FROM readings WHERE t_s BETWEEN ? AND ?", window)
        assert rows, "no reading journaled during the fault"
        assert all(r[0] is None for r in rows), rows


def test_frozen_counters_are_left_out_then_move_again(fleet: Fleet, mosquitto: Any) -> None:
    c, home = _start(fleet, mosquitto.url, "frozen")
    sign = wait_for("a frozen counter", lambda: home.events("energy_counter_frozen"), 40.0,
                    home.alive)
    frozen_at = _at(sign[0])
    assert sign[0]["level"] == "warning"
    wait_for("readings after the fault", lambda: home.query(
        "SELECT COUNT(*) FROM readings WHERE t_s > ?",
        (_sim_s(c, frozen_at + FAULT_FOR_S + 1.5),))[0][0] >= 2, 40.0, home.alive)
    assert c.stop_agents() == {"agent-home-0": 0}
    _plausible(home)

    last_frozen = max(_at(e) for e in home.events("energy_counter_frozen"))
    during = home.query("SELECT import_wh, export_wh FROM readings WHERE t_s BETWEEN ? AND ?",
                        (_sim_s(c, frozen_at + 0.2), _sim_s(c, last_frozen)))
    before = home.query("SELECT MAX(import_wh), MAX(export_wh) FROM readings WHERE t_s < ?",
                        (_sim_s(c, frozen_at),))[0]
    after = home.query("SELECT MAX(import_wh), MAX(export_wh) FROM readings WHERE t_s > ?",
                       (_sim_s(c, last_frozen + 0.5),))[0]
    # while frozen, a counter that should have moved is left out (NULL), never journaled
    assert any(None in row for row in during), during
    # back: the counters move again, past where they froze
    assert any(a is not None and b is not None and a > b for a, b in zip(after, before,
                                                                          strict=True)), \
        (before, after)
    # power readings were fine all along: the agent kept deciding through the freeze
    assert [e for e in home.events("decided") if frozen_at < _at(e) < last_frozen]
    assert not home.events("child_crashed")

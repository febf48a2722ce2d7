"""The daemon with `[battery] control = "mpc"`: a real agent process against a real
coordinator and broker plans its battery with its own LP (HiGHS) on the signal's prices,
once an hour, and runs the plan's hour; nothing fails and it exits cleanly. Each closed
interval's mean net load over all of its polls is journaled (what the rationality guard's
alone shadow runs on)."""

from __future__ import annotations

from typing import Any

import pytest
from community import start_community, wait_for

from demo.procs import Fleet

pytestmark = pytest.mark.integration


def test_the_home_runs_its_own_plan(fleet: Fleet, mosquitto: Any) -> None:
    c = start_community(fleet, mosquitto.url, "homeplan", homes=1, first_seed=7)
    c.start_coordinator()
    home = c.start_agent("home-0")                  # [battery] control = "mpc", the default
    c.wait_ready(["home-0"])

    wait_for("two decisions from the home's own plan",
             lambda: [e for e in home.events("decided") if e.get("own_plan")][1:], 60.0,
             home.alive)
    assert c.stop_agents() == {"agent-home-0": 0}
    counters = c.stopped_counters("home-0")
    assert counters.get("home_plans", 0) >= 1, counters
    assert counters.get("home_plan_failed", 0) == 0, counters
    plans = home.events("home_planned")
    assert plans, home.events("decided")[:3]
    assert all(0.0 <= e["capacity_share"] <= 1.0 for e in plans)
    # A plan is made once an hour (4 intervals of 15 minutes), not every interval.
    own = [e for e in home.events("decided") if e.get("own_plan")]
    assert len(plans) <= len(own) // 4 + 1, (len(plans), len(own))
    # Every closed interval's mean, over many polls (the readings table keeps one a piece).
    means = home.query("SELECT interval, samples FROM interval_net ORDER BY interval")
    assert len(means) >= 2, means
    assert all(samples >= 2 for _, samples in means[1:]), means

"""The coordinator dies (SIGKILL) for many intervals; the homes trade on without it.

Its signal covers HORIZON intervals. After the kill each home keeps deciding on the last
signal while it covers the interval, then on its local forecast and the grid tariff, says
so once (`price_signal_missing` at WARNING), counts it (`decisions_on_tariff`), journals
which source each decision used (`decisions.signal_seq`, NULL on the tariff) and keeps
trading. A new coordinator brings the signal back (`price_signal_resumed`).
"""

from __future__ import annotations

import signal
from typing import Any

import pytest
from community import Community, assert_books_agree, start_community, wait_for

from demo.procs import Fleet, peerwatt_cmd
from demo.runner import to_toml

pytestmark = pytest.mark.integration

HORIZON = 4


def _coordinator(c: Community, name: str) -> Any:
    cfg = c.workdir / f"{name}.toml"
    cfg.write_text(to_toml({"broker": {"url": c.broker_url},
                            "market": {"community": c.name, "horizon_steps": HORIZON},
                            "clock": c.clock}))
    return c.fleet.start(name, peerwatt_cmd("coordinator", "--config", str(cfg)))


def _decisions(c: Community, name: str, since: int) -> list[tuple[int, int | None]]:
    return [(int(k), seq) for k, seq in c.homes[name].query(
        "SELECT interval, signal_seq FROM decisions WHERE interval >= ? ORDER BY interval",
        (since,))]


def _trades(c: Community, since: int) -> int:
    return sum(h.query("SELECT COUNT(*) FROM trades WHERE role='buyer' AND interval >= ?",
                       (since,))[0][0] for h in c.homes.values())


def test_agents_trade_on_through_a_coordinator_outage(fleet: Fleet, mosquitto: Any) -> None:
    c = start_community(fleet, mosquitto.url, "coord-down", homes=2, speed=900.0)
    coordinator = _coordinator(c, "coordinator")
    for name in c.homes:
        c.start_agent(name)
    c.wait_ready(list(c.homes))

    def alive() -> None:
        for h in c.homes.values():
            h.alive()

    start = c.interval_now()
    wait_for("decisions on the signal and a trade", lambda: all(
        any(seq is not None for _, seq in _decisions(c, n, start)) for n in c.homes)
        and _trades(c, start) > 0, 60.0, alive)

    coordinator.send_signal(signal.SIGKILL)
    coordinator.wait(10)
    killed = c.interval_now()

    # then: the last signal while it lasts, the tariff after it, trades all along
    wait_for("decisions on the tariff in every home", lambda: all(
        any(seq is None for _, seq in _decisions(c, n, killed + 1)) for n in c.homes),
        60.0, alive)
    on_tariff_from = max(min(k for k, seq in _decisions(c, n, killed + 1) if seq is None)
                         for n in c.homes)
    wait_for("trades while the coordinator is down", lambda: _trades(c, on_tariff_from) > 0,
             60.0, alive)
    for name in c.homes:
        after = _decisions(c, name, killed + 1)
        # every decision with a source: the last signal for at most HORIZON intervals
        on_signal = [k for k, seq in after if seq is not None]
        assert len(on_signal) <= HORIZON, (name, after)
        tariff_at = [k for k, seq in after if seq is None]
        assert tariff_at
        assert all(k < min(tariff_at) for k in on_signal), (name, after)  # never back, alone
        missing = [e for e in c.homes[name].events("price_signal_missing")
                   if e["interval"] > killed]
        assert len(missing) == 1, missing
        assert missing[0]["level"] == "warning"
        assert missing[0]["fallback"] == "tariff"

    # a coordinator again: the signal is back
    back = c.interval_now()
    _coordinator(c, "coordinator-2")
    wait_for("decisions on a signal again", lambda: all(
        any(seq is not None for _, seq in _decisions(c, n, back + 1)) for n in c.homes),
        60.0, alive)
    for name in c.homes:
        assert c.homes[name].events("price_signal_resumed"), name

    codes = c.stop_agents()
    assert codes == {"agent-home-0": 0, "agent-home-1": 0}
    for name in c.homes:
        stopped = c.stopped_counters(name)
        assert stopped["decisions_on_tariff"] >= 1, stopped
        assert not c.homes[name].events("child_crashed")
    assert_books_agree(c)

"""`[metrics]`: scrape a trading agent's Prometheus endpoint; `peerwatt status` prints it.

home-0 (a buyer) and home-1 (a seller) have the endpoint on (it is off by default:
`test_u_settings.py`). The
scraped figures are checked against the agent's own journal; the endpoint listens on
127.0.0.1 only; `peerwatt status` reads it live, and from the journal once the agent is
stopped.
"""

from __future__ import annotations

import math
import socket
import subprocess
from typing import Any

import pytest
from community import Community, start_community, wait_for

from agent.services.metrics import scrape
from demo.procs import Fleet, free_port, peerwatt_cmd

pytestmark = pytest.mark.integration


def _paid(c: Community, name: str) -> int:
    return int(c.homes[name].query(
        "SELECT COUNT(*) FROM trades WHERE role='buyer' AND state='paid'")[0][0])


def _one(samples: dict[str, list[tuple[dict[str, str], float]]], name: str,
         **labels: str) -> float:
    found = [v for have, v in samples.get(name, [])
             if all(have.get(k) == x for k, x in labels.items())]
    assert len(found) == 1, (name, labels, samples.get(name))
    return found[0]


def _status(config: str) -> tuple[int, str]:
    proc = subprocess.run(peerwatt_cmd("status", "--config", config), capture_output=True,
                          text=True, timeout=60, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_metrics_endpoint_and_status(fleet: Fleet, mosquitto: Any) -> None:
    c = start_community(fleet, mosquitto.url, "metrics", homes=2, speed=900.0)
    c.start_coordinator()
    port, seller_port = free_port(), free_port()
    buyer = c.start_agent("home-0", metrics={"enabled": True, "port": port})
    seller = c.start_agent("home-1", metrics={"enabled": True, "port": seller_port})
    c.wait_ready(["home-0", "home-1"])
    wait_for("metrics_serving", lambda: buyer.events("metrics_serving"), 30.0, buyer.alive)
    wait_for("two paid trades", lambda: _paid(c, "home-0") >= 2, 60.0, buyer.alive)

    url = f"http://127.0.0.1:{port}/metrics"
    m = scrape(url)
    journal_paid = _paid(c, "home-0")
    assert _one(m, "peerwatt_device_health", state="ok") == 1.0
    assert _one(m, "peerwatt_device_health", state="down") == 0.0
    age = _one(m, "peerwatt_reading_age_seconds", meaning="grid_power_w")
    assert 0.0 <= age < math.inf
    assert _one(m, "peerwatt_broker_connected") == 1.0
    assert _one(m, "peerwatt_watchdog_live") == 1.0
    assert _one(m, "peerwatt_signal_age_seconds") >= 0.0
    assert _one(m, "peerwatt_signal_seq") >= 1
    assert _one(m, "peerwatt_events_total", event="device_reads") > 0
    assert _one(m, "peerwatt_device_read_seconds_count") > 0
    # what the endpoint said is what the journal held at that moment (never more)
    paid_metric = _one(m, "peerwatt_trades", role="buyer", state="paid")
    assert 2 <= paid_metric <= journal_paid
    assert 2 <= _one(m, "peerwatt_payments_total", outcome="settled") <= journal_paid
    # the seller times its negotiations (offer published → agreement)
    s = scrape(f"http://127.0.0.1:{seller_port}/metrics")
    with_latency = seller.query("SELECT COUNT(*) FROM trades WHERE latency_ms IS NOT NULL")[0][0]
    neg = _one(s, "peerwatt_negotiation_seconds_count")
    assert 1 <= neg <= with_latency
    assert _one(s, "peerwatt_negotiation_seconds_bucket", le="+Inf") == neg
    assert _one(s, "peerwatt_negotiation_seconds_sum") > 0.0
    assert _one(s, "peerwatt_trades", role="seller", state="paid") >= 1

    # bound to 127.0.0.1 only: another loopback address is refused
    with pytest.raises(OSError), socket.create_connection(("127.0.0.2", port), timeout=5):
        pass

    config = str(c.workdir / "home-0.toml")
    code, out = _status(config)
    assert code == 0, out
    assert "— live" in out
    assert "device       ok" in out
    assert "broker       connected" in out
    assert "bought" in out
    assert "watchdog     fed" in out

    assert c.stop_agents() == {"agent-home-0": 0, "agent-home-1": 0}
    code, out = _status(config)
    assert code == 1, out
    assert "from the journal" in out
    assert "does not answer" in out
    assert f"paid {_paid(c, 'home-0')}" in out

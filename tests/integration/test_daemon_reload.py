"""SIGHUP on a running agent: run-time keys are applied, anything else is refused with one
clear log line and the agent carries on with the config it had. A secret file others may
read stops the agent before it starts (exit 78)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from community import Community, Home, start_community, wait_for

from demo.procs import Fleet, peerwatt_cmd

pytestmark = pytest.mark.integration


def _hup(c: Community, home: Home, seen: int, event: str, **overrides: dict[str, Any]
         ) -> dict[str, Any]:
    c.write_config(home, **overrides)
    assert home.proc is not None
    home.proc.send_signal(signal.SIGHUP)
    events = wait_for(event, lambda: [e for e in home.events() if e.get("event") in (
        "config_reloaded", "config_reload_rejected", "config_unchanged")][seen:], 30.0,
        home.alive)
    assert len(events) == 1, events
    assert events[0]["event"] == event, events[0]
    return events[0]


def test_sighup_reloads_run_time_keys_only(fleet: Fleet, mosquitto: Any) -> None:
    c = start_community(fleet, mosquitto.url, "reload", homes=1, speed=900.0)
    home = c.start_agent("home-0")
    c.wait_ready(["home-0"])

    ok = _hup(c, home, 0, "config_reloaded", limits={"max_trade_msat": 1000},
              market={"community": "reload", "retail_eur_per_kwh": 0.45})
    assert ok["keys"] == ["market.retail_eur_per_kwh", "limits.max_trade_msat"]

    bad = _hup(c, home, 1, "config_reload_rejected", device={"port": 70000})
    assert any("device.port" in p and "65535" in p for p in bad["problems"]), bad
    assert bad["level"] == "error"

    fixed = _hup(c, home, 2, "config_reload_rejected", device={"poll_s": 0.2})
    assert fixed["restart_needed"] == ["device.poll_s"]

    # The SoC window may change at run time, but not turn inside out.
    inverted = _hup(c, home, 3, "config_reload_rejected",
                    battery={"min_soc_pct": 90.0, "max_soc_pct": 10.0})
    assert inverted["problems"] == [
        "battery.max_soc_pct: value 10.0 is not allowed: must be above min_soc_pct (90.0), "
        "or the battery can never charge or discharge"]

    # the rejected files changed nothing: the last good one is what runs
    same = _hup(c, home, 4, "config_unchanged", limits={"max_trade_msat": 1000},
                market={"community": "reload", "retail_eur_per_kwh": 0.45})
    assert same["level"] == "info"
    assert c.stop_agents() == {"agent-home-0": 0}
    assert not home.events("child_crashed")
    assert c.stopped_counters("home-0")["device_reads"] > 0


def test_readable_secret_file_stops_the_agent_before_start(tmp_path: Path) -> None:
    secret = tmp_path / "mqtt.secret"
    secret.write_text("home-1:s3cret\n")
    secret.chmod(0o644)
    config = tmp_path / "agent.toml"
    config.write_text(f'agent_id = "home-1"\n[broker]\ncredentials_file = "{secret}"\n')
    proc = subprocess.run(peerwatt_cmd("run", "--config", str(config)), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 78, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip() == (
        f"peerwatt: config error in {config}: broker.credentials_file: {secret}: secret file "
        f"is readable by its group or others (mode 0644); refusing to use it: chmod 600 {secret}")
    assert "s3cret" not in proc.stderr

"""SIGHUP reload: which keys change at run time, and a bad file keeps the running config."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.reload import Reloader, changed_keys, needs_restart
from agent.settings import AgentSettings, load

BASE = """agent_id = "home-1"
[device]
port = 1502
[limits]
max_trade_msat = 2000000
[market]
retail_eur_per_kwh = 0.30
"""


def _reloader(tmp_path: Path) -> tuple[Reloader, Path, list[AgentSettings]]:
    path = tmp_path / "agent.toml"
    path.write_text(BASE)
    applied: list[AgentSettings] = []
    return Reloader(path, load(path, AgentSettings), applied.append), path, applied


def test_changed_keys_are_dotted_leaves(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(BASE)
    old = load(path, AgentSettings)
    path.write_text(BASE.replace("2000000", "1000") + "[battery]\nmin_soc_pct = 20.0\n")
    new = load(path, AgentSettings)
    assert changed_keys(old, new) == ["limits.max_trade_msat", "battery.min_soc_pct"]
    assert changed_keys(old, old) == []


@pytest.mark.parametrize(("key", "restart"), [
    ("limits.max_day_msat", False), ("market.retail_eur_per_kwh", False),
    ("market.coordinator_key", False), ("battery.max_soc_pct", False),
    ("device.max_age_s", False), ("agent_id", True), ("device.port", True),
    ("broker.url", True), ("market.interval_s", True), ("battery.max_charge_w", True),
    ("lightning.rpc_socket", True), ("paths.state_dir", True),
])
def test_needs_restart(key: str, restart: bool) -> None:
    assert needs_restart([key]) == ([key] if restart else [])


def test_reload_applies_run_time_keys(tmp_path: Path) -> None:
    reloader, path, applied = _reloader(tmp_path)
    path.write_text(BASE.replace("2000000", "1000").replace("0.30", "0.45"))
    assert reloader.reload()
    assert applied[-1].limits.max_trade_msat == 1000
    assert applied[-1].market.retail_eur_per_kwh == 0.45
    assert reloader.current is applied[-1]
    assert not reloader.reload()  # the same file again: nothing to do
    assert len(applied) == 1


@pytest.mark.parametrize("text", [
    BASE.replace("port = 1502", "port = 70000"),           # invalid
    BASE.replace("max_trade_msat", "max_trade_sats"),      # unknown key
    BASE + "[broker]\ncredentials_file = \"/nonexistent/secret\"\n",  # unusable secret
    BASE + "[broker]\ntls_ca_file = \"/nonexistent/ca.pem\"\n",  # a named file is gone
    BASE + "[battery]\nmin_soc_pct = 90.0\nmax_soc_pct = 10.0\n",  # inverted SoC window
    BASE.replace("port = 1502", "port = 1503"),           # needs a restart
    BASE.replace("port = 1502", "port = 1503").replace("2000000", "1"),  # mixed: all refused
])
def test_reload_rejects_and_keeps_the_running_config(tmp_path: Path, text: str) -> None:
    reloader, path, applied = _reloader(tmp_path)
    before = reloader.current
    path.write_text(text)
    assert not reloader.reload()
    assert applied == []
    assert reloader.current is before

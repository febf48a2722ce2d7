"""bench.footprint's agent settings pass the daemon's own loader on both of its clocks
(the bench once broke unseen when a validator tightened: it has no other test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.settings import AgentSettings, ConfigError, load
from bench.footprint import agent_config, sim_clock
from demo.runner import to_toml


def written(tmp_path: Path, clock: dict[str, Any], **device: Any) -> Path:
    cfg = agent_config({"url": "mqtt://127.0.0.1:1883"}, "fp-test", 1502,
                       str(tmp_path / "lightning-rpc"), tmp_path / "state", clock)
    cfg["device"].update(device)
    path = tmp_path / "agent.toml"
    path.write_text(to_toml(cfg))
    return path


@pytest.mark.parametrize("clock", [{"mode": "wall"}, sim_clock(1.8e9)],
                         ids=["wall", "fast-clock"])
def test_both_phases_load(tmp_path: Path, clock: dict[str, Any]) -> None:
    s = load(written(tmp_path, clock), AgentSettings)
    assert s.agent_id == "home-0"
    assert s.device.port == 1502


def test_the_fast_clock_needs_the_longer_reading_age(tmp_path: Path) -> None:
    # what the bench wrote before it set max_age_s: refused, naming the key
    with pytest.raises(ConfigError, match="max_age_s"):
        load(written(tmp_path, sim_clock(1.8e9), max_age_s=60.0), AgentSettings)

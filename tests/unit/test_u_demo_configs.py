"""`peerwatt demo --control/--policy`: the configs it generates say what the flags ask."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.settings import AgentSettings, CoordinatorSettings
from demo import runner
from firmware_bridge.emulator.cli import varied_params

SHIPPED_RULE = Path(__file__).resolve().parents[2] / "agent/modelfiles/policy_rule_v2.onnx"
BROKER = {"url": "mqtt://127.0.0.1:1"}
CLOCK = {"mode": "sim", "epoch_real_s": 0.0, "start_sim_s": 0.0, "speed": 720.0}


def _configs(argv: list[str], tmp_path: Path) -> tuple[CoordinatorSettings, AgentSettings]:
    args = runner._parser().parse_args(argv)
    coord = runner.coordinator_config(args, BROKER, CLOCK, tmp_path / "c.key")
    agent = runner.agent_config(args, "home-000", 1502, BROKER, str(tmp_path / "rpc"),
                                "00" * 32, varied_params(1), tmp_path / "state", CLOCK)
    return CoordinatorSettings.model_validate(coord), AgentSettings.model_validate(agent)


def test_default_demo_follows_the_plan_with_the_shipped_rule(tmp_path: Path) -> None:
    coord, agent = _configs([], tmp_path)
    assert coord.solver == "equilibrium"
    assert coord.capacity_eur_per_kw_year == runner.CAPACITY_EUR_PER_KW_YEAR
    assert agent.models.policy is None  # the daemon's default: the shipped rule


def test_policy_control_sends_prices_only_and_names_the_model(tmp_path: Path) -> None:
    coord, agent = _configs(["--control", "policy", "--policy", str(SHIPPED_RULE)], tmp_path)
    assert coord.solver == "mftg"  # prices and mean field, no plan: the policy decides
    assert agent.models.policy == SHIPPED_RULE


def test_a_missing_policy_file_is_refused_before_anything_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.onnx"
    assert runner.main(["--policy", str(missing)]) == 2
    assert f"--policy {missing}: no such file" in capsys.readouterr().err

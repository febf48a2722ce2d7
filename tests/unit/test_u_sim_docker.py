"""deploy/docker: the compose file parses, every peerwatt service runs a real subcommand
with arguments its parser accepts, and the configs the entrypoint writes load."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest
import yaml  # PyYAML: installed with amqtt (the demo extra)

from agent.settings import AgentSettings, CoordinatorSettings, load
from firmware_bridge.emulator.cli import _parser as devices_parser
from peerwatt.cli import PASSTHROUGH, build_parser

DOCKER = Path(__file__).parents[2] / "deploy" / "docker"
VALUES = {"HOMES": "3", "SEED": "1", "SPEED": "720.0", "BASE_PORT": "15020",
          "EPOCH": "1760000000.0", "START_SIM": "1776211200.0",
          "AGENT_CONFIG": "/shared/agents/home-000.toml"}


def _compose() -> dict[str, dict[str, object]]:
    data = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services: dict[str, dict[str, object]] = data["services"]
    return services


def _subcommands() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "cmd")
    return set(sub.choices) | set(PASSTHROUGH)  # type: ignore[arg-type]


def test_compose_services_run_real_subcommands() -> None:
    services = _compose()
    assert {"broker", "lnsim", "devices", "coordinator", "agent"} <= set(services)
    ours = {n: s for n, s in services.items() if s.get("image") == "peerwatt-agent:local"}
    assert set(ours) == {"lnsim", "devices", "coordinator", "agent"}
    real = _subcommands()
    for name, service in ours.items():
        cmd = service["command"]
        assert isinstance(cmd, list)
        assert cmd[0] == "peerwatt", name
        assert cmd[1] in real, (name, cmd[1])
        filled = [a.format(**VALUES) for a in cmd]
        assert not any(re.search(r"[{}]", a) for a in filled), filled
        if cmd[1] == "devices":
            assert filled[2] == "simulate"
            args = devices_parser().parse_args(filled[3:])
            assert args.homes == 3
            assert args.host == "0.0.0.0"
    assert services["broker"]["command"][0] == "mosquitto"  # type: ignore[index]
    assert (DOCKER / "mosquitto.conf").is_file()
    assert (DOCKER / "Dockerfile").read_text().count("deploy/docker/entry.py") >= 1


def _entry(shared: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("PEERWATT_SHARED", str(shared))
    spec = importlib.util.spec_from_file_location("peerwatt_docker_entry", DOCKER / "entry.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_entrypoint_writes_configs_that_load(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    entry = _entry(tmp_path, monkeypatch)
    (tmp_path / "ln").mkdir()
    (tmp_path / "ln" / "nodes.json").write_text(json.dumps(
        [{"name": f"home-{i:03d}", "rpc": f"/shared/ln/home-{i:03d}/rpc"} for i in range(2)]))
    broker = {"url": "mqtt://broker:1883"}
    clock = entry._clock(2, 720.0)
    assert entry._clock(2, 720.0) == clock  # the first container fixes it for all
    entry._coordinator(broker, clock)
    coord = load(tmp_path / "coordinator.toml", CoordinatorSettings)
    assert coord.market.community == "demo"
    first = load(Path(entry._agent(broker, clock, 2, 1)), AgentSettings)
    second = load(Path(entry._agent(broker, clock, 2, 1)), AgentSettings)
    assert (first.agent_id, second.agent_id) == ("home-000", "home-001")
    assert (first.device.port, second.device.port) == (15020, 15021)
    assert first.device.host == "devices"
    with pytest.raises(SystemExit):
        entry._agent(broker, clock, 2, 1)  # both homes taken


def _extra(extras: dict[str, list[str]], name: str) -> set[str]:
    """The requirement names an extra installs, its peerwatt[...] self-references resolved."""
    out: set[str] = set()
    for req in extras[name]:
        if m := re.fullmatch(r"peerwatt\[([\w,]+)\]", req):
            for sub in m.group(1).split(","):
                out |= _extra(extras, sub)
        else:
            out.add(re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower())
    return out


def test_image_and_demo_install_what_the_coordinator_imports() -> None:
    """The coordinator solves its plan with HiGHS: `make demo` (the demo extra) and the
    image (every package of the wheel, the coordinator extra) must both bring it."""
    import tomllib

    root = DOCKER.parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    extras: dict[str, list[str]] = project["project"]["optional-dependencies"]
    assert "highspy" in _extra(extras, "coordinator")
    assert _extra(extras, "coordinator") <= _extra(extras, "demo")
    assert _extra(extras, "coordinator") <= _extra(extras, "sim")
    dockerfile = (DOCKER / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, flags=re.M))
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert set(packages) <= copied, set(packages) - copied
    installed = re.search(r"pip install '\.\[([\w,]+)\]'", dockerfile)
    assert installed is not None
    assert "coordinator" in installed.group(1).split(",")

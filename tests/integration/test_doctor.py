"""`peerwatt doctor` against the real things: mosquitto, lnsim through pyln-client (a remote
and a local signer), the Modbus device emulator; and against things that are not there."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from community import Community, start_community

from demo.procs import Fleet, free_port, peerwatt_cmd

pytestmark = pytest.mark.integration


def _doctor(config: Path, *skip: str) -> tuple[int, dict[str, tuple[str, str]], str]:
    args = [a for s in skip for a in ("--skip", s)]
    proc = subprocess.run(peerwatt_cmd("doctor", "--config", str(config), *args),
                          capture_output=True, text=True, timeout=120, check=False)
    lines: dict[str, tuple[str, str]] = {}
    for line in proc.stdout.splitlines():
        parts = line.split(maxsplit=2)
        if parts and parts[0] in ("PASS", "WARN", "FAIL"):
            lines[parts[1]] = (parts[0], line)
    return proc.returncode, lines, proc.stdout


def _local_signer_node(fleet: Fleet) -> str:
    lndir = fleet.workdir / "ln-local"
    proc = fleet.start("lnsim-local", peerwatt_cmd("lnsim", "--names", "solo", "--dir",
                                                   str(lndir), "--local-signer"))
    nodes = lndir / "nodes.json"
    deadline = time.monotonic() + 30.0
    while not nodes.exists():
        assert proc.poll() is None, "lnsim --local-signer exited"
        assert time.monotonic() < deadline, "lnsim --local-signer wrote no nodes.json"
        time.sleep(0.05)
    return str(json.loads(nodes.read_text())[0]["rpc"])


@pytest.fixture
def community(fleet: Fleet, mosquitto: Any) -> Community:
    return start_community(fleet, mosquitto.url, "doctor", homes=1, speed=900.0)


def test_doctor_passes_on_a_ready_gateway(community: Community) -> None:
    home = community.homes["home-0"]
    config = community.write_config(home)
    home.state_dir.mkdir(parents=True, exist_ok=True)
    code, lines, out = _doctor(config, "clock")
    assert code == 0, out
    assert {k: v[0] for k, v in lines.items()} == {
        "config": "PASS", "device": "PASS", "broker": "PASS", "node": "PASS",
        "signer": "PASS", "disk": "PASS"}, out
    assert "remote_hsmd_socket" in lines["signer"][1]
    assert "hint:" not in out

    # With the clock: whatever this machine's sync state, the exit code follows the lines.
    code, lines, out = _doctor(config)
    assert lines["clock"][0] in ("PASS", "WARN", "FAIL"), out
    assert code == (1 if any(s == "FAIL" for s, _ in lines.values()) else 0), out


def test_doctor_warns_on_a_local_signer(community: Community) -> None:
    home = community.homes["home-0"]
    config = community.write_config(home, lightning={"rpc_socket": _local_signer_node(
        community.fleet)})
    code, lines, out = _doctor(config, "clock", "disk")
    assert lines["node"][0] == "PASS", out
    assert lines["signer"][0] == "WARN", out
    assert "local hsmd" in lines["signer"][1]
    assert "hint: run VLS" in out
    assert code == 0, "a warning is not a failure"


def test_doctor_fails_with_hints_when_things_are_missing(community: Community,
                                                         tmp_path: Path) -> None:
    home = community.homes["home-0"]
    dead = free_port()
    config = community.write_config(
        home, device={"port": dead, "timeout_s": 0.5},
        broker={"url": f"mqtt://127.0.0.1:{free_port()}"},
        lightning={"rpc_socket": str(tmp_path / "no-such-socket")})
    code, lines, out = _doctor(config, "clock", "disk")
    assert code == 1, out
    for check in ("device", "broker", "node", "signer"):
        assert lines[check][0] == "FAIL", out
    assert lines["config"][0] == "PASS"
    assert out.count("hint:") == 4, out


def test_doctor_names_config_problems(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('agent_id = "home-1"\n[device]\nprot = 502\n')
    code, lines, out = _doctor(config)
    assert code == 1
    assert list(lines) == ["config"], out
    assert "device.prot: unknown key" in lines["config"][1]


def test_doctor_fails_the_config_for_a_missing_ca_and_names_it(tmp_path: Path) -> None:
    """The broker line used to say only "[Errno 2] No such file or directory"."""
    ca = tmp_path / "ca.pem"
    config = tmp_path / "agent.toml"
    config.write_text(f'agent_id = "home-1"\n[broker]\nurl = "mqtts://127.0.0.1:{free_port()}"'
                      f'\ntls_ca_file = "{ca}"\n')
    code, lines, out = _doctor(config, "device", "node", "signer", "clock", "disk")
    assert code == 1, out
    assert lines["config"] == ("FAIL", f"FAIL  config  {config}: broker.tls_ca_file: {ca}: "
                                       "file not found"), out
    assert lines["broker"][0] == "FAIL", out
    assert f"broker.tls_ca_file: {ca}: file not found" in lines["broker"][1], out
    assert "Errno" not in out
    assert "hint: every file the config names must exist and be readable" in out


def test_doctor_fails_an_inverted_soc_window(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('agent_id = "home-1"\n[battery]\nmin_soc_pct = 90\nmax_soc_pct = 10\n')
    code, lines, out = _doctor(config)
    assert code == 1, out
    assert lines == {"config": ("FAIL", f"FAIL  config  {config}: battery.max_soc_pct: value 10 "
                                        "is not allowed: must be above min_soc_pct (90.0), or "
                                        "the battery can never charge or discharge")}, out


def test_doctor_on_a_missing_config_file_names_no_keys(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    code, _, out = _doctor(config)
    assert code == 1
    assert out.splitlines() == [
        f"FAIL  config  {config}: file not found",
        "      hint: no config file there: copy examples/agent.toml to it (or pass --config "
        "FILE)",
        "1 checks: 1 failed, 0 warnings"]

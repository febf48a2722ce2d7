"""`peerwatt run --config bad.toml`: exit code 78 (EX_CONFIG) and one stderr line per problem.

Each line names the file, the key, the value found and what is allowed; nothing starts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from demo.procs import peerwatt_cmd

pytestmark = pytest.mark.integration

GOOD = """agent_id = "home-1"

[device]
port = 1502

[broker]
url = "mqtt://127.0.0.1:1883"
"""


def _run(config: Path) -> tuple[int, list[str], str]:
    proc = subprocess.run(peerwatt_cmd("run", "--config", str(config)), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    return proc.returncode, proc.stderr.splitlines(), proc.stdout


def _problem_lines(stderr: list[str], config: Path) -> list[str]:
    prefix = f"peerwatt: config error in {config}: "
    assert all(line.startswith(prefix) for line in stderr), stderr
    return [line.removeprefix(prefix) for line in stderr]


@pytest.mark.parametrize(("name", "text", "expected"), [
    pytest.param("typo", GOOD.replace("port = 1502", "prot = 1502"),
                 [["device.prot", "unknown key", "1502", "port"]], id="typo-key"),
    pytest.param("range", GOOD.replace("port = 1502", "port = 70000"),
                 [["device.port", "70000", "65535"]], id="port-out-of-range"),
    pytest.param("broker-port", GOOD.replace("1883", "70000"),
                 [["broker.url", "70000", "65535"]], id="broker-port-out-of-range"),
    pytest.param("missing", GOOD.replace('agent_id = "home-1"', ""),
                 [["agent_id", "missing"]], id="missing-agent-id"),
    pytest.param("bad-id", GOOD.replace('"home-1"', '"Home 1"'),
                 [["agent_id", "'Home 1'", "pattern"]], id="bad-agent-id"),
    pytest.param("toml", GOOD.replace("port = 1502", "port = = 1502"),
                 [["not valid TOML", "line 4"]], id="invalid-toml"),
    pytest.param("three", GOOD.replace('agent_id = "home-1"', "")
                 .replace("port = 1502", "port = 70000\ntimeout_sec = 2"),
                 [["agent_id", "missing"], ["device.port", "70000", "65535"],
                  ["device.timeout_sec", "unknown key", "2", "timeout_s"]],
                 id="three-problems"),
])
def test_daemon_config_error_exits_78(tmp_path: Path, name: str, text: str,
                                     expected: list[list[str]]) -> None:
    config = tmp_path / f"{name}.toml"
    config.write_text(text)
    code, stderr, stdout = _run(config)
    assert code == 78, (code, stderr)
    assert stdout == "", "nothing may start (no log lines) on a config error"
    lines = _problem_lines(stderr, config)
    assert len(lines) == len(expected), lines
    for want in expected:
        matching = [line for line in lines if all(part in line for part in want)]
        assert len(matching) == 1, f"no single line with {want} in {lines}"


def test_missing_ca_file_exits_78_before_anything_starts(tmp_path: Path) -> None:
    """It used to start, and its MQTT child died of FileNotFoundError and restarted forever."""
    ca = tmp_path / "ca.pem"
    config = tmp_path / "agent.toml"
    config.write_text(GOOD.replace('url = "mqtt://127.0.0.1:1883"',
                                   f'url = "mqtts://127.0.0.1:8883"\ntls_ca_file = "{ca}"'))
    code, stderr, stdout = _run(config)
    assert (code, stdout) == (78, "")
    assert stderr == [f"peerwatt: config error in {config}: broker.tls_ca_file: {ca}: "
                      "file not found"]


def test_inverted_soc_window_exits_78(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(GOOD + "\n[battery]\nmin_soc_pct = 90\nmax_soc_pct = 10\n")
    code, stderr, stdout = _run(config)
    assert (code, stdout) == (78, "")
    assert stderr == [f"peerwatt: config error in {config}: battery.max_soc_pct: value 10 is "
                      "not allowed: must be above min_soc_pct (90.0), or the battery can never "
                      "charge or discharge"]


def test_coordinator_missing_key_dir_and_ca_exit_78(tmp_path: Path) -> None:
    ca, blocker = tmp_path / "ca.pem", tmp_path / "file"
    blocker.write_text("")
    config = tmp_path / "coordinator.toml"
    config.write_text(f'key_file = "{blocker}/c.key"\n[broker]\ntls_ca_file = "{ca}"\n')
    proc = subprocess.run(peerwatt_cmd("coordinator", "--config", str(config)),
                          capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, check=False)
    assert (proc.returncode, proc.stdout) == (78, ""), proc.stderr
    prefix = f"peerwatt: config error in {config}: "
    assert proc.stderr.splitlines() == [
        f"{prefix}broker.tls_ca_file: {ca}: file not found",
        f"{prefix}key_file: {blocker}/c.key: missing, and cannot be created: {blocker} is not "
        "a directory this user may write"]


def test_daemon_config_missing_file_exits_78(tmp_path: Path) -> None:
    config = tmp_path / "absent.toml"
    code, stderr, stdout = _run(config)
    assert code == 78, (code, stderr)
    assert _problem_lines(stderr, config) == ["file not found"]
    assert stdout == ""


def test_daemon_good_config_is_accepted(tmp_path: Path) -> None:
    """The base of the cases above is valid: each case fails only for its own fault."""
    from agent.settings import AgentSettings, load

    config = tmp_path / "good.toml"
    config.write_text(GOOD)
    assert load(config, AgentSettings).device.port == 1502


def test_coordinator_config_error_exits_78(tmp_path: Path) -> None:
    """The coordinator's unit relies on the same code (RestartPreventExitStatus=78)."""
    config = tmp_path / "coordinator.toml"
    config.write_text('[market]\ninterval_s = 0\n')
    proc = subprocess.run(peerwatt_cmd("coordinator", "--config", str(config)),
                          capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 78, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    lines = _problem_lines(proc.stderr.splitlines(), config)
    assert len(lines) == 1, lines
    assert "market.interval_s" in lines[0], lines

"""Settings: defaults load, and every bad file fails as one ConfigError line per fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.settings import (
    AgentSettings,
    BatterySettings,
    BrokerSettings,
    ClockSettings,
    ConfigError,
    CoordinatorSettings,
    DeviceSettings,
    LightningSettings,
    LimitsSettings,
    MarketSettings,
    ModelSettings,
    PathSettings,
    load,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write(tmp_path: Path, text: str, name: str = "agent.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("section", [DeviceSettings, BrokerSettings, LightningSettings,
                                     MarketSettings, LimitsSettings, BatterySettings,
                                     ModelSettings, PathSettings, ClockSettings,
                                     CoordinatorSettings])
def test_every_section_has_valid_defaults(section: type) -> None:
    instance = section()
    assert section.model_validate(instance.model_dump()) == instance


def test_minimal_agent_file_loads_with_defaults(tmp_path: Path) -> None:
    s = load(write(tmp_path, 'agent_id = "home-1"\n'), AgentSettings)
    assert s.agent_id == "home-1"
    assert s.device == DeviceSettings()
    assert s.market.interval_s == 900
    assert (s.broker.host, s.broker.port) == ("127.0.0.1", 1883)
    assert s.broker.credentials() is None


def test_empty_coordinator_file_loads_with_defaults(tmp_path: Path) -> None:
    s = load(write(tmp_path, "", "coordinator.toml"), CoordinatorSettings)
    assert s == CoordinatorSettings()


@pytest.mark.parametrize(("url", "host", "port"), [
    ("mqtt://broker.local", "broker.local", 1883),
    ("mqtt://10.0.0.2:1884/", "10.0.0.2", 1884),
    ("mqtts://broker.example", "broker.example", 8883),
    ("mqtts://broker.example:443", "broker.example", 443),
])
def test_broker_url_parts(url: str, host: str, port: int) -> None:
    b = BrokerSettings(url=url)
    assert (b.host, b.port) == (host, port)


def test_credentials_file_is_read(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.write_text("alice:s3cr:et\n")
    creds.chmod(0o600)  # a group/world-readable secret is refused (test_u_secret_files.py)
    b = BrokerSettings(credentials_file=creds)
    got = b.credentials()
    assert got is not None
    assert got[0] == "alice"
    assert got[1].get_secret_value() == "s3cr:et"
    assert "s3cr" not in repr(got[1])


FEED_IN = "market.feed_in_eur_per_kwh"

# (toml text, key named in the problem, value named in it, words of what is allowed)
BAD = [
    pytest.param('agent_id = "a"\n[device]\nprot = 502\n', "device.prot", "502", "port",
                 id="typo-key"),
    pytest.param('agent_id = "a"\nagnet = 1\n', "agnet", "1", "agent_id", id="typo-top-key"),
    pytest.param('agent_id = "a"\n[device]\nport = 70000\n', "device.port", "70000", "65535",
                 id="port-70000"),
    pytest.param('agent_id = "a"\n[market]\ninterval_s = -5\n', "market.interval_s", "-5",
                 "greater than or equal to 1", id="negative-interval"),
    pytest.param('agent_id = "a"\n[device]\npoll_s = -1.0\n', "device.poll_s", "-1.0",
                 "greater than 0", id="negative-poll"),
    pytest.param('agent_id = "a"\n[market]\nfeed_in_eur_per_kwh = 0.35\n', FEED_IN, "0.35",
                 "must be below retail_eur_per_kwh (0.3)", id="feed-in-above-retail"),
    pytest.param('agent_id = "a"\n[market]\nfeed_in_eur_per_kwh = 0.30\n', FEED_IN, "0.3",
                 "must be below retail_eur_per_kwh (0.3)", id="feed-in-equal-retail"),
    pytest.param('agent_id = "a"\n[market]\nretail_eur_per_kwh = 0.5\n'
                 'peak_retail_eur_per_kwh = 0.1\nfeed_in_eur_per_kwh = 0.2\n', FEED_IN, "0.2",
                 "peak_retail_eur_per_kwh", id="feed-in-above-peak"),
    pytest.param('agent_id = "Home 1"\n', "agent_id", "'Home 1'", "pattern", id="agent-id-space"),
    pytest.param('agent_id = "-x"\n', "agent_id", "'-x'", "pattern", id="agent-id-dash"),
    pytest.param(f'agent_id = "{"a" * 64}"\n', "agent_id", "a" * 64, "pattern",
                 id="agent-id-too-long"),
    pytest.param('agent_id = 7\n', "agent_id", "7", "string", id="agent-id-int"),
    pytest.param("", "agent_id", "", "required", id="agent-id-missing"),
    pytest.param('agent_id = "a"\n[broker]\nurl = "http://x:1883"\n', "broker.url",
                 "http://x:1883", "pattern", id="broker-url-scheme"),
    pytest.param('agent_id = "a"\n[broker]\nurl = "mqtt://x:1883/topic"\n', "broker.url",
                 "mqtt://x:1883/topic", "pattern", id="broker-url-path"),
    pytest.param('agent_id = "a"\n[broker]\nurl = "mqtt://x:70000"\n', "broker.url",
                 "mqtt://x:70000", "65535", id="broker-url-port"),
    pytest.param('agent_id = "a"\n[broker]\nurl = "mqtt://x:0"\n', "broker.url",
                 "mqtt://x:0", "65535", id="broker-url-port-0"),
    pytest.param('agent_id = "a"\n[broker]\nprotocol = "4"\n', "broker.protocol", "'4'",
                 "3.1.1", id="broker-protocol"),
    pytest.param('agent_id = "a"\n[clock]\nmode = "fast"\n', "clock.mode", "fast", "wall",
                 id="clock-mode"),
    pytest.param('agent_id = "a"\n[limits]\nmax_day_msat = -1\n', "limits.max_day_msat", "-1",
                 "greater than or equal to 0", id="negative-cap"),
    pytest.param('agent_id = "a"\ndevice = 3\n', "device", "3", "dictionary",
                 id="section-not-table"),
]


@pytest.mark.parametrize(("text", "key", "value", "allowed"), BAD)
def test_bad_value_names_key_value_and_what_is_allowed(tmp_path: Path, text: str, key: str,
                                                       value: str, allowed: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path, AgentSettings)
    err = info.value
    assert err.path == path
    assert len(err.problems) == 1, err.problems
    line = err.problems[0]
    assert "\n" not in line
    assert line.startswith(f"{key}:"), line
    assert value in line, line
    assert allowed in line, line
    assert str(path) in str(err)


def test_every_fault_is_its_own_line(tmp_path: Path) -> None:
    text = 'agent_id = "A"\n[device]\nport = 0\nunit = 300\n[market]\nmax_rounds = 11\n'
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text), AgentSettings)
    keys = sorted(p.split(":")[0] for p in info.value.problems)
    assert keys == ["agent_id", "device.port", "device.unit", "market.max_rounds"]
    assert all("\n" not in p for p in info.value.problems)


def test_coordinator_rejects_agent_only_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, 'agent_id = "a"\n', "c.toml"), CoordinatorSettings)
    assert info.value.problems[0].startswith("agent_id: unknown key")


@pytest.mark.parametrize(("content", "words"), [
    pytest.param(b"agent_id = \n", "not valid TOML", id="no-value"),
    pytest.param(b"[device\nport = 1\n", "not valid TOML", id="unclosed-table"),
    pytest.param(b'agent_id = "a"\nagent_id = "b"\n', "not valid TOML", id="duplicate-key"),
    pytest.param(b"\xff\xfe\x00garbage", "UTF-8", id="not-utf8"),
])
def test_unreadable_content_is_a_config_error(tmp_path: Path, content: bytes,
                                              words: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load(path, AgentSettings)
    assert len(info.value.problems) == 1
    assert words in info.value.problems[0]
    assert "\n" not in info.value.problems[0]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load(path, AgentSettings)
    assert info.value.problems == ["file not found"]
    assert str(path) in str(info.value)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, AgentSettings)
    assert len(info.value.problems) == 1
    assert str(tmp_path) in str(info.value)


def test_settings_are_frozen() -> None:
    s = MarketSettings()
    with pytest.raises(ValueError, match="frozen"):
        s.interval_s = 60  # type: ignore[misc]


def _example_model(path: Path) -> type[AgentSettings] | type[CoordinatorSettings]:
    return CoordinatorSettings if "coordinator" in path.name else AgentSettings


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_examples_load(path: Path) -> None:
    """Every shipped example config is valid (zero examples is fine)."""
    load(path, _example_model(path))


def test_metrics_and_homeassistant_are_off_by_default() -> None:
    from agent.settings import AgentSettings

    s = AgentSettings(agent_id="home-1")
    assert s.metrics.enabled is False
    assert s.metrics.host == "127.0.0.1"
    assert s.homeassistant.enabled is False

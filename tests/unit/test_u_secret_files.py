"""Secrets from files: 0600 files or systemd credentials; group/world-readable refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.secret_files import read_secret
from agent.settings import BrokerSettings, ConfigError


def _file(tmp_path: Path, mode: int, text: str = "home-1:s3cret\n") -> Path:
    path = tmp_path / "mqtt.secret"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_file_is_read(tmp_path: Path, mode: int) -> None:
    assert read_secret(_file(tmp_path, mode)) == "home-1:s3cret"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_group_or_world_readable_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = _file(tmp_path, mode)
    with pytest.raises(ConfigError) as err:
        read_secret(path)
    (line,) = err.value.problems
    assert f"mode {mode:04o}" in line
    assert f"chmod 600 {path}" in line


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_secret(tmp_path / "absent")


def test_relative_path_is_a_systemd_credential(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(ConfigError, match="CREDENTIALS_DIRECTORY"):
        read_secret(Path("mqtt.secret"))
    _file(tmp_path, 0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert read_secret(Path("mqtt.secret")) == "home-1:s3cret"


def test_broker_credentials(tmp_path: Path) -> None:
    b = BrokerSettings(credentials_file=_file(tmp_path, 0o600))
    creds = b.credentials()
    assert creds is not None
    assert creds[0] == "home-1"
    assert creds[1].get_secret_value() == "s3cret"
    assert "s3cret" not in repr(b.credentials())
    bad = BrokerSettings(credentials_file=_file(tmp_path, 0o600, "no-colon-here"))
    with pytest.raises(ConfigError, match="user:password"):
        bad.credentials()

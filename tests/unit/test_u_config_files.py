"""Every file a config names is checked at the door (issue 19): one exact line naming the
key and the path, and `peerwatt run`'s door returns 78 with those lines on stderr."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.cli import EXIT_CONFIG, checked
from agent.config_files import load_checked
from agent.crypto.signal_sig import load_or_create_key
from agent.settings import AgentSettings, ConfigError, CoordinatorSettings

FB_PROFILES = Path(__file__).resolve().parents[2] / "firmware_bridge" / "profiles"


def ca_pem(path: Path) -> Path:
    """A self-signed CA certificate, as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "peerwatt test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def toml_str(value: object) -> str:
    return json.dumps(str(value))  # a JSON string is a TOML basic string


def _agent(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text('agent_id = "a"\n' + body, encoding="utf-8")
    return path


def _file_problems(path: Path, model: type = AgentSettings) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_checked(path, model)
    assert info.value.kind == "files"
    assert info.value.path == path
    return info.value.problems


def test_missing_ca_file(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    config = _agent(tmp_path, f'[broker]\nurl = "mqtts://broker"\ntls_ca_file = {toml_str(ca)}\n')
    assert _file_problems(config) == [f"broker.tls_ca_file: {ca}: file not found"]


def test_ca_file_that_is_no_certificate(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    config = _agent(tmp_path, f"[broker]\ntls_ca_file = {toml_str(ca)}\n")
    [line] = _file_problems(config)
    assert line.startswith(f"broker.tls_ca_file: {ca}: not a PEM CA certificate bundle ("), line


def test_good_files_load(tmp_path: Path) -> None:
    ca = ca_pem(tmp_path / "ca.pem")
    secret = tmp_path / "mqtt.secret"
    secret.write_text("home:pw\n")
    secret.chmod(0o600)
    model = tmp_path / "forecast.onnx"
    model.write_bytes(b"\x08\x07")
    profile = FB_PROFILES / "eastron-sdm630.toml"
    config = _agent(tmp_path, f"[broker]\ntls_ca_file = {toml_str(ca)}\n"
                    f"credentials_file = {toml_str(secret)}\n"
                    f"[models]\nforecast = {toml_str(model)}\n"
                    f"[device]\nprofile = {toml_str(profile)}\n")
    s = load_checked(config, AgentSettings)
    assert s.broker.tls_ca_file == ca


@pytest.mark.parametrize(("body", "line"), [
    pytest.param("[models]\nforecast = {missing}\n",
                 "models.forecast: {missing}: file not found", id="forecast-missing"),
    pytest.param("[models]\npolicy = {dir}\n", "models.policy: {dir}: not a regular file",
                 id="policy-directory"),
    pytest.param("[broker]\ncredentials_file = {missing}\n",
                 "broker.credentials_file: {missing}: secret file not found", id="secret-missing"),
    pytest.param("[broker]\ncredentials_file = {open_secret}\n",
                 "broker.credentials_file: {open_secret}: secret file is readable by its group "
                 "or others (mode 0644); refusing to use it: chmod 600 {open_secret}",
                 id="secret-0644"),
    pytest.param("[broker]\ncredentials_file = {no_colon}\n",
                 "broker.credentials_file: {no_colon}: credentials file must hold one line "
                 "user:password", id="secret-no-colon"),
    pytest.param('[broker]\ncredentials_file = "mqtt.secret"\n',
                 "broker.credentials_file: mqtt.secret: a relative secret path names a systemd "
                 "credential, but $CREDENTIALS_DIRECTORY is not set: add LoadCredential="
                 "mqtt.secret:/etc/peerwatt/mqtt.secret to the unit, or give an absolute path",
                 id="secret-relative"),
    pytest.param("[device]\nprofile = {missing_toml}\n",
                 "device.profile: profile {missing_toml}: cannot read: No such file or directory",
                 id="profile-missing"),
    pytest.param('[device]\nprofile = "eastron-sdm631"\n',
                 "device.profile: no built-in profile 'eastron-sdm631'; known: {known}",
                 id="profile-unknown-name"),
    pytest.param('[models]\nforecast = "/tmp/a\\nb.onnx"\n',
                 "models.forecast: /tmp/a\\nb.onnx: file not found", id="newline-in-path"),
    pytest.param('[models]\nforecast = "/tmp/a\\u0000b.onnx"\n',
                 "models.forecast: /tmp/a\\x00b.onnx: not usable: embedded null byte",
                 id="nul-in-path"),
])
def test_unusable_file_is_one_line_naming_key_and_path(tmp_path: Path, body: str,
                                                        line: str) -> None:
    from firmware_bridge.profile import builtin_profile_names

    open_secret = tmp_path / "open.secret"
    open_secret.write_text("u:p")
    open_secret.chmod(0o644)
    no_colon = tmp_path / "nocolon.secret"
    no_colon.write_text("just-a-password")
    no_colon.chmod(0o600)
    names = {"missing": tmp_path / "nope", "dir": tmp_path, "open_secret": open_secret,
             "no_colon": no_colon, "missing_toml": tmp_path / "nope.toml"}
    config = _agent(tmp_path, body.format(**{k: toml_str(v) for k, v in names.items()}))
    expected = line.format(**names, known=", ".join(builtin_profile_names()))
    assert _file_problems(config) == [expected]


def test_every_bad_file_is_its_own_line(tmp_path: Path) -> None:
    ca, model = tmp_path / "ca.pem", tmp_path / "policy.onnx"
    config = _agent(tmp_path, f"[broker]\ntls_ca_file = {toml_str(ca)}\n"
                    f"[models]\npolicy = {toml_str(model)}\n")
    assert _file_problems(config) == [f"broker.tls_ca_file: {ca}: file not found",
                                      f"models.policy: {model}: file not found"]


def test_coordinator_key_file(tmp_path: Path) -> None:
    config = tmp_path / "coordinator.toml"
    bad = tmp_path / "bad.key"
    bad.write_text("garbage\n")
    config.write_text(f"key_file = {toml_str(bad)}\n")
    assert _file_problems(config, CoordinatorSettings) == [
        f"key_file: {bad}: not an Ed25519 seed (64 hex digits)"]

    blocker = tmp_path / "plain-file"
    blocker.write_text("")
    under = blocker / "sub" / "c.key"
    config.write_text(f"key_file = {toml_str(under)}\n")
    assert _file_problems(config, CoordinatorSettings) == [
        f"key_file: {under}: missing, and cannot be created: {blocker} is not a directory "
        "this user may write"]

    good = tmp_path / "keys" / "c.key"  # missing, in a directory that can be made: fine
    config.write_text(f"key_file = {toml_str(good)}\n")
    assert load_checked(config, CoordinatorSettings).key_file == good
    assert not good.exists(), "checking must not create the key"
    load_or_create_key(good)
    assert load_checked(config, CoordinatorSettings).key_file == good


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file: no permission to refuse")
def test_unreadable_file(tmp_path: Path) -> None:
    model = tmp_path / "forecast.onnx"
    model.write_bytes(b"x")
    model.chmod(0o000)
    config = _agent(tmp_path, f"[models]\nforecast = {toml_str(model)}\n")
    assert _file_problems(config) == [
        f"models.forecast: {model}: not readable by this user (permission denied)"]


def test_the_door_exits_78_with_one_stderr_line_each(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    ca = tmp_path / "ca.pem"
    config = _agent(tmp_path, f"[broker]\ntls_ca_file = {toml_str(ca)}\n"
                    "[battery]\nmin_soc_pct = 90\nmax_soc_pct = 10\n")
    assert checked(config, AgentSettings) == EXIT_CONFIG
    assert capsys.readouterr().err.splitlines() == [
        f"peerwatt: config error in {config}: battery.max_soc_pct: value 10 is not allowed: "
        "must be above min_soc_pct (90.0), or the battery can never charge or discharge"]
    config.write_text(config.read_text().replace("min_soc_pct = 90", "min_soc_pct = 5"))
    assert checked(config, AgentSettings) == EXIT_CONFIG
    assert capsys.readouterr().err.splitlines() == [
        f"peerwatt: config error in {config}: broker.tls_ca_file: {ca}: file not found"]
    ca_pem(ca)
    assert isinstance(checked(config, AgentSettings), AgentSettings)
    assert capsys.readouterr().err == ""

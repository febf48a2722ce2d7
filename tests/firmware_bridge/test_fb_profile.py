"""Profiles: every shipped one loads; bad files fail with the file, key and value named."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge.errors import DeviceConfigError, ProfileError
from firmware_bridge.profile import builtin_profile, builtin_profile_names, load_profile

GOOD_REGISTER = """
[[registers]]
meaning = "pv_power_w"
address = 0
kind = "input"
type = "u32"
"""


@pytest.mark.parametrize("name", builtin_profile_names())
def test_shipped_profiles_load(name: str) -> None:
    profile = builtin_profile(name)
    assert profile.name == name
    assert profile.blocks()


def test_unknown_builtin_names_the_known_ones() -> None:
    with pytest.raises(ProfileError, match=r"no built-in profile 'nope'; known: .*sim-home"):
        builtin_profile("nope")


def _register(**fields: object) -> str:
    base: dict[str, object] = {"meaning": "pv_power_w", "address": 0, "kind": "input",
                               "type": "u32"}
    base.update(fields)
    lines = [f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else
             f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in base.items()]
    return "[[registers]]\n" + "\n".join(lines) + "\n"


BAD_PROFILES: list[tuple[str, str, list[str]]] = [
    ("unknown-meaning", _register(meaning="pv_power_kw"),
     ["registers[0] (meaning 'pv_power_kw')", "unknown meaning 'pv_power_kw'"]),
    ("bad-type", _register(type="u17"),
     ["registers[0] (meaning 'pv_power_w').type", "'u17'"]),
    ("bad-kind", _register(kind="coil"), [".kind", "'coil'"]),
    ("bad-word-order", _register(word_order="middle"), [".word_order", "'middle'"]),
    ("typo-key", _register(scael=0.1), [".scael", "Extra inputs are not permitted", "0.1"]),
    ("negative-address", _register(address=-1),
     [".address", "greater than or equal to 0", "(got -1)"]),
    ("address-past-end", _register(address=65535), ["passes 65535"]),
    ("zero-scale", _register(scale=0.0), ["scale must not be 0"]),
    ("min-above-max", _register(min=10, max=5), ["min 10.0 is above max 5.0"]),
    ("writable-input", _register(meaning="battery_setpoint_w", writable=True),
     ["only holding registers can be writable"]),
    ("duplicate-meaning", GOOD_REGISTER + _register(address=10),
     ["meaning 'pv_power_w' appears twice"]),
    ("overlap", GOOD_REGISTER + _register(meaning="load_power_w", address=1),
     ["input registers 'pv_power_w' (0..1) and 'load_power_w' (at 1) overlap"]),
    ("read-only-writable", "read_only = true\n" +
     _register(meaning="battery_setpoint_w", kind="holding", writable=True),
     ["read_only profile has writable register 'battery_setpoint_w'"]),
    ("negative-limit", "max_charge_w = -5\n" + GOOD_REGISTER,
     ["max_charge_w", "greater than or equal to 0", "(got -5)"]),
    ("no-registers", "description = 'empty'\n", ["registers", "Field required"]),
    ("not-toml", "registers = [\n", ["not valid TOML"]),
]


@pytest.mark.parametrize(("case", "text", "fragments"), BAD_PROFILES,
                         ids=[c[0] for c in BAD_PROFILES])
def test_bad_profile_is_rejected_clearly(tmp_path: Path, case: str, text: str,
                                         fragments: list[str]) -> None:
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert message.startswith(f"profile {path}: ")
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "absent.toml")


def test_profile_error_is_permanent() -> None:
    assert issubclass(ProfileError, DeviceConfigError)


def test_name_defaults_to_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "my-meter.toml"
    path.write_text(GOOD_REGISTER)
    assert load_profile(path).name == "my-meter"

"""Property (issue 19): any config file either passes the door `peerwatt run` and
`peerwatt coordinator` go through (`agent.cli.checked`: the file, its rules, the files it
names) or is refused with exit 78 and one-line messages on stderr. Never a traceback.

Configs are drawn from the models themselves (every section and key, values of the right
type around the bounds, values of the wrong type, unknown keys, paths to files that exist,
are missing, are directories, are secrets readable by others, or hold junk), and from raw
text and bytes."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import tomllib
import types
import typing
from collections.abc import Iterator
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from agent.cli import EXIT_CONFIG, checked
from agent.settings import AgentSettings, CoordinatorSettings

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
# No deadline: how fast a machine checks a file is not the property.
AGENT = settings(max_examples=800, deadline=None, suppress_health_check=_QUIET)
OTHER = settings(max_examples=300, deadline=None, suppress_health_check=_QUIET)

# Files the drawn paths point at (made by the module's fixture, before any example runs).
_ROOT = Path(tempfile.gettempdir()) / f"pw-cfgprop-{os.getpid()}"
_SECRET, _LOOSE, _JUNK, _KEY, _PROFILE = (_ROOT / n for n in (
    "ok.secret", "loose.secret", "junk.bin", "seed.key", "profile.toml"))
PATHS = [str(p) for p in (_SECRET, _LOOSE, _JUNK, _KEY, _PROFILE, _ROOT, _ROOT / "missing",
                          _ROOT / "missing.toml", _ROOT / "sub" / "new.key")] + [
    "", "relative.secret", "/dev/null", "/proc/self", "/tmp/a\nb", "/tmp/a\x00b",
    "x" * 5000, "sunspec", "peerwatt-sim-home", "eastron-sdm630", "../../pyproject"]


def _make_files() -> None:
    _ROOT.mkdir(exist_ok=True)
    for path, text, mode in ((_SECRET, "u:p\n", 0o600), (_LOOSE, "u:p\n", 0o644),
                             (_KEY, "ab" * 32 + "\n", 0o600),
                             (_PROFILE, 'name = "x"\n[[registers]]\nbroken = true\n', 0o644)):
        path.write_text(text)
        path.chmod(mode)
    _JUNK.write_bytes(b"\x00\xff junk")


_text = st.text(max_size=40)
_scalar = st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1),
                    st.floats(allow_nan=True, allow_infinity=True), _text)
_junk = st.recursive(_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3)), max_leaves=6)


# Strings that mean something to one key (the rest draw paths, ids and any text).
HINTS = {
    "timezone": ["UTC", "Europe", "Europe/Berlin", "Mars/Olympus", "/etc/localtime", "."],
    "url": ["mqtt://127.0.0.1:1883", "mqtts://h:8883", "mqtt://h:0", "mqtt://h:99999999999",
            "http://h", "mqtt://h/x"],
    "coordinator_key": ["0" * 64, "A" * 64, "0" * 63],
    "profile": ["sunspec", "peerwatt-sim-home", "eastron-sdm630", "nope", "../../pyproject",
                "/etc/passwd.toml", "a\x00b"],
}


def _strategy(annotation: Any, name: str = "") -> st.SearchStrategy[Any]:
    """Values of the key's own type (around its bounds) mixed with values of any type."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if name in HINTS:
        return st.one_of(st.sampled_from(HINTS[name]), st.sampled_from(PATHS), _junk)
    if origin is typing.Annotated:
        return _strategy(args[0])
    if origin in (typing.Union, types.UnionType):
        return st.one_of([_strategy(a) for a in args if a is not type(None)])
    if origin is typing.Literal:
        return st.one_of(st.sampled_from(args), _junk)
    if annotation is bool:
        return st.one_of(st.booleans(), _junk)
    if annotation is int:
        return st.one_of(st.integers(-5, 10**7), st.sampled_from([0, 1, 900, 86_400, 2**63 - 1]),
                         _junk)
    if annotation is float:
        return st.one_of(st.floats(-10.0, 1e6), st.sampled_from([0.0, 100.0, 1e300]), _junk)
    if annotation is Path:
        return st.one_of(st.sampled_from(PATHS), _junk)
    return st.one_of(st.sampled_from([*PATHS, "home-1", "Home 1", "-x", "a" * 64]), _text,
                     _junk)


def _model(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name, field in model.model_fields.items():
        ann = field.annotation
        sub = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        fields[name] = st.one_of(_model(sub), _junk) if sub else _strategy(ann, name)
    known = st.fixed_dictionaries({}, optional=fields)  # type: ignore[arg-type]
    unknown = st.dictionaries(_text, _junk, max_size=2)
    return st.one_of(known, st.builds(lambda a, b: {**b, **a}, known, unknown))


def _key(k: str) -> str:
    return _string(k)


def _string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"


def to_toml(data: dict[str, Any]) -> str:
    scalars = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    tables = [f"[{_key(k)}]\n" + "".join(f"{_key(kk)} = {_value(vv)}\n" for kk, vv in v.items())
              for k, v in data.items() if isinstance(v, dict)]
    return "\n".join(scalars) + "\n" + "\n".join(tables)


@pytest.fixture(scope="module", autouse=True)
def _files() -> Iterator[None]:
    _make_files()
    yield
    shutil.rmtree(_ROOT, ignore_errors=True)


def _door(content: bytes, model: type[AgentSettings] | type[CoordinatorSettings]) -> None:
    path = _ROOT / "drawn.toml"
    path.write_bytes(content)
    err = io.StringIO()
    with redirect_stderr(err):
        result = checked(path, model)  # an exception here fails the property
    lines = err.getvalue().splitlines()
    if isinstance(result, model):
        assert lines == []
        return
    assert result == EXIT_CONFIG, result
    assert lines, "exit 78 without saying why"
    prefix = f"peerwatt: config error in {path}: "
    for line in lines:
        assert line.startswith(prefix), line
        assert line.isprintable(), repr(line)  # one line: no newline or control character
        assert "Traceback" not in line
        assert len(line) > len(prefix)


@AGENT
@given(_model(AgentSettings))
def test_any_agent_config_loads_or_exits_78_with_one_line_messages(data: dict[str, Any]) -> None:
    text = to_toml(data)
    tomllib.loads(text)  # the drawn file is TOML: the checks behind the parser are reached
    _door(text.encode(), AgentSettings)


@OTHER
@given(_model(CoordinatorSettings))
def test_any_coordinator_config_loads_or_exits_78(data: dict[str, Any]) -> None:
    text = to_toml(data)
    tomllib.loads(text)
    _door(text.encode(), CoordinatorSettings)


@OTHER
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_any_bytes_load_or_exit_78(content: bytes) -> None:
    _door(content, AgentSettings)


def test_the_strategy_reaches_both_outcomes() -> None:
    """The property is not empty: drawn configs both load and get refused."""
    outcomes: set[str] = set()

    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=_QUIET)
    @given(_model(AgentSettings).map(lambda d: {**d, "agent_id": "home-1"}))
    def probe(data: dict[str, Any]) -> None:
        path = _ROOT / "probe.toml"
        path.write_text(to_toml(data))
        with redirect_stderr(io.StringIO()):
            result = checked(path, AgentSettings)
        outcomes.add("loaded" if isinstance(result, AgentSettings) else "refused")

    probe()
    assert outcomes == {"loaded", "refused"}

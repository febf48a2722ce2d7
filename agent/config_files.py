"""The files a config names, checked before anything starts.

`peerwatt run`, `peerwatt coordinator`, SIGHUP reload and `peerwatt doctor` call
:func:`load_checked` (or :func:`file_problems`): a file that is missing, unreadable or not
what its key says is one line naming the key and the path, and the daemon exits 78 without
starting a task. Checked:

- `broker.tls_ca_file`: a readable PEM bundle that `ssl` loads,
- `broker.credentials_file`: a secret file (`agent.secret_files`) holding `user:password`,
- `models.forecast`, `models.policy`: readable regular files,
- `device.profile` (agent): a `.toml` profile that loads, or a built-in profile's name,
- `key_file` (coordinator): when it exists, a readable Ed25519 seed; when missing, a
  directory it can be created in.

Not checked here, because they appear at run time and the daemon waits for them: the
node's `lightning.rpc_socket`, the RS-485 `device.serial_port`, and `paths.state_dir`
(systemd creates it). `peerwatt doctor` checks those.
"""

from __future__ import annotations

import os
import ssl
import stat
from pathlib import Path
from typing import TypeVar

from agent.settings import (
    AgentSettings,
    BrokerSettings,
    ConfigError,
    CoordinatorSettings,
    load,
    one_line,
)

_S = TypeVar("_S", AgentSettings, CoordinatorSettings)


def _show(path: Path) -> str:
    return one_line(str(path))


def readable_file(key: str, path: Path) -> str | None:
    """None when `path` is a regular file this user can read; else one line."""
    where = f"{key}: {_show(path)}"
    try:
        st = path.stat()
    except FileNotFoundError:
        return f"{where}: file not found"
    except PermissionError:
        return f"{where}: not accessible (permission denied on a directory on the way)"
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        return f"{where}: not usable: {getattr(exc, 'strerror', None) or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"{where}: not a regular file"
    try:
        with path.open("rb"):
            pass
    except PermissionError:
        return f"{where}: not readable by this user (permission denied)"
    except OSError as exc:
        return f"{where}: not readable: {exc.strerror or exc}"
    return None


def _ca_file(key: str, path: Path) -> str | None:
    problem = readable_file(key, path)
    if problem is not None:
        return problem
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError) as exc:
        return f"{key}: {_show(path)}: not a PEM CA certificate bundle ({exc})"
    return None


def broker_problems(broker: BrokerSettings) -> list[str]:
    problems = []
    if broker.tls_ca_file is not None:
        problems.append(_ca_file("broker.tls_ca_file", broker.tls_ca_file))
    if broker.credentials_file is not None:
        try:
            broker.credentials()
        except ConfigError as exc:
            problems += [f"broker.credentials_file: {_show(exc.path)}: {p}" for p in exc.problems]
    return [p for p in problems if p is not None]


def _profile(profile: str) -> str | None:
    from firmware_bridge.errors import ProfileError
    from firmware_bridge.factory import SUNSPEC
    from firmware_bridge.profile import builtin_profile, load_profile

    if profile == SUNSPEC:
        return None
    try:
        if profile.endswith(".toml"):
            load_profile(profile)
        else:
            builtin_profile(profile)
    except ProfileError as exc:
        return f"device.profile: {exc}"
    return None


def _key_file(path: Path) -> str | None:
    """The coordinator's seed: read when it exists, else it must be creatable."""
    from agent.crypto.signal_sig import load_or_create_key

    try:
        exists = path.exists()
    except (OSError, ValueError) as exc:
        return f"key_file: {_show(path)}: not usable: {exc}"
    if exists:
        problem = readable_file("key_file", path)
        if problem is not None:
            return problem
        try:
            load_or_create_key(path)  # it exists: this only reads
        except (ValueError, UnicodeDecodeError):
            return f"key_file: {_show(path)}: not an Ed25519 seed (64 hex digits)"
        except OSError as exc:
            return f"key_file: {_show(path)}: not readable: {exc.strerror or exc}"
        return None
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return (f"key_file: {_show(path)}: missing, and cannot be created: "
                f"{_show(parent)} is not a directory this user may write")
    return None


def file_problems(settings: AgentSettings | CoordinatorSettings) -> list[str]:
    """One line per file the config names that cannot be used (none: all fine)."""
    problems = broker_problems(settings.broker)
    found: list[str | None] = []
    if isinstance(settings, AgentSettings):
        for key, model in (("models.forecast", settings.models.forecast),
                           ("models.policy", settings.models.policy)):
            if model is not None:
                found.append(readable_file(key, model))
        found.append(_profile(settings.device.profile))
    elif settings.key_file is not None:
        found.append(_key_file(settings.key_file))
    return problems + [p for p in found if p is not None]


def load_checked(path: Path, model: type[_S]) -> _S:
    """`load`, then the files the settings name; ConfigError (kind "files") if any fails."""
    settings = load(path, model)
    problems = file_problems(settings)
    if problems:
        raise ConfigError(path, problems, "files")
    return settings

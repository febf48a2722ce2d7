"""Secrets come from files, never from the command line or the config file itself.

A secret path in the config is either
- relative (`mqtt.secret`): a systemd credential, read from `$CREDENTIALS_DIRECTORY`
  (the unit's `LoadCredential=mqtt.secret:/etc/peerwatt/mqtt.secret`), or
- absolute: a file only its owner can read (mode 0600 or 0400); a file that its group or
  anyone else may read is refused, with the command that fixes it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from agent.settings import ConfigError


def resolve(path: Path) -> Path:
    if path.is_absolute():
        return path
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if not creds:
        raise ConfigError(path, [
            "a relative secret path names a systemd credential, but $CREDENTIALS_DIRECTORY "
            f"is not set: add LoadCredential={path}:/etc/peerwatt/{path} to the unit, or "
            "give an absolute path"])
    return Path(creds) / path


def read_secret(path: Path) -> str:
    """The file's text, stripped; ConfigError (one clear line) if it may not be used."""
    real = resolve(path)
    try:
        st = real.stat()
    except FileNotFoundError:
        raise ConfigError(real, ["secret file not found"]) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise ConfigError(real, [f"secret file not readable: "
                                 f"{getattr(exc, 'strerror', None) or exc}"]) from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(real, ["secret is not a regular file"])
    if st.st_mode & 0o077:
        raise ConfigError(real, [
            f"secret file is readable by its group or others (mode {st.st_mode & 0o777:04o}); "
            f"refusing to use it: chmod 600 {real}"])
    try:
        return real.read_text(encoding="utf-8").strip()
    except PermissionError:
        raise ConfigError(real, ["secret file not readable (permission denied)"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(real, [f"secret file not readable: {exc}"]) from None

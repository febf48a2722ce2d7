"""`peerwatt run`: load and check the agent's config, then run the daemon until stopped.

The `peerwatt` command itself (every subcommand) is `peerwatt.cli`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TypeVar

from agent.config_files import load_checked
from agent.logging import configure
from agent.settings import AgentSettings, ConfigError, CoordinatorSettings

_S = TypeVar("_S", AgentSettings, CoordinatorSettings)

# sysexits.h EX_CONFIG: the units' RestartPreventExitStatus=78 (no restart loop on a bad file).
EXIT_CONFIG = 78


def config_failed(exc: ConfigError, prog: str = "peerwatt") -> int:
    """One line per problem on stderr; the exit code for a config that cannot run."""
    for problem in exc.problems:
        print(f"{prog}: config error in {exc.path}: {problem}", file=sys.stderr)
    return EXIT_CONFIG


def checked(config: Path, model: type[_S]) -> _S | int:
    """The door: the settings when the file and every file it names can be used, else
    EXIT_CONFIG after one stderr line per problem (nothing has started)."""
    try:
        return load_checked(config, model)
    except ConfigError as exc:
        return config_failed(exc)


def run(config: Path, log_level: str) -> int:
    from agent.daemon import run_agent
    from agent.ports import PermanentError
    from agent.supervisor import FatalError

    settings = checked(config, AgentSettings)
    if isinstance(settings, int):
        return settings
    configure(log_level)
    try:
        asyncio.run(run_agent(settings, config))
    except PermanentError as exc:
        print(f"peerwatt: {exc}", file=sys.stderr)
        return 1
    except FatalError as exc:
        print(f"peerwatt: stopped: {exc}", file=sys.stderr)
        return 1
    return 0

"""`peerwatt coordinator`: load and check the coordinator's config, then run it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.cli import config_failed
from agent.logging import configure
from agent.settings import ConfigError, CoordinatorSettings, load


def run(config: Path, log_level: str) -> int:
    from coordinator.main import run_coordinator

    try:
        settings = load(config, CoordinatorSettings)
        settings.broker.credentials()
    except ConfigError as exc:
        return config_failed(exc)
    configure(log_level)
    asyncio.run(run_coordinator(settings))
    return 0

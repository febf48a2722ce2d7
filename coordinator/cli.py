"""`peerwatt coordinator`: load and check the coordinator's config, then run it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.cli import checked
from agent.logging import configure
from agent.settings import CoordinatorSettings


def run(config: Path, log_level: str) -> int:
    from coordinator.main import run_coordinator

    settings = checked(config, CoordinatorSettings)
    if isinstance(settings, int):
        return settings
    configure(log_level)
    asyncio.run(run_coordinator(settings))
    return 0

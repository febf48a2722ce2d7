"""SIGHUP: re-read the agent's config and apply what can change while it runs.

Reloaded at run time (the next decision, offer or payment uses them):

- `[limits]` — every spend cap and the default-list settings,
- `[market]` tariff band: `retail_eur_per_kwh`, `peak_retail_eur_per_kwh`,
  `feed_in_eur_per_kwh`, `eur_per_btc`, and `coordinator_key` (key rotation),
- `[battery]` SoC window: `min_soc_pct`, `max_soc_pct`,
- `[device] max_age_s` (how old a reading may be for a decision),
- the broker's credentials file is read again at every reconnect.

Anything else (ids, device and broker addresses, the node's socket, interval and horizon,
battery power limits the device clamps to, models, paths, clock) needs a restart: a new
file that changes one of them is rejected as a whole, and the running config stays, as it
does for a file that does not validate or names a file it cannot use (a secret it may
not use, a CA bundle that is gone: `agent.config_files`). Each outcome is
one log line: `config_reloaded` (the keys), `config_unchanged`, `config_reload_rejected`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import structlog
from pydantic import BaseModel

from agent.config_files import load_checked
from agent.settings import AgentSettings, ConfigError

log = structlog.get_logger("reload")

RELOADABLE_SECTIONS = frozenset({"limits"})
RELOADABLE_KEYS = frozenset({
    "market.retail_eur_per_kwh", "market.peak_retail_eur_per_kwh",
    "market.feed_in_eur_per_kwh", "market.eur_per_btc", "market.coordinator_key",
    "battery.min_soc_pct", "battery.max_soc_pct", "device.max_age_s",
})


def changed_keys(old: BaseModel, new: BaseModel, prefix: str = "") -> list[str]:
    """Dotted names of the leaf keys whose values differ."""
    keys: list[str] = []
    for name in type(old).model_fields:
        a, b = getattr(old, name), getattr(new, name)
        if isinstance(a, BaseModel) and isinstance(b, BaseModel):
            keys += changed_keys(a, b, f"{prefix}{name}.")
        elif a != b:
            keys.append(f"{prefix}{name}")
    return keys


def needs_restart(keys: list[str]) -> list[str]:
    return [k for k in keys
            if k not in RELOADABLE_KEYS and k.split(".", 1)[0] not in RELOADABLE_SECTIONS]


class Reloader:
    """Call it on SIGHUP: validates the file again and hands a new settings object to
    `apply` only when every change is one that can be made at run time."""

    def __init__(self, path: Path, current: AgentSettings,
                 apply: Callable[[AgentSettings], None]) -> None:
        self._path = path
        self.current = current
        self._apply = apply

    def __call__(self) -> None:
        self.reload()

    def reload(self) -> bool:
        """True if a new config was applied."""
        try:
            new = load_checked(self._path, AgentSettings)
        except ConfigError as exc:
            bad: ConfigError | None = exc
        else:
            bad = None
        if bad is not None:
            log.error("config_reload_rejected", path=str(bad.path), problems=bad.problems,
                      kept="the running config")
            return False
        keys = changed_keys(self.current, new)
        if not keys:
            log.info("config_unchanged", path=str(self._path))
            return False
        fixed = needs_restart(keys)
        if fixed:
            log.error("config_reload_rejected", path=str(self._path), restart_needed=fixed,
                      problems=[f"{k}: changes only with a restart" for k in fixed],
                      kept="the running config")
            return False
        self._apply(new)
        self.current = new
        log.info("config_reloaded", path=str(self._path), keys=keys)
        return True

"""`peerwatt status`: the agent's metrics, for a person.

Scrapes the agent's own `/metrics` endpoint (`[metrics] enabled = true`); when it is off
or the agent is not running, reads what the journal holds instead (read-only, safe while
the agent runs) and says so. Exit 0 when the running agent answered, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
from pathlib import Path

from agent.adapters.journal_reader import JournalReader
from agent.settings import DEFAULT_AGENT_CONFIG, AgentSettings, ConfigError, load

Samples = dict[str, list[tuple[dict[str, str], float]]]
MEANINGS = (("grid_power_w", "grid", "W"), ("pv_power_w", "pv", "W"),
            ("battery_power_w", "battery", "W"), ("battery_soc_pct", "SoC", "%"))


def _get(samples: Samples, name: str, **labels: str) -> float | None:
    for have, value in samples.get(name, []):
        if all(have.get(k) == v for k, v in labels.items()):
            return value
    return None


def _n(samples: Samples, name: str, **labels: str) -> int:
    return int(_get(samples, name, **labels) or 0)


def render_live(s: AgentSettings, m: Samples) -> list[str]:
    health = next((lab["state"] for lab, v in m.get("peerwatt_device_health", []) if v == 1.0),
                  "unknown")
    values = ", ".join(f"{label} {v:.0f} {unit}" for meaning, label, unit in MEANINGS
                       if (v := _get(m, "peerwatt_reading", meaning=meaning)) is not None)
    ages = [v for _, v in m.get("peerwatt_reading_age_seconds", [])]
    reads = _n(m, "peerwatt_device_read_seconds_count")
    read_mean = (_get(m, "peerwatt_device_read_seconds_sum") or 0.0) / max(1, reads)
    signal_age = _get(m, "peerwatt_signal_age_seconds")
    sold = {lab["state"]: int(v) for lab, v in m.get("peerwatt_trades", [])
            if lab.get("role") == "seller"}
    bought = {lab["state"]: int(v) for lab, v in m.get("peerwatt_trades", [])
              if lab.get("role") == "buyer"}
    neg_n = _n(m, "peerwatt_negotiation_seconds_count")
    neg_mean = (_get(m, "peerwatt_negotiation_seconds_sum") or 0.0) / max(1, neg_n)
    return [
        f"peerwatt {s.agent_id} (community {s.market.community}) — live",
        f"  device       {health}; {values or 'no readings'}"
        + (f"; newest reading {min(ages):.1f} s old" if ages else ""),
        f"  device polls {reads}, mean {read_mean * 1000:.1f} ms, "
        f"{_n(m, 'peerwatt_events_total', event='device_read_failed')} failed",
        f"  broker       {'connected' if _get(m, 'peerwatt_broker_connected') else 'DOWN'}",
        "  signal       " + ("none yet" if signal_age is None else
                             f"seq {_n(m, 'peerwatt_signal_seq')}, {signal_age:.0f} s old")
        + f"; decisions on the tariff: "
          f"{_n(m, 'peerwatt_events_total', event='decisions_on_tariff')}",
        f"  trades       sold {sum(sold.values())} (paid {sold.get('paid', 0)}), "
        f"bought {sum(bought.values())} (paid {bought.get('paid', 0)})",
        f"  payments     settled {_n(m, 'peerwatt_payments_total', outcome='settled')}, "
        f"failed {_n(m, 'peerwatt_payments_total', outcome='failed')}, "
        f"refused {_n(m, 'peerwatt_payments_total', outcome='refused')}",
        f"  negotiation  {neg_n} agreed, mean {neg_mean * 1000:.1f} ms offer → agreement",
        f"  watchdog     {'fed' if _get(m, 'peerwatt_watchdog_live') else 'NOT FED'}",
    ]


def render_journal(s: AgentSettings, why: str) -> list[str]:
    journal = s.paths.state_dir / "journal.sqlite"
    lines = [f"peerwatt {s.agent_id} (community {s.market.community}) — from the journal "
             f"({why})"]
    if not journal.exists():
        return [*lines, f"  no journal at {journal}"]
    reader = JournalReader(journal, timeout_s=2.0)
    last, trades = reader.last_reading(), reader.trade_counts()
    if last is not None:
        lines.append(f"  last reading {time.time() - last.t_s:.0f} s ago: grid {last.grid_w} W, "
                     f"pv {last.pv_w} W, battery {last.battery_w} W, SoC {last.soc_pct} %")
    by_role: dict[str, dict[str, int]] = {}
    for role, state, n in trades:
        by_role.setdefault(role, {})[state] = n
    for role in ("seller", "buyer"):
        states = by_role.get(role, {})
        lines.append(f"  {role:<12} {sum(states.values())} trades: "
                     + (", ".join(f"{k} {v}" for k, v in sorted(states.items())) or "none"))
    return lines


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="peerwatt status", description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path, default=DEFAULT_AGENT_CONFIG)
    args = ap.parse_args(argv)
    try:
        s = load(args.config, AgentSettings)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"peerwatt: config error in {exc.path}: {problem}", file=sys.stderr)
        return 78
    if not s.metrics.enabled:
        print("\n".join(render_journal(s, "[metrics] is off; enable it for live values")))
        return 1
    from agent.services.metrics import scrape

    url = f"http://{s.metrics.host}:{s.metrics.port}/metrics"
    try:
        samples = scrape(url)
    except (urllib.error.URLError, OSError) as exc:
        print("\n".join(render_journal(s, f"the agent does not answer at {url}: {exc}")))
        return 1
    print("\n".join(render_live(s, samples)))
    return 0

"""`[metrics]`: a Prometheus endpoint, read from the agent's state at scrape time.

Nothing is instrumented in the hot paths: a custom collector turns what the agent already
keeps (its counters, the latest readings, the signal, device health, the device-read
histogram) and its journal (trades by state, negotiation latency) into metrics when
Prometheus asks. prometheus-client is imported only when the endpoint is on; its HTTP
server runs in its own thread, bound to 127.0.0.1 unless the config says otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import structlog

from agent.adapters.journal import JournalError
from agent.adapters.journal_reader import JournalReader
from agent.services.state import AgentState

log = structlog.get_logger("metrics")

NEGOTIATION_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
HEALTH_STATES = ("ok", "degraded", "down", "unknown")


class AgentCollector:
    """A prometheus_client collector over one agent's state and journal."""

    def __init__(self, state: AgentState, journal: JournalReader, now_s: Callable[[], float],
                 broker_up: Callable[[], bool], live: Callable[[], bool]) -> None:
        self._state = state
        self._journal = journal
        self._now_s = now_s
        self._broker_up = broker_up
        self._live = live

    def _journal_rows(self) -> tuple[list[tuple[str, str, int]], list[float]]:
        if not self._journal.exists():
            return [], []
        try:
            states = self._journal.trade_counts()
            latencies = [v / 1000.0 for v in self._journal.latencies_ms()]
        except JournalError:
            return [], []
        return states, latencies

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        s = self._state
        now = self._now_s()
        events = CounterMetricFamily("peerwatt_events", "What the agent counted, by event",
                                     labels=["event"])
        for name, value in sorted(dict(s.counters).items()):
            events.add_metric([name], value)
        yield events
        payments = CounterMetricFamily("peerwatt_payments", "Payment outcomes (buyer side)",
                                       labels=["outcome"])
        for outcome in ("settled", "failed", "pending", "refused"):
            payments.add_metric([outcome], s.counters.get(f"payments_{outcome}", 0))
        yield payments
        health = GaugeMetricFamily("peerwatt_device_health", "1 for the device's health state",
                                   labels=["state"])
        for state in HEALTH_STATES:
            health.add_metric([state], 1.0 if s.device_health == state else 0.0)
        yield health
        age = GaugeMetricFamily("peerwatt_reading_age_seconds",
                                "Age of the latest reading of each meaning (agent clock)",
                                labels=["meaning"])
        for meaning, m in sorted(dict(s.readings).items()):
            age.add_metric([meaning], max(0.0, m.age_s(now)))
        yield age
        reading = GaugeMetricFamily("peerwatt_reading", "Latest value of each meaning (SI unit)",
                                    labels=["meaning"])
        for meaning, m in sorted(dict(s.readings).items()):
            reading.add_metric([meaning], m.value)
        yield reading
        reads = s.read_seconds
        yield HistogramMetricFamily(
            "peerwatt_device_read_seconds", "Duration of one device poll (real seconds)",
            buckets=[*[(f"{b:g}", float(c)) for b, c in zip(reads.bounds, reads.cumulative(),
                                                            strict=True)],
                     ("+Inf", float(reads.count))], sum_value=reads.total)
        yield GaugeMetricFamily("peerwatt_broker_connected", "1 while the MQTT connection is up",
                                value=1.0 if self._broker_up() else 0.0)
        yield GaugeMetricFamily("peerwatt_watchdog_live", "1 while the watchdog is being fed",
                                value=1.0 if self._live() else 0.0)
        if s.signal is not None and s.signal_received_s is not None:
            yield GaugeMetricFamily("peerwatt_signal_age_seconds",
                                    "Since the latest coordinator signal (agent clock)",
                                    value=max(0.0, now - s.signal_received_s))
            yield GaugeMetricFamily("peerwatt_signal_seq", "Sequence of the latest signal",
                                    value=float(s.signal.seq))
        states, latencies = self._journal_rows()
        trades = GaugeMetricFamily("peerwatt_trades", "Journaled trades by role and state",
                                   labels=["role", "state"])
        for role, trade_state, n in states:
            trades.add_metric([role, trade_state], n)
        yield trades
        cumulative = [(f"{b:g}", float(sum(1 for v in latencies if v <= b)))
                      for b in NEGOTIATION_BUCKETS_S]
        yield HistogramMetricFamily(
            "peerwatt_negotiation_seconds", "Offer to agreement, per journaled trade",
            buckets=[*cumulative, ("+Inf", float(len(latencies)))], sum_value=sum(latencies))


class MetricsEndpoint:
    """The supervision child: serves /metrics until cancelled; a port it cannot bind is
    logged and the agent runs on without metrics (trading does not depend on them)."""

    def __init__(self, host: str, port: int, collector: AgentCollector) -> None:
        self._host = host
        self._port = port
        self._collector = collector
        self.bound = asyncio.Event()

    async def run(self) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry(auto_describe=True)
        registry.register(self._collector)
        try:
            server, thread = start_http_server(self._port, addr=self._host, registry=registry)
        except OSError as exc:
            log.error("metrics_unavailable", host=self._host, port=self._port,  # noqa: TRY400
                      error=str(exc))
            return
        log.info("metrics_serving", url=f"http://{self._host}:{self._port}/metrics")
        self.bound.set()
        try:
            await asyncio.Event().wait()
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=2.0)


def scrape(url: str, timeout_s: float = 5.0) -> dict[str, list[tuple[dict[str, str], float]]]:
    """name → [(labels, value)] of every sample at `url` (for `peerwatt status`)."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # our own endpoint
        text = resp.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


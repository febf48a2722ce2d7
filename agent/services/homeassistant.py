"""`[homeassistant]`: the home's figures as Home Assistant entities, by MQTT discovery.

For each entity a retained config goes to `<prefix>/<component>/peerwatt_<agent>/<object>/config`
(again whenever Home Assistant's birth message `online` arrives on `<prefix>/status`, and
after every reconnect of ours); all entities read one JSON state topic,
`peerwatt/v1/<community>/ha/<agent>`, published every `publish_s`. Availability is the
agent's own retained presence topic, whose Last Will says `online: false`. Energy totals
carry `device_class: energy`, `state_class: total_increasing` and kWh, so they land in
the Energy dashboard. A value the agent does not know (a stale reading, the node away)
is sent as null, which Home Assistant shows as unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

import structlog

from agent.adapters.cln.balance import channel_balance_msat
from agent.adapters.journal import JournalError
from agent.adapters.journal_reader import JournalReader
from agent.adapters.mqtt import MqttTransport
from agent.clock import Clock
from agent.ports import TransientError
from agent.services.state import AgentState
from agent.settings import AgentSettings
from agent.topics import HomeAssistantTopics, Topics

log = structlog.get_logger("homeassistant")

VERSION = "0.1.0"


@dataclass(frozen=True, slots=True)
class Entity:
    key: str                      # object id and the state JSON's key
    name: str
    component: str = "sensor"
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    icon: str | None = None


ENTITIES: tuple[Entity, ...] = (
    Entity("grid_power_w", "Grid power", unit="W", device_class="power",
           state_class="measurement"),
    Entity("pv_power_w", "PV power", unit="W", device_class="power", state_class="measurement"),
    Entity("load_power_w", "Load power", unit="W", device_class="power",
           state_class="measurement"),
    Entity("battery_power_w", "Battery power", unit="W", device_class="power",
           state_class="measurement"),
    Entity("battery_soc_pct", "Battery", unit="%", device_class="battery",
           state_class="measurement"),
    Entity("grid_import_kwh", "Grid import", unit="kWh", device_class="energy",
           state_class="total_increasing"),
    Entity("grid_export_kwh", "Grid export", unit="kWh", device_class="energy",
           state_class="total_increasing"),
    Entity("sold_energy_kwh", "Energy sold to neighbours", unit="kWh", device_class="energy",
           state_class="total_increasing"),
    Entity("bought_energy_kwh", "Energy bought from neighbours", unit="kWh",
           device_class="energy", state_class="total_increasing"),
    Entity("trades_sold", "Trades sold", state_class="total_increasing", icon="mdi:handshake"),
    Entity("trades_bought", "Trades bought", state_class="total_increasing",
           icon="mdi:handshake"),
    Entity("net_position_wh", "Net position next interval", unit="Wh",
           state_class="measurement", icon="mdi:scale-balance"),
    Entity("price_sat_per_kwh", "Community price", unit="sat/kWh", state_class="measurement",
           icon="mdi:cash"),
    Entity("earnings_sat", "Earnings", unit="sat", state_class="total_increasing",
           icon="mdi:cash-plus"),
    Entity("spent_sat", "Spent", unit="sat", state_class="total_increasing",
           icon="mdi:cash-minus"),
    Entity("channel_balance_sat", "Channel balance", unit="sat", state_class="measurement",
           icon="mdi:lightning-bolt"),
    Entity("price_signal", "Coordinator signal", component="binary_sensor",
           device_class="connectivity"),
)


class HomeAssistant:
    def __init__(self, s: AgentSettings, state: AgentState, transport: MqttTransport,
                 clock: Clock, journal: JournalReader, presence_topic: str) -> None:
        self._s = s
        self._state = state
        self._transport = transport
        self._clock = clock
        self._journal = journal
        self._presence = presence_topic
        self.node_id = f"peerwatt_{s.agent_id}"
        self._ha_topics = HomeAssistantTopics(s.homeassistant.discovery_prefix)
        self.status_topic = self._ha_topics.status
        self.state_topic = Topics(s.market.community).ha_state(s.agent_id)
        self._birth = asyncio.Event()

    def config_topic(self, e: Entity) -> str:
        return self._ha_topics.config(e.component, self.node_id, e.key)

    def config(self, e: Entity) -> dict[str, Any]:
        c: dict[str, Any] = {
            "name": e.name, "unique_id": f"{self.node_id}_{e.key}",
            "state_topic": self.state_topic, "value_template": f"{{{{ value_json.{e.key} }}}}",
            "availability_topic": self._presence,
            "availability_template": "{{ 'online' if value_json.online else 'offline' }}",
            "device": {"identifiers": [self.node_id], "name": f"peerwatt {self._s.agent_id}",
                       "manufacturer": "peerwatt", "model": "home energy agent",
                       "sw_version": VERSION},
            "origin": {"name": "peerwatt", "sw_version": VERSION},
        }
        for key, value in (("unit_of_measurement", e.unit), ("device_class", e.device_class),
                           ("state_class", e.state_class), ("icon", e.icon)):
            if value is not None:
                c[key] = value
        if e.component == "binary_sensor":
            c["payload_on"], c["payload_off"] = "ON", "OFF"
        return c

    def on_status(self, payload: bytes) -> None:
        """Home Assistant's birth/last-will topic: `online` means it (re)started."""
        if payload.strip() == b"online":
            self._birth.set()

    async def publish_configs(self) -> None:
        for e in ENTITIES:
            await self._transport.publish(self.config_topic(e),
                                          json.dumps(self.config(e)).encode(), retain=True)
        log.debug("ha_discovery_published", entities=len(ENTITIES))

    def _totals(self) -> dict[str, float | int | None]:
        keys = ("sold_energy_kwh", "bought_energy_kwh", "trades_sold", "trades_bought",
                "earnings_sat", "spent_sat", "net_position_wh", "price_sat_per_kwh")
        out: dict[str, float | int | None] = dict.fromkeys(keys)
        if not self._journal.exists():
            return out
        try:
            totals, last = self._journal.paid_totals(), self._journal.last_decision()
        except JournalError:
            return out
        for role, paid in totals.items():
            side = "sold" if role == "seller" else "bought"
            out[f"{side}_energy_kwh"] = round(paid.energy_wh / 1000.0, 3)
            out[f"trades_{side}"] = paid.trades
            out["earnings_sat" if role == "seller" else "spent_sat"] = paid.amount_msat // 1000
        if last is not None:
            out["net_position_wh"] = (last.energy_wh or 0) * (
                1 if last.side == "sell" else -1 if last.side == "buy" else 0)
            price = last.price_msat_per_kwh
            out["price_sat_per_kwh"] = None if price is None else round(price / 1000, 3)
        for side in ("sold", "bought"):  # no paid trade yet: the totals are zero, not unknown
            out[f"{side}_energy_kwh"] = out[f"{side}_energy_kwh"] or 0.0
            out[f"trades_{side}"] = out[f"trades_{side}"] or 0
        out["earnings_sat"], out["spent_sat"] = out["earnings_sat"] or 0, out["spent_sat"] or 0
        return out

    async def snapshot(self) -> dict[str, Any]:
        now = self._clock.now_s()
        max_age = self._s.device.max_age_s

        def fresh(meaning: str, scale: float = 1.0) -> float | None:
            v = self._state.fresh(meaning, now, max_age)
            return None if v is None else round(v * scale, 3)

        sig = self._state.signal
        k = int(now // self._s.market.interval_s)
        covered = sig is not None and sig.interval <= k < sig.interval + len(
            sig.price_msat_per_kwh)
        try:
            balance: int | None = await channel_balance_msat(
                self._s.lightning.rpc_socket, min(5.0, self._s.lightning.timeout_s)) // 1000
        except (OSError, TimeoutError, ValueError) as exc:
            log.debug("ha_balance_unavailable", error=str(exc))
            balance = None
        except Exception as exc:  # noqa: BLE001 - pyln's RpcError: the node said no
            log.debug("ha_balance_unavailable", error=repr(exc))
            balance = None
        return {
            "grid_power_w": fresh("grid_power_w"), "pv_power_w": fresh("pv_power_w"),
            "load_power_w": fresh("load_power_w"), "battery_power_w": fresh("battery_power_w"),
            "battery_soc_pct": fresh("battery_soc_pct"),
            "grid_import_kwh": fresh("import_energy_wh", 1e-3),
            "grid_export_kwh": fresh("export_energy_wh", 1e-3),
            **self._totals(), "channel_balance_sat": balance,
            "price_signal": "ON" if covered else "OFF",
        }

    async def run(self) -> None:
        await self._transport.subscribe(self.status_topic)
        seen_disconnects = -1
        while True:
            await self._transport.connected.wait()
            try:
                if self._birth.is_set() or seen_disconnects != self._transport.stats.disconnects:
                    self._birth.clear()
                    seen_disconnects = self._transport.stats.disconnects
                    await self.publish_configs()
                await self._transport.publish(self.state_topic,
                                              json.dumps(await self.snapshot()).encode())
            except TransientError as exc:
                log.debug("ha_publish_failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._s.homeassistant.publish_s):
                    await self._birth.wait()

"""One Modbus connection (TCP, or RTU on a serial line) to one unit: a deadline on every
request, bounded retries with full-jitter backoff, and a fresh connection after any failure.

This is the only module that touches ``pymodbus.client``; every pymodbus outcome becomes a
word list, :class:`DeviceUnavailable` (transient) or :class:`DeviceConfigError` (permanent).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU

from firmware_bridge.endpoints import Endpoint, TcpEndpoint
from firmware_bridge.errors import DeviceConfigError, DeviceUnavailable
from firmware_bridge.health import DeviceStats
from firmware_bridge.profile import RegisterKind

log = structlog.get_logger(__name__)

# Exception codes that mean "this request can never work": illegal function/address/value.
_PERMANENT_CODES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value"}
_TRANSIENT_CODES = {
    4: "device failure", 5: "acknowledge", 6: "device busy",
    10: "gateway path unavailable", 11: "gateway target failed to respond",
}

Client = AsyncModbusTcpClient | AsyncModbusSerialClient
Call = Callable[[Client], Awaitable[ModbusPDU]]




class _AttemptError(Exception):
    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """How hard a link tries: a deadline per request, retries with capped backoff."""

    timeout_s: float = 1.0
    retries: int = 2
    backoff_base_s: float = 0.05
    backoff_max_s: float = 1.0


DEFAULT_LINK = LinkConfig()


class ModbusLink:
    def __init__(self, label: str, endpoint: Endpoint, unit: int, stats: DeviceStats,
                 config: LinkConfig) -> None:
        self.label = label
        self.endpoint, self.unit = endpoint, unit
        self._timeout_s = config.timeout_s
        self._attempts = config.retries + 1
        self._stats = stats
        self._backoff_base_s = config.backoff_base_s
        self._backoff_max_s = config.backoff_max_s
        self._client: Client | None = None
        self._lock = asyncio.Lock()
        self._abandoned: set[asyncio.Future[ModbusPDU]] = set()

    async def read(self, kind: RegisterKind, address: int, count: int) -> list[int]:
        """Read ``count`` registers of ``kind`` starting at protocol ``address``."""
        what = f"reading {count} {kind} registers at {address}"

        def call(client: Client) -> Awaitable[ModbusPDU]:
            if kind == "input":
                return client.read_input_registers(address, count=count, device_id=self.unit)
            return client.read_holding_registers(address, count=count, device_id=self.unit)

        response = await self._with_retries(what, call)
        words = list(response.registers)
        if len(words) != count:
            raise DeviceUnavailable(f"{self.label}: got {len(words)} words {what}")
        return words

    async def write(self, address: int, words: list[int]) -> None:
        """Write holding registers starting at protocol ``address`` (function 16)."""
        what = f"writing {len(words)} holding registers at {address}"
        await self._with_retries(
            what, lambda c: c.write_registers(address, words, device_id=self.unit)
        )

    async def close(self) -> None:
        self._drop_client()

    async def _with_retries(self, what: str, call: Call) -> ModbusPDU:
        async with self._lock:
            reason = ""
            for attempt in range(self._attempts):
                if attempt:
                    cap_s = min(self._backoff_max_s, self._backoff_base_s * 2 ** (attempt - 1))
                    await asyncio.sleep(random.uniform(0.0, cap_s))
                try:
                    return await self._once(call)
                except _AttemptError as failure:
                    self._drop_client()
                    if failure.permanent:
                        raise DeviceConfigError(
                            f"{self.label}: {failure.reason} {what}"
                        ) from None
                    reason = failure.reason
                    log.debug("modbus_attempt_failed", device=self.label, what=what,
                              attempt=attempt + 1, reason=reason)
            raise DeviceUnavailable(
                f"{self.label}: {reason} {what} ({self._attempts} attempts)"
            )

    async def _once(self, call: Call) -> ModbusPDU:
        # The request runs as its own task and we stop waiting at the deadline whatever it
        # does: pymodbus 3.16 can swallow a cancellation mid-request (seen here as a poll
        # that never returned and a daemon that could not stop). Dropping the client closes
        # the transport, which ends the abandoned request.
        async def attempt() -> ModbusPDU:
            client = await self._connected()
            return await call(client)

        task = asyncio.ensure_future(attempt())
        try:
            done, _ = await asyncio.wait({task}, timeout=self._timeout_s)
        except asyncio.CancelledError:
            self._abandon(task)
            raise
        if not done:
            self._abandon(task)
            self._stats.timeouts += 1
            raise _AttemptError(f"no response within {self._timeout_s} s")
        try:
            response = task.result()
        except TimeoutError:
            self._stats.timeouts += 1
            raise _AttemptError(f"no response within {self._timeout_s} s") from None
        except ModbusException as exc:
            raise _AttemptError(f"connection lost ({exc})") from None
        except OSError as exc:
            raise _AttemptError(f"connection failed ({exc.strerror or exc})") from None
        if response.isError():
            code = response.exception_code
            if code in _PERMANENT_CODES:
                raise _AttemptError(f"exception {code} ({_PERMANENT_CODES[code]})", permanent=True)
            raise _AttemptError(f"exception {code} ({_TRANSIENT_CODES.get(code, 'unknown')})")
        return response

    async def _connected(self) -> Client:
        if self._client is not None and self._client.connected:
            return self._client
        self._drop_client()
        # pymodbus' own timeout is a backstop; ours (asyncio.timeout) fires first. No
        # pymodbus retries or background reconnects: this class owns both.
        backstop_s = self._timeout_s * 2 + 1.0
        end = self.endpoint
        client: Client
        if isinstance(end, TcpEndpoint):
            client = AsyncModbusTcpClient(
                end.host, port=end.port, timeout=backstop_s, retries=0, reconnect_delay=0,
            )
        else:
            client = AsyncModbusSerialClient(
                end.path, baudrate=end.baudrate, parity=end.parity, stopbits=end.stopbits,
                bytesize=end.bytesize, timeout=backstop_s, retries=0, reconnect_delay=0,
            )
        if not await client.connect():
            client.close()
            raise _AttemptError("cannot connect (refused or unreachable)")
        self._client = client
        return client

    def _abandon(self, task: asyncio.Future[ModbusPDU]) -> None:
        self._drop_client()
        task.cancel()
        self._abandoned.add(task)
        task.add_done_callback(self._abandoned.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # no "never retrieved"

    def _drop_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

"""Fixtures: a settable clock and real pymodbus emulator servers on free localhost ports."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import fields
from typing import Any

import pytest
import pytest_asyncio
from fb_helpers import START_S, FakeClock, MakeDevice, Serve, free_port

from firmware_bridge.control import ControlConfig
from firmware_bridge.device import ModbusDevice
from firmware_bridge.emulator.home import HomeParams
from firmware_bridge.emulator.server import EmulatedHomeSpec, serve_homes
from firmware_bridge.endpoints import TcpEndpoint
from firmware_bridge.modbus_link import LinkConfig
from firmware_bridge.profile import Profile, builtin_profile
from firmware_bridge.sunspec_device import SunSpecDevice


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START_S)


@pytest_asyncio.fixture(loop_scope="function")
async def serve() -> AsyncIterator[Serve]:
    """``await serve(spec, ...)`` starts the specs' servers; all stop at teardown."""
    tasks: list[asyncio.Task[None]] = []

    async def start(*specs: EmulatedHomeSpec, now_s: Callable[[], float]) -> list[EmulatedHomeSpec]:
        ready = asyncio.Event()
        task = asyncio.create_task(serve_homes(list(specs), now_s=now_s, ready=ready))
        tasks.append(task)
        ready_wait = asyncio.create_task(ready.wait())
        await asyncio.wait({task, ready_wait}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        ready_wait.cancel()
        if task.done():
            task.result()  # raise the startup error
        assert ready.is_set(), "emulator did not start"
        return list(specs)

    yield start
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest_asyncio.fixture(loop_scope="function")
async def emulated(serve: Serve, clock: FakeClock) -> EmulatedHomeSpec:
    """One simulated home (default params, seed 42) on unit 1 of a free port."""
    spec = EmulatedHomeSpec("home", free_port(), unit=1, params=HomeParams(), seed=42)
    await serve(spec, now_s=clock)
    return spec


def device_configs(options: dict[str, Any]) -> dict[str, Any]:
    """Flat test options (timeout_s=..., dry_run=...) as the devices' link and control."""
    link = {k: options.pop(k) for k in [f.name for f in fields(LinkConfig)] if k in options}
    control = {k: options.pop(k) for k in [f.name for f in fields(ControlConfig)]
               if k in options}
    assert not options, f"unknown device options {sorted(options)}"
    return {"link": LinkConfig(**link), "control": ControlConfig(**control)}


@pytest_asyncio.fixture(loop_scope="function")
async def make_device(clock: FakeClock) -> AsyncIterator[MakeDevice]:
    """Devices with short deadlines and backoff against a spec's server, closed at teardown."""
    devices: list[ModbusDevice] = []

    def make(spec: EmulatedHomeSpec, profile: Profile | None = None, **kwargs: Any) -> ModbusDevice:
        if profile is None:
            named = isinstance(spec.profile, str)
            profile = builtin_profile(spec.profile) if named else spec.profile
        endpoint = kwargs.pop("endpoint", TcpEndpoint("127.0.0.1", spec.port))
        options: dict[str, Any] = {
            "timeout_s": 0.2, "retries": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.02,
        } | kwargs
        device = ModbusDevice(spec.name, endpoint, spec.unit, profile, now_s=clock,
                              **device_configs(options))
        devices.append(device)
        return device

    yield make
    for device in devices:
        await device.close()


@pytest_asyncio.fixture(loop_scope="function")
async def make_sunspec(clock: FakeClock) -> AsyncIterator[Callable[..., SunSpecDevice]]:
    """SunSpec devices with short deadlines against a spec's TCP server (or ``endpoint=``)."""
    devices: list[SunSpecDevice] = []

    def make(spec: EmulatedHomeSpec, **kwargs: Any) -> SunSpecDevice:
        endpoint = kwargs.pop("endpoint", TcpEndpoint("127.0.0.1", spec.port))
        options: dict[str, Any] = {
            "timeout_s": 0.3, "retries": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.02,
        } | kwargs
        device = SunSpecDevice(spec.name, endpoint, spec.unit, now_s=clock,
                               **device_configs(options))
        devices.append(device)
        return device

    yield make
    for device in devices:
        await device.close()

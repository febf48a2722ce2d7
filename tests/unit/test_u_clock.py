"""Wall and simulated clocks: real→sim mapping by speed, durations, sleeping until a moment."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.clock import AcceleratedClock, Clock, WallClock


@pytest.mark.parametrize("speed", [1.0, 60.0, 1_000.0])
def test_sim_now_maps_real_time_by_speed(speed: float) -> None:
    epoch = time.time() - 10.0
    clock = AcceleratedClock(epoch_real_s=epoch, start_sim_s=1_000_000.0, speed=speed)
    before = time.time()
    now = clock.now_s()
    after = time.time()
    assert 1_000_000.0 + (before - epoch) * speed <= now <= 1_000_000.0 + (after - epoch) * speed


def test_two_sim_clocks_from_the_same_numbers_agree() -> None:
    """Every process of a fleet builds its clock from the same three numbers."""
    a = AcceleratedClock(epoch_real_s=1_700_000_000.0, start_sim_s=0.0, speed=100.0)
    b = AcceleratedClock(epoch_real_s=1_700_000_000.0, start_sim_s=0.0, speed=100.0)
    first, second, third = a.now_s(), b.now_s(), a.now_s()
    assert first <= second <= third


def test_sim_clock_before_its_epoch_runs_backwards_in_sim_time() -> None:
    clock = AcceleratedClock(epoch_real_s=time.time() + 100.0, start_sim_s=5_000.0, speed=10.0)
    assert clock.now_s() < 5_000.0 - 900.0


@given(sim=st.floats(0.0, 1e9), speed=st.floats(0.01, 100_000.0))
def test_real_duration(sim: float, speed: float) -> None:
    clock = AcceleratedClock(0.0, 0.0, speed)
    assert clock.real_duration_s(sim) == pytest.approx(sim / speed)
    assert WallClock().real_duration_s(sim) == sim


async def test_sim_sleep_until_reaches_the_moment() -> None:
    clock = AcceleratedClock(epoch_real_s=time.time(), start_sim_s=0.0, speed=36_000.0)
    target = clock.now_s() + 3_600.0  # one simulated hour = 0.1 s real
    await clock.sleep_until(target)
    # asyncio may wake a hair early (clock resolution; wall vs monotonic): allow 5 ms real.
    assert clock.now_s() >= target - 0.005 * clock.speed


async def test_sleep_until_the_past_returns() -> None:
    clocks: list[Clock] = [WallClock(), AcceleratedClock(time.time(), 0.0, 50.0)]
    for clock in clocks:
        before = clock.now_s()
        await clock.sleep_until(before - 1e6)
        assert clock.now_s() >= before


async def test_wall_clock_is_unix_time() -> None:
    before = time.time()
    now = WallClock().now_s()
    assert before <= now <= time.time()
    await WallClock().sleep_until(now + 0.05)
    assert time.time() >= now + 0.05 - 0.005

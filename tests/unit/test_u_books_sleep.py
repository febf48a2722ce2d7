"""How long negotiation's timer loop sleeps (`books.sleep_s`): until woken when nothing is
due, never past `MAX_SLEEP_S` when something is, the old tick for what is overdue.
(That opening a book wakes the loop from the unbounded sleep is
tests/unit/test_u_negotiation_idle_wake.py.)"""

from __future__ import annotations

from agent.services import books


def test_nothing_due_sleeps_until_woken() -> None:
    assert books.sleep_s(float("inf"), 100.0, 0.05) is None


def test_something_due_sleeps_until_then_but_at_most_the_cap() -> None:
    assert books.sleep_s(101.5, 100.0, 0.05) == 1.5
    assert books.sleep_s(100.0 + 10 * books.MAX_SLEEP_S, 100.0, 0.05) == books.MAX_SLEEP_S


def test_overdue_takes_the_old_tick_and_nearly_due_at_least_10_ms() -> None:
    assert books.sleep_s(99.0, 100.0, 0.05) == 0.05
    assert books.sleep_s(100.001, 100.0, 0.05) == 0.01

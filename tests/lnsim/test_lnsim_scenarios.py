"""The scenarios of tests/cln_scenarios.py on lnsim (tests/realnode runs them on lightningd)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cln_scenarios import HOLD_SCENARIOS, SCENARIOS, Pair
from lnsim_harness import Sim


@pytest.mark.parametrize("scenario", SCENARIOS + HOLD_SCENARIOS, ids=lambda f: f.__name__)
def test_scenario_on_lnsim(sim: Sim, scenario: Callable[[Pair], None]) -> None:
    scenario((sim.rpc("alice"), sim.rpc("bob")))

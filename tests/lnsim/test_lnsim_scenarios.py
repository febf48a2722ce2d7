"""The scenarios of tests/cln_scenarios.py on lnsim (tests/realnode runs them on lightningd)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cln_scenarios import HOLD_SCENARIOS, SCENARIOS, Pair
from lnsim_harness import Lnsim


@pytest.mark.parametrize("scenario", SCENARIOS + HOLD_SCENARIOS, ids=lambda f: f.__name__)
def test_scenario_on_lnsim(ln: Lnsim, scenario: Callable[[Pair], None]) -> None:
    scenario((ln.rpc("alice"), ln.rpc("bob")))

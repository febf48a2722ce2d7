"""The settlement scenarios of tests/cln_scenarios.py on two real lightningd nodes (regtest,
a funded channel l1 -> l2), as they run on lnsim in tests/lnsim/test_lnsim_scenarios.py."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from cln_scenarios import HOLD_SCENARIOS, SCENARIOS, Pair

# The holdinvoice plugin is a separate binary (daywalker90/holdinvoice releases).
HOLDINVOICE_PLUGIN = os.environ.get("PEERWATT_HOLDINVOICE_PLUGIN", "")


@pytest.fixture
def pair(node_factory: Any) -> Pair:
    l1, l2 = node_factory.line_graph(2, wait_for_announce=True)
    return (l1.rpc, l2.rpc)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_scenario_on_lightningd(pair: Pair, scenario: Callable[[Pair], None]) -> None:
    scenario(pair)


@pytest.mark.skipif(not os.path.isfile(HOLDINVOICE_PLUGIN),
                    reason="set PEERWATT_HOLDINVOICE_PLUGIN to the holdinvoice plugin binary")
@pytest.mark.parametrize("scenario", HOLD_SCENARIOS, ids=lambda f: f.__name__)
def test_hold_scenario_on_lightningd(node_factory: Any,
                                     scenario: Callable[[Pair], None]) -> None:
    l1, l2 = node_factory.line_graph(2, wait_for_announce=True,
                                     opts={"important-plugin": HOLDINVOICE_PLUGIN})
    scenario((l1.rpc, l2.rpc))


def test_listconfigs_subdaemon_shape(node_factory: Any) -> None:
    """lnsim answers listconfigs with this shape; check it is lightningd's (no VLS here)."""
    (node,) = node_factory.get_nodes(1)
    configs = node.rpc.listconfigs()["configs"]
    assert configs["network"]["value_str"] == "regtest"
    assert "subdaemon" not in configs or "values_str" in configs["subdaemon"]

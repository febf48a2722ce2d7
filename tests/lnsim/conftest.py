"""Fixtures: a fresh lnsim (alice, bob, carol around an `lsp` hub) per test."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from lnsim_harness import Sim, start_sim


@pytest.fixture
def lnsim_factory() -> Iterator[Callable[..., Sim]]:
    sims: list[Sim] = []

    def make(names: list[str] | None = None, **kw: Any) -> Sim:
        sim = start_sim(names or ["alice", "bob", "carol"], **kw)
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        sim.stop()
        shutil.rmtree(sim.dir, ignore_errors=True)
        assert not sim.errors, sim.errors


@pytest.fixture
def sim(lnsim_factory: Callable[..., Sim]) -> Sim:
    """alice, bob, carol, each with a channel to the routing node `lsp`."""
    return lnsim_factory()

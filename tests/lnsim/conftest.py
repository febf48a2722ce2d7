"""Fixtures: a fresh lnsim (alice, bob, carol around an `lsp` hub) per test."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from lnsim_harness import Lnsim, start_lnsim


@pytest.fixture
def lnsim_factory() -> Iterator[Callable[..., Lnsim]]:
    running: list[Lnsim] = []

    def make(names: list[str] | None = None, **kw: Any) -> Lnsim:
        ln = start_lnsim(names or ["alice", "bob", "carol"], **kw)
        running.append(ln)
        return ln

    yield make
    for ln in running:
        ln.stop()
        shutil.rmtree(ln.dir, ignore_errors=True)
        assert not ln.errors, ln.errors


@pytest.fixture
def ln(lnsim_factory: Callable[..., Lnsim]) -> Lnsim:
    """alice, bob, carol, each with a channel to the routing node `lsp`."""
    return lnsim_factory()

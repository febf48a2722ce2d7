"""Settlement against the stand-in nodes: real pyln-client, real sockets, real SQLite files.

Reuses the lnsim harness (tests/lnsim/lnsim_harness.py): alice (buyer), bob (seller) and
carol around the routing node `lsp`, served on a background thread.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lnsim"))

from lnsim_harness import Lnsim, start_lnsim


@pytest.fixture
def ln() -> Iterator[Lnsim]:
    s = start_lnsim(["alice", "bob", "carol"])
    yield s
    s.stop()
    shutil.rmtree(s.dir, ignore_errors=True)
    assert not s.errors, s.errors

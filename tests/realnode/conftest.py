"""Real Core Lightning nodes through pyln-testing: only where `lightningd` and `bitcoind` are
on PATH (and pyln-testing is installed: `pip install -e '.[realnode]'`); skipped otherwise,
with the reason. No registry reachable here ships either binary (see docs/lnsim.md)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

_MISSING = [b for b in ("lightningd", "bitcoind") if shutil.which(b) is None]
if _MISSING:
    SKIP_REASON = (f"{' and '.join(_MISSING)} not on PATH: the real-node suite needs Core "
                   "Lightning and Bitcoin Core installed (lnsim stands in for them elsewhere)")
elif importlib.util.find_spec("pyln.testing") is None:
    SKIP_REASON = "pyln-testing is not installed: pip install -e '.[realnode]'"
else:
    SKIP_REASON = ""
    _bin = Path(shutil.which("lightningd") or ".").resolve().parent
    if not any((d / "cln-grpc").exists() for d in (_bin.parent / "plugins",
                                                   _bin.parent / "libexec/c-lightning/plugins")):
        os.environ.setdefault("RUST", "0")  # built without the Rust plugins: no grpc port
    from pyln.testing.fixtures import *  # noqa: F403 - node_factory, bitcoind, teardown checks


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not SKIP_REASON:
        return
    for item in items:
        if "realnode" in item.path.parts:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))

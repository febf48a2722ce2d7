"""The scenarios of tests/cln_scenarios.py on lnsim (tests/realnode runs them on lightningd)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cln_scenarios import HOLD_SCENARIOS, RESTART_SCENARIOS, SCENARIOS, Pair, Restart
from lnsim_harness import Lnsim
from pyln.client import LightningRpc
from test_lnsim_restart import spawn


@pytest.mark.parametrize("scenario", SCENARIOS + HOLD_SCENARIOS, ids=lambda f: f.__name__)
def test_scenario_on_lnsim(ln: Lnsim, scenario: Callable[[Pair], None]) -> None:
    scenario((ln.rpc("alice"), ln.rpc("bob")))


@pytest.fixture
def lnsim_process() -> Iterator[tuple[Path, list[subprocess.Popen[bytes]]]]:
    """`python -m lnsim` (alice, bob) as its own process, so a restart can be a SIGKILL."""
    directory = Path(tempfile.mkdtemp(prefix="lnk", dir="/tmp"))
    procs = [spawn(directory)]
    yield directory, procs
    procs[-1].kill()
    procs[-1].wait()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("scenario", RESTART_SCENARIOS, ids=lambda f: f.__name__)
def test_restart_scenario_on_lnsim(
    lnsim_process: tuple[Path, list[subprocess.Popen[bytes]]],
    scenario: Callable[[Pair, Restart], None],
) -> None:
    directory, procs = lnsim_process
    nodes = {n["name"]: n["rpc"] for n in json.loads((directory / "nodes.json").read_text())}

    def restart() -> LightningRpc:
        procs[-1].send_signal(signal.SIGKILL)
        procs[-1].wait(10)
        procs.append(spawn(directory))
        return LightningRpc(nodes["alice"])

    scenario((LightningRpc(nodes["alice"]), LightningRpc(nodes["bob"])), restart)

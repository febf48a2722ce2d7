"""`peerwatt demo` stopped with SIGTERM (a closed terminal, a killed bench) stops its
children on the way out, as Ctrl-C does: nothing it started is left running."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from community import wait_for

from demo.procs import peerwatt_cmd

pytestmark = pytest.mark.integration


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True, check=False).stdout
    return {int(x) for x in out.split()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_sigterm_stops_every_child(tmp_path: Path) -> None:
    demo = subprocess.Popen([*peerwatt_cmd("demo", "--homes", "2", "--intervals", "4",
                                           "--lead", "0", "--out", str(tmp_path))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Broker, lnsim, devices, coordinator and both agents: six children.
        wait_for("the demo's children", lambda: len(_children(demo.pid)) >= 6, 60.0,
                 lambda: None if demo.poll() is None else pytest.fail("demo exited early"))
        children = _children(demo.pid)
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) == 130
        wait_for("every child gone", lambda: not any(_alive(p) for p in children), 30.0,
                 lambda: None)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()

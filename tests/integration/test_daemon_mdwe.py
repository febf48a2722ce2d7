"""The agent works with no writable+executable memory (the unit's MemoryDenyWriteExecute).

systemd enforces MemoryDenyWriteExecute with a seccomp filter; the kernel's own
PR_SET_MDWE (Linux 6.3+) refuses the same thing — a mapping that is, or becomes, writable
and executable — and survives exec. Both agents of a small community run under it and
settle a trade: onnxruntime, numpy, coincurve/cffi, pyln and the Ed25519 signing all run.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

import pytest
from community import assert_books_agree, start_community, wait_for

from demo.procs import Fleet, peerwatt_cmd

pytestmark = pytest.mark.integration

PR_SET_MDWE, PR_GET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 66, 1
LAUNCH = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    f"if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:\n"
    "    sys.exit(f'PR_SET_MDWE failed: errno {ctypes.get_errno()}')\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


def _mdwe_supported() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(PR_GET_MDWE, 0, 0, 0, 0)) >= 0


@pytest.mark.skipif(not _mdwe_supported(), reason="kernel without PR_SET_MDWE (Linux < 6.3)")
def test_agents_trade_without_writable_executable_memory(fleet: Fleet, mosquitto: Any) -> None:
    c = start_community(fleet, mosquitto.url, "mdwe", homes=2, speed=900.0)
    c.start_coordinator()
    for name, home in c.homes.items():
        cfg = c.write_config(home)
        home.proc = fleet.start(f"agent-{name}", [
            sys.executable, "-c", LAUNCH, *peerwatt_cmd("run", "--config", str(cfg),
                                                        "--log-level", "debug")])
    c.wait_ready(list(c.homes), timeout_s=60.0)

    def alive() -> None:
        for h in c.homes.values():
            h.alive()

    def agreed() -> int:  # the buyer journals a trade after decoding the seller's invoice
        return sum(h.query("SELECT COUNT(*) FROM trades WHERE role='buyer'")[0][0]
                   for h in c.homes.values())

    wait_for("a trade agreed under MDWE", lambda: agreed() > 0, 60.0, alive)
    assert c.stop_agents() == {"agent-home-0": 0, "agent-home-1": 0}
    assert_books_agree(c)
    for h in c.homes.values():
        assert not h.events("child_crashed"), h.events("child_crashed")


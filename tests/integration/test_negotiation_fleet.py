"""Many homes negotiating at once through the real stack never over-fill a position.

Runs the negotiation bench small (20 homes, its own mosquitto and lnsim): each home's
agreed trades for an interval must stay within the surplus or deficit it opened, no move
may be refused as forged or replayed, and trades must happen. (Speed is the bench's
business, not this test's.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_fleet_never_oversells_or_overbuys(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    subprocess.run([sys.executable, "-m", "bench.negotiation", "--homes", "20",
                    "--intervals", "3", "--interval-real-s", "2.0", "--json", str(out)],
                   check=True, capture_output=True, timeout=240)
    result = json.loads(out.read_text())
    assert result["trades"] > 0, result
    assert result["energy_beyond_positions_wh"] == 0, result
    assert result["moves_refused"] == 0, result
    assert result["matched_energy_share"] <= 1.0, result

"""The daemon loads only what it runs: not the device emulator, not the metrics library or
the Home Assistant payloads unless asked (bench/footprint.py measures what each costs)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_daemon_imports_no_emulator_and_no_optional_library() -> None:
    code = ("import json, sys\nimport agent.cli, agent.daemon\n"
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    loaded = set(json.loads(out))
    others = sorted(m for m in loaded if m.startswith(("firmware_bridge.emulator", "demo",
                                                    "lnsim", "sim")))
    assert others == [], others
    assert "prometheus_client" not in loaded
    assert "firmware_bridge.emulator.sunspec_image" not in loaded
    assert "torch" not in loaded

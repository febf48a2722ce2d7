"""deploy/install.sh into a staging root (--destdir, no root needed) and as a dry run."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "install.sh"


def _install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=300, check=False, cwd="/")


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_install_into_a_staging_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    proc = _install("--destdir", str(root), "--skip-pip", "--lightning-group", "bitcoin",
                    "--coordinator")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    venv = root / "opt" / "peerwatt"
    assert (venv / "bin" / "python").exists()
    assert (venv / "pyvenv.cfg").exists()
    etc = root / "etc" / "peerwatt"
    assert (etc / "agent.toml").read_text() == (REPO / "examples" / "agent.toml").read_text()
    assert _mode(etc / "agent.toml") == 0o640
    assert _mode(etc / "coordinator.toml") == 0o644
    assert _mode(etc) == 0o755
    units = root / "etc" / "systemd" / "system"
    for unit in ("peerwatt-agent.service", "peerwatt-coordinator.service"):
        assert (units / unit).read_text() == (REPO / "systemd" / unit).read_text()
    dropin = (units / "peerwatt-agent.service.d" / "lightning.conf").read_text()
    assert "[Service]\nSupplementaryGroups=bitcoin\n" in dropin
    # what only root does on the real system is named, not done
    for step in ("useradd --system", "systemctl daemon-reload",
                 "systemctl enable peerwatt-agent.service"):
        assert f"skipped in --destdir: {step}" in proc.stdout, step
    # nothing outside the staging root: every path it wrote is under it
    written = {p.relative_to(root).parts[0] for p in root.iterdir()}
    assert written == {"opt", "etc"}


def test_install_keeps_an_existing_config(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert _install("--destdir", str(root), "--skip-pip").returncode == 0
    config = root / "etc" / "peerwatt" / "agent.toml"
    config.write_text('agent_id = "my-home"\n')
    proc = _install("--destdir", str(root), "--skip-pip")
    assert proc.returncode == 0, proc.stderr
    assert config.read_text() == 'agent_id = "my-home"\n'
    assert "keeping existing /etc/peerwatt/agent.toml" in proc.stdout


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    proc = _install("--destdir", str(root), "--dry-run", "--lightning-group", "lnd")
    assert proc.returncode == 0, proc.stderr
    assert not root.exists()
    assert "would run: " in proc.stdout
    assert "would write" in proc.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="as root the real install would proceed")
def test_refuses_a_real_install_without_root() -> None:
    proc = _install("--skip-pip")
    assert proc.returncode == 1
    assert "run as root" in proc.stderr


def test_unknown_option() -> None:
    proc = _install("--prefx", "/x")
    assert proc.returncode == 2
    assert "unknown option --prefx" in proc.stderr

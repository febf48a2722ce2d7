"""Fixtures for the daemon-level tests: a Fleet in a short work dir under /tmp.

Unix socket paths must stay under 108 bytes, so the work dir is not pytest's tmp_path.
On failure the logs of every child are printed (pytest shows them with the failure).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.procs import Fleet


@pytest.fixture
def fleet(request: pytest.FixtureRequest) -> Iterator[Fleet]:
    workdir = Path(tempfile.mkdtemp(prefix="pw-", dir="/tmp"))
    fleet = Fleet(workdir)
    try:
        with fleet.running():
            yield fleet
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            for log in sorted((workdir / "logs").glob("*.log")):
                tail = log.read_text(errors="replace")[-8000:]
                print(f"===== {log.name} (tail) =====\n{tail}")
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report

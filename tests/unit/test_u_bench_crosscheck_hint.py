"""`peerwatt coordinator bench` without the crosscheck extra: one line, the rest runs."""

from __future__ import annotations

import importlib.util

import pytest

from bench import solver


def test_missing_crosscheck_extra_is_one_line_and_a_skip(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real = importlib.util.find_spec

    def without_mfglib(name: str, *args: object) -> object:
        return None if name in ("mfglib", "torch") else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", without_mfglib)
    out = solver.mfglib_check()
    err = capsys.readouterr().err
    assert out == {"mfglib": {"skipped": solver.CROSSCHECK_HINT}}
    assert err.count("\n") == 1
    assert "pip install torch==2.13.0 'peerwatt[crosscheck]'" in err

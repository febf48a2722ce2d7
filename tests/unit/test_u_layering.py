"""Dependencies point inward: the pure core imports no I/O library, even transitively."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"asyncio", "aiomqtt", "paho", "pymodbus", "pyln", "onnxruntime", "sqlite3",
             "socket", "structlog"}
OWN = ("agent", "firmware_bridge", "models")
PURE = [*sorted((ROOT / "agent" / "domain").glob("*.py")), ROOT / "agent/coordinator/signal.py",
        *sorted((ROOT / "agent" / "meanfield").glob("*.py")),
        ROOT / "agent/coordinator/game.py", ROOT / "agent/coordinator/robustness.py"]


def module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports(path: Path) -> set[str]:
    """Absolute names imported by a file (`from . import x` is resolved to its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            names.add(mod)
            names.update(f"{mod}.{alias.name}" for alias in node.names
                         if module_file(f"{mod}.{alias.name}") is not None)
    return names


def closure(path: Path) -> dict[str, Path]:
    """Every imported name reachable from `path` through our own modules, with the file that
    imported it."""
    seen: dict[str, Path] = {}
    todo, visited = [path], set()
    while todo:
        current = todo.pop()
        if current in visited:
            continue
        visited.add(current)
        for name in imports(current):
            seen.setdefault(name, current)
            if name.split(".")[0] in OWN and (found := module_file(name)) is not None:
                todo.append(found)
    return seen


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_modules_import_no_io(path: Path) -> None:
    bad = {name: str(by.relative_to(ROOT)) for name, by in closure(path).items()
           if name.split(".")[0] in FORBIDDEN}
    assert not bad, f"{path.relative_to(ROOT)} reaches I/O libraries: {bad}"


def test_the_checker_sees_imports() -> None:
    """The walk itself works: the coordinator service does reach asyncio and aiomqtt."""
    roots = {name.split(".")[0] for name in closure(ROOT / "agent/coordinator/service.py")}
    assert {"asyncio", "aiomqtt", "numpy"} <= roots
    assert "agent" in roots

"""The layering rule (docs/ARCHITECTURE.md, "Packages"), checked on the source's imports:

- the pure core (`agent/domain`, `meanfield`, the coordinator's game and signal) imports no
  I/O library, even transitively;
- the home daemon (`agent`) imports none of the other parts (coordinator, lnsim, sim, demo,
  models, bench, the command line), even transitively: a gateway runs it alone;
- `models` and `bench` may import anything, and nothing imports them but the command line
  (`peerwatt/cli.py`, which hands `peerwatt models …` and `peerwatt coordinator bench` on);
- `firmware_bridge` imports nothing of ours but itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"asyncio", "aiomqtt", "paho", "pymodbus", "pyln", "onnxruntime", "sqlite3",
             "socket", "structlog"}
OWN = ("peerwatt", "agent", "firmware_bridge", "coordinator", "meanfield", "lnsim", "sim",
       "logistics", "demo", "models", "bench")
NOT_FOR_AGENT = {"peerwatt", "coordinator", "lnsim", "sim", "logistics", "demo", "models",
                 "bench"}
PURE = [*sorted((ROOT / "agent" / "domain").glob("*.py")), ROOT / "coordinator/signal.py",
        *sorted((ROOT / "meanfield").glob("*.py")),
        ROOT / "coordinator/game.py"]


def sources(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


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
    roots = {name.split(".")[0] for name in closure(ROOT / "coordinator/service.py")}
    assert {"asyncio", "aiomqtt", "numpy"} <= roots
    assert "agent" in roots


@pytest.mark.parametrize("path", sources("agent"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_daemon_imports_no_other_part(path: Path) -> None:
    bad = {name: str(by.relative_to(ROOT)) for name, by in closure(path).items()
           if name.split(".")[0] in NOT_FOR_AGENT}
    assert not bad, f"{path.relative_to(ROOT)} reaches other parts: {bad}"


@pytest.mark.parametrize("path", [p for p in sources(*OWN) if p.parts[len(ROOT.parts)]
                                  not in ("models", "bench") and p != ROOT / "peerwatt/cli.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_imports_models_or_bench(path: Path) -> None:
    bad = sorted(n for n in imports(path) if n.split(".")[0] in ("models", "bench"))
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize("path", sources("firmware_bridge"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_firmware_bridge_imports_only_itself(path: Path) -> None:
    bad = sorted(n for n in imports(path)
                 if n.split(".")[0] in OWN and n.split(".")[0] != "firmware_bridge")
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    """The walk sees a forbidden import through an intermediate module of ours."""
    roots = {name.split(".")[0] for name in closure(ROOT / "peerwatt/cli.py")}
    assert {"agent", "sim", "coordinator", "models"} <= roots


def test_the_journal_schema_stays_in_the_journal_adapter() -> None:
    """Status, metrics, Home Assistant and the demo read the journal through its reader;
    only the journal adapter speaks SQL to it (lnsim keeps its own, unrelated store)."""
    users = {str(p.relative_to(ROOT)) for p in sources(*(o for o in OWN if o != "lnsim"))
             if "sqlite3" in imports(p)}
    assert users == {"agent/adapters/journal.py", "agent/adapters/journal_reader.py"}


def test_one_owner_for_a_trades_state() -> None:
    """A trade's state is written only by the journal applying agent/domain/trade.py's
    rules (`Journal.advance`, `Journal.claim`); no service writes one by hand."""
    writers = {str(p.relative_to(ROOT)) for p in sources(*OWN)
               if "UPDATE trades SET state" in p.read_text(encoding="utf-8")
               or "set_state(" in p.read_text(encoding="utf-8")}
    assert writers == {"agent/adapters/journal.py"}

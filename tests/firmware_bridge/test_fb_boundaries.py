"""firmware_bridge stands alone: it never imports `agent`, and only one module talks to the
pymodbus client (the emulator server uses pymodbus' server side)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "firmware_bridge"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_never_imports_agent() -> None:
    for path in PACKAGE.rglob("*.py"):
        assert not any(n == "agent" or n.startswith("agent.") for n in _imports(path)), path


def test_pymodbus_client_only_in_the_link() -> None:
    users = {p.name for p in PACKAGE.rglob("*.py") if "pymodbus.client" in _imports(p)}
    assert users == {"modbus_link.py"}


def test_simulated_home_is_pure() -> None:
    for name in ("emulator/home.py", "emulator/battery.py"):
        imported = _imports(PACKAGE / name)
        assert not any(n.split(".")[0] in {"asyncio", "pymodbus", "socket"} for n in imported)

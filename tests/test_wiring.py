"""Explicit wiring: only the world builds the shared context; every component is typed against
the narrow interface of :mod:`simulator.wiring` that names what it uses (mypy checks the use)."""

from __future__ import annotations

import ast
from pathlib import Path

import simulator.wiring as wiring

PACKAGE = Path(__file__).resolve().parent.parent / "simulator"
BUILDERS = {"world.py", "context.py"}


def imports_context(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1] == "context":
            return True
    return False


def test_only_the_world_knows_the_whole_context() -> None:
    users = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if imports_context(p))
    assert set(users) <= BUILDERS, f"typed against the whole Context instead of a simulator.wiring interface: {users}"


def test_components_get_less_than_everything() -> None:
    """Each component's interface leaves out services it does not use."""
    def members(protocol: type) -> set[str]:
        return {name for klass in protocol.__mro__ if klass.__module__ == wiring.__name__
                for name in vars(klass) if not name.startswith("_")}

    everything = members(wiring.ServerWiring) | members(wiring.Users)
    for narrow in (wiring.AgentWiring, wiring.OutageWiring, wiring.TrafficWiring, wiring.BehaviourWiring):
        assert members(narrow) < everything, narrow.__name__
    assert "agents" not in members(wiring.ServerWiring)
    assert "servers" not in members(wiring.AgentWiring)
    assert "new_id" not in members(wiring.OutageWiring)

"""The engine sits below the services that start it: no module of campaigns/engine imports
campaigns.services (not even inside a function), so the two never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import campaigns.engine


def test_no_engine_module_imports_the_services():
    offenders = []
    for path in Path(campaigns.engine.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n == "campaigns.services" or n.startswith("campaigns.services.") for n in names):
                offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module == "services":
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, offenders


ROOT = Path(campaigns.engine.__file__).parent.parent


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            prefix = "." * node.level + (node.module or "")
            names += [prefix] + [f"{prefix}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return names


def test_only_the_storage_asks_which_database_it_runs_on():
    """The engine, the event applier, the services and the import call `campaigns.storage`; a
    `connection.vendor` test anywhere else in them is a vendor branch the storage should hold."""
    paths = [
        *(ROOT / "engine").glob("*.py"),
        *(ROOT / name for name in ("services.py", "events.py", "imports.py")),
    ]
    offenders = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "vendor":
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, offenders


def test_the_send_loop_has_no_database():
    """The send loop only waits and makes HTTP calls: it imports nothing that reads or writes rows."""
    names = _imports(ROOT / "engine" / "send_loop.py")
    database = [
        n for n in names if n.startswith(("django.db", "campaigns.models", "campaigns.storage", ".claim"))
    ]
    assert not database, database

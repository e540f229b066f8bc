"""The engine sits below the services that start it: no module of campaigns/engine imports
campaigns.services (not even inside a function), so the two never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import campaigns.engine


def test_no_engine_module_imports_the_services():
    offenders = []
    for path in Path(campaigns.engine.__file__).parent.glob("*.py"):
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

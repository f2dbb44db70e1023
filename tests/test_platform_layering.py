"""The platform's import graph has no cycles (type-only imports count: they are edges a reader follows too).

Services (chat, inference, tasks, authentication) name `context.Services`, never `core.Platform`, which wires
them; the facades import the services, never the reverse.
"""

from __future__ import annotations

import ast
from pathlib import Path

import modeldeck.platform
from test_layering import cycles  # one Tarjan for both graphs

ROOT = Path(modeldeck.platform.__file__).parent
PACKAGE = "modeldeck.platform"


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = (PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The platform modules `name` imports. `from pkg import mod` is an edge to `pkg.mod`, not to `pkg`."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            subs = {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known}
            out |= subs if len(subs) == len(node.names) else subs | ({base} & set(known))
    return out - {name}


def test_the_platform_has_no_import_cycles():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert f"{PACKAGE}.core" in graph and graph[f"{PACKAGE}.core"]  # the walk sees the real graph
    assert cycles(graph) == []


"""The client's layers, read from the source: surfaces -> state -> client -> providers -> transport.

The import graph is built with `ast` over src/modeldeck (module-level and function-level imports alike;
imports under `if TYPE_CHECKING:` are only for type checkers and do not count). The platform
(`modeldeck.platform`) is outside these rules: the client never imports it, and its own layering is
checked with it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import modeldeck

ROOT = Path(modeldeck.__file__).parent

# Top to bottom: a module may import its own layer and the ones below, never one above.
LAYERS: list[tuple[str, set[str]]] = [
    ("facade", {"modeldeck", "modeldeck.__main__"}),  # the package root's lazy names and entry points
    ("surfaces", {"modeldeck.cli", "modeldeck.magics", "modeldeck.panel", "modeldeck.doctor", "modeldeck.jupyter.*"}),
    ("state", {"modeldeck.state"}),
    # checkpoints: deck.register saves a kernel object through it (it imports only errors and examples)
    ("client", {"modeldeck.deck", "modeldeck.checkpoints", "modeldeck.profiles", "modeldeck.embedded", "modeldeck.tasks", "modeldeck.examples",
                "modeldeck.events"}),
    ("providers", {"modeldeck.providers", "modeldeck.providers.*", "modeldeck.transfer"}),
    ("transport", {"modeldeck._http", "modeldeck._stream"}),
    ("foundation", {"modeldeck.errors", "modeldeck.resources", "modeldeck.vocabulary", "modeldeck._version",
                    "modeldeck._digest", "modeldeck._home"}),
]  # fmt: skip
# The few ways up, each for a reason.
UPWARD = {
    ("modeldeck.deck", "modeldeck.panel"): "deck.panel() opens the panel surface over the deck",
}
# `modeldeck serve` is the one client path into the platform: it runs it.
INTO_PLATFORM = {"modeldeck.cli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def client_files() -> dict[str, Path]:
    return {module_name(p): p for p in ROOT.rglob("*.py") if "platform" not in p.relative_to(ROOT).parts[:1]}


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modeldeck modules `name` imports anywhere in its body, except for type checkers."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:  # `from . import embedded` names a module; `from .x import y` a name in x
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    platform = {m for m in found if m.startswith("modeldeck.platform.")}  # the platform counts as one node
    found = (found - platform) | ({"modeldeck.platform"} if platform else set())
    return {m for m in found if m.startswith("modeldeck") and m != name}


def graph() -> dict[str, set[str]]:
    files = client_files()
    known = set(files) | {"modeldeck.platform"}
    return {name: imports(name, path, known) for name, path in files.items()}


def layer(module: str) -> int:
    for rank, (_, members) in enumerate(LAYERS):
        for member in members:
            if module == member or (member.endswith(".*") and module.startswith(member[:-1])):
                return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to docs/architecture.md)")


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return found


def test_the_scanner_sees_imports_of_every_form():
    """So that the rules below cannot pass on an empty graph."""
    edges = graph()
    assert "modeldeck.providers.native" in edges["modeldeck.deck"] or "modeldeck.providers" in edges["modeldeck.deck"]
    assert "modeldeck.transfer" in edges["modeldeck.providers.native"]  # a function-level import
    assert "modeldeck.embedded" in edges["modeldeck.profiles"]  # `from . import embedded`
    assert "modeldeck._http" not in edges["modeldeck.providers"]  # TYPE_CHECKING only there
    assert "modeldeck.platform" in edges["modeldeck.cli"]


def test_the_client_never_imports_the_platform():
    offenders = {m for m, targets in graph().items() if "modeldeck.platform" in targets} - INTO_PLATFORM
    assert offenders == set()


def test_every_import_goes_down_the_layers():
    upward = []
    for module, targets in graph().items():
        for target in targets - {"modeldeck.platform"}:
            if layer(target) < layer(module) and (module, target) not in UPWARD:
                upward.append(f"{module} ({LAYERS[layer(module)][0]}) -> {target} ({LAYERS[layer(target)][0]})")
    assert upward == []


def test_no_import_cycles_among_client_modules():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]

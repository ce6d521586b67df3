"""DESIGN.md's layers: imports point down only, and no import circle between modules."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "hybridnlp"
LEVEL = {  # DESIGN.md, "Layers (imports point down only)"; helpers below everything
    "exceptions": 0, "utils": 0,
    "text": 1, "datasets": 1,
    "nn": 2, "train": 3, "features": 4, "neural": 5,
    "estimators": 6, "lm": 6, "pretrained": 6,
    "hybrid": 7, "qa": 7, "seq2seq": 7,
    "persistence": 8, "experiments": 8,
    "cli": 9, "serve": 9,
}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def _imports(path: Path, name: str, top_level_only: bool):
    """hybridnlp modules imported by the file (``top_level_only``: at import time)."""
    tree = ast.parse(path.read_text("utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("hybridnlp"):
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("hybridnlp"))


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None  # the package root re-exports (lazily)


def test_imports_point_down_only():
    upward = []
    for name, path in _modules():
        here = _layer(name)
        if here is None:
            continue
        assert here in LEVEL, f"{name}: add its package to LEVEL (DESIGN.md's layers)"
        for target in _imports(path, name, top_level_only=False):
            there = _layer(target)
            if there is not None and LEVEL[there] > LEVEL[here]:
                upward.append(f"{name} -> {target}")
    assert upward == []


def test_no_import_circle_at_import_time():
    graph = {}
    for name, path in _modules():
        graph[name] = {t for t in _imports(path, name, top_level_only=True) if t != name}
    # a module importing "hybridnlp.x.y" also runs the package hybridnlp.x's __init__
    for deps in graph.values():
        for target in list(deps):
            parts = target.split(".")
            deps.update(".".join(parts[:i]) for i in range(2, len(parts)))
    cycles = _cycles(graph)
    # a package importing its own submodules from __init__ is not a circle
    real = [c for c in cycles if not all(c[0].startswith(m) or m.startswith(c[0]) for m in c)]
    assert real == []


def test_no_package_imports_another_packages_private_module():
    """A package's private modules (``_name``) are its own: other packages import what its
    ``__init__`` exports (lazy imports included)."""
    reaching = []
    for name, path in _modules():
        here = _layer(name)
        for target in _imports(path, name, top_level_only=False):
            parts = target.split(".")
            if len(parts) >= 3 and parts[1] != here and any(p.startswith("_") for p in parts[2:]):
                reaching.append(f"{name} -> {target}")
    assert reaching == []


def _graph(top_level_only: bool, key) -> dict:
    graph = {}
    for name, path in _modules():
        here = key(name)
        if here is None:
            continue
        targets = {key(t) for t in _imports(path, name, top_level_only)}
        graph.setdefault(here, set()).update(t for t in targets if t not in (None, here))
    return graph


def _cycles(graph: dict) -> list[list[str]]:
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_package_cycle_lazy_imports_included():
    """Packages on one level may import each other one way only, whether the import is at the
    top of a module or inside a function."""
    assert _cycles(_graph(top_level_only=False, key=_layer)) == []


def test_no_module_circle_lazy_imports_included():
    """No module reaches itself through imports, a function's import included (a package's
    ``__init__`` re-exporting its own modules is not a circle)."""
    graph = _graph(top_level_only=False, key=lambda name: name)
    real = [c for c in _cycles(graph)
            if not all(c[0].startswith(m) or m.startswith(c[0]) for m in c)]
    assert real == []

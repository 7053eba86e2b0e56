"""The package's import structure: no cycles, and the layers of docs/architecture.md.

Imports are read from the source (function-level imports included), so a
cycle hidden behind a deferred import fails too.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "skensemble"

# Each subpackage may import only from the layers listed for it (and itself).
ALLOWED = {
    "utils": set(),
    "persistence": {"utils"},
    "nets": {"utils", "persistence"},
    "ensemble": {"utils", "persistence", "nets"},  # fused training stacks the MLP nets
    "compression": {"utils", "persistence", "nets"},
    "transfer": {"utils", "persistence", "nets", "compression"},
    "report": {"utils", "persistence"},
    "metrics": {"utils", "persistence", "report"},
    "model_selection": {"utils", "persistence", "nets", "compression", "report", "metrics"},
}


def _modules():
    out = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        if "tests" in rel.parts:
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = path
    return out


def _imports(name, path, modules):
    """skensemble modules that ``name`` imports, resolved to module names."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            targets = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin
                       for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t.split(".")[0] == "skensemble" and t in modules}
    found.discard(name)
    return found


@pytest.fixture(scope="module")
def graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycle(graph):
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_between_modules(graph):
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_subpackages_respect_the_layers(graph):
    def layer(module):
        parts = module.split(".")
        return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None

    offending = sorted(
        (src, dst) for src, targets in graph.items() for dst in targets
        if layer(src) and layer(dst) and layer(dst) != layer(src)
        and layer(dst) not in ALLOWED[layer(src)]
    )
    assert offending == []


def test_persistence_imports_no_estimator_package(graph):
    for src, targets in graph.items():
        if src.startswith("skensemble.persistence"):
            assert not {t for t in targets
                        if t.split(".")[1:2] and t.split(".")[1] in ("nets", "compression", "ensemble")}, src


def test_the_walker_sees_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None

"""The package's structure: no import cycles, the layers of docs/architecture.md, and private names.

Imports are read from the source (function-level imports included), so a
cycle hidden behind a deferred import fails too.

Only the adapters in ``skensemble/_compat/`` read private names of scikit-learn, skorch or torch.
A private name is one with a leading underscore (not a dunder).  The check
enumerates, from the source of the package (tests excluded):

* imports from a private module of those libraries, or of a private name;
* attribute reads and ``getattr``/``hasattr``/``setattr`` of a name that the
  library defines privately (collected from the library's own source: its
  private functions, classes, methods and attributes) and that skensemble
  does not define as an attribute of its own;
* reads of torch's operator namespaces (``torch.ops``, ``torch._C``);
* overrides: a method or class attribute of one of skensemble's classes that
  replaces a private one of a library base class must be listed, with its
  reason, in that library's adapter (``OVERRIDDEN``), and every listed one
  must still be overridden.

A planted violation shows that each kind of read is caught.
"""

import ast
import functools
import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from pathlib import Path

import pytest

import skensemble
from skensemble import _compat
from skensemble._compat import UntestedVersionError, check_version, release

ROOT = Path(__file__).resolve().parent.parent / "skensemble"

# Each subpackage may import only from the layers listed for it (and itself).
ALLOWED = {
    "_compat": set(),  # the adapters import nothing of skensemble; every layer may use them
    "utils": {"_compat"},
    "persistence": {"_compat", "utils"},
    "preprocessing": {"_compat", "utils", "persistence"},  # the table encoder
    "nets": {"_compat", "utils", "persistence", "preprocessing"},
    "ensemble": {"_compat", "utils", "persistence", "nets"},  # fused training stacks the MLP nets
    "graph": {"_compat", "utils"},  # a module's forward pass and the units cut together
    "export": {"_compat", "utils", "persistence", "preprocessing", "nets"},  # ONNX of nets and pipelines, ONNX Runtime
    "meta": {"_compat", "utils", "persistence", "preprocessing", "nets"},  # the base of the meta-estimators around a net
    "compression": {"_compat", "utils", "persistence", "nets", "graph", "export", "meta"},
    "transfer": {"_compat", "utils", "persistence", "preprocessing", "nets", "graph", "meta"},  # never compression
    "report": {"_compat", "utils", "persistence"},
    "metrics": {"_compat", "utils", "persistence", "report"},
    "model_selection": {"_compat", "utils", "persistence", "nets", "export", "compression", "report", "metrics"},
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


def test_compression_families_never_import_each_other(graph):
    families = ("pruning", "quantization", "distillation")

    def family(module):
        parts = module.split(".")
        return parts[2] if parts[1:2] == ["compression"] and len(parts) > 2 and parts[2] in families else None

    crossing = sorted((src, dst) for src, targets in graph.items() for dst in targets
                      if family(src) and family(dst) and family(src) != family(dst))
    assert crossing == []
    assert {family(m) for m in graph} >= set(families)


def test_the_walker_sees_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


# --- private names: only the adapters read them ---

PACKAGE = Path(skensemble.__file__).parent
ADAPTERS = PACKAGE / "_compat"
LIBRARIES = ("sklearn", "skorch", "torch")
# where each library's private names are collected (torch: the parts skensemble uses; all of it is slow)
LIBRARY_SOURCES = {
    "sklearn": None,
    "skorch": None,
    "torch": ["nn", "optim", "ao", "utils", "autograd", "amp", "onnx", "fx", "__init__.py", "_tensor.py",
              "serialization.py", "random.py", "overrides.py", "functional.py", "quantization"],
}
OPERATOR_NAMESPACES = {"ops", "_C", "_ops"}


def _private(name):
    return name.startswith("_") and not name.startswith("__")


@dataclass(frozen=True)
class PrivateRead:
    """One read of another library's private name: where, what and how."""

    path: str
    line: int
    name: str
    how: str  # "import", "attribute", "getattr" or "operator namespace"

    def __str__(self):
        return f"{self.path}:{self.line}: {self.how} of {self.name}"


def _parse(path):
    return ast.parse(path.read_text(), filename=str(path))


def _sources(base, parts):
    paths = [base] if parts is None else [base / part for part in parts]
    for path in paths:
        if path.suffix == ".py":
            yield path
        elif path.is_dir():
            yield from (p for p in path.rglob("*.py") if "tests" not in p.parts and "testing" not in p.name)


@functools.lru_cache(maxsize=None)
def library_private_names(library):
    """Private names that ``library`` defines: functions, classes, methods, class and instance attributes."""
    base = Path(importlib.import_module(library).__file__).parent
    names = set()
    for path in _sources(base, LIBRARY_SOURCES[library]):
        try:
            tree = _parse(path)
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return frozenset(n for n in names if _private(n))


def own_attribute_names(paths):
    """Names skensemble defines as attributes of its own objects: methods, class attributes, attribute stores."""
    names = set()
    for path in paths:
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        names.add(item.name)
                    elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                        targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                        names.update(t.id for t in targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return frozenset(n for n in names if _private(n))


def private_reads(source, path, library_names, own):
    """Every read of a library's private name in ``source`` (a module's text)."""
    reads = []
    tree = ast.parse(source)
    library_aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                root = alias.name.split(".")[0]
                if root in LIBRARIES:
                    library_aliases.add((alias.asname or root))
                    if any(_private(part) for part in alias.name.split(".")):
                        reads.append(PrivateRead(path, node.lineno, alias.name, "import"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] not in LIBRARIES:
                continue
            if any(_private(part) for part in parts):
                reads.append(PrivateRead(path, node.lineno, node.module, "import"))
            reads += [PrivateRead(path, node.lineno, f"{node.module}.{a.name}", "import")
                      for a in node.names if _private(a.name)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if (isinstance(node.value, ast.Name) and node.value.id in library_aliases
                    and node.attr in OPERATOR_NAMESPACES):
                reads.append(PrivateRead(path, node.lineno, f"{node.value.id}.{node.attr}", "operator namespace"))
            elif _private(node.attr) and node.attr in library_names and node.attr not in own:
                reads.append(PrivateRead(path, node.lineno, node.attr, "attribute"))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr", "setattr", "delattr") and len(node.args) > 1
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            name = node.args[1].value
            if _private(name) and name in library_names and name not in own:
                reads.append(PrivateRead(path, node.lineno, name, "getattr"))
    return reads


def package_modules():
    """The package's modules, tests and adapters excluded."""
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if "tests" not in p.relative_to(PACKAGE).parts and ADAPTERS not in p.parents)


def adapters_overridden():
    """Private names of the libraries that skensemble's classes override (each adapter's ``OVERRIDDEN``)."""
    return frozenset().union(*(importlib.import_module(f"skensemble._compat.{lib}").OVERRIDDEN
                               for lib in LIBRARIES))


def check_package(extra=None):
    """Private reads outside the adapters; ``extra`` maps a made-up path to a module's text (a planted one).

    A private name that skensemble defines on its own objects is not a
    library's, unless it overrides one (the adapters' ``OVERRIDDEN``): a call
    of ``_set_training`` or a read of ``_parameter_constraints`` is a read of
    the library's contract wherever it is, so only the adapters make it.
    """
    library_names = frozenset().union(*(library_private_names(lib) for lib in LIBRARIES))
    modules = package_modules()
    sources = {str(p.relative_to(PACKAGE.parent)): p.read_text() for p in modules}
    sources.update(extra or {})
    own = own_attribute_names(modules) - adapters_overridden()
    return [read for path, text in sources.items() for read in private_reads(text, path, library_names, own)]


def test_no_module_outside_the_adapters_reads_a_private_name():
    reads = check_package()
    assert not reads, "private names read outside skensemble/_compat/:\n" + "\n".join(map(str, reads))


PLANTED = '''
import torch
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_sample_weight
import torch.utils._pytree


def optimizers(net, layer):
    kernel = torch.ops.aten.threshold_backward
    return net._optimizers, getattr(layer, "_forward_pre_hooks"), kernel


def overridden(net, estimator):
    net._set_training(True)
    return {**estimator._parameter_constraints}
'''


def test_a_planted_violation_is_caught():
    reads = check_package(extra={"skensemble/planted.py": PLANTED})
    planted = {(r.how, r.name) for r in reads if r.path == "skensemble/planted.py"}
    assert planted == {
        ("import", "sklearn.utils._param_validation"),
        ("import", "sklearn.utils.validation._check_sample_weight"),
        ("import", "torch.utils._pytree"),
        ("operator namespace", "torch.ops"),
        ("attribute", "_optimizers"),
        ("getattr", "_forward_pre_hooks"),
        ("attribute", "_set_training"),  # skorch's, overridden by skensemble's nets: still skorch's contract
        ("attribute", "_parameter_constraints"),  # scikit-learn's, defined by every skensemble estimator
    }
    assert all(r.path == "skensemble/planted.py" for r in reads)
    assert "skensemble/planted.py:10: attribute of _optimizers" in map(str, reads)


@pytest.mark.parametrize("library", LIBRARIES)
def test_each_adapter_lists_the_private_names_it_reads(library):
    """``READS`` is what the adapter's source reads: the names to re-check when a new release is tested."""
    names = frozenset().union(*(library_private_names(lib) for lib in LIBRARIES))
    path = ADAPTERS / f"{library}.py"
    reads = {r.name for r in private_reads(path.read_text(), str(path), names, frozenset())}
    adapter = importlib.import_module(f"skensemble._compat.{library}")
    assert reads == set(adapter.READS), f"read {sorted(reads)}, listed {sorted(adapter.READS)}"
    # the package reaches an overridden private only through its adapter, so each is among the adapter's reads
    assert set(adapter.OVERRIDDEN) <= {name.rpartition(".")[2] for name in adapter.READS}


def test_the_adapters_read_what_the_package_used_to():
    """The collected names include the private pieces the adapters exist for (the check has teeth)."""
    names = library_private_names("skorch") | library_private_names("torch") | library_private_names("sklearn")
    for name in ("_optimizers", "_criteria", "_forward_pre_hooks", "_non_persistent_buffers_set",
                 "_BatchNorm", "_ConvNd", "_weights_not_none", "_check_sample_weight"):
        assert name in names


def _skensemble_classes():
    for info in pkgutil.walk_packages(skensemble.__path__, "skensemble."):
        if ".tests" in info.name or info.name.endswith(".__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__:
                yield cls


# private class attributes that Python or a library sets on every subclass, not skensemble's code
AUTOMATIC = {"_abc_impl", "_sklearn_auto_wrap_output_keys"}


def overridden_private_names():
    """``{library: {name}}``: private attributes of library classes that skensemble's classes (or mixins) replace."""
    found = {lib: set() for lib in LIBRARIES}
    for cls in _skensemble_classes():
        mro = cls.__mro__
        for i, own in enumerate(mro):
            if own.__module__.split(".")[0] != "skensemble":
                continue
            for name in set(vars(own)) - AUTOMATIC:
                if not _private(name):
                    continue
                for base in mro[i + 1:]:
                    library = base.__module__.split(".")[0]
                    if library in LIBRARIES and name in vars(base):
                        found[library].add(name)
    return found


def test_overridden_private_names_are_listed_in_the_adapters():
    found = overridden_private_names()
    for library in LIBRARIES:
        adapter = importlib.import_module(f"skensemble._compat.{library}")
        assert found[library] == set(adapter.OVERRIDDEN), (
            f"{library}: overridden {sorted(found[library])}, listed in the adapter {sorted(adapter.OVERRIDDEN)}")
        assert all(reason.strip() for reason in adapter.OVERRIDDEN.values())


@pytest.mark.parametrize("library", LIBRARIES)
def test_each_adapter_states_the_versions_it_was_tested_on(library):
    adapter = importlib.import_module(f"skensemble._compat.{library}")
    lowest, newest = adapter.TESTED
    assert release(lowest) <= release(newest)
    installed = importlib.import_module(library).__version__
    assert release(lowest) <= release(installed) <= release(newest), (
        f"{library} {installed} is not among the tested versions {adapter.TESTED}: test it and update TESTED")


def test_a_version_outside_the_tested_ones_is_refused_clearly():
    check_version("scikit-learn", "1.9.1", "1.6", "1.9")
    with pytest.raises(UntestedVersionError, match=r"tested with scikit-learn 1.6 to 1.9.x .* found "
                                                   r"scikit-learn 1.10.0.*pip install 'scikit-learn>=1.6,<1.10'"):
        check_version("scikit-learn", "1.10.0", "1.6", "1.9")
    with pytest.raises(UntestedVersionError, match="found skorch 1.1.0"):
        check_version("skorch", "1.1.0", "1.2", "1.4")
    assert release("2.13.0+cpu") == (2, 13)
    assert issubclass(UntestedVersionError, ImportError) and _compat.UntestedVersionError is UntestedVersionError


# --- small functions ---

MAX_FUNCTION_LINES = 60


def function_lengths(source):
    """``(name, line, lines)`` of every function in ``source``: its signature and body, without its docstring.

    A docstring is documentation (numpydoc sections make a public method's
    long), not the function's work, so it is not counted.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = node.end_lineno - node.lineno + 1
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                lines -= first.end_lineno - first.lineno + 1
            found.append((node.name, node.lineno, lines))
    return found


def test_no_function_is_longer_than_sixty_lines():
    long = [f"{path.relative_to(PACKAGE.parent)}:{line}: {name} ({n} lines)"
            for path in sorted(PACKAGE.rglob("*.py")) if "tests" not in path.relative_to(PACKAGE).parts
            for name, line, n in function_lengths(path.read_text()) if n > MAX_FUNCTION_LINES]
    assert not long, "functions over 60 lines (split them by responsibility):\n" + "\n".join(long)


def test_the_length_check_counts_the_body_not_the_docstring():
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    planted = f'def long():\n    """A docstring.\n\n    Of three lines."""\n{body}\n'
    assert function_lengths(planted) == [("long", 1, 62)]
    assert function_lengths('def short():\n    """Doc."""\n    return 1\n') == [("short", 1, 2)]


@pytest.mark.parametrize("old, new", [
    ("skensemble.nets.TableEncoder", "skensemble.preprocessing.TableEncoder"),
    ("skensemble.compression.to_onnx", "skensemble.export.to_onnx"),
    ("skensemble.compression.onnx_inputs", "skensemble.export.onnx_inputs"),
    ("skensemble.compression.OnnxRuntimeModel", "skensemble.export.OnnxRuntimeModel"),
])
def test_moved_public_names_work_for_one_release_with_a_future_warning(old, new):
    old_module, _, name = old.rpartition(".")
    new_module = new.rpartition(".")[0]
    with pytest.warns(FutureWarning, match=new.replace(".", r"\.")):
        moved = getattr(importlib.import_module(old_module), name)
    assert moved is getattr(importlib.import_module(new_module), name)
    with pytest.raises(AttributeError, match="no attribute"):
        getattr(importlib.import_module(old_module), "NotAThing")

"""Any torch module in a model file: how to rebuild it, with no code from the file.

A module is stored as the *name* of what builds it (a module class or a
function returning a module), the keyword arguments it was built with (plain
data), the leaf layers whose configuration differs from a fresh build
(pruning cut them, trimming replaced a block by ``nn.Identity``, fine-tuning
replaced the head), and its weights as safetensors.  Loading calls the
builder only when it is trusted: registered with
:func:`~skensemble.persistence.register_module` (skensemble's own), or named
by the user in ``load(..., trusted=[...])`` as the object itself or its
import name.  It then builds the module, swaps in the recorded layers (from
the closed layer allow-list only), and loads the weights with
``load_state_dict(strict=True)``.
"""

import importlib

from torch import nn

from ..utils._torch import set_submodule
from ._registry import LAYERS, module_classes


class UntrustedTypesError(TypeError):
    """The file holds types that are not trusted; nothing was loaded."""


def import_name(obj):
    """``package.module.QualName`` of a class or function."""
    return f"{obj.__module__}.{obj.__qualname__}"


def _layer_spec(layer):
    name = type(layer).__name__
    if name in LAYERS and type(layer) is LAYERS[name][0]:
        return {"type": name, "args": LAYERS[name][1](layer)}
    return None


def _leaves(module):
    return {name: m for name, m in module.named_modules() if name and next(m.children(), None) is None}


def describe(module, build, path):
    """The JSON-able description of ``module`` built as ``build = (builder, kwargs)``.

    Returns ``(description, kwargs)``; the caller encodes ``kwargs`` as data.
    """
    if build is None:
        raise TypeError(
            f"{path}: torch module {type(module).__qualname__} cannot be saved safely: it is not "
            "one of skensemble's modules and the estimator does not say how to build it."
        )
    builder, kwargs = build
    registered = next((k for k, c in module_classes().items() if c is builder), None)
    if registered is None and "<locals>" in builder.__qualname__:
        raise TypeError(
            f"{path}: {builder.__qualname__} is defined inside a function, so a loaded file could "
            "not name it; define it at the top level of a module to save models built with it."
        )
    layers = {name: spec for name, leaf in _leaves(module).items()
              if (spec := _layer_spec(leaf)) is not None}
    builder_node = {"registered": registered} if registered else {"import": import_name(builder)}
    return {"builder": builder_node, "layers": layers}, dict(kwargs)


def resolve(builder_node, trusted):
    """The builder a file names, when it is registered or trusted; else ``UntrustedTypesError``."""
    if "registered" in builder_node:
        builder = module_classes().get(builder_node["registered"])
        if builder is None:
            raise UntrustedTypesError(f"Unknown module class {builder_node['registered']!r}.")
        return builder
    name = builder_node["import"]
    for cls in module_classes().values():  # skensemble's own modules, passed as a class (NetClassifier)
        if import_name(cls) == name:
            return cls
    for entry in trusted:
        if callable(entry) and not isinstance(entry, str) and import_name(entry) == name:
            return entry
    if name in trusted:
        module_name, _, qualname = name.rpartition(".")
        while module_name:
            try:
                obj = importlib.import_module(module_name)
                break
            except ModuleNotFoundError:  # a nested class: Outer.Inner
                module_name, _, outer = module_name.rpartition(".")
                qualname = f"{outer}.{qualname}"
        else:
            raise UntrustedTypesError(f"Cannot import {name!r}, named in trusted.")
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    raise UntrustedTypesError(
        f"The file's torch module is built by {name!r}, which is not trusted. If you trust the "
        f"file's source, pass it to load(..., trusted=[...]): the class (or function) itself, or "
        f"the string {name!r}."
    )


def rebuild(description, kwargs, builder):
    """Build the module and swap in the recorded layers; the caller loads the weights."""
    module = builder(**kwargs)
    if not isinstance(module, nn.Module):
        raise TypeError(f"{import_name(builder)} returned {type(module).__name__}, not a torch module.")
    for name, spec in description["layers"].items():
        if spec["type"] not in LAYERS:
            raise UntrustedTypesError(f"Unknown layer {spec['type']!r}.")
        try:
            current = module.get_submodule(name)
        except AttributeError:
            current = None
        if current is not None and _layer_spec(current) == spec:
            continue
        set_submodule(module, name, LAYERS[spec["type"]][0](**spec["args"]))
    return module

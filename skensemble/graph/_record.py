"""A thread-safe record of how data flows through a module.

``torch.fx.symbolic_trace`` patches ``torch.nn.Module.__call__`` for the whole
process while it traces, so a net training in another thread calls into the
tracer and fails (measured: 1 failure in 3 runs of 8 threaded fits).  This
module records the same information without patching anything global: one
forward pass of a small example batch runs under a
:class:`torch.overrides.TorchFunctionMode` (torch keeps the mode stack per
thread) with forward hooks on the leaf modules of the traced module itself
(removed afterwards).  Every leaf-module call and every torch function or
tensor method called outside a leaf module becomes a :class:`Node`; its
``inputs`` are the nodes that produced its tensor arguments.

The module runs in eval mode under ``torch.no_grad()`` (batch-norm statistics
do not move) and its training flags are restored afterwards.
"""

from dataclasses import dataclass, field

import torch
from torch.overrides import TorchFunctionMode

from .._compat.torch import tensors_in
from ..utils._torch import eval_mode


@dataclass
class Node:
    """One operation of the recorded forward pass.

    Attributes
    ----------
    kind : {"input", "module", "function"}
        A tensor fed to the module, a leaf-module call, or a torch function or
        tensor method called outside leaf modules.
    target : str
        The qualified name of the module (``"layers.0"``) or the name of the
        function (``"relu"``, ``"flatten"``, ``"add"``, ...).
    inputs : list of int
        Indices of the nodes whose outputs are this node's tensor arguments,
        in argument order.
    shape : tuple of int
        Shape of the (first) tensor output.
    users : list of int
        Indices of the nodes that take this node's output.
    dim : int or None
        The ``dim`` argument of a function that has one (``cat``, ``flatten``,
        ``mean``, ...), as called.
    constants : list of tuple
        Shapes of tensor arguments that no recorded node produced
        (parameters or buffers used directly, constants).
    input_shapes : list of tuple
        Shapes of the recorded tensor arguments, in the order of ``inputs``.
    """

    kind: str
    target: str
    inputs: list
    shape: tuple
    users: list = field(default_factory=list)
    dim: object = None
    constants: list = field(default_factory=list)
    input_shapes: list = field(default_factory=list)


@dataclass
class Graph:
    """The recorded nodes in execution order and the nodes the module returned."""

    nodes: list
    outputs: list
    modules: dict

    def module_calls(self, name):
        return [i for i, n in enumerate(self.nodes) if n.kind == "module" and n.target == name]


class _Recorder(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.nodes = []
        self.producer = {}  # id(tensor) -> node index
        self.alive = []  # recorded tensors stay alive, so their ids stay unique
        self.depth = 0  # > 0 while inside a leaf module: its inner ops are not recorded

    def add(self, kind, target, args, out, dim=None):
        tensors = _tensors(args)
        inputs = [self.producer[id(t)] for t in tensors if id(t) in self.producer]
        outs = _tensors(out)
        if not outs:
            return  # no tensor out (``x.shape``)
        if any(o is a for o in outs for a in tensors) and not _in_place(kind, target):
            return  # the input returned as is (identity, eval dropout)
        index = len(self.nodes)
        self.nodes.append(Node(
            kind, target, inputs, tuple(outs[0].shape), dim=dim,
            constants=[tuple(t.shape) for t in tensors if id(t) not in self.producer],
            input_shapes=[tuple(t.shape) for t in tensors if id(t) in self.producer],
        ))
        for i in inputs:
            if index not in self.nodes[i].users:
                self.nodes[i].users.append(index)
        for o in outs:
            self.producer[id(o)] = index
            self.alive.append(o)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.depth == 0:
            name = getattr(func, "__name__", None) or type(func).__name__
            dim = kwargs.get("dim", next((a for a in args[1:] if isinstance(a, (int, tuple, list))
                                          and not isinstance(a, bool)), None))
            self.add("function", name, (args, kwargs), out, dim=dim)
        return out


def _in_place(kind, target):
    """An in-place function (``add_``, ``__iadd__``): it returns its input, changed."""
    return kind == "function" and (target.startswith("__i") or
                                   (target.endswith("_") and not target.endswith("__")))


def _tensors(tree):
    return tensors_in(tree)


def record(module, example_input):
    """Run ``module`` on ``example_input`` once and return the recorded :class:`Graph`.

    Parameters
    ----------
    module : torch.nn.Module
        The module; its parameters and buffers are not changed and its
        training flags are restored.
    example_input : torch.Tensor
        A small batch (two rows are enough) on the module's device.
    """
    recorder = _Recorder()
    leaves = {name: m for name, m in module.named_modules() if next(m.children(), None) is None}
    handles = []

    def enter(_module, _args):
        recorder.depth += 1

    def leave(name):
        def hook(_module, args, out):
            recorder.depth -= 1
            if recorder.depth == 0:
                recorder.add("module", name, args, out)

        return hook

    for name, leaf in leaves.items():
        if not name:  # the module itself is a single layer: nothing to cut between
            continue
        handles.append(leaf.register_forward_pre_hook(enter))
        handles.append(leaf.register_forward_hook(leave(name)))
    recorder.add("input", "input", (), example_input)
    try:
        with eval_mode(module), torch.no_grad(), recorder:
            out = module(example_input)
    finally:
        for handle in handles:
            handle.remove()
    outputs = sorted({recorder.producer[id(t)] for t in _tensors(out) if id(t) in recorder.producer})
    return Graph(recorder.nodes, outputs, leaves)

"""Which units must be cut together: channel dependencies of a recorded forward pass.

Removing output unit ``u`` of a ``Linear`` or ``Conv`` layer also removes
entry ``u`` of every tensor that carries that unit forward: the batch norm or
layer norm that normalises it, the input column of every layer that consumes
it, and, where two tensors are added (a residual connection), the unit ``u``
of the other summand and of the layer that produced it.  This module follows
the channel axis of every tensor of one recorded forward pass
(:mod:`._graph`, which patches nothing process-wide) and joins coupled units
into *groups* with a union-find, in the spirit of Torch-Pruning's dependency
graph (Fang et al., CVPR 2023), but small and limited to what it can prove:

* layers that create units: ``Linear``, ``Conv1d``/``Conv2d`` (not grouped,
  except depthwise, which passes its input's units through) and
  ``Embedding`` (its embedding dimension);
* operations that keep units: activations, dropout, pooling, batch norm,
  ``LayerNorm`` over the unit axis, ``flatten`` (a unit then spans several
  inputs of the next layer), global means, additions and products of tensors
  of the same units (joined), concatenation along the unit axis;
* the ensemble layers of the ``tabm`` package (TabM's members): its
  ``LinearBatchEnsemble`` (a shared weight with per-member input and output
  scalings and biases, all cut with the units), ``LinearEnsemble`` (k
  weight matrices), ``ElementwiseAffine`` (per-member scalings of the
  units) and ``EnsembleView`` (the units move one axis right);
* everything else (an unknown layer or function, a raw parameter added to
  the units, a shared layer, the module's output) *blocks* the units it
  touches, with the reason; blocked groups are never cut.  Units that reach
  the module's output through functions only (a softmax, the members'
  mean) count as the output layer's.
"""

import math
from dataclasses import dataclass, field

import tabm
import torch
from torch import nn

from ._record import record

PRODUCERS = (nn.Linear, nn.Conv1d, nn.Conv2d)


# the ``tabm`` package's ensemble layers (TabM's members), by the kind of unit bookkeeping they need
ENSEMBLE_LAYERS = {tabm.LinearBatchEnsemble: "batch_ensemble", tabm.LinearEnsemble: "linear_ensemble",
                   tabm.ElementwiseAffine: "affine", tabm.EnsembleView: "view"}


# layer types whose ``weight`` pruning scores and cuts: Linear, Conv and the ensemble linears
WEIGHTED_LAYERS = PRODUCERS + tuple(cls for cls, kind in ENSEMBLE_LAYERS.items() if kind.endswith("ensemble"))
_CONVS = (nn.Conv1d, nn.Conv2d)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
_UNIT_WISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.SiLU, nn.ELU, nn.Mish,
    nn.Hardswish, nn.Hardsigmoid, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d,
    nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
)
# Functions and tensor methods (by name) that act on each unit separately.
_UNIT_WISE_FUNCTIONS = {
    "relu", "relu_", "relu6", "tanh", "tanh_", "sigmoid", "sigmoid_", "gelu", "silu", "elu", "mish",
    "leaky_relu", "hardswish", "dropout", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "contiguous", "clone", "float", "to", "__neg__", "neg", "abs",
}
_JOINING_FUNCTIONS = {
    "add", "add_", "__add__", "__radd__", "__iadd__", "sub", "sub_", "__sub__", "__rsub__",
    "__isub__", "mul", "mul_", "__mul__", "__rmul__", "__imul__", "div", "__truediv__",
    "maximum", "minimum", "where",
}
_REDUCTIONS = {"mean", "sum", "amax", "amin"}
_RESHAPES = {"flatten", "view", "reshape"}
_CATS = {"cat", "concat", "concatenate"}

OUTPUT_LAYER = "it is the output layer"


@dataclass
class Entry:
    """Where a group's units sit in one tensor of the module.

    Along dimension ``dim`` of the parameter or buffer ``name``, unit ``u``
    occupies the indices ``offset + o * n * inner + u * inner + i`` for
    ``o < outer`` and ``i < inner`` (``outer`` and ``inner`` exceed 1 when a
    consumer reads units through ``flatten``).
    """

    name: str
    dim: int
    n: int
    offset: int = 0
    outer: int = 1
    inner: int = 1
    is_param: bool = True

    def indices(self, units):
        """The indices along ``dim`` that belong to ``units`` (a 1-D long tensor)."""
        units = torch.as_tensor(units, dtype=torch.long)
        o = torch.arange(self.outer)[:, None, None] * (self.n * self.inner)
        i = torch.arange(self.inner)[None, None, :]
        return (self.offset + o + units[None, :, None] * self.inner + i).reshape(-1)

    def __str__(self):
        spread = f", each over {self.outer}x{self.inner}" if self.outer * self.inner > 1 else ""
        at = f" from {self.offset}" if self.offset else ""
        return f"{self.name}[dim {self.dim}: {self.n} units{at}{spread}]"

    def per_unit(self, tensor):
        """``tensor`` (shaped like the parameter) as ``(n, rest)``: one row per unit."""
        span = tensor.narrow(self.dim, self.offset, self.outer * self.n * self.inner)
        span = span.movedim(self.dim, 0).reshape(self.outer, self.n, self.inner, -1)
        return span.permute(1, 0, 2, 3).reshape(self.n, -1)


@dataclass
class Group:
    """Units that are cut together, and every tensor entry they own.

    ``producer`` names the first layer that creates the units (the group's
    name); ``producers`` all of them (several when residual additions join
    their outputs).
    """

    producer: str
    producers: list
    n_units: int
    entries: list = field(default_factory=list)
    original_units: int = 0

    @property
    def layers(self):
        """Every layer that loses weights when units of the group are cut."""
        return sorted({e.name.rpartition(".")[0] for e in self.entries})

    def __str__(self):
        lines = [f"Group {self.producer!r}: {self.n_units} units, made by {', '.join(self.producers)}"]
        lines += [f"  {entry}" for entry in self.entries]
        return "\n".join(lines)


@dataclass
class UnitSet:
    """The units one producer creates, while the analysis joins and follows them.

    ``n``: how many units; ``producers``: the layers that create them (more
    than one once an addition joins two sets); ``entries``: every
    :class:`Entry` the units occupy so far; ``blocked``: why they cannot be
    cut, or ``None``.  Joined sets become one :class:`Group`.
    """

    n: int
    producers: list = field(default_factory=list)
    entries: list = field(default_factory=list)
    blocked: str | None = None

    def __str__(self):
        state = f"blocked: {self.blocked}" if self.blocked else f"{len(self.entries)} entries"
        return f"UnitSet({self.n} units of {', '.join(self.producers) or 'no layer'}; {state})"


@dataclass
class UnitRun:
    """A run of units along a tensor's unit axis.

    ``unit_set``: the index of its :class:`UnitSet` (``None``: units no
    producer created, such as the module's input, which are never cut);
    ``n`` units, each spread over ``outer`` blocks of ``inner`` consecutive
    positions (both 1 except after ``flatten``).
    """

    unit_set: int | None
    n: int
    outer: int = 1
    inner: int = 1

    @property
    def width(self):
        """Positions the run takes along the axis."""
        return self.outer * self.n * self.inner

    def __str__(self):
        spread = f" x {self.outer}x{self.inner}" if self.width != self.n else ""
        return f"{self.n} units of set {self.unit_set}{spread}"


@dataclass
class UnitLayout:
    """How a tensor's unit axis (``axis``) is made of runs of units (``runs``, in order)."""

    axis: int
    runs: list

    @property
    def flat(self):
        """Whether a unit spans several positions (the tensor went through ``flatten``)."""
        return any(r.outer > 1 or r.inner > 1 for r in self.runs)

    def __str__(self):
        return f"axis {self.axis}: " + " | ".join(map(str, self.runs))


class _Analysis:
    def __init__(self, graph):
        self.graph = graph
        self.sets = []
        self.parent = []
        self.layouts = {}
        self.index = None
        self.tail = _output_tail(graph)

    # --- union-find over unit sets --------------------------------------------
    def new_set(self, n, producer=None):
        self.sets.append(UnitSet(n, [producer] if producer else []))
        self.parent.append(len(self.parent))
        return len(self.sets) - 1

    def find(self, s):
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def union(self, a, b, where):
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        if self.sets[a].n != self.sets[b].n:
            self.block_set(a, where)
            self.block_set(b, where)
            return
        keep, drop = min(a, b), max(a, b)
        self.parent[drop] = keep
        mine, theirs = self.sets[keep], self.sets[drop]
        mine.producers += theirs.producers
        mine.entries += theirs.entries
        mine.blocked = mine.blocked or theirs.blocked

    def block_set(self, s, reason):
        s = self.find(s)
        if self.sets[s].blocked is None:
            self.sets[s].blocked = reason

    def block(self, layout, reason):
        for run in layout.runs if layout else []:
            if run.unit_set is not None:
                self.block_set(run.unit_set, reason)

    def own(self, layout, name, dim, is_param=True):
        """Every unit of ``layout`` owns index ``u`` along ``dim`` of tensor ``name``."""
        offset = 0
        for run in layout.runs:
            if run.unit_set is not None:
                self.sets[self.find(run.unit_set)].entries.append(
                    Entry(name, dim, run.n, offset, run.outer, run.inner, is_param))
            offset += run.width

    # --- propagation ---------------------------------------------------------------
    def run(self):
        nodes, modules = self.graph.nodes, self.graph.modules
        calls = {}
        for node in nodes:
            if node.kind == "module":
                calls[node.target] = calls.get(node.target, 0) + 1
        for index, node in enumerate(nodes):
            self.index = index
            ins = [self.layouts.get(i) for i in node.inputs]
            if node.kind == "input":
                out = UnitLayout(1, [UnitRun(None, node.shape[1])]) if len(node.shape) >= 2 else None
            elif node.kind == "module":
                out = self.module(node, modules[node.target], ins, calls[node.target] > 1)
            else:
                out = self.function(node, ins)
            if out is not None:
                self.layouts[index] = out
        for index in self.graph.outputs:
            self.block(self.layouts.get(index), OUTPUT_LAYER)

    def module(self, node, layer, ins, shared):
        """The unit layout of a layer's output, recording which of its tensors the units own (or why not)."""
        name = node.target
        first = ins[0] if ins else None
        if shared:
            return self.shared_layer(node, name, layer, first)
        kind = ENSEMBLE_LAYERS.get(type(layer))
        if kind is not None:
            return self.ensemble_layer(kind, node, name, layer, first)
        if isinstance(layer, nn.Embedding):
            s = self.new_set(layer.embedding_dim, name)
            self.own(UnitLayout(0, [UnitRun(s, layer.embedding_dim)]), f"{name}.weight", 1)
            return UnitLayout(len(node.shape) - 1, [UnitRun(s, layer.embedding_dim)])
        if isinstance(layer, _CONVS) and layer.groups != 1:
            return self.grouped_conv(name, layer, first)
        if isinstance(layer, PRODUCERS):
            return self.producer(node, name, layer, first)
        if first is None:
            return None
        if isinstance(layer, (*_BATCH_NORMS, nn.LayerNorm)):
            normalized = self.normalization(node, name, layer, first)
            if normalized is not None:
                return normalized
        elif isinstance(layer, _UNIT_WISE_MODULES) and _keeps_axis(node, first):
            return first
        elif isinstance(layer, nn.Flatten):
            return self.flatten(node, first)
        self.block(first, f"its units go through the layer {name!r} ({type(layer).__name__}), "
                          "which skensemble cannot cut through")
        return None

    def shared_layer(self, node, name, layer, first):
        """A layer called more than once: its input units and its own are kept."""
        self.block(first, f"its units feed {name!r}, a layer called more than once (a shared layer)")
        if not isinstance(layer, PRODUCERS + (nn.Embedding,)):
            return None
        axis = 1 if isinstance(layer, _CONVS) else len(node.shape) - 1
        s = self.new_set(node.shape[axis], name)
        self.block_set(s, "it is called more than once (a shared layer)")
        return UnitLayout(axis, [UnitRun(s, node.shape[axis])])

    def grouped_conv(self, name, layer, first):
        """A depthwise convolution keeps its input's channels; other grouped ones are not cut."""
        if layer.groups == layer.in_channels == layer.out_channels and first is not None \
                and first.axis == 1 and not first.flat:
            self.own(first, f"{name}.weight", 0)  # depthwise: channel c stays channel c
            if layer.bias is not None:
                self.own(first, f"{name}.bias", 0)
            return first
        self.block(first, f"it feeds {name!r}, a grouped convolution (groups={layer.groups})")
        s = self.new_set(layer.out_channels, name)
        self.block_set(s, f"it is a grouped convolution (groups={layer.groups})")
        return UnitLayout(1, [UnitRun(s, layer.out_channels)])

    def producer(self, node, name, layer, first):
        """A Linear or convolution: reads its input's units (weight axis 1), makes new ones (axis 0)."""
        axis = len(node.shape) - 1 if isinstance(layer, nn.Linear) else 1
        if first is not None:
            in_shape = node.input_shapes[0]
            if first.axis != (len(in_shape) - 1 if isinstance(layer, nn.Linear) else 1):
                self.block(first, f"{name!r} reads its units along another axis")
            else:
                self.own(first, f"{name}.weight", 1)
        n = node.shape[axis]
        s = self.new_set(n, name)
        out = UnitLayout(axis, [UnitRun(s, n)])
        self.own(out, f"{name}.weight", 0)
        if layer.bias is not None:
            self.own(out, f"{name}.bias", 0)
        return out

    def normalization(self, node, name, layer, first):
        """Batch norm over channels or layer norm over the last axis: unit-wise, its entries go with the units.

        ``None`` for a normalization across units (the caller blocks them).
        """
        if isinstance(layer, _BATCH_NORMS) and first.axis == 1 and not first.flat:
            if layer.affine:
                self.own(first, f"{name}.weight", 0)
                self.own(first, f"{name}.bias", 0)
            if layer.track_running_stats:
                self.own(first, f"{name}.running_mean", 0, is_param=False)
                self.own(first, f"{name}.running_var", 0, is_param=False)
            return first
        if isinstance(layer, nn.LayerNorm) and len(layer.normalized_shape) == 1 \
                and first.axis == len(node.shape) - 1 and not first.flat:
            if layer.elementwise_affine:
                self.own(first, f"{name}.weight", 0)
                if layer.bias is not None:
                    self.own(first, f"{name}.bias", 0)
            return first
        return None

    def ensemble_layer(self, kind, node, name, layer, first):
        """TabM's ensemble layers: ``(batch, k, units)`` tensors, units on the last axis."""
        last = len(node.shape) - 1
        if kind == "view":
            in_shape = node.input_shapes[0] if node.input_shapes else None
            if first is None or in_shape is None:
                return None
            if len(in_shape) == 2 and len(node.shape) == 3 and first.axis == 1:
                return UnitLayout(2, first.runs)  # (batch, d) -> (batch, k, d)
            if tuple(in_shape) == tuple(node.shape):
                return first
            self.block(first, f"its units go through {name!r} (EnsembleView) in a way skensemble cannot follow")
            return None
        if kind == "affine":
            if first is None:
                return None
            if layer.weight.dim() == 2 and first.axis == last:
                self.own(first, f"{name}.weight", 1)
                if layer.bias is not None:
                    self.own(first, f"{name}.bias", 1)
                return first
            self.block(first, f"its units go through {name!r} (ElementwiseAffine) along another axis")
            return None
        if first is not None:  # the units read: input columns (and per-member input scalings)
            if first.axis != last:
                self.block(first, f"{name!r} reads its units along another axis")
            elif kind == "batch_ensemble":
                self.own(first, f"{name}.weight", 1)
                self.own(first, f"{name}.r", 1)
            else:
                self.own(first, f"{name}.weight", 1)
        n = node.shape[last]
        s = self.new_set(n, name)
        out = UnitLayout(last, [UnitRun(s, n)])
        if kind == "batch_ensemble":  # weight (out, in), s and bias (k, out)
            self.own(out, f"{name}.weight", 0)
            self.own(out, f"{name}.s", 1)
        else:  # weight (k, in, out), bias (k, out)
            self.own(out, f"{name}.weight", 2)
        if layer.bias is not None:
            self.own(out, f"{name}.bias", 1)
        return out

    def function(self, node, ins):
        target = node.target
        known = [(lay, shape) for lay, shape in zip(ins, node.input_shapes) if lay is not None]
        if not known:
            return None
        first, first_shape = known[0]
        if target in _UNIT_WISE_FUNCTIONS and len(ins) == 1 and _keeps_axis(node, first):
            return first
        if target in _JOINING_FUNCTIONS:
            return self.join(node, known)
        if target in _CATS:
            return self.concat(node, known)
        if target in _REDUCTIONS and len(ins) == 1:
            return self.reduce(node, first, first_shape)
        if target in _RESHAPES:
            return self.flatten(node, first)
        return self._unknown(node, ins)

    def reduce(self, node, first, shape):
        """``x.mean((2, 3))`` and friends: units survive when their axis is not reduced."""
        dims = node.dim if isinstance(node.dim, (tuple, list)) else [node.dim]
        if node.dim is None or first.flat or not all(isinstance(d, int) for d in dims):
            return self._unknown(node, [first])
        dims = {d % len(shape) for d in dims}
        if first.axis in dims:
            return self._unknown(node, [first])
        keepdim = len(node.shape) == len(shape)
        axis = first.axis if keepdim else first.axis - sum(d < first.axis for d in dims)
        return UnitLayout(axis, first.runs)

    def _unknown(self, node, ins):
        if self.index in self.tail:  # the output's post-processing (a softmax, a mean over members)
            for lay in ins:
                self.block(lay, OUTPUT_LAYER)
            return None
        for lay in ins:
            self.block(lay, f"its units go through the operation {node.target!r}, "
                            "which skensemble cannot cut through")
        return None

    def join(self, node, known):
        """``a + b`` and friends: units at the same place of the operands are joined."""
        out = tuple(node.shape)
        base = next((lay for lay, shape in known if tuple(shape) == out), None)
        if base is None:
            return self._unknown(node, [lay for lay, _ in known])
        axis = base.axis
        structure = [(s.n, s.outer, s.inner) for s in base.runs]
        for lay, shape in known:
            if lay is base:
                continue
            if len(shape) == len(out) and lay.axis == axis and shape[axis] == out[axis]:
                if [(s.n, s.outer, s.inner) for s in lay.runs] != structure:
                    why = f"{node.target!r} combines its units with differently laid out units"
                    self.block(lay, why)
                    self.block(base, why)
                    continue
                for a, b in zip(base.runs, lay.runs):
                    if a.unit_set is None or b.unit_set is None:
                        self.block(lay, "its units are added to inputs that cannot be cut")
                        self.block(base, "its units are added to inputs that cannot be cut")
                    else:
                        self.union(a.unit_set, b.unit_set, f"{node.target!r} joins units of different sizes")
            elif _broadcast_size(shape, len(out), axis) != 1:
                why = f"{node.target!r} broadcasts its units against a tensor laid out differently"
                self.block(lay, why)
                self.block(base, why)
        if any(_broadcast_size(c, len(out), axis) != 1 for c in node.constants):
            self.block(base, f"{node.target!r} combines its units with a tensor that is not cut with them "
                             "(a raw parameter or constant)")
        return base

    def concat(self, node, known):
        ndim = len(node.shape)
        dim = node.dim if isinstance(node.dim, int) else 0
        dim = dim % ndim
        if node.constants or len(known) != len(node.input_shapes) or \
                any(lay.axis != dim for lay, _ in known):
            return self._unknown(node, [lay for lay, _ in known])
        runs = [run for lay, _ in known for run in lay.runs]
        return UnitLayout(dim, runs)

    def flatten(self, node, first):
        """Rows flattened to ``(batch, features)``: units span runs of features."""
        shape = next(s for s in node.input_shapes)
        if len(shape) <= 2 and tuple(node.shape) == tuple(shape):
            return first
        if len(node.shape) != 2 or node.shape[1] != math.prod(shape[1:]) or first.flat:
            return self._unknown(node, [first])
        outer = math.prod(shape[1:first.axis])
        inner = math.prod(shape[first.axis + 1:])
        if outer > 1 and len(first.runs) > 1:
            return self._unknown(node, [first])
        return UnitLayout(1, [UnitRun(s.unit_set, s.n, outer, inner) for s in first.runs])

    # --- result -----------------------------------------------------------------------
    def groups(self):
        groups, blocked = [], {}
        for index, unit_set in enumerate(self.sets):
            if self.find(index) != index or not unit_set.producers:
                continue
            if unit_set.blocked is not None:
                for name in unit_set.producers:
                    blocked.setdefault(name, unit_set.blocked)
                continue
            groups.append(Group(unit_set.producers[0], list(unit_set.producers), unit_set.n,
                                list(unit_set.entries), unit_set.n))
        return groups, blocked


def _output_tail(graph):
    """Nodes whose results reach the module's output through functions only (no layer between)."""
    tail = set(graph.outputs)
    for index in range(len(graph.nodes) - 1, -1, -1):
        if any(u in tail and graph.nodes[u].kind == "function" for u in graph.nodes[index].users):
            tail.add(index)
    return tail


def _broadcast_size(shape, ndim, axis):
    """Size of ``shape`` at ``axis`` of an ``ndim`` result when broadcast (1 when absent)."""
    position = axis - (ndim - len(shape))
    return shape[position] if 0 <= position < len(shape) else 1


def _keeps_axis(node, layout):
    """The op keeps the number of units on the unit axis (pooling shrinks only other axes)."""
    shape = node.input_shapes[0] if node.input_shapes else None
    return shape is not None and len(node.shape) == len(shape) and \
        node.shape[layout.axis] == shape[layout.axis]


def analyse(module, example_input):
    """Groups of coupled units and blocked producer layers of ``module``.

    Returns ``(groups, blocked)``: :class:`Group` objects in forward order, and
    a dict from producer layer name to the reason its units cannot be cut.
    """
    analysis = _Analysis(record(module, example_input))
    analysis.run()
    return analysis.groups()

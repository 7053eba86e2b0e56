"""The matrix products and optimizer steps of a stack of K linear layers, equal bit for bit to each member's own.

A fused fit should give each member the weights its own fit gives, not
weights that drift apart by float rounding over thousands of steps (on a
50,000-row task that drift cost a member up to half a point of accuracy
against its separately trained twin).  ``torch.bmm`` over the stack runs K
products at once, but the BLAS may choose another kernel for it than for
the one product of a member's own fit: on the benchmark CPU with two torch
threads, a weight gradient with ten output units splits its sum over the
batch between the threads in ``torch.mm`` and not in ``torch.bmm``, and
batches of fewer than eight rows take another path; and a member's slice
of a stack may start off the 64-byte alignment its own tensors have (a
short last batch of an odd width), where a kernel may sum in another
order, so a member's product is computed on tensors of its own
(:func:`_member_product`).  So each product is
checked once per shape, thread count and device: on random inputs of that
shape, batched and member-by-member products are compared, and the batched
product is used only where they are identical (per-member products cost up
to 2.5x more on the small ones).  The check runs off the fit's random
generators.  Off the CPU the batched products are always used: CUDA fits
are the same only statistically (their dropout masks differ anyway).

The optimizer steps a stacked tensor at once where that is exact by
construction (:func:`stacked_step_is_exact`) and each member's slice on its
own elsewhere.
"""

import functools
import math

import torch

# each product over the stack, and the product of member k's own fit (``out`` may be None)
_BATCHED = {
    "linear": lambda X, W, b, out: torch.baddbmm(b, X, W.transpose(1, 2), out=out),
    "input_grad": lambda G, W, out: torch.bmm(G, W, out=out),
    "weight_grad": lambda G, X, out: torch.bmm(G.transpose(1, 2), X, out=out),
}
_MEMBER = {  # on member k's slices of the operands
    "linear": lambda X, W, b, out: torch.addmm(b[0], X, W.t(), out=out),
    "input_grad": lambda G, W, out: torch.mm(G, W, out=out),
    "weight_grad": lambda G, X, out: torch.mm(G.t(), X, out=out),
}


def linear(X, W, b):
    """``X (K, B, n_in)``, ``W (K, n_out, n_in)``, ``b (K, 1, n_out)`` -> ``(K, B, n_out)``: each member's
    ``torch.addmm(b, X, W.t())``."""
    return _product("linear", (X, W, b), X.new_empty(X.shape[0], X.shape[1], W.shape[1]))


def input_grad(G, W):
    """``G (K, B, n_out)``, ``W (K, n_out, n_in)`` -> ``(K, B, n_in)``: each member's ``G.mm(W)``."""
    return _product("input_grad", (G, W), G.new_empty(G.shape[0], G.shape[1], W.shape[2]))


def weight_grad(G, X, out):
    """``G (K, B, n_out)``, ``X (K, B, n_in)`` -> ``out (K, n_out, n_in)``: each member's ``G.t().mm(X)``."""
    return _product("weight_grad", (G, X), out)


def _product(name, operands, out):
    if operands[0].device.type != "cpu" or _batched_is_exact(
            name, tuple([t.shape for t in operands]), operands[0].dtype, torch.get_num_threads()):
        return _BATCHED[name](*operands, out=out)
    for k in range(len(out)):
        _member_product(name, operands, k, out=out[k])
    return out


def _member_product(name, operands, k, out=None):
    """Member ``k``'s product as its own fit computes it: on tensors of its own where its slices are not.

    A member's own fit multiplies tensors of their own, which torch's
    allocator aligns to 64 bytes; member k's slice of a stack starts k
    slices in, which for a short last batch of an odd width (3 rows of 9
    columns: 108 bytes) is not aligned, and a BLAS kernel may then sum in
    another order (weights 3e-8 apart after one epoch).  Such slices are
    copied first, and the product written through a new tensor.
    """
    own = [_own(t[k]) for t in operands]
    if out is None or _aligned(out):
        return _MEMBER[name](*own, out=out)
    return out.copy_(_MEMBER[name](*own, out=None))


def _own(t):
    """``t``, or its copy where it does not start on a 64-byte boundary (a new tensor does)."""
    return t if _aligned(t) else t.clone()


def _aligned(t):
    return t.data_ptr() % 64 == 0


@functools.lru_cache(maxsize=512)
def _batched_is_exact(name, shapes, dtype, threads):
    """Whether the batched product equals the members' own (:func:`_member_product`) on random operands of
    these shapes."""
    generator = torch.Generator().manual_seed(0)
    operands = [torch.randn(shape, generator=generator).to(dtype) for shape in shapes]
    members = torch.stack([_member_product(name, operands, k) for k in range(shapes[0][0])])
    return torch.equal(_BATCHED[name](*operands, out=None), members)


def stacked_step_is_exact(member_shape, device):
    """Whether one optimizer step of a ``(K, *member_shape)`` stack equals K steps of its slices.

    The optimizers whose fused steps may take stacks (Adam, AdamW, SGD, RMSprop) act
    element by element, but the CPU's fused Adam and AdamW kernels round the
    elements of their vector body and of their scalar tail differently (an
    FMA against a multiply and an add): a member of 10 biases is all tail on
    its own and mostly body in a stack of four, and after some dozens of
    steps one element differs in its last bit.  Those kernels cut a tensor
    into whole cache lines (64 bytes) and each piece into whole vectors, so
    a slice of a whole number of 64 elements (any dtype, any vector width)
    has no tail either way, and its stack is stepped at once; other slices
    are stepped as tensors of their own.  Off the CPU the stack is always
    stepped at once.
    """
    return device.type != "cpu" or math.prod(member_shape) % 64 == 0

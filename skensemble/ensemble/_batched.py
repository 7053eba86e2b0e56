"""The matrix products of a stack of K linear layers, equal bit for bit to each member's own products.

A fused fit should give each member the weights its own fit gives, not
weights that drift apart by float rounding over thousands of steps (on a
50,000-row task that drift cost a member up to half a point of accuracy
against its separately trained twin).  ``torch.bmm`` over the stack runs K
products at once, but the BLAS may choose another kernel for it than for
the one product of a member's own fit: on the benchmark CPU with two torch
threads, a weight gradient with ten output units splits its sum over the
batch between the threads in ``torch.mm`` and not in ``torch.bmm``, and
batches of fewer than eight rows take another path.  So each product is
checked once per shape, thread count and device: on random inputs of that
shape, batched and member-by-member products are compared, and the batched
product is used only where they are identical (per-member products cost up
to 2.5x more on the small ones).  The check runs off the fit's random
generators.  Off the CPU the batched products are always used: CUDA fits
are the same only statistically (their dropout masks differ anyway).
"""

import functools

import torch


def linear(X, W, b):
    """``X (K, B, n_in)``, ``W (K, n_out, n_in)``, ``b (K, 1, n_out)`` -> ``(K, B, n_out)``: each member's
    ``torch.addmm(b, X, W.t())``."""
    if _batched_is_exact("linear", X, W):
        return torch.baddbmm(b, X, W.transpose(1, 2))
    out = X.new_empty(X.shape[0], X.shape[1], W.shape[1])
    for k in range(len(X)):
        torch.addmm(b[k, 0], X[k], W[k].t(), out=out[k])
    return out


def input_grad(G, W):
    """``G (K, B, n_out)``, ``W (K, n_out, n_in)`` -> ``(K, B, n_in)``: each member's ``G.mm(W)``."""
    if _batched_is_exact("input_grad", G, W):
        return torch.bmm(G, W)
    out = G.new_empty(G.shape[0], G.shape[1], W.shape[2])
    for k in range(len(G)):
        torch.mm(G[k], W[k], out=out[k])
    return out


def weight_grad(G, X, out):
    """``G (K, B, n_out)``, ``X (K, B, n_in)`` -> ``out (K, n_out, n_in)``: each member's ``G.t().mm(X)``."""
    if _batched_is_exact("weight_grad", G, X):
        return torch.bmm(G.transpose(1, 2), X, out=out)
    for k in range(len(G)):
        torch.mm(G[k].t(), X[k], out=out[k])
    return out


def _batched_is_exact(product, A, B):
    if A.device.type != "cpu":
        return True
    return _check(product, tuple(A.shape), tuple(B.shape), A.dtype, torch.get_num_threads())


@functools.lru_cache(maxsize=512)
def _check(product, a_shape, b_shape, dtype, threads):
    generator = torch.Generator().manual_seed(0)
    A = torch.randn(a_shape, generator=generator).to(dtype)
    B = torch.randn(b_shape, generator=generator).to(dtype)
    if product == "linear":
        b = torch.randn(a_shape[0], 1, b_shape[1], generator=generator).to(dtype)
        return torch.equal(torch.baddbmm(b, A, B.transpose(1, 2)),
                           torch.stack([torch.addmm(b[k, 0], A[k], B[k].t()) for k in range(len(A))]))
    if product == "input_grad":
        return torch.equal(torch.bmm(A, B), torch.stack([A[k].mm(B[k]) for k in range(len(A))]))
    return torch.equal(torch.bmm(A.transpose(1, 2), B), torch.stack([A[k].t().mm(B[k]) for k in range(len(A))]))

"""One training step of a plain MLP with its gradients written out, without autograd.

On the small nets people grid-search in notebooks, torch's per-operation
cost is the floor of a training step, and autograd roughly doubles the
operations: a ``(32,)`` MLP's forward and backward at batch 128 took 190 us
through autograd and 120 us written out (``torch.log_softmax`` alone costs
20 us on a 128 x 10 batch on the benchmark CPU, five elementwise operations
6-13 us).  scikit-learn's ``MLPClassifier`` computes its gradients the same
way.  :class:`ClosedFormMLP` is used for the nets that are exactly a stack
of ``Linear`` layers and supported activations trained with cross-entropy or
mean squared error (optionally with sample weights and the L1 penalty), and
for nothing else (skensemble's dropout after an activation included: its masks are
drawn as :class:`SeededDropout` draws them, from the fit's generator): batch norm, other layers, hooks, frozen weights,
class weights, mixed precision, gradient callbacks or forward arguments keep
autograd.  The gradients equal autograd's to float rounding (the activation
gradients are autograd's own kernels; ``nets/tests/test_closed_form.py``);
the optimizer step is the net's own.  Fused ensembles
(``skensemble.ensemble._fused``) use the same activation table for their
stacked members.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .._compat.skorch import registered_modules
from .._compat.torch import activation_backward_kernels, has_hooks
from ..utils._random import current_generator
from ._modules import MLPModule, SeededDropout, dropout_mask

_aten = activation_backward_kernels()  # None where this torch lacks one: then no plan

# activation class -> (the activation, applied in place where its gradient can be computed from its
# output; the gradient through it from its output ``out`` or input ``pre``, by the aten kernel autograd
# itself calls: a 4 x 128 x 256 ReLU gradient takes 15 us this way and 107 us as ``grad * (out > 0)``)
_ACTIVATIONS = {
    nn.ReLU: (lambda h, layer: h.relu_(),
              lambda grad, out, pre, layer: _aten.threshold_backward(grad, out, 0)),
    nn.Tanh: (lambda h, layer: h.tanh_(), lambda grad, out, pre, layer: _aten.tanh_backward(grad, out)),
    nn.Sigmoid: (lambda h, layer: h.sigmoid_(),
                 lambda grad, out, pre, layer: _aten.sigmoid_backward(grad, out)),
    nn.Identity: (lambda h, layer: h, lambda grad, out, pre, layer: grad),
    nn.LeakyReLU: (lambda h, layer: F.leaky_relu_(h, layer.negative_slope),
                   lambda grad, out, pre, layer: _aten.leaky_relu_backward(grad, out, layer.negative_slope, True)),
    nn.GELU: (lambda h, layer: F.gelu(h),
              lambda grad, out, pre, layer: _aten.gelu_backward(grad, pre, approximate="none")),
    nn.SiLU: (lambda h, layer: F.silu(h), lambda grad, out, pre, layer: _aten.silu_backward(grad, pre)),
}


def activation_functions(layer):
    """``(forward, derivative)`` of a supported activation module, else ``None``.

    ``forward(h, layer)`` may overwrite ``h``; ``derivative(grad, out, pre,
    layer)`` may overwrite ``grad`` and returns the gradient at the input.
    """
    if type(layer) is nn.LeakyReLU and layer.negative_slope < 0:
        return None
    if type(layer) is nn.GELU and layer.approximate != "none":
        return None
    return _ACTIVATIONS.get(type(layer))


def _loss_kind(criterion, sample_weighted):
    reduction = "none" if sample_weighted else "mean"
    if getattr(criterion, "reduction", None) != reduction:
        return None
    if type(criterion) is nn.CrossEntropyLoss:
        if criterion.weight is None and criterion.label_smoothing == 0 and criterion.ignore_index < 0:
            return "cross_entropy"
        return None
    if type(criterion) is nn.MSELoss:
        return "squared_error"
    return None


@dataclass(slots=True)
class DenseLayer:
    """One linear layer of a plan and what follows it: the activation module, its ``(forward, derivative)``
    pair and the ``SeededDropout`` after it (``None`` where there is none; all ``None`` after the last)."""

    linear: nn.Linear
    activation: nn.Module = None
    functions: tuple = None
    dropout: SeededDropout = None


class ClosedFormMLP:
    """A closed-form training step for one net; :meth:`plan` returns ``None`` when it does not apply.

    ``layers``: one :class:`DenseLayer` per linear layer of the MLP.
    """

    def __init__(self, layers, loss, l1, sample_weighted):
        self.layers = layers
        self.loss = loss
        self.l1 = l1
        self.sample_weighted = sample_weighted

    @classmethod
    def plan(cls, net):
        """The step for ``net`` (a skensemble skorch net about to be fitted), or ``None``."""
        module = getattr(net, "module_", None)
        if type(module) is not MLPModule or getattr(net, "amp_dtype", None) is not None:
            return None
        if _aten is None or has_hooks(module) or not all(p.requires_grad for p in module.parameters()):
            return None
        loss = _loss_kind(net.criterion_, net.sample_weighted)
        if loss is None or registered_modules(net) != (["module"], ["criterion"]):
            return None
        layers = []
        for layer in module.layers:
            last = layers[-1] if layers else None
            if type(layer) is nn.Linear:
                layers.append(DenseLayer(layer))
            elif last is not None and last.activation is None and activation_functions(layer) is not None:
                last.activation, last.functions = layer, activation_functions(layer)
            elif (type(layer) is SeededDropout and last is not None and last.activation is not None
                  and last.dropout is None):
                last.dropout = layer
            else:  # batch norm, an activation without a written derivative, ...
                return None
        if not layers or layers[-1].activation is not None:
            return None
        return cls(layers, loss, float(net.l1), net.sample_weighted)

    def step(self, X, y):
        """Forward pass, loss and gradients (added to ``.grad``): ``(loss, output)``, or ``None``.

        ``None`` when this batch is not one the plan covers (2-d float input,
        targets of the expected shape); the caller then uses autograd.
        """
        if not torch.is_tensor(X) or X.dim() != 2 or not X.is_floating_point():
            return None
        generator = current_generator()
        with torch.no_grad():
            inputs, pres, outputs, masks = [], [], [], []
            h = X
            for layer in self.layers:
                linear, activation, functions, dropout = layer.linear, layer.activation, layer.functions, layer.dropout
                inputs.append(h)
                h = (torch.addmm(linear.bias, h, linear.weight.t()) if linear.bias is not None
                     else h.mm(linear.weight.t()))
                pres.append(h)  # overwritten by the activations applied in place
                if functions is not None:
                    h = functions[0](h, activation)
                outputs.append(h)
                drops = dropout is not None and dropout.training
                masks.append(dropout_mask(h, dropout.p, generator) if drops else None)
                if masks[-1] is not None:
                    h = h * masks[-1]
            weight = None
            if self.sample_weighted:
                weight, y = y[:, -1], y[:, :-1]
            out = outputs[-1]
            loss_grad = self._loss_and_grad(out, y, weight)
            if loss_grad is None:
                return None
            loss, grad = loss_grad
            for i in range(len(self.layers) - 1, -1, -1):
                layer = self.layers[i]
                linear, activation, functions = layer.linear, layer.activation, layer.functions
                if masks[i] is not None:
                    grad = grad * masks[i]
                if functions is not None:
                    grad = functions[1](grad, outputs[i], pres[i], activation)
                _accumulate(linear.weight, grad.t().mm(inputs[i]))
                if linear.bias is not None:
                    _accumulate(linear.bias, grad.sum(0))
                if i:
                    grad = grad.mm(linear.weight)
            if self.l1:
                weights = [layer.linear.weight for layer in self.layers]
                loss = loss + self.l1 * sum(w.abs().sum() for w in weights)
                for w in weights:
                    _accumulate(w, torch.sign(w).mul_(self.l1))
        return loss, out

    def _loss_and_grad(self, out, y, weight):
        n = out.shape[0]
        if self.loss == "cross_entropy":
            if y.dim() == 2 and y.shape[1] == 1:
                y = y[:, 0]
            if y.dim() != 1 or len(y) != n:
                return None
        elif y.shape != out.shape or not y.is_floating_point():
            return None
        per_sample, grad = per_sample_loss_and_grad(out, y, self.loss)
        if weight is None:
            return per_sample.mean(), grad.div_(n)
        return (per_sample * weight).mean(), grad.mul_((weight / n)[:, None])




def per_sample_loss_and_grad(out, y, loss):
    """Each sample's loss along the last axis of ``out``, and its gradient with respect to ``out``.

    ``loss`` is ``"cross_entropy"`` (``out`` logits, ``y`` class indices of
    ``out``'s shape without its last axis) or ``"squared_error"`` (``y`` of
    ``out``'s shape, the mean over the outputs).  Leading axes are samples,
    or members and samples for the fused ensembles' stacked outputs.
    """
    if loss == "cross_entropy":
        y = y.long().unsqueeze(-1)
        z = out - out.amax(-1, keepdim=True)
        e = z.exp()
        total = e.sum(-1, keepdim=True)
        per_sample = total.log().sub_(z.gather(-1, y)).squeeze(-1)
        grad = e.div_(total).scatter_add_(-1, y, torch.full(y.shape, -1.0, dtype=out.dtype, device=out.device))
        return per_sample, grad
    diff = out - y
    return (diff * diff).mean(-1), diff.mul_(2.0 / out.shape[-1])


def _accumulate(param, grad):
    if param.grad is None:
        param.grad = grad
    else:
        param.grad.add_(grad)

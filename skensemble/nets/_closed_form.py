"""One training step of a plain MLP with its gradients written out, without autograd.

On the small nets people grid-search in notebooks, torch's per-operation
cost is the floor of a training step, and autograd roughly doubles the
operations: a ``(32,)`` MLP's forward and backward at batch 128 took 190 us
through autograd and 120 us written out (``torch.log_softmax`` alone costs
20 us on a 128 x 10 batch on the benchmark CPU, five elementwise operations
6-13 us).  scikit-learn's ``MLPClassifier`` computes its gradients the same
way.  :func:`closed_form_step` is used for the nets that are exactly a stack
of ``Linear`` layers and supported activations trained with cross-entropy or
mean squared error (optionally with sample weights and the L1 penalty), and
for nothing else: dropout, batch norm, other layers, hooks, frozen weights,
class weights, mixed precision or forward arguments keep autograd.  The
gradients equal autograd's to float rounding
(``nets/tests/test_closed_form.py``); the optimizer step is the net's own.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._modules import MLPModule


def _gelu_grad(grad, out, pre, layer):
    cdf = torch.erf(pre * _SQRT1_2).add_(1).mul_(0.5)
    pdf = torch.exp(pre * pre * -0.5).mul_(_INV_SQRT_2PI)
    return grad.mul_(cdf.addcmul_(pre, pdf))


def _silu_grad(grad, out, pre, layer):
    sig = torch.sigmoid(pre)
    return grad.mul_(sig * (1 + pre * (1 - sig)))


_SQRT1_2 = 0.5 ** 0.5
_INV_SQRT_2PI = (2 * math.pi) ** -0.5

# activation class -> (the activation, applied in place where its gradient can be written with its
# output alone; the gradient through it, from its output ``out`` and input ``pre``)
_ACTIVATIONS = {
    nn.ReLU: (lambda h, layer: h.relu_(), lambda grad, out, pre, layer: grad.mul_(out > 0)),
    nn.Tanh: (lambda h, layer: h.tanh_(), lambda grad, out, pre, layer: grad.mul_(1 - out * out)),
    nn.Sigmoid: (lambda h, layer: h.sigmoid_(),
                 lambda grad, out, pre, layer: grad.mul_(out * (1 - out))),
    nn.Identity: (lambda h, layer: h, lambda grad, out, pre, layer: grad),
    # torch's gradient is grad where the input > 0, else grad * slope; for slope >= 0 the output has
    # the input's sign
    nn.LeakyReLU: (lambda h, layer: F.leaky_relu_(h, layer.negative_slope),
                   lambda grad, out, pre, layer: torch.where(out > 0, grad, grad * layer.negative_slope)),
    nn.GELU: (lambda h, layer: F.gelu(h), _gelu_grad),
    nn.SiLU: (lambda h, layer: F.silu(h), _silu_grad),
}


def _activation(layer):
    """``(forward, derivative)`` for a supported activation module, else ``None``."""
    if type(layer) is nn.LeakyReLU and layer.negative_slope < 0:
        return None
    if type(layer) is nn.GELU and layer.approximate != "none":
        return None
    return _ACTIVATIONS.get(type(layer))


def _has_hooks(module):
    hooks = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    for m in module.modules():
        if any(getattr(m, h, None) for h in hooks):
            return True
    for p in module.parameters():
        if getattr(p, "_backward_hooks", None) or getattr(p, "_post_accumulate_grad_hooks", None):
            return True
    return False


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


class ClosedFormMLP:
    """A closed-form training step for one net; :meth:`plan` returns ``None`` when it does not apply.

    ``layers``: ``(linear, activation, functions)`` triples: the activation
    module after each linear layer and its ``(forward, derivative)`` pair
    (both ``None`` after the last linear layer).
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
        if _has_hooks(module) or not all(p.requires_grad for p in module.parameters()):
            return None
        loss = _loss_kind(net.criterion_, net.sample_weighted)
        if loss is None or net._criteria != ["criterion"] or net._modules != ["module"]:
            return None
        layers = []
        for layer in module.layers:
            if type(layer) is nn.Linear:
                layers.append([layer, None, None])
            elif layers and layers[-1][1] is None and _activation(layer) is not None:
                layers[-1][1:] = [layer, _activation(layer)]
            else:  # dropout, batch norm, an activation without a written derivative, ...
                return None
        if not layers or layers[-1][1] is not None:
            return None
        return cls([tuple(triple) for triple in layers], loss, float(net.l1), net.sample_weighted)

    def step(self, X, y):
        """Forward pass, loss and gradients (added to ``.grad``): ``(loss, output)``, or ``None``.

        ``None`` when this batch is not one the plan covers (2-d float input,
        targets of the expected shape); the caller then uses autograd.
        """
        if not torch.is_tensor(X) or X.dim() != 2 or not X.is_floating_point():
            return None
        with torch.no_grad():
            inputs, pres, outputs = [], [], []
            h = X
            for linear, activation, functions in self.layers:
                inputs.append(h)
                h = (torch.addmm(linear.bias, h, linear.weight.t()) if linear.bias is not None
                     else h.mm(linear.weight.t()))
                pres.append(h)  # overwritten by the activations applied in place
                if functions is not None:
                    h = functions[0](h, activation)
                outputs.append(h)
            weight = None
            if self.sample_weighted:
                weight, y = y[:, -1], y[:, :-1]
            out = outputs[-1]
            loss_grad = self._loss_and_grad(out, y, weight)
            if loss_grad is None:
                return None
            loss, grad = loss_grad
            for i in range(len(self.layers) - 1, -1, -1):
                linear, activation, functions = self.layers[i]
                if functions is not None:
                    grad = functions[1](grad, outputs[i], pres[i], activation)
                _accumulate(linear.weight, grad.t().mm(inputs[i]))
                if linear.bias is not None:
                    _accumulate(linear.bias, grad.sum(0))
                if i:
                    grad = grad.mm(linear.weight)
            if self.l1:
                weights = [linear.weight for linear, _, _ in self.layers]
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
            y = y.long()[:, None]
            z = out - out.amax(1, keepdim=True)
            e = z.exp()
            total = e.sum(1, keepdim=True)
            per_sample = total.log().sub_(z.gather(1, y)).squeeze(1)
            grad = e.div_(total).scatter_add_(1, y, torch.full(y.shape, -1.0, dtype=out.dtype,
                                                                device=out.device))
        else:
            if y.shape != out.shape or not y.is_floating_point():
                return None
            diff = out - y
            per_sample = (diff * diff).mean(1)
            grad = diff.mul_(2.0 / out.shape[1])
        if weight is None:
            return per_sample.mean(), grad.div_(n)
        return (per_sample * weight).mean(), grad.mul_((weight / n)[:, None])


def _accumulate(param, grad):
    if param.grad is None:
        param.grad = grad
    else:
        param.grad.add_(grad)

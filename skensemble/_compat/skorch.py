"""The one module that reads skorch's private names.

Tested with skorch 1.2 to 1.4 (the minimum-dependencies run,
``build_tools/min_dependencies.py``, and CI); skorch 1.0 and 1.1 cannot load
a pickled net under torch 2.6 and later (``torch.load`` defaults to
``weights_only=True``).  Importing skensemble with another minor release fails
with :class:`~skensemble._compat.UntestedVersionError`.

What is read: the names of a net's registered modules, criteria and
optimizers (``NeuralNet._modules``, ``_criteria``, ``_optimizers``, filled by
``initialize``); and two of ``NeuralNet``'s methods, which skensemble's nets
override (see ``OVERRIDDEN``).
"""

import skorch

from . import check_version

TESTED = ("1.2", "1.4")
check_version("skorch", skorch.__version__, *TESTED)

# skorch's private methods that skensemble's nets override, and why.
OVERRIDDEN = {
    "_set_training": "train()/eval() each module once per fit (skorch walks every module at every batch); "
                     "called by skorch's train_step_single and evaluation_step",
    "_step_optimizer": "mixed precision: torch's GradScaler steps the optimizers (it takes no closure)",
}


def module_names(net):
    """Names of an initialized net's modules and criteria (``["module", "criterion"]`` for a plain net)."""
    return list(net._modules) + list(net._criteria)


def registered_modules(net):
    """``(module names, criterion names)`` of an initialized net, as lists."""
    return list(net._modules), list(net._criteria)


def optimizer_names(net):
    """Names of an initialized net's optimizers (``["optimizer"]`` for a plain net)."""
    return list(net._optimizers)


__all__ = ["OVERRIDDEN", "TESTED", "module_names", "optimizer_names", "registered_modules"]

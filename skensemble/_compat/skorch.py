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

import inspect

import skorch
from sklearn import get_config
from sklearn.utils.metadata_routing import process_routing

from . import check_version

TESTED = ("1.2", "1.4")
check_version("skorch", skorch.__version__, *TESTED)

# every private name of skorch this adapter reads (imports, attributes, getattr), checked against its
# source by tests/test_architecture.py: what to re-check when a new skorch release is tested
READS = (
    "_criteria",
    "_modules",
    "_optimizers",
    "_set_training",
    "_step_optimizer",
)

# private keyword arguments of skorch's methods that this adapter passes on or takes out (string names, which the
# architecture test does not see): fit_loop's _routing_method (skorch 1.4; see fit_loop_datasets)
KEYWORDS = ("_routing_method",)

# skorch's private methods that skensemble's nets override, and why.
OVERRIDDEN = {
    "_set_training": "train()/eval() each module once per fit (skorch walks every module at every batch); "
                     "called by skorch's train_step_single and evaluation_step",
    "_step_optimizer": "mixed precision: torch's GradScaler steps the optimizers (it takes no closure)",
}


def set_training(net, training=True):
    """skorch's ``net._set_training(training)`` (overridden by skensemble's nets, see ``OVERRIDDEN``)."""
    net._set_training(training)


def step_optimizer(net, step_fn):
    """skorch's ``net._step_optimizer(step_fn)``: step every optimizer after ``step_fn`` computed the gradients."""
    return net._step_optimizer(step_fn)


def next_step_optimizer(cls, net, step_fn):
    """The ``_step_optimizer`` that ``cls`` overrides: the next one in ``net``'s MRO (skorch's)."""
    return super(cls, net)._step_optimizer(step_fn)


def module_names(net):
    """Names of an initialized net's modules and criteria (``["module", "criterion"]`` for a plain net)."""
    return list(net._modules) + list(net._criteria)


def registered_modules(net):
    """``(module names, criterion names)`` of an initialized net, as lists."""
    return list(net._modules), list(net._criteria)


def optimizer_names(net):
    """Names of an initialized net's optimizers (``["optimizer"]`` for a plain net)."""
    return list(net._optimizers)


# skorch 1.4's fit_loop takes the public entry point's name (``_routing_method``: "fit" or "partial_fit") and
# routes the splitter's metadata when scikit-learn's metadata routing is on; skorch 1.2's has neither
_ROUTES = "_routing_method" in inspect.signature(skorch.NeuralNet.fit_loop).parameters


def fit_loop_datasets(net, X, y, fit_params):
    """What skorch's ``fit_loop`` prepares before its epochs: ``(dataset_train, dataset_valid, forward_params)``.

    ``fit_params`` may hold skorch's ``_routing_method`` (its ``fit`` and
    ``partial_fit`` pass it); it is taken out.  With scikit-learn's metadata
    routing on (skorch 1.4), the splitter gets its routed parameters and the
    module's ``forward`` all of ``fit_params``, as skorch's loop does.
    """
    routing_method = fit_params.pop("_routing_method", "fit")
    net.check_data(X, y)
    net.check_training_readiness()
    split_params = fit_params
    if _ROUTES and get_config().get("enable_metadata_routing", False):
        split_params = process_routing(net, routing_method, **fit_params).get("splitter", {"split": {}})["split"]
    dataset_train, dataset_valid = net.get_split_datasets(X, y, **split_params)
    return dataset_train, dataset_valid, fit_params


__all__ = ["KEYWORDS", "OVERRIDDEN", "READS", "TESTED", "fit_loop_datasets", "module_names", "next_step_optimizer",
           "optimizer_names", "registered_modules", "set_training", "step_optimizer"]

"""skensemble: neural nets as scikit-learn estimators, compressed and ensembled.

Subpackages
-----------
nets
    skorch-based MLP, conv and residual estimators whose sizes are inferred at
    fit, and estimators around any torch module.
compression
    Pruning, distillation and quantization meta-estimators.
transfer
    Fine-tuning a fitted net on a new task.
ensemble
    Voting, stacking, cascade and ensemble-selection ensembles.
persistence
    ``save``/``load`` without pickle (also ``skensemble.save``/``skensemble.load``).
report
    Metrics: parameters, saved size, latency, FLOPs, calibration; the report.
metrics
    Cost scorers (latency, size, parameters, FLOPs) for scikit-learn's searches.
model_selection
    Refit strategies: the cheapest model within a score budget.
utils
    The module-access protocol, seeding and device helpers.
"""

from ._version import __version__
from . import compression, ensemble, metrics, model_selection, nets, persistence, report, transfer, utils  # noqa: E402
from .persistence import load, save  # noqa: E402
from ._show_versions import show_versions  # noqa: E402
from .utils._config import config_context, get_config, set_config  # noqa: E402
from .nets import ConvNetClassifier, ConvNetRegressor, MLPNetClassifier, MLPNetRegressor  # noqa: E402

__all__ = [
    "ConvNetClassifier",
    "ConvNetRegressor",
    "MLPNetClassifier",
    "MLPNetRegressor",
    "__version__",
    "compression",
    "config_context",
    "ensemble",
    "get_config",
    "load",
    "metrics",
    "model_selection",
    "nets",
    "persistence",
    "report",
    "save",
    "set_config",
    "show_versions",
    "transfer",
    "utils",
]

"""skensemble: neural nets as scikit-learn estimators, compressed and ensembled.

Subpackages
-----------
nets
    skorch-based MLP, conv and residual estimators whose sizes are inferred at
    fit, and estimators around any torch module.
preprocessing
    ``TableEncoder``: raw tables (text, categories, missing values) into a net's input.
compression
    Pruning, distillation and quantization meta-estimators.
export
    ONNX files of nets and pipelines (``to_onnx``) and ONNX Runtime to run them.
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
from . import (compression, ensemble, export, metrics, model_selection, nets, persistence,  # noqa: E402
               preprocessing, report, transfer, utils)
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
    "export",
    "get_config",
    "load",
    "metrics",
    "model_selection",
    "nets",
    "persistence",
    "preprocessing",
    "report",
    "save",
    "set_config",
    "show_versions",
    "transfer",
    "utils",
]

"""skensemble: neural nets as scikit-learn estimators, compressed and ensembled.

Subpackages
-----------
nets
    skorch-based MLP and conv estimators whose sizes are inferred at fit.
compression
    Pruning, distillation and quantization meta-estimators.
ensemble
    Voting, stacking, cascade and ensemble-selection ensembles.
persistence
    ``save``/``load`` without pickle (also ``skensemble.save``/``skensemble.load``).
report
    Metrics: parameters, saved size, latency.
utils
    The module-access protocol, seeding and device helpers.
"""

from ._version import __version__
from . import compression, ensemble, nets, persistence, report, utils  # noqa: E402
from .persistence import load, save  # noqa: E402
from .nets import ConvNetClassifier, ConvNetRegressor, MLPNetClassifier, MLPNetRegressor  # noqa: E402

__all__ = [
    "ConvNetClassifier",
    "ConvNetRegressor",
    "MLPNetClassifier",
    "MLPNetRegressor",
    "__version__",
    "compression",
    "ensemble",
    "load",
    "nets",
    "persistence",
    "report",
    "save",
    "utils",
]

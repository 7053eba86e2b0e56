"""skensemble: neural nets as scikit-learn estimators, compressed and ensembled.

Subpackages
-----------
nets
    skorch-based MLP and conv estimators whose sizes are inferred at fit.
compression
    Pruning (and further compression meta-estimators).
report
    Metrics: parameters, saved size, latency.
utils
    The module-access protocol, seeding and device helpers.
"""

__version__ = "0.1.0"

from . import compression, nets, report, utils  # noqa: E402
from .nets import ConvNetClassifier, MLPNetClassifier, MLPNetRegressor  # noqa: E402

__all__ = [
    "ConvNetClassifier",
    "MLPNetClassifier",
    "MLPNetRegressor",
    "__version__",
    "compression",
    "nets",
    "report",
    "utils",
]

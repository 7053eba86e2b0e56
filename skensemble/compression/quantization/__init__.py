"""Quantization: int8 (ONNX Runtime or torch, dynamic or static) and half precision.

``_quantized`` holds the estimators, ``_backends`` the runtimes they serve
with (one class per backend), ``_torch_int8`` torch's int8 conversions and
the weight-only int8 layer.
"""

from ._quantized import QuantizedClassifier, QuantizedRegressor
from ._torch_int8 import Int8WeightOnlyLinear

__all__ = ["Int8WeightOnlyLinear", "QuantizedClassifier", "QuantizedRegressor"]

"""Measuring models: the compression report and its metric helpers."""

from ._calibration import expected_calibration_error
from ._flops import count_flops
from ._metrics import (
    count_parameters,
    interleaved_latency,
    interleaved_times,
    predict_latency,
    saved_size_bytes,
)
from ._report import compression_report
from ._table import CompressionReport, pareto_front

__all__ = [
    "CompressionReport",
    "compression_report",
    "count_flops",
    "count_parameters",
    "expected_calibration_error",
    "interleaved_latency",
    "interleaved_times",
    "pareto_front",
    "predict_latency",
    "saved_size_bytes",
]

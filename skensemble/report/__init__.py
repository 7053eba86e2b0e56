"""Measuring models: the compression report and its metric helpers."""

from ._metrics import (
    count_parameters,
    interleaved_latency,
    interleaved_times,
    predict_latency,
    saved_size_bytes,
)
from ._report import CompressionReport, compression_report, pareto_front

__all__ = [
    "CompressionReport",
    "compression_report",
    "count_parameters",
    "interleaved_latency",
    "interleaved_times",
    "pareto_front",
    "predict_latency",
    "saved_size_bytes",
]

"""Measuring models: parameter counts, saved size and predict latency."""

from ._metrics import count_parameters, predict_latency, saved_size_bytes

__all__ = ["count_parameters", "predict_latency", "saved_size_bytes"]

"""Table preprocessing: raw tables (numbers, text, categories, missing values) into a net's float32 input.

``TableEncoder`` is a scikit-learn transformer; every tabular net fits one
on its training rows (``table_encoder_``), the command line fits one on its
own, and its arithmetic is a float32 torch layer (``encoding_``) that the
nets run in front of their module and ``to_onnx`` writes into the graph.
"""

from ._table import TableEncoder

__all__ = ["TableEncoder"]

"""Export: ONNX files of nets and pipelines, compressed or not, and ONNX Runtime to run them.

``to_onnx`` writes one graph with the preprocessing inside (a net's table
encoding, a pipeline's scikit-learn steps through skl2onnx) and the columns,
task and classes in its metadata; ``onnx_inputs`` builds the feed of a table
for that graph; ``OnnxRuntimeModel`` runs ONNX bytes on the CPU.  Optional
packages: ``pip install skensemble[onnx]``.
"""

from ._export import to_onnx
from ._runtime import OnnxRuntimeModel
from ._skl2onnx import onnx_inputs

__all__ = ["OnnxRuntimeModel", "onnx_inputs", "to_onnx"]

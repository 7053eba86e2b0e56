"""ONNX Runtime on the CPU: a callable that runs ONNX bytes and pickles as them."""

import numpy as np

from ..utils._threads import available_cores


def _require(package):
    try:
        return __import__(package)
    except ImportError as exc:
        raise ImportError(
            f"This needs the optional package {package!r}: pip install 'skensemble[onnx]'."
        ) from exc


class OnnxRuntimeModel:
    """Runs ONNX bytes with ONNX Runtime on the CPU; pickles as its bytes.

    Small batches run on one thread, larger ones on one thread per core the
    process may use (:func:`skensemble.utils._threads.available_cores`):
    waking a second thread costs more than it saves while a call's rows times
    the graph's bytes stay under
    ``one_thread_work`` (measured on a 2-core AVX-512 machine: one thread
    answered 1-16 rows of a 64-256-256-10 float net and 1-64 rows of its
    int8 graph 1.2-3.7x sooner; see ``benchmarks/bench_quantization.py``).
    The threads never spin while they wait: spinning ONNX Runtime threads
    slowed torch in the same process 7x.  Each session is built on first use.

    Parameters
    ----------
    onnx_bytes : bytes
        An ONNX graph with one float input ``X`` of shape (n_samples,
        n_features), such as a net's graph without its table encoding.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from skensemble.export import OnnxRuntimeModel
    >>> from skensemble.export._onnx import module_to_onnx
    >>> from skensemble.nets import MLPNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> net = MLPNetClassifier((16,), max_epochs=5, preprocessing=None, random_state=0).fit(X, y)
    >>> run = OnnxRuntimeModel(module_to_onnx(net.net_.module_, 4))
    >>> run(X[:2]).shape  # the module's logits
    (2, 3)
    """

    one_thread_work = 1 << 23  # rows x graph bytes

    def __init__(self, onnx_bytes):
        self.onnx_bytes = onnx_bytes
        self._sessions = {}
        self._derived = {}

    def derived(self, key, make):
        """The model of the graph ``make(onnx_bytes)``, made on first use and kept under ``key``.

        Such as this graph with a table encoding in front: a cache, never
        pickled or saved (the bytes it is made from are).
        """
        model = self._derived.get(key)
        if model is None:
            model = self._derived.setdefault(key, OnnxRuntimeModel(make(self.onnx_bytes)))
        return model

    def _get_session(self, threads):
        session = self._sessions.get(threads)
        if session is None:
            ort = _require("onnxruntime")
            options = ort.SessionOptions()
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.intra_op_num_threads = threads
            session = self._sessions.setdefault(threads, ort.InferenceSession(
                self.onnx_bytes, options, providers=["CPUExecutionProvider"]))
        return session

    def __call__(self, X):
        X = np.ascontiguousarray(X, dtype=np.float32)
        small = len(X) * len(self.onnx_bytes) <= self.one_thread_work
        threads = 1 if small else available_cores()  # ONNX Runtime's own default ignores CPU affinity
        return self._get_session(threads).run(None, {"X": X})[0]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_sessions"] = {}
        state["_derived"] = {}
        return state

    def __setstate__(self, state):
        state.pop("_session", None)  # pickled before sessions were kept per thread count
        state.setdefault("_sessions", {})
        state.setdefault("_derived", {})
        self.__dict__.update(state)

    def weight_arrays(self):
        """The stored weights (int8 and float initializers, without quantization scales)."""
        onnx = _require("onnx")
        from onnx import numpy_helper

        arrays = []
        for init in onnx.load_from_string(self.onnx_bytes).graph.initializer:
            if init.name.endswith(("_scale", "_zero_point")):
                continue
            array = numpy_helper.to_array(init)
            if array.dtype in (np.float32, np.float16, np.int8, np.uint8):
                arrays.append(array)
        return arrays

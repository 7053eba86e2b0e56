"""scikit-learn types trusted by default, and the checks that make that safe.

skops refuses ``sklearn.tree._tree.Tree`` (forests, gradient boosting) and
the histogram-boosting ``TreePredictor`` by default: both are rebuilt from
plain arrays, but those arrays hold node and feature indices that
scikit-learn follows at ``predict`` without bounds checks, so a crafted file
could read memory out of bounds or crash the process.  skensemble trusts them
by default because it checks those indices itself after loading, before the
model is returned:

* every internal node's children come after it and exist (so every path from
  the root ends at a leaf), leaves have no children;
* every internal node's feature is a column the owning estimator was fitted
  on (``n_features_in_``, which ``predict`` enforces on X);
* value arrays have one row per node; histogram-boosting trees with
  categorical splits (whose bitset indices are not checked) are refused.

The calibration helpers of ``CalibratedClassifierCV`` and the
cross-validation splitters ``KFold``/``StratifiedKFold`` are plain Python
objects whose attributes skops loads and type-checks like any other, and
numpy dtypes are rebuilt from an empty array of their type; they are
trusted too.  Types a user names in ``trusted=`` are the user's call and
are not checked.
"""

import numpy as np

TREE = "sklearn.tree._tree.Tree"
TREE_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
DEFAULT_TRUSTED = (
    TREE,
    TREE_PREDICTOR,
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    # a numpy dtype (e.g. the object dtype SimpleImputer records for text
    # columns), rebuilt by skops from an empty array of that dtype, never pickled
    "numpy.dtype",
    # cross-validation splitters held as parameters (TargetEncoder(cv=KFold(...))): three plain
    # attributes (n_splits, shuffle, random_state) that skops type-checks; no index is followed
    "sklearn.model_selection._split.KFold",
    "sklearn.model_selection._split.StratifiedKFold",
    # scikit-learn 1.6's ColumnTransformer keeps its remainder columns in this list subclass (plain
    # column names or indices; 1.7 and later use a plain list)
    "sklearn.compose._column_transformer._RemainderColsList",
)


class CorruptModelError(ValueError):
    """A scikit-learn structure in the file has out-of-range indices; nothing was loaded."""


def _fail(what, why):
    raise CorruptModelError(
        f"The file's {what} is malformed ({why}): scikit-learn would follow its indices "
        "out of bounds at predict time. Nothing was loaded."
    )


def _check_children(left, right, is_leaf, n_nodes, what):
    idx = np.arange(n_nodes)
    inner = ~is_leaf
    if np.any((left[inner] <= idx[inner]) | (right[inner] <= idx[inner])
              | (left[inner] >= n_nodes) | (right[inner] >= n_nodes)):
        _fail(what, "a node's children do not follow it within the tree")


def check_tree(tree, n_features, what="tree"):
    """Bounds-check a ``sklearn.tree._tree.Tree`` (see the module docstring)."""
    state = tree.__getstate__()
    nodes, values = state["nodes"], state["values"]
    n_nodes = int(state["node_count"])
    if nodes.ndim != 1 or len(nodes) != n_nodes or n_nodes < 1 or len(values) != n_nodes:
        _fail(what, "its node arrays disagree with its node count")
    left, right, feature = (nodes[k].astype(np.int64) for k in ("left_child", "right_child", "feature"))
    is_leaf = left == -1
    if np.any(is_leaf != (right == -1)):
        _fail(what, "a node has exactly one child")
    _check_children(left, right, is_leaf, n_nodes, what)
    limit = min(int(tree.n_features), n_features) if n_features is not None else int(tree.n_features)
    if np.any((feature[~is_leaf] < 0) | (feature[~is_leaf] >= limit)):
        _fail(what, "a split uses a feature the model does not have")
    if values.shape[1:] != (int(tree.n_outputs), int(np.max(tree.n_classes))):
        _fail(what, "its value array has the wrong shape")


def check_tree_predictor(predictor, n_features, what="histogram tree"):
    """Bounds-check a histogram-boosting ``TreePredictor``."""
    nodes = predictor.nodes
    n_nodes = len(nodes)
    if nodes.ndim != 1 or n_nodes < 1:
        _fail(what, "it has no nodes")
    if np.any(nodes["is_categorical"]):
        _fail(what, "it has categorical splits, which are not checked; pass "
                    f"trusted=[{TREE_PREDICTOR!r}] if you trust the file")
    is_leaf = nodes["is_leaf"].astype(bool)
    _check_children(nodes["left"].astype(np.int64), nodes["right"].astype(np.int64), is_leaf,
                    n_nodes, what)
    feature = nodes["feature_idx"].astype(np.int64)
    if n_features is None or np.any((feature[~is_leaf] < 0) | (feature[~is_leaf] >= n_features)):
        _fail(what, "a split uses a feature the model does not have")


def check_default_trusted(obj, checked_types):
    """Check every Tree/TreePredictor inside ``obj`` whose type is in ``checked_types``."""
    from .._compat.sklearn import tree_types

    Tree, TreePredictor = tree_types()

    seen = set()

    def walk(value, n_features, path):
        if id(value) in seen or isinstance(value, (str, bytes, int, float, type(None))):
            return
        seen.add(id(value))
        if isinstance(value, Tree):
            if TREE in checked_types:
                check_tree(value, n_features, f"tree at {path}")
            return
        if isinstance(value, TreePredictor):
            if TREE_PREDICTOR in checked_types:
                check_tree_predictor(value, n_features, f"histogram tree at {path}")
            return
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                for i, item in enumerate(value.ravel()):
                    walk(item, n_features, f"{path}[{i}]")
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, n_features, f"{path}.{k}")
            return
        if isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                walk(item, n_features, f"{path}[{i}]")
            return
        attrs = getattr(value, "__dict__", None)
        if attrs is not None:
            n_features = attrs.get("n_features_in_", n_features)
            for k, v in attrs.items():
                walk(v, n_features, f"{path}.{k}")

    walk(obj, None, type(obj).__name__)

"""Raw tables into nets: numeric, categorical and missing values to one float32 matrix.

After the recipe of strong tabular nets (RealMLP, Holzmüller et al. 2024):
each numeric column is centred on its median, divided by its standard
deviation or, where smaller (a heavy tail), by its interquartile range over
1.349 (``scaling="auto"``, the default; ``"standard"`` and RealMLP's
``"robust"`` are the two rules alone) and smoothly
clipped, ``x / sqrt(1 + (x / 3)^2)``, so outliers stay within about +-3
without a hard cut; a missing value becomes 0 (the median) and, for a column that had
missing values at ``fit``, a 0/1 indicator column.  A numeric column of many
values with a spike (one value held by at least a tenth of its rows, as an
expenditure of 0 by those who spent nothing) gets a column marking that
value (+1 there, -1 elsewhere), which trees split on at once and smooth
scaling blurs (see ``_SPIKE_SHARE``).  Each categorical column
(``category``, ``object``, ``string`` or ``bool`` dtype of a DataFrame, or
an object array's non-numeric column) is one-hot encoded over its most
frequent categories (up to ``max_categories``), with one more column for a
missing value and one for any other category (rare at ``fit``, or unseen).
"""

import math
import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_array, check_consistent_length, column_or_1d

from .._compat.sklearn import Interval, StrOptions, check_is_fitted, check_sample_weight, fit_context, validate_data
from ..utils._quantiles import quantiles_of_sorted, sorted_present
from ..utils._validation import check_columns
from ..persistence import register
from ._table_module import _FEW_CELLS, SMOOTH_CLIP, TableEncoding

# Tables of at most this many cells are read as one object matrix (one pandas call: a DataFrame row of 15
# columns in 0.1 ms against 0.2 ms column by column; 256 rows of 3 columns in 0.2 ms against 0.5), larger ones
# column by column.
_SMALL_TABLE_CELLS = 20_000
_IQR_OF_A_NORMAL = 1.349  # interquartile range of a standard normal distribution (2 x 0.6745)
# A spike indicator for a continuous numeric column (more than _SPIKE_MIN_DISTINCT values, and at least
# _SPIKE_DISTINCT_SHARE as many values as its other rows: an amount, not a count or a pixel intensity) whose
# most frequent value has at least _SPIKE_SHARE of its present rows (by weight).  Measured on the tabular
# benchmark's credit card table (AER CreditCard: expenditure is 0 for 24% of the rows, and then the card was
# mostly refused), 5 splits, log loss: ResNet (one block) 0.140 -> 0.055, MLPNet 0.103 -> 0.056 (see
# benchmarks/results/resnet_defaults.md for every table).  Digits' pixels (17 values) and MNIST's (256 values
# over thousands of rows) are left alone.
_SPIKE_MIN_DISTINCT = 32
_SPIKE_DISTINCT_SHARE = 0.1
_SPIKE_SHARE = 0.1
_LARGE_ARRAY = 65_536  # cells from which torch's two-thread kernels beat NumPy's on a cast or a check


def smooth_clip(z):
    """``z / sqrt(1 + (z / 3)^2)``: the identity near 0, bounded by +-3."""
    return z / np.sqrt(1.0 + (z / SMOOTH_CLIP) ** 2)


def _weighted_std(numbers, weights=None):
    """Standard deviation of each column of ``numbers`` (float64, NaN ignored), rows weighted by ``weights``."""
    present = ~np.isnan(numbers)
    w = np.ones(len(numbers)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = present * w[:, None]
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(present, numbers, 0.0)
        mean = (w * values).sum(axis=0) / total
        return np.sqrt((w * (values - mean) ** 2).sum(axis=0) / total)


def _column_scales(scaling, numbers, weights, q25, q75, low, high):
    """Each numeric column's scale under ``scaling`` (see ``TableEncoder``); 1 where it is 0 or undefined."""
    iqr = q75 - q25
    if scaling == "robust":
        scale = np.where(iqr > 0, iqr, (high - low) / 2)
    else:
        scale = _weighted_std(numbers, weights)
        if scaling == "auto":  # a heavy tail: the bulk's spread (a normal column's IQR is 1.349 sigma)
            scale = np.where(iqr > 0, np.fmin(iqr / _IQR_OF_A_NORMAL, scale), scale)
    return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)


def _spikes(columns):
    """``(indices, values)``: the numeric columns with a spike (see ``_SPIKE_SHARE``) and their spikes.

    ``columns``: per column, its present values sorted and their cumulative
    weights (:func:`~skensemble.utils._quantiles.sorted_present`, which the
    quantiles read too: each column is sorted once).  Values are compared as
    float32, as the encoding compares a row's numbers.
    """
    indices, values = [], []
    for i, (ordered, cumulative) in enumerate(columns):
        if len(ordered) <= _SPIKE_MIN_DISTINCT:
            continue
        ordered = ordered.astype(np.float32)  # still ascending: rounding keeps the order
        starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))  # where each value begins
        if len(starts) <= _SPIKE_MIN_DISTINCT:
            continue
        rows = np.diff(np.append(starts, len(ordered)))
        if len(starts) < _SPIKE_DISTINCT_SHARE * (len(ordered) - rows.max()):  # a count or an intensity
            continue
        weights = np.diff(np.concatenate(([0.0], cumulative[np.append(starts[1:], len(ordered)) - 1])))
        if weights.max() >= _SPIKE_SHARE * cumulative[-1]:
            indices.append(i)
            values.append(ordered[starts[weights.argmax()]])
    return indices, np.asarray(values, dtype=np.float32)


def _no_spikes():
    """The spike attributes of an encoder fitted before spike indicators (a file or pickle of that time)."""
    return {"spiked_": [], "spike_values_": np.zeros(0, dtype=np.float32)}


def _is_categorical(dtype):
    """Whether a column of this dtype is encoded as categories (text, categories, booleans, objects)."""
    return not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def check_table(X):
    """X as a DataFrame or a 2-D array, with scikit-learn's errors for what a table cannot be."""
    if sp.issparse(X):
        raise TypeError("TableEncoder takes dense tables: sparse input is not supported; convert it with "
                        "X.toarray() or use a sparse-aware model.")
    if not isinstance(X, pd.DataFrame):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"Expected 2D array, got {X.ndim}D array instead (a table of rows x columns; "
                             f"shape {X.shape}). Reshape "
                             "your data either using array.reshape(-1, 1) if your data has a single feature or "
                             "array.reshape(1, -1) if it contains a single sample.")
        if np.iscomplexobj(X):
            raise ValueError("Complex data not supported: a table's columns are numbers, categories or text.")
    if X.shape[1] == 0:
        raise ValueError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    return X


def _as_float32(numbers):
    """``numbers`` as a C-ordered float32 array; a large writable numeric array is cast by torch (two threads).

    Rows are C-ordered whatever the input's order (a DataFrame's
    ``to_numpy()`` is column-major): a linear layer on a column-major batch
    copies it first (MLP(256, 256), 256 digits rows: 1.9x the module's time
    on C-ordered rows).
    """
    if (type(numbers) is np.ndarray and numbers.size >= _LARGE_ARRAY and numbers.dtype.kind in "fiu"
            and numbers.dtype != np.float32 and numbers.flags.writeable):
        return torch.from_numpy(numbers).to(torch.float32, memory_format=torch.contiguous_format).numpy()
    with np.errstate(over="ignore"):  # a number beyond float32's range becomes inf: _float32 refuses it, by name
        return np.ascontiguousarray(numbers, dtype=np.float32)


def _has_infinity(values):
    """Whether a float32 array holds an infinity.

    A large array is summed first by torch (a finite sum rules out
    infinities; about 0.1 ms on 4096 x 784 against 3-4 ms for ``isinf``
    on a fresh array); a small one is tested value by value, which costs
    less than a reduction right after a forward pass (about 3 against 9 us).
    """
    if values.size >= _LARGE_ARRAY and values.flags.writeable and math.isfinite(torch.from_numpy(values).sum()):
        return False
    return bool(np.count_nonzero(np.isinf(values)))


def _as_frame(X):
    """X as a DataFrame whose columns keep their dtypes (an array's columns are numbered)."""
    if isinstance(X, pd.DataFrame):
        return X
    frame = pd.DataFrame(X)
    if X.dtype == object:  # an object array: a column is numeric when all its values are numbers or missing
        for name in frame.columns:
            converted = pd.to_numeric(frame[name], errors="coerce")
            if converted.notna().sum() == frame[name].notna().sum():
                frame[name] = converted.astype(np.float64)
    return frame


def check_raw_targets(X, y, *, y_numeric=False, multi_output=False):
    """``y`` beside a raw table ``X`` (which validation leaves as it is): an array of X's length.

    What ``validate_data(X, y)`` checks of ``y``, for the nets and wrappers
    that take raw tables: numeric when ``y_numeric``, a column vector
    flattened unless ``multi_output``, the lengths consistent.
    """
    y = check_array(y, ensure_2d=False, dtype="numeric" if y_numeric else None, input_name="y")
    if not multi_output and y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)  # scikit-learn's DataConversionWarning, as validate_data gives
    check_consistent_length(X, y)
    return y


def needs_encoding(X):
    """Whether ``X`` has categorical columns or missing values (what a net cannot take as it is)."""
    if isinstance(X, pd.DataFrame):
        if any(_is_categorical(dtype) for dtype in X.dtypes):
            return True
        return bool(X.isna().to_numpy().any())
    if sp.issparse(X) or not hasattr(X, "__len__"):
        return False  # refused as before: nets take dense tables
    try:
        X = np.asarray(X)
    except (TypeError, ValueError):
        return False
    if X.dtype == object:
        return True
    return np.issubdtype(X.dtype, np.floating) and bool(np.isnan(X).any())


def has_missing(X):
    """Whether a table (a DataFrame or an array, as :func:`check_table` returns it) has a missing value."""
    if isinstance(X, pd.DataFrame):
        return bool(X.isna().to_numpy().any())
    if X.dtype == object:
        return bool(pd.isna(X).any())
    return X.dtype.kind in "fc" and bool(np.isnan(X).any())


@register(key="skensemble.nets.TableEncoder")  # its key in files since it lived in skensemble.nets
class TableEncoder(TransformerMixin, BaseEstimator):
    """A raw table as a net's input: robust-scaled numbers, missing indicators, one-hot categories.

    skensemble's tabular nets fit one at ``fit`` when the table needs it
    (``preprocessing="auto"``: text or category columns, or missing values)
    and keep it as ``table_encoder_``; it can also be used on its own.  See
    the module docstring for the recipe.

    Parameters
    ----------
    max_categories : int, default=32
        Most one-hot columns per categorical column for its own categories
        (the most frequent at ``fit``); the rest share the "other" column.
    scaling : {"auto", "standard", "robust"}, default="auto"
        The scale each numeric column is divided by: ``"standard"`` its
        standard deviation; ``"robust"`` its interquartile range (half its
        range where that is 0; RealMLP's); ``"auto"`` the standard deviation,
        or the interquartile range over 1.349 where that is smaller (a
        heavy-tailed column: its bulk spread out, its tail clipped; equal for
        a normal column).  Measured (``benchmarks/results/tabular_scaling.md``,
        MLP (32,) and (64,), 20 epochs, 2-fold CV): on digits behind a
        ``StandardScaler`` ``"auto"`` scored +0.8 and -0.5 points against no
        encoding, ``"standard"`` +0.7 and -0.3, ``"robust"`` -3.5 and -3.3;
        on the tabular benchmark's six classification tables (5 splits)
        MLPNet 88.15% (``"auto"``), 88.07% and 88.10%, ResNet 88.12%, 88.07%
        and 88.18%.

    Attributes
    ----------
    n_features_in_ : int
        Columns seen at fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X has string column names.
    numeric_ : list of int
        Positions of the numeric columns.
    categorical_ : list of int
        Positions of the categorical columns.
    center_, scale_ : ndarray of shape (n_numeric,)
        Median and scale (see ``scaling``) of each numeric column.
    indicated_ : list of int
        Indices into ``numeric_`` of the columns that get a missing indicator.
    spiked_ : list of int
        Indices into ``numeric_`` of the columns that get a spike indicator
        (+1 where the number equals the column's spike, -1 elsewhere).
    spike_values_ : ndarray of shape (len(spiked_),)
        The spike of each column in ``spiked_`` (float32 values).
    categories_ : list of list of str
        The one-hot categories of each categorical column, as strings.
    n_features_out_ : int
        Width of the encoded matrix.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skensemble.preprocessing import TableEncoder
    >>> X = pd.DataFrame({"age": [20.0, np.nan, 40.0], "city": ["Oslo", "Rome", None]})
    >>> TableEncoder().fit_transform(X).shape  # age, its missing indicator, Oslo, Rome, missing, other
    (3, 6)
    """

    _parameter_constraints = {"max_categories": [Interval(numbers.Integral, 1, None, closed="left")],
                              "scaling": [StrOptions({"auto", "standard", "robust"})]}

    def __init__(self, max_categories=32, scaling="auto"):
        self.max_categories = max_categories
        self.scaling = scaling

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Learn the columns' kinds, scales and categories from ``X``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The raw table.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights of the statistics: medians and quartiles (inverted
            CDF, so a row of weight 2 counts as the row twice), category
            frequencies, ranges and missing indicators (rows of weight 0 count
            as absent).  ``None`` weighs rows equally.

        Returns
        -------
        self : object
            The fitted encoder.
        """
        X = check_table(X)
        validate_data(self, X, reset=True, skip_check_array=True)
        frame = _as_frame(X)
        if len(frame) == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape=(0, {frame.shape[1]})) while a minimum of 1 "
                             "is required.")
        dtypes = list(frame.dtypes)  # one read (a column each through iloc cost 0.2 ms a column)
        kinds = [_is_categorical(dtype) for dtype in dtypes]
        self.numeric_ = [j for j, cat in enumerate(kinds) if not cat]
        self.categorical_ = [j for j, cat in enumerate(kinds) if cat]
        if sample_weight is not None:  # a row of weight 0 is a row left out
            sample_weight = check_sample_weight(sample_weight, frame)
            frame, sample_weight = frame[sample_weight > 0], sample_weight[sample_weight > 0]
        numbers_ = self._numbers(frame)
        missing = np.isnan(numbers_)
        # median, quartiles (columns all missing: NaN) and half the range of each numeric column
        columns = [sorted_present(column, sample_weight) for column in numbers_.T]  # each sorted once
        stats = np.array([quantiles_of_sorted(*column, [0.0, 0.25, 0.5, 0.75, 1.0])
                          for column in columns]).reshape(-1, 5)
        low, q25, center, q75, high = stats.T
        self.scale_ = _column_scales(self.scaling, numbers_, sample_weight, q25, q75, low, high)
        self.center_ = np.nan_to_num(center, nan=0.0)
        self.indicated_ = [i for i in range(len(self.numeric_)) if missing[:, i].any()]
        self.spiked_, self.spike_values_ = _spikes(columns)
        self.categories_ = []
        for j in self.categorical_:
            values = self._strings(frame.iloc[:, j])
            present = (values != _MISSING).to_numpy()
            weights = pd.Series(np.ones(len(values)) if sample_weight is None else sample_weight,
                                index=values.index)
            counts = weights[present].groupby(values[present], sort=False).sum()
            order = sorted(counts.index, key=lambda v: (-counts[v], v))  # by frequency, then by name
            self.categories_.append([str(v) for v in order[: self.max_categories]])
        self.dtypes_ = [str(dtype) for dtype in dtypes]
        self.n_features_out_ = (len(self.numeric_) + len(self.indicated_) + len(self.spiked_)
                                + sum(len(c) + 2 for c in self.categories_))
        self._build_encoding()
        return self

    def _build_encoding(self):
        """``encoding_`` (the torch layer) and the category lookups, from the fitted statistics."""
        self.encoding_ = TableEncoding(self.center_, self.scale_, self.indicated_,
                                       [len(c) + 2 for c in self.categories_], self.spiked_, self.spike_values_)
        self._codes_of = [{c: i for i, c in enumerate(categories)} for categories in self.categories_]

    def _save_state(self, writer, state, path):
        """The layer and lookups are derived from the saved statistics: rebuilt at load, not stored."""
        state.pop("encoding_", None)
        state.pop("_codes_of", None)
        return state, {}

    def __setstate__(self, state):
        old = "center_" in state and "spiked_" not in state  # pickled before spike indicators
        if old:
            state = {**state, **_no_spikes()}
        super().__setstate__(state)
        if old:  # its pickled layer is of that time too: rebuilt from the statistics, as a loaded file's is
            self._build_encoding()

    def _load_state(self, reader, extra):
        if not hasattr(self, "spiked_"):  # saved before spike indicators: encoded without them, as at its fit
            vars(self).update(_no_spikes())
        self._build_encoding()

    def transform(self, X):
        """The encoded matrix, float32 of shape ``(n_samples, n_features_out_)``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            A table with the columns seen at fit.

        Returns
        -------
        X_enc : ndarray of shape (n_samples, n_features_out_)
            Scaled numbers, missing indicators, one-hot categories.
        """
        check_is_fitted(self)
        X = check_table(X)
        check_columns(self, X)  # scikit-learn's checks of the column count and names, with a fast path
        return self.encode(X).numpy()

    def encode(self, X):
        """The encoded rows of a table already checked for its columns, as a float32 tensor.

        What :meth:`transform` returns, without its checks: the nets and
        wrappers that validated ``X`` themselves call this once per
        prediction.  The arithmetic runs in ``encoding_``, a float32 torch
        layer (:class:`~skensemble.preprocessing._table_module.TableEncoding`).
        """
        rows = self.raw_rows(X)
        if rows.size <= _FEW_CELLS:  # NumPy's kernels, bit for bit the layer's (a third of its time on one row)
            return self.encoding_.encode_few(rows)
        # a numeric array of another dtype was converted: the rows are this call's own, to encode in place
        owned = isinstance(X, np.ndarray) and X.dtype != np.float32 and not self.categorical_
        rows = torch.from_numpy(rows if rows.flags.writeable else rows.copy())  # a read-only float32 array as is
        if torch.is_inference_mode_enabled():  # a prediction's single inference mode (nets' _forward)
            return self.encoding_(rows, overwrite=owned)
        with torch.no_grad():  # not inference mode: callers may feed the rows to a module that trains
            return self.encoding_(rows, overwrite=owned)

    def raw_rows(self, X):
        """``encoding_``'s input: float32 numbers (NaN where missing), then each categorical column's codes.

        Parameters
        ----------
        X : DataFrame or ndarray of shape (n_samples, n_features_in_)
            A table with the columns seen at fit (not checked here).

        Returns
        -------
        rows : ndarray of shape (n_samples, n_numeric + n_categorical), float32
            A category's code is its index in ``categories_[k]``; a missing
            value's is ``len(categories_[k])`` and any other value's one more.
        """
        if not self.categorical_ and isinstance(X, np.ndarray) and X.dtype.kind in "fiub":
            return self._float32(X)  # a numeric array: no DataFrame on the way (batch-1 latency)
        frame = _as_frame(X)
        values = frame.to_numpy(dtype=object) if frame.size <= _SMALL_TABLE_CELLS else None
        numbers = self._float32(self._numbers(frame, values))
        if not self.categorical_:
            return numbers
        codes = [self._codes(k, frame.iloc[:, j].to_numpy(dtype=object) if values is None else values[:, j])
                 for k, j in enumerate(self.categorical_)]
        return np.hstack([numbers, np.column_stack(codes).astype(np.float32)])

    @staticmethod
    def _float32(numbers):
        """``numbers`` as float32; infinity (or a number beyond float32's range) is refused."""
        out = _as_float32(numbers)
        if _has_infinity(out):
            raise ValueError("Input X contains infinity (or a number beyond float32's range); a missing value "
                             "may be NaN, but infinity has no place on the scale of a column.")
        return out

    def _codes(self, k, values):
        """The codes of categorical column ``k``'s values (an object array); see :meth:`raw_rows`.

        One dictionary lookup per value (a value that is not a string, such
        as a number or a boolean, is looked up as its string, as at fit):
        faster than pandas' vectorised lookup up to tens of thousands of rows.
        """
        codes_of, n = self._codes_of[k], len(self.categories_[k])
        missing = pd.isna(values)
        return np.fromiter((n if gone else codes_of.get(v if isinstance(v, str) else str(v), n + 1)
                            for v, gone in zip(values, missing)), dtype=np.int64, count=len(values))

    def inverse_transform(self, X):
        """A raw table whose encoding is (about) ``X``: what a model fitted on the raw table can read.

        Numbers are unclipped and unscaled; a missing indicator above 0.5
        makes the value missing; each categorical column takes its one-hot
        block's largest entry (the "other" column gives the most frequent
        category, or missing when there was none).  Distillation labels its
        synthetic rows, made in the encoded space, this way.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_out_)
            Encoded rows.

        Returns
        -------
        table : DataFrame of shape (n_samples, n_features_in_)
            Columns named and typed as at fit (numbers as float64).
        """
        check_is_fitted(self)
        X = np.asarray(X, dtype=np.float64)
        n_num, n_ind, n_spk = len(self.numeric_), len(self.indicated_), len(self.spiked_)
        clipped = np.clip(X[:, :n_num], -SMOOTH_CLIP * 0.999, SMOOTH_CLIP * 0.999)
        numbers_ = clipped / np.sqrt(1.0 - (clipped / SMOOTH_CLIP) ** 2) * self.scale_ + self.center_
        for k, (i, value) in enumerate(zip(self.spiked_, self.spike_values_)):
            numbers_[X[:, n_num + n_ind + k] > 0.0, i] = value
        for k, i in enumerate(self.indicated_):
            numbers_[X[:, n_num + k] > 0.5, i] = np.nan
        columns = {}
        for k, j in enumerate(self.numeric_):
            columns[j] = numbers_[:, k]
        pos = n_num + n_ind + n_spk
        for j, categories in zip(self.categorical_, self.categories_):
            block = X[:, pos: pos + len(categories) + 2]
            pos += len(categories) + 2
            pick = block.argmax(axis=1)
            fallback = categories[0] if categories else None
            values = np.array(list(categories) + [None, fallback], dtype=object)[pick]
            columns[j] = self._typed(values, self.dtypes_[j])
        names = (list(self.feature_names_in_) if hasattr(self, "feature_names_in_")
                 else list(range(self.n_features_in_)))
        return pd.DataFrame({names[j]: columns[j] for j in range(self.n_features_in_)})

    @staticmethod
    def _typed(values, dtype):
        """Category strings back in the column's dtype at fit (``bool``, ``category``, ``string``, object)."""
        if dtype == "bool":
            return pd.array([None if v is None else v == "True" for v in values], dtype="boolean")
        if dtype in ("category", "string"):
            return pd.Series(values).astype(dtype)
        return values

    def get_feature_names_out(self, input_features=None):
        """Names of the encoded columns: ``<column>``, ``<column>_missing``, ``<column>_is_<spike>``,
        ``<column>=<category>``."""
        check_is_fitted(self)
        names = (list(map(str, self.feature_names_in_)) if hasattr(self, "feature_names_in_")
                 else [f"x{j}" for j in range(self.n_features_in_)])
        out = [names[j] for j in self.numeric_]
        out += [f"{names[self.numeric_[i]]}_missing" for i in self.indicated_]
        out += [f"{names[self.numeric_[i]]}_is_{value:g}" for i, value in zip(self.spiked_, self.spike_values_)]
        for j, categories in zip(self.categorical_, self.categories_):
            out += [f"{names[j]}={c}" for c in categories] + [f"{names[j]}_missing", f"{names[j]}_other"]
        return np.asarray(out, dtype=object)

    def _numbers(self, frame, values=None):
        """The numeric columns as float64 (NaN where missing); infinity is refused.

        ``values``, the table as an object matrix (short tables), is read
        instead of the frame where its numbers convert as they are.
        """
        if not self.numeric_:
            return np.zeros((len(frame), 0))
        if values is not None:
            try:
                numbers = values[:, self.numeric_].astype(np.float64)
            except (TypeError, ValueError):  # pandas' missing markers, or text: the frame says which
                numbers = None
            if numbers is not None and not np.isinf(numbers).any():
                return numbers
        block = frame.iloc[:, self.numeric_]
        try:
            values = block.astype(np.float64).to_numpy()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"A column that was numeric at fit holds values that are not numbers: {exc}") from None
        if np.isinf(values).any():
            column = block.columns[np.isinf(values).any(axis=0)][0]
            raise ValueError(f"Input X contains infinity (in column {column!r}); a missing value may be NaN, "
                             "but infinity has no place on the scale of a column.")
        return values

    @staticmethod
    def _strings(column):
        """A categorical column as strings, with missing values as the missing marker."""
        missing = column.isna().to_numpy()
        values = column.astype(object).astype(str).to_numpy(dtype=object)
        values[missing] = _MISSING
        return pd.Series(values, dtype=object)


_MISSING = "\x00missing"

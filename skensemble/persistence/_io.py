"""``save`` and ``load``: a model file that loading cannot turn into code execution.

The file is a zip archive:

``manifest.json``
    Format version, library versions, and the model as a tree of JSON nodes:
    allow-listed class names with their attributes; torch modules as layer
    lists; nothing is pickled.
``tensors.safetensors``
    Every torch weight and numeric numpy array (safetensors holds raw data only).
``parts/N.skops``
    Plain scikit-learn estimators (a logistic regression, a forest, ...) in
    skops' format, loaded with its trusted-types check.
``quantized/N.pt``, ``onnx/N.onnx``
    Files that estimators store themselves (here: torch's packed int8 states,
    loaded with ``torch.load(weights_only=True)``, and ONNX graphs).

The manifest records the SHA-256 of every other file; loading checks them.

The writer and reader know plain data, arrays, registered classes, torch
modules made of registered layers, skorch callbacks and skops parts; an
estimator's fitted state beyond its attributes is its own business, through
its ``_save_state``/``_load_state`` methods (see ``register``).
"""

import hashlib
import inspect
import json
import warnings
import zipfile

import numpy as np
import torch
from safetensors.numpy import load as np_load
from safetensors.numpy import save as np_save
from safetensors.torch import load as torch_load_st
from safetensors.torch import save as torch_save_st
from sklearn.base import BaseEstimator, clone
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from skorch import NeuralNet
from skorch.callbacks import Callback
from torch import nn

from ._modules import UntrustedTypesError, describe, import_name, rebuild, resolve
from ._registry import CALLBACKS, LAYERS, SPLITTERS, TYPES, estimator_classes, estimator_key, module_classes
from ._sklearn_trust import DEFAULT_TRUSTED, check_default_trusted

FORMAT = "skensemble-model"
FORMAT_VERSION = 1


# --- saving -------------------------------------------------------------------
class Writer:
    """Collects a model's manifest nodes, tensors, arrays and files while it is encoded.

    Estimators' ``_save_state`` methods (see :func:`register`) store what is
    not plain data through ``add_tensors``, ``add_file`` and ``module``.
    """

    def __init__(self):
        self.tensors, self.arrays, self.files = {}, {}, {}
        self.structure_only = set()  # ids of modules whose weights are restored from elsewhere
        self.memo = {}  # id(object) -> node id, so shared objects are saved once
        self._alive = []  # keep memoised objects alive so their ids stay unique

    def add_tensors(self, kind, state_dict):
        """Store a state dict's tensors; return the prefix that ``Reader.tensors_under`` takes."""
        prefix = f"{kind}.{len(self.tensors)}"
        for k, v in state_dict.items():
            self.tensors[f"{prefix}.{k}"] = v.detach().cpu().clone().contiguous()
        return prefix

    def add_file(self, folder, extension, data):
        """Store raw bytes as a member of the archive; return its name."""
        name = f"{folder}/{len(self.files)}.{extension}"
        self.files[name] = data
        return name

    def skip_weights(self, module):
        """Save ``module`` as structure only: its owner restores the weights at load."""
        self.structure_only.add(id(module))
        self._alive.append(module)

    def encode(self, value, path):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, np.generic):
            return {"t": "npscalar", "dtype": value.dtype.str, "v": value.item()}
        if isinstance(value, np.ndarray):
            return self._array(value, path)
        if isinstance(value, Bunch):
            return {"t": "bunch", "v": {k: self.encode(v, f"{path}.{k}") for k, v in value.items()}}
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                raise TypeError(f"{path}: dict keys must be strings to be saved.")
            return {"t": "dict", "v": {k: self.encode(v, f"{path}.{k}") for k, v in value.items()}}
        if isinstance(value, (list, tuple)):
            items = [self.encode(v, f"{path}[{i}]") for i, v in enumerate(value)]
            return {"t": "tuple" if isinstance(value, tuple) else "list", "v": items}
        if isinstance(value, np.dtype):
            return {"t": "dtype", "v": value.str}
        if isinstance(value, type) and _key_in(TYPES, value) is not None:
            return {"t": "type", "v": _key_in(TYPES, value)}
        if isinstance(value, type) or inspect.isfunction(value):
            if "<locals>" in value.__qualname__:
                raise TypeError(f"{path}: {value.__qualname__} is defined inside a function, so a "
                                "loaded file could not name it; define it at the top level of a module.")
            return {"t": "callable", "v": import_name(value)}
        if isinstance(value, Callback):
            return self._callback(value, path)
        if _key_in(SPLITTERS, type(value)) is not None:
            params = {"cv": value.cv, "stratified": value.stratified, "random_state": value.random_state}
            return {"t": "splitter", "cls": _key_in(SPLITTERS, type(value)),
                    "v": {k: self.encode(v, f"{path}.{k}") for k, v in params.items()}}
        if isinstance(value, NeuralNet):
            raise TypeError(
                f"{path}: a raw skorch net ({type(value).__name__}) cannot be saved safely; "
                "use skensemble's nets, or skorch's save_params for its weights."
            )
        registered = estimator_key(type(value)) is not None
        if registered or isinstance(value, BaseEstimator):
            if id(value) in self.memo:
                return {"t": "ref", "id": self.memo[id(value)]}
            node_id = len(self.memo)
            self.memo[id(value)] = node_id
            self._alive.append(value)
            if registered:
                node = self._object(value, path)
            else:
                node = self._skops(value, path)
            node["id"] = node_id
            return node
        raise TypeError(f"{path}: objects of type {type(value).__qualname__} cannot be saved.")

    def _array(self, value, path):
        if value.dtype.kind in "biuf" and value.dtype.itemsize <= 8:
            key = f"a{len(self.arrays)}"
            self.arrays[key] = np.ascontiguousarray(value)
            return {"t": "ndarray", "key": key}
        flat = value.ravel().tolist()
        if not all(v is None or isinstance(v, (bool, int, float, str)) for v in flat):
            raise TypeError(f"{path}: arrays of objects other than numbers and strings cannot be saved.")
        return {"t": "ndarray_json", "dtype": value.dtype.str if value.dtype.kind != "O" else "object",
                "shape": list(value.shape), "v": flat}

    def _callback(self, callback, path):
        key = _key_in(CALLBACKS, type(callback))
        if key is None:
            raise TypeError(f"{path}: the callback {type(callback).__qualname__} cannot be saved.")
        params = _non_default_params(callback)
        return {"t": "callback", "cls": key,
                "params": {k: self.encode(v, f"{path}.{k}") for k, v in params.items()}}

    def saveable_callbacks(self, callbacks, path):
        """The callbacks that can be saved as data; a warning names the others."""
        kept, dropped = [], []
        for i, entry in enumerate(callbacks):
            callback = entry[1] if isinstance(entry, tuple) else entry
            problem = _callback_problem(callback)
            if problem is None:
                kept.append(entry)
            else:
                dropped.append(f"{path}.callbacks[{i}] ({problem})")
        if dropped:
            warnings.warn(f"These callbacks are not saved and are missing from the loaded model: "
                          f"{'; '.join(dropped)}.", UserWarning)
        return kept or None

    def plain(self, value):
        """``value`` as plain JSON data (numpy scalars and arrays become numbers and lists)."""
        return json.loads(json.dumps(value, default=_json_default))

    def _skops(self, value, path):
        import skops.io as sio

        return {"t": "skops", "file": self.add_file("parts", "skops", sio.dumps(value))}

    def _object(self, obj, path):
        state = dict(vars(obj))
        if not isinstance(obj, (Pipeline, FrozenEstimator)):
            # Parameters are saved as configuration: a fitted estimator given as a
            # parameter (a frozen teacher or base net) is saved unfitted, so the
            # file carries only the fitted model itself.
            for name in obj.get_params(deep=False):
                if name in state:
                    state[name] = _unfitted(state[name])
        extra = {}
        if hasattr(obj, "_save_state"):
            state, extra = obj._save_state(self, state, path)
        encoded = {k: self.encode(v, f"{path}.{k}") for k, v in state.items()}
        return {"t": "obj", "cls": estimator_key(type(obj)), "state": encoded,
                "extra": extra}

    def module(self, module, path, build=None):
        """A torch module and its weights (as tensors).

        skensemble's flat modules (see ``register_module``) are stored as a
        layer list; any other module as what builds it, ``build = (builder,
        kwargs)``, plus the layers that differ from a fresh build (see
        :mod:`._modules`).  Modules passed to :meth:`skip_weights` are stored
        as structure only.
        """
        prefix = None
        training = _training_names(module)
        cls = next((k for k, c in module_classes().items() if type(module) is c), None)
        flat = isinstance(getattr(module, "layers", None), nn.Sequential) and all(
            type(layer) is LAYERS.get(type(layer).__name__, (None,))[0] for layer in module.layers)
        if id(module) not in self.structure_only:
            prefix = self.add_tensors("m", module.state_dict())
        if cls is not None and flat and len(dict(module.named_children())) == 1:
            layers = [{"type": type(layer).__name__, "args": LAYERS[type(layer).__name__][1](layer)}
                      for layer in module.layers]
            return {"cls": cls, "layers": layers, "prefix": prefix, **training}
        description, kwargs = describe(module, build, path)
        return {**description, "kwargs": self.encode(kwargs, f"{path}.kwargs"), "prefix": prefix, **training}


def _training_names(module):
    """``{"training": [names]}`` of the submodules in training mode ("" is the root); ``{}`` when none is.

    Fitting leaves a module in eval mode, which a file without the key means
    (files written before the key existed held fitted modules).
    """
    names = [name for name, m in module.named_modules() if m.training]
    return {"training": names} if names else {}


def _set_training(module, names):
    """Eval mode everywhere but the submodules ``names`` (see :func:`_training_names`)."""
    module.train(False)
    modules = dict(module.named_modules())
    for name in names:
        if name in modules:
            modules[name].training = True
    return module


def _key_in(registry, cls):
    return next((k for k, c in registry.items() if c is cls), None)


def _non_default_params(callback):
    """The callback's parameters that differ from its constructor's defaults.

    Defaults are left out: some are functions (``sink=print``), which the
    constructor supplies again at load.
    """
    signature = inspect.signature(type(callback).__init__).parameters
    return {k: v for k, v in callback.get_params(deep=False).items()
            if not (k in signature and v is signature[k].default)}


def _callback_problem(callback):
    """Why ``callback`` cannot be saved as data, or None when it can.

    Each parameter is encoded by a throwaway writer: what ``save`` can store
    is decided in one place, and the real file is left untouched.
    """
    if _key_in(CALLBACKS, type(callback)) is None:
        return f"{type(callback).__qualname__} is not a known skorch callback"
    probe = Writer()
    for name, value in _non_default_params(callback).items():
        try:
            probe.encode(value, name)
        except TypeError:
            return f"its parameter {name}={value!r} is not plain data"
    return None


def _unfitted(value):
    """``value`` with every estimator in it replaced by an unfitted clone."""
    if isinstance(value, FrozenEstimator):
        return FrozenEstimator(clone(value.estimator))
    if isinstance(value, (list, tuple)):
        return type(value)(_unfitted(v) for v in value)
    if hasattr(value, "get_params") and not isinstance(value, type):
        return clone(value)
    return value


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _versions():
    import sklearn
    import skorch

    from .._version import __version__

    return {"skensemble": __version__, "torch": torch.__version__,
            "scikit-learn": sklearn.__version__, "skorch": skorch.__version__,
            "numpy": np.__version__}


def save(estimator, path):
    """Save a fitted (or unfitted) skensemble estimator to ``path`` (a zip file).

    Covers skensemble's nets (pruned ones included), compression
    meta-estimators, ensembles, pipelines and plain scikit-learn estimators
    among them.  A net's skorch callbacks are saved when they are
    configuration only (allow-listed classes with plain-data parameters);
    others are dropped with a warning naming them.  Raw skorch nets, callables and other objects that cannot be
    stored as data raise a ``TypeError`` naming them.  A distilled model is
    saved without its fitted teacher.
    """
    writer = Writer()
    root = writer.encode(estimator, "estimator")
    files = dict(writer.files)
    files["tensors.safetensors"] = torch_save_st(writer.tensors) if writer.tensors else b""
    files["arrays.safetensors"] = np_save(writer.arrays) if writer.arrays else b""
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "versions": _versions(),
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        "root": root,
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        for name, data in files.items():
            zf.writestr(name, data)
    return path


# --- loading ------------------------------------------------------------------
class Reader:
    """Decodes a model file's manifest; estimators' ``_load_state`` use its ``file``,
    ``tensors_under`` and ``module``."""

    def __init__(self, zf, manifest, trusted):
        self.zf, self.manifest, self.trusted = zf, manifest, list(trusted or [])
        self._tensors = self._arrays = None
        self.objects = {}

    def file(self, name):
        expected = self.manifest["sha256"].get(name)
        if expected is None:
            raise ValueError(f"The file names a member {name!r} that its manifest does not list.")
        data = self.zf.read(name)
        if hashlib.sha256(data).hexdigest() != expected:
            raise ValueError(f"{name} does not match its SHA-256 in the manifest: the file is corrupt "
                             "or was altered.")
        return data

    @property
    def tensors(self):
        if self._tensors is None:
            data = self.file("tensors.safetensors")
            self._tensors = torch_load_st(data) if data else {}
        return self._tensors

    @property
    def arrays(self):
        if self._arrays is None:
            data = self.file("arrays.safetensors")
            self._arrays = np_load(data) if data else {}
        return self._arrays

    def decode(self, node):
        if not isinstance(node, dict):
            return node
        t = node.get("t")
        if t == "npscalar":
            return np.dtype(node["dtype"]).type(node["v"])
        if t == "ndarray":
            return self.arrays[node["key"]].copy()
        if t == "ndarray_json":
            dtype = object if node["dtype"] == "object" else np.dtype(node["dtype"])
            return np.array(node["v"], dtype=dtype).reshape(node["shape"])
        if t in ("dict", "bunch"):
            out = {k: self.decode(v) for k, v in node["v"].items()}
            return Bunch(**out) if t == "bunch" else out
        if t in ("list", "tuple"):
            items = [self.decode(v) for v in node["v"]]
            return tuple(items) if t == "tuple" else items
        if t == "dtype":
            return np.dtype(node["v"])
        if t == "type":
            if node["v"] not in TYPES:
                raise UntrustedTypesError(f"Unknown type {node['v']!r} in the file.")
            return TYPES[node["v"]]
        if t == "splitter":
            if node["cls"] not in SPLITTERS:
                raise UntrustedTypesError(f"Unknown validation splitter {node['cls']!r} in the file.")
            return SPLITTERS[node["cls"]](**{k: self.decode(v) for k, v in node["v"].items()})
        if t == "callable":  # a class or function given as a parameter: only when trusted
            return resolve({"import": node["v"]}, self.trusted)
        if t == "ref":
            if node["id"] not in self.objects:
                raise ValueError("The file refers to an object it does not define.")
            return self.objects[node["id"]]
        if t == "skops":
            obj = self.objects[node.get("id")] = self._skops(node)
            return obj
        if t == "obj":
            return self._object(node)
        if t == "callback":
            if node["cls"] not in CALLBACKS:
                raise UntrustedTypesError(f"Unknown callback {node['cls']!r} in the file.")
            return CALLBACKS[node["cls"]](**{k: self.decode(v) for k, v in node["params"].items()})
        raise ValueError(f"Unknown node type {t!r} in the file.")

    def _skops(self, node):
        import skops.io as sio

        data = self.file(node["file"])
        named = {t for t in self.trusted if isinstance(t, str)}
        allowed = named | set(DEFAULT_TRUSTED)
        untrusted = [u for u in sio.get_untrusted_types(data=data) if u not in allowed]
        if untrusted:
            raise UntrustedTypesError(
                f"The file holds types that are not trusted: {untrusted}. Inspect them and pass "
                "them in load(..., trusted=[...]) if you trust their source."
            )
        obj = sio.loads(data, trusted=sorted(allowed))
        check_default_trusted(obj, set(DEFAULT_TRUSTED) - named)
        return obj

    def _object(self, node):
        classes = estimator_classes()
        if node["cls"] not in classes:
            raise UntrustedTypesError(
                f"The file names the class {node['cls']!r}, which skensemble does not load."
            )
        cls = classes[node["cls"]]
        obj = cls.__new__(cls)
        self.objects[node.get("id")] = obj
        for key, value in node["state"].items():
            setattr(obj, key, self.decode(value))
        _add_new_parameters(obj)
        if hasattr(obj, "_load_state"):
            obj._load_state(self, node.get("extra", {}))
        return obj

    def tensors_under(self, prefix):
        """The state dict stored by ``Writer.add_tensors`` under ``prefix``."""
        prefix = prefix + "."
        return {k[len(prefix):]: v for k, v in self.tensors.items() if k.startswith(prefix)}

    def module(self, spec, device="cpu"):
        """Rebuild a torch module stored by ``Writer.module`` from registered or trusted builders.

        A module stored as structure only (``"prefix": None``) keeps its fresh
        initial weights: its owner restores them.
        """
        if "builder" in spec:
            kwargs = self.decode(spec["kwargs"])
            module = rebuild(spec, kwargs, resolve(spec["builder"], self.trusted))
        else:
            mcls = module_classes().get(spec["cls"])
            if mcls is None:
                raise UntrustedTypesError(f"Unknown module class {spec['cls']!r}.")
            layers = []
            for layer in spec["layers"]:
                if layer["type"] not in LAYERS:
                    raise UntrustedTypesError(f"Unknown layer {layer['type']!r}.")
                layers.append(LAYERS[layer["type"]][0](**layer["args"]))
            module = mcls.__new__(mcls)
            nn.Module.__init__(module)
            module.layers = nn.Sequential(*layers)
        if spec["prefix"] is not None:
            module.load_state_dict(self.tensors_under(spec["prefix"]), strict=True)
        return _set_training(module, spec.get("training", ())).to(device)


# Parameters added after files were first written, with the value that does what the
# estimators of those files did (it differs from today's default): no numerical embeddings,
# no table encoder.
_ABSENT_MEANS = {"num_embeddings": None, "preprocessing": None, "share_training_batches": True}


def _add_new_parameters(obj):
    """Parameters the class gained after the file was written: the value that keeps the file's behaviour.

    A file keeps loading into a newer class.  A parameter it does not name
    takes the value in ``_ABSENT_MEANS`` (what estimators did before the
    parameter existed: ``num_embeddings=None``, ``preprocessing=None``,
    ``share_training_batches=True``), else
    the class default; so a loaded net refitted, cloned or pruned builds the
    module the file holds.
    """
    init = type(obj).__init__
    if init is object.__init__ or not hasattr(obj, "get_params"):
        return
    for name, parameter in inspect.signature(init).parameters.items():
        if parameter.kind is parameter.KEYWORD_ONLY or parameter.kind is parameter.POSITIONAL_OR_KEYWORD:
            if name != "self" and name not in vars(obj) and parameter.default is not parameter.empty:
                setattr(obj, name, _ABSENT_MEANS.get(name, parameter.default))


def load(path, *, trusted=None):
    """Load a model saved with :func:`save`, without executing code from the file.

    Parameters
    ----------
    path : str or path-like
        The file.
    trusted : list of str, classes or functions, default=None
        What to trust beyond skensemble's own classes: the torch module
        classes (or functions returning a module) that built the file's
        user modules, as the objects themselves or their import names
        (``"mypackage.models.TabularNet"``; a file naming one that is not
        trusted raises ``UntrustedTypesError`` naming it), and type names
        (as skops reports them) in the plain scikit-learn parts, beyond
        skops' defaults and skensemble's.  skensemble also
        trusts scikit-learn's trees (forests, gradient boosting,
        histogram gradient boosting) and calibration helpers, after checking
        every node and feature index of the trees (``CorruptModelError`` when
        one is out of range; see ``SECURITY.md``).  Untrusted types raise
        ``UntrustedTypesError`` listing them.
    """
    with zipfile.ZipFile(path) as zf:
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except KeyError:
            raise ValueError(f"{path} is not a skensemble model file (no manifest.json).") from None
        if manifest.get("format") != FORMAT:
            raise ValueError(f"{path} is not a skensemble model file.")
        if manifest.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(
                f"{path} uses format version {manifest['format_version']}, newer than this "
                f"skensemble supports ({FORMAT_VERSION}); upgrade skensemble to load it."
            )
        return Reader(zf, manifest, trusted).decode(manifest["root"])

"""Safe persistence: ``save`` and ``load`` without pickle.

This package holds the file format, the writer and reader, and the closed
allow-lists; it imports no estimator module.  Estimators join the allow-list
with :func:`register` where they are defined and own their fitted state
through ``_save_state``/``_load_state`` (see :func:`register`).
"""

from ._io import FORMAT_VERSION, Reader, UntrustedTypesError, Writer, load, save
from ._registry import register, register_layer, register_module, register_splitter
from ._sklearn_trust import CorruptModelError

__all__ = [
    "FORMAT_VERSION",
    "CorruptModelError",
    "Reader",
    "UntrustedTypesError",
    "Writer",
    "load",
    "register",
    "register_layer",
    "register_module",
    "register_splitter",
    "save",
]

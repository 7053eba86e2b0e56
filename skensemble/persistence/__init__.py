"""Safe persistence: ``save`` and ``load`` without pickle."""

from ._io import FORMAT_VERSION, UntrustedTypesError, load, save
from ._sklearn_trust import CorruptModelError

__all__ = ["FORMAT_VERSION", "CorruptModelError", "UntrustedTypesError", "load", "save"]

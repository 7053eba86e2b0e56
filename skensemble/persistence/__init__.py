"""Safe persistence: ``save`` and ``load`` without pickle."""

from ._io import FORMAT_VERSION, UntrustedTypesError, load, save

__all__ = ["FORMAT_VERSION", "UntrustedTypesError", "load", "save"]

"""Adapters: the only modules of skensemble that read other libraries' private names.

One module per library (:mod:`.sklearn`, :mod:`.skorch`, :mod:`.torch`).
Each states the versions it was tested on, checks the installed version when
it is imported (a clear error outside them, instead of a failure deep inside
a fit), and gives the rest of the package plain functions and names for the
private pieces it needs.  ``tests/test_architecture.py`` fails when any other
module of the package reads a private name of scikit-learn, skorch or torch.

A library's private method that one of skensemble's classes overrides (an
override point that library documents only in its source) is listed with the
reason in the adapter's ``OVERRIDDEN`` table; the architecture test checks
that list against the classes.
"""

import re


def release(version):
    """``(major, minor)`` of a version string: ``"1.6.1" -> (1, 6)``, ``"2.13.0+cpu" -> (2, 13)``."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        raise ValueError(f"Cannot read the version {version!r}.")
    return int(match.group(1)), int(match.group(2))


class UntestedVersionError(ImportError):
    """An installed library's version is outside the versions skensemble was tested with."""


def check_version(library, version, lowest, newest, pip_name=None):
    """Refuse ``version`` of ``library`` outside the minor releases ``lowest``..``newest`` (both tested)."""
    if not release(lowest) <= release(version) <= release(newest):
        major, minor = release(newest)
        raise UntestedVersionError(
            f"skensemble was tested with {library} {lowest} to {newest}.x and reads some of its "
            f"internals, which change between minor releases; found {library} {version}. Install a "
            f"tested one: pip install '{pip_name or library}>={lowest},<{major}.{minor + 1}'."
        )

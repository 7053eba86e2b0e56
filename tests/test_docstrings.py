"""Every Examples section in the package runs and prints what it says (doctest)."""

import doctest
import importlib
import pkgutil
import warnings

import pytest

import skensemble


def _modules():
    for info in pkgutil.walk_packages(skensemble.__path__, "skensemble."):
        if ".tests" not in info.name and not info.name.endswith("__main__"):
            yield info.name


@pytest.mark.parametrize("name", sorted(_modules()))
def test_docstring_examples(name):
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0

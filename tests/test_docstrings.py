"""Every Examples section in the package runs and prints what it says (doctest)."""

import doctest
import importlib
import pkgutil
import warnings

import pytest

import skensemble


def _modules():
    """The package's modules whose docstrings hold examples (a module without any is no test case)."""
    finder = doctest.DocTestFinder()
    for info in pkgutil.walk_packages(skensemble.__path__, "skensemble."):
        if ".tests" not in info.name and not info.name.endswith("__main__"):
            if any(test.examples for test in finder.find(importlib.import_module(info.name))):
                yield info.name


def test_examples_are_found():
    assert len(list(_modules())) >= 20  # the estimators' and helpers' Examples sections


@pytest.mark.parametrize("name", sorted(_modules()))
def test_docstring_examples(name):
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0

"""scikit-learn's own voting and stacking tests, run against skensemble's classes.

The test modules ship in scikit-learn's wheel; a plugin
(``tests/sklearn_suite/skensemble_swap.py``) points their voting and
stacking classifiers and regressors at skensemble's before they are
imported, in a separate pytest process, so each new scikit-learn release is
checked too.  Nothing of scikit-learn's test code is copied here.

Deliberate differences (documented in ``docs/guide/ensembles.md``):

* ``test_voting.py::test_sample_weight_kwargs``: soft voting over a member
  without ``predict_proba`` is refused at ``fit`` (scikit-learn fails at
  ``predict_proba``, after every member has trained; with nets that can be
  minutes lost).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

DELIBERATE = ["test_sample_weight_kwargs"]  # test names, in test_voting.py


@pytest.mark.sklearn_suite
def test_sklearn_voting_and_stacking_tests_pass_with_skensemble_classes(tmp_path):
    import sklearn

    tests = Path(sklearn.__file__).parent / "ensemble" / "tests"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).parent / "sklearn_suite"), os.environ.get("PYTHONPATH", "")]))
    deselect = ["-k", " and ".join(f"not {name}" for name in DELIBERATE)]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "skensemble_swap",
         "-o", "addopts=", "--rootdir", str(tmp_path), *deselect,
         str(tests / "test_voting.py"), str(tests / "test_stacking.py")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in summary and f"{len(DELIBERATE)} deselected" in summary

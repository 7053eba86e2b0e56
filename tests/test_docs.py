"""The docs site builds offline with warnings as errors (mkdocs --strict)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def test_docs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert "n_params_dense_" in api and "fidelity_" in api  # docstrings rendered
    missing = [name for name, section in _class_sections(api) if "Parameters:" not in section]
    assert missing == [], f"classes rendered without a Parameters section: {missing}"


def _class_sections(html):
    """(name, rendered html) of every class the API page lists with ``::: name``."""
    import importlib
    import inspect
    import re

    names = re.findall(r"^::: (\S+)", (ROOT / "docs" / "api.md").read_text(), re.M)
    starts = sorted((html.index(f'id="{name}"'), name) for name in names)
    ends = [start for start, _ in starts[1:]] + [len(html)]
    for (start, name), end in zip(starts, ends):
        module, _, attr = name.rpartition(".")
        if inspect.isclass(getattr(importlib.import_module(module), attr)):
            section = html[start:end]
            member = section.find(f'id="{name}.')  # a method's own Parameters do not count
            yield name, section if member < 0 else section[:member]

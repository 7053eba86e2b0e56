"""Install the lowest versions ``pyproject.toml`` admits, then run the tests and the demo.

scikit-learn runs its test suite at its minimum dependencies in CI; this is the
same check for skensemble.  It reads the lower bound of every runtime
dependency from ``pyproject.toml``, builds a brand-new virtualenv with exactly
those versions (and ``torch==2.13.0``, the one torch this machine installs),
installs the package and its test tools without letting pip upgrade any of
them, and runs ``skensemble demo --quick`` and ``python -m pytest``.

Usage::

    python build_tools/min_dependencies.py [--venv DIR] [--no-tests] [-- PYTEST ARGS]

It exits non-zero when the install, the demo or a test fails: a lower bound
that does not pass must be raised in ``pyproject.toml``.
"""

import argparse
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TORCH = "torch==2.13.0"
# torch's range stays as declared: this machine installs one torch (see the README).
NOT_PINNED = {"torch"}


def lower_bounds(pyproject=ROOT / "pyproject.toml"):
    """``{name: lowest admitted version}`` for every runtime dependency with a ``>=`` bound."""
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    bounds = {}
    for requirement in deps:
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
        name, spec = match.group(1).lower(), match.group(2)
        low = re.search(r">=\s*([0-9][^,;\s]*)", spec)
        if low is None:
            raise SystemExit(f"{requirement!r} has no lower bound: state one in pyproject.toml.")
        if name not in NOT_PINNED:
            bounds[name] = low.group(1)
    return bounds


def run(*command, **kwargs):
    print("+", " ".join(map(str, command)), flush=True)
    return subprocess.run([str(c) for c in command], **kwargs).returncode


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default="/tmp/skensemble-min-deps", help="where to build the virtualenv")
    parser.add_argument("--no-tests", action="store_true", help="install and run the demo only")
    parser.add_argument("pytest_args", nargs="*", help="arguments for pytest (after --)")
    args = parser.parse_args(argv)

    bounds = lower_bounds()
    pins = [f"{name}=={version}" for name, version in sorted(bounds.items())]
    print("lowest admitted versions:", ", ".join(pins), flush=True)
    env_dir = Path(args.venv)
    venv.EnvBuilder(clear=True, with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    constraints = env_dir / "min-constraints.txt"
    constraints.write_text("\n".join(pins + [TORCH]) + "\n")
    pip = [python, "-m", "pip", "install", "-q"]
    steps = [
        [*pip, "--upgrade", "pip"],
        [*pip, TORCH],
        [*pip, "-c", constraints, *pins],
        # the package and its test tools, never moving a pinned version
        [*pip, "-c", constraints, "-e", f"{ROOT}[test]"],
    ]
    for step in steps:
        if run(*step) != 0:
            print("install failed: a test tool may need a newer dependency than the bound", file=sys.stderr)
            return 1
    run(python, "-m", "pip", "list", "--format=freeze")
    status = run(python, "-c", "import skensemble; skensemble.show_versions()")
    status = status or run(env_dir / "bin" / "skensemble", "demo", "--quick", cwd=env_dir)
    if status == 0 and not args.no_tests:
        status = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.pytest_args, cwd=ROOT)
    print("minimum dependencies:", "PASSED" if status == 0 else "FAILED", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())

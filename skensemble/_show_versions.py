"""``skensemble.show_versions()``: the versions and the machine, for bug reports and benchmark headers."""

import importlib.metadata
import platform
import sys

PACKAGES = ("skensemble", "torch", "skorch", "scikit-learn", "numpy", "scipy", "pandas", "onnx", "onnxruntime",
            "onnxscript", "skops", "joblib", "tabm", "rtdl_num_embeddings", "torch-pruning", "pytabkit")


def versions():
    """``{"python": ..., package: version or None, "machine": {...}}`` for the installed packages."""
    from .utils._capabilities import capabilities

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    out["machine"] = capabilities()
    return out


def show_versions():
    """Print Python, skensemble's dependencies and what the machine runs natively.

    The machine part: torch's CPU kernel level (``AVX512``, ``AVX2``, ...),
    native bfloat16/float16 and int8 dot products (VNNI, AMX) on the CPU, the
    cores this process may use, torch's thread count and the CUDA devices.
    Paste it into bug reports; every benchmark table starts with it.

    Examples
    --------
    >>> import skensemble
    >>> skensemble.show_versions()  # doctest: +ELLIPSIS
    System:
        python: ...
    """
    info = versions()
    machine = info.pop("machine")
    print("System:")
    for key in ("python", "platform"):
        print(f"    {key}: {info.pop(key)}")
    print("\nPython dependencies:")
    for name, version in info.items():
        print(f"    {name}: {version or 'not installed'}")
    print("\nMachine:")
    for key, value in machine.items():
        if key == "gpus":
            value = "; ".join(f"{g['name']} (compute {g['capability']}, {g['memory_gib']} GiB, "
                              f"bf16 {'yes' if g['bf16'] else 'no'})" for g in value) or "none"
        print(f"    {key}: {value}")

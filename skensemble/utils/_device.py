"""Resolving and validating torch device strings before any training starts."""

import torch


def module_device(module):
    """The device of ``module``'s first parameter (the CPU for a module without parameters)."""
    param = next(module.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def resolve_device(device):
    """Return a concrete torch device string for ``device``.

    ``"auto"`` picks ``"cuda"`` when a GPU is visible and ``"cpu"`` otherwise.
    Any other value must be a device torch understands and that exists on this
    machine; otherwise a ``ValueError`` that names the device is raised, before
    any training starts.
    """
    if device is None or device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"Unknown device {device!r}: {exc}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} asks for CUDA, but no CUDA device is available "
                "on this machine. Use device='cpu' or device='auto'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
    elif dev.type not in ("cpu", "mps", "xpu"):
        raise ValueError(f"Unsupported device {device!r}.")
    return str(dev)

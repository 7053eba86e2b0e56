"""Shared helpers: module access, seeding, devices and input checks."""

from ._access import get_module, get_net, is_net, net_input
from ._device import resolve_device
from ._random import draw_seed, torch_seed
from ._torch import count_params, eval_mode, state_size_bytes

__all__ = [
    "count_params",
    "draw_seed",
    "eval_mode",
    "get_module",
    "get_net",
    "is_net",
    "net_input",
    "resolve_device",
    "state_size_bytes",
    "torch_seed",
]

"""Shared helpers: module access, seeding, devices and input checks."""

from ._access import get_module, get_net, is_net, net_input
from ._device import resolve_device
from ._random import draw_seed, torch_seed

__all__ = [
    "draw_seed",
    "get_module",
    "get_net",
    "is_net",
    "net_input",
    "resolve_device",
    "torch_seed",
]

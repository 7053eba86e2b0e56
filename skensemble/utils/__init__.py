"""Shared helpers: module access, seeding, devices, input checks and what the machine runs natively."""

from ._access import get_module, get_net, is_net, net_input
from ._capabilities import capabilities, cpu_has_bf16, cpu_has_fp16, machine_summary
from ._device import resolve_device
from ._random import draw_seed, torch_seed
from ._torch import count_params, eval_mode, state_size_bytes

__all__ = [
    "capabilities",
    "count_params",
    "cpu_has_bf16",
    "cpu_has_fp16",
    "draw_seed",
    "eval_mode",
    "get_module",
    "get_net",
    "is_net",
    "machine_summary",
    "net_input",
    "resolve_device",
    "state_size_bytes",
    "torch_seed",
]

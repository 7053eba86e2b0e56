"""What this machine runs natively: CPU instruction level, half precision, int8 dot products, GPUs.

One place for the facts that decide which precision path is fast here.
Measured with the benchmarks on two kinds of 2-core machines: on a CPU with
AVX-512 BF16, bfloat16 autocast trained at 0.8-1.2x the float32 time; on a CPU
with AVX2 only, 7.5-10x slower (``benchmarks/results/nets.md`` states the
machine of each table).  So bfloat16 is chosen on the CPU only where the
hardware has it.
"""

import functools
import os
import platform

import torch

from ._threads import available_cores

# /proc/cpuinfo flags that mean native support
_BF16 = {"avx512_bf16", "amx_bf16"}
_FP16 = {"avx512_fp16", "amx_fp16"}
_VNNI = {"avx512_vnni", "avx_vnni", "amx_int8"}
_AMX = {"amx_tile"}


@functools.lru_cache(maxsize=1)
def cpu_flags():
    """The CPU feature flags (Linux ``/proc/cpuinfo``); an empty set where they cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_capability():
    """torch's CPU kernel level: ``"AVX512"``, ``"AVX2"``, ``"DEFAULT"``, ... (``"unknown"`` if torch cannot say)."""
    try:
        return torch.backends.cpu.get_cpu_capability()
    except Exception:  # noqa: BLE001 - an old or unusual torch build
        return "unknown"


def _avx512_kernels():
    # torch runs AVX-512 kernels (not capped, e.g. by ATEN_CPU_CAPABILITY=avx2)
    return cpu_capability().upper().startswith("AVX512")


def cpu_has_bf16():
    """Native bfloat16 arithmetic on the CPU that torch uses: AVX-512 BF16 or AMX (x86), BF16 (Arm)."""
    flags = cpu_flags()
    if "bf16" in flags:  # Arm's feature name
        return True
    return bool(flags & _BF16) and _avx512_kernels()


def cpu_has_fp16():
    """Native float16 arithmetic on the CPU that torch uses: AVX-512 FP16 or AMX-FP16 (x86)."""
    return bool(cpu_flags() & _FP16) and _avx512_kernels()


def gpus():
    """The visible CUDA devices: name, compute capability and native bfloat16."""
    if not torch.cuda.is_available():
        return []
    out = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        out.append({"index": i, "name": props.name, "capability": f"{props.major}.{props.minor}",
                    "memory_gib": round(props.total_memory / 2**30, 1), "bf16": props.major >= 8})
    return out


def capabilities():
    """Everything above as a dict (for reports, benchmarks and bug reports)."""
    flags = cpu_flags()
    return {
        "machine": platform.machine(),
        "cpu_capability": cpu_capability(),
        "cpu_bf16": cpu_has_bf16(),
        "cpu_fp16": cpu_has_fp16(),
        "cpu_vnni": bool(flags & _VNNI),
        "cpu_amx": bool(flags & _AMX),
        "cpu_count": os.cpu_count(),
        "available_cores": available_cores(),
        "torch_threads": torch.get_num_threads(),
        "gpus": gpus(),
    }


def machine_summary():
    """One line saying what the machine is, for benchmark headers."""
    c = capabilities()
    extras = [name for name, key in (("AVX-512 BF16", "cpu_bf16"), ("FP16", "cpu_fp16"), ("VNNI", "cpu_vnni"),
                                     ("AMX", "cpu_amx")) if c[key]]
    gpu = ", ".join(g["name"] for g in c["gpus"]) or "no GPU"
    return (f"{c['machine']} CPU, torch kernels {c['cpu_capability']}"
            f"{' with ' + ', '.join(extras) if extras else ' (no native bf16/fp16/VNNI)'}, "
            f"{c['available_cores']} cores available of {c['cpu_count']}, {c['torch_threads']} torch threads, {gpu}")

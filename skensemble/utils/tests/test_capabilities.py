"""What the machine runs natively, and show_versions."""

import torch

import skensemble
from skensemble.utils import _capabilities
from skensemble.utils._capabilities import capabilities, cpu_has_bf16, machine_summary


def test_capabilities_describe_this_machine():
    caps = capabilities()
    assert caps["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert caps["available_cores"] >= 1 and caps["torch_threads"] == torch.get_num_threads()
    assert isinstance(caps["cpu_bf16"], bool) and isinstance(caps["gpus"], list)
    assert caps["cpu_capability"] in machine_summary()


def test_bf16_needs_the_flag_and_the_kernels(monkeypatch):
    monkeypatch.setattr(_capabilities, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_bf16"}))
    monkeypatch.setattr(_capabilities, "cpu_capability", lambda: "AVX512")
    assert cpu_has_bf16()
    monkeypatch.setattr(_capabilities, "cpu_capability", lambda: "AVX2")  # kernels capped to AVX2
    assert not cpu_has_bf16()
    monkeypatch.setattr(_capabilities, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    monkeypatch.setattr(_capabilities, "cpu_capability", lambda: "AVX512")
    assert not cpu_has_bf16()
    assert "no native bf16" in machine_summary()


def test_show_versions_prints_versions_and_machine(capsys):
    skensemble.show_versions()
    out = capsys.readouterr().out
    assert f"torch: {torch.__version__}" in out and "scikit-learn: " in out and "skorch: " in out
    assert f"cpu_capability: {torch.backends.cpu.get_cpu_capability()}" in out and "gpus: " in out

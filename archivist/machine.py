"""The CPU's instruction-set level, as the numerical libraries see it.

Trained weights and inference outputs depend on it: PyTorch and
onnxruntime pick their CPU kernels (AVX2 with FMA, AVX-512, ...) at run
time, and kernels of different widths add up in different orders. The
same seed trained on an AVX2 machine and on an AVX-512 one gives
different weights; the same ONNX model can give outputs that differ in
the last bits. So training and inference records keep these facts beside
the thread count, and ``archivist reproduce`` compares them.

- ``torch``: ``torch.backends.cpu.get_cpu_capability()`` (``DEFAULT``,
  ``AVX2``, ``AVX512``, ...), the level PyTorch's CPU kernels dispatch to.
- ``onnxruntime``: onnxruntime has no API that reports the level its CPU
  kernels use, so this is ``None`` and ``onnxruntime_basis`` says that
  ``level`` (derived from the CPU's feature flags, from which onnxruntime
  chooses) stands for it.
- ``level``: the highest of ``amx``, ``avx512-vnni``, ``avx512``, ``avx2``,
  ``avx``, ``sse4.2`` the CPU offers (x86), or the architecture name.
"""

from __future__ import annotations

import platform
from functools import cache

ORT_BASIS = ("onnxruntime reports no instruction-set level; its CPU kernels choose one at run time "
             "from the CPU's features, which 'level' and 'features' record")
# Flags that change which kernels the libraries run, highest first.
LEVELS = (("amx", ("amx_tile",)), ("avx512-vnni", ("avx512f", "avx512_vnni")), ("avx512", ("avx512f",)),
          ("avx2", ("avx2", "fma")), ("avx", ("avx",)), ("sse4.2", ("sse4_2",)))
FEATURES = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl", "avx512dq",
            "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "neon", "asimd",
            "sve", "sve2")


def _cpuinfo() -> tuple[str, set[str]]:
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model", "CPU part") and not model:
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return model or platform.processor() or platform.machine(), flags


def level(flags: set[str], machine: str | None = None) -> str:
    """The highest instruction-set level that ``flags`` offer.

    >>> level({"sse4_2", "avx", "avx2", "fma"}), level({"avx512f", "avx2", "fma"}), level(set(), "aarch64")
    ('avx2', 'avx512', 'aarch64')
    """
    for name, needs in LEVELS:
        if all(f in flags for f in needs):
            return name
    return machine or platform.machine() or "unknown"


def torch_capability() -> str | None:
    """PyTorch's CPU capability, or None when PyTorch is not installed."""
    try:
        import torch
    except ImportError:  # inference with onnxruntime alone needs no torch
        return None
    return str(torch.backends.cpu.get_cpu_capability())


@cache
def cpu_facts() -> dict:
    """The instruction-set facts of this machine, for run records.

    >>> facts = cpu_facts()
    >>> sorted(facts) == ["features", "level", "model", "onnxruntime", "onnxruntime_basis", "torch"]
    True
    """
    model, flags = _cpuinfo()
    return {"torch": torch_capability(), "onnxruntime": None, "onnxruntime_basis": ORT_BASIS,
            "level": level(flags), "features": [f for f in FEATURES if f in flags], "model": model}


def differences(recorded: dict | None, here: dict) -> list[str]:
    """What differs between a record's facts and this machine's, in words; empty when they agree.

    >>> a = {"torch": "AVX2", "level": "avx2"}
    >>> differences(a, a), differences(a, {"torch": "AVX512", "level": "avx512"})
    ([], ['torch capability AVX512 (recorded AVX2)', 'instruction-set level avx512 (recorded avx2)'])
    """
    if not recorded:
        return []
    out = []
    for key, what in (("torch", "torch capability"), ("level", "instruction-set level")):
        if recorded.get(key) is not None and recorded.get(key) != here.get(key):
            out.append(f"{what} {here.get(key)} (recorded {recorded.get(key)})")
    return out

"""Choosing the compute device and pinning down everything that changes the weights.

Same seed, same thread count, same device and same memory format give the
same weights bit for bit on CPU (measured across processes). On CUDA the
deterministic algorithms are requested and cuBLAS is given the fixed
workspace it needs for them; TF32 is off so float32 means float32.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys

import torch

from archivist.errors import InputError

DEVICES = ("auto", "cpu", "cuda")


def resolve(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is usable, else ``cpu``; ``cuda`` without one is refused."""
    if device not in DEVICES:
        raise InputError("TRAIN-DEVICE", f"device must be one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("TRAIN-DEVICE", "--device cuda was asked for but no CUDA device is available",
                         hint="use --device cpu or auto")
    return device


def _cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def physical_cores() -> int:
    """Cores this process may run on, counting SMT siblings once (Linux topology; else logical CPUs)."""
    cores = set()
    for cpu in _cpus():
        topo = f"/sys/devices/system/cpu/cpu{cpu}/topology"
        try:
            with open(f"{topo}/physical_package_id") as pkg, open(f"{topo}/core_id") as core:
                cores.add((pkg.read().strip(), core.read().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))
    return max(1, len(cores))


SMALL_MACHINE = 2  # cores; at or below this, one thread is the default


def default_threads() -> int:
    """Training threads when none are asked for: the physical cores, and 1 on a machine of 2 or fewer.

    OpenMP threads spin while they wait for each other, so on a 2-core machine
    where anything else runs, two threads fall to a tenth of one thread's
    speed (measured with ``benchmarks/bench_train.py --busy``); one thread
    loses far less on an idle machine than two lose on a busy one. The
    count is recorded, as it changes the weights.
    """
    n = physical_cores()
    return 1 if n <= SMALL_MACHINE else n


@contextlib.contextmanager
def pinned(threads: int, device: str):
    """``make_deterministic`` for the duration of a block; the process's own settings come back after.

    Training is a library call: a caller that goes on to do other work in
    the same process (inference, say) gets its thread count and
    deterministic-algorithm settings back as they were.
    """
    saved = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled(), torch.utils.deterministic.fill_uninitialized_memory,
             torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic,
             torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        yield make_deterministic(threads, device)
    finally:
        torch.set_num_threads(saved[0])
        torch.use_deterministic_algorithms(saved[1], warn_only=saved[2])
        torch.utils.deterministic.fill_uninitialized_memory = saved[3]
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[4], saved[5]
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[6], saved[7]


def make_deterministic(threads: int, device: str) -> dict:
    """Apply the settings that make training repeatable; return them for the record."""
    if device == "cuda":
        # Needed by cuBLAS for deterministic results; must be set before the first cuBLAS call.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=False)
    # Filling every new tensor with NaN guards reads of uninitialised memory,
    # which this code never does, and costs much of the step time on CPU.
    torch.utils.deterministic.fill_uninitialized_memory = False
    flags = {"use_deterministic_algorithms": True, "fill_uninitialized_memory": False, "threads": threads}
    if device == "cuda":
        flags.update({"cudnn_benchmark": False, "cudnn_deterministic": True, "tf32": False,
                      "cublas_workspace_config": os.environ["CUBLAS_WORKSPACE_CONFIG"]})
    return flags


def environment(device: str) -> dict:
    """Versions and hardware that a reader needs to reproduce the weights."""
    import numpy
    import safetensors

    from archivist import __version__, machine

    cpu = machine.cpu_facts()
    env = {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": numpy.__version__,
           "safetensors": safetensors.__version__, "archivist": __version__,
           "platform": platform.platform(), "machine": platform.machine(),
           # The CPU kernels torch dispatches to: a different level gives different weights.
           "cpu_capability": cpu["torch"] or "", "cpu_level": cpu["level"], "cpu_model": cpu["model"],
           "cpu_features": " ".join(cpu["features"])}
    if device == "cuda":
        env["cuda"] = torch.version.cuda or ""
        env["gpu"] = torch.cuda.get_device_name(0)
        env["cudnn"] = str(torch.backends.cudnn.version())
    return env

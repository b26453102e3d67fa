"""Engines that run the archived ONNX model: onnxruntime on CPU, onnxruntime's
CUDA/TensorRT providers, and PyTorch executing the ONNX graph (CPU or CUDA).

Every backend is a callable ``(N, C, H, W) float32 -> (N, C', H, W) float32``
with an ``info`` dict naming the engine, its version and the settings that
change its bits, so the run record can say exactly what computed a frame.
Whatever the backend, the bytes it runs are the archived ONNX file's.

Determinism: onnxruntime's output is bit-identical across runs, processes
and thread counts for a fixed graph optimisation level and version, so the
level is fixed here and recorded. PyTorch on CUDA runs with TF32 off and
cuDNN in deterministic mode, so float32 means float32.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from archivist.errors import InputError
from archivist.inference import heap

BACKENDS = ("auto", "ort-cpu", "ort-cuda", "torch-cpu", "torch-cuda")
DEVICES = ("auto", "cpu", "cuda")
REFERENCE = "ort-cpu"

# The graph optimisation level changes onnxruntime's bits; it is part of the record.
ORT_OPT_LEVEL = "ORT_ENABLE_ALL"

# Float32 parity of another backend against onnxruntime CPU on one tile.
PARITY_TOLERANCE = {"absolute_tolerance": 1e-4, "relative_tolerance": 1e-3, "mismatched_elements_per_million": 0}


@dataclass
class Backend:
    name: str
    device: str
    run: Callable[[np.ndarray], np.ndarray]
    info: dict = field(default_factory=dict)
    # The same model on tensors already on ``device`` (the torch backends), so that a frame's colour
    # conversions can stay there (archivist.inference.device_colour); None for onnxruntime.
    run_tensor: Callable | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.run(np.ascontiguousarray(x, dtype=np.float32))


def _nvidia_driver() -> bool:
    """A cheap look for an NVIDIA driver, so that CPU runs need not import torch (seconds) to learn there is none."""
    import os
    import sys

    if "torch" in sys.modules:
        return True
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidia0") \
        or bool(os.environ.get("CUDA_VISIBLE_DEVICES", "").strip(" -1"))


def cuda_available() -> bool:
    if not _nvidia_driver():
        return False
    try:
        import torch
        return bool(torch.cuda.is_available())
    except Exception:  # a broken CUDA install means no CUDA, not a crash
        return False


def ort_gpu_providers() -> list[str]:
    import onnxruntime as ort
    have = set(ort.get_available_providers())
    return [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in have]


def choose(backend: str = "auto", device: str = "auto") -> str:
    """The backend name a run will use for ``--backend`` and ``--device``.

    >>> choose("auto", "cpu")
    'ort-cpu'
    >>> choose("torch-cpu", "auto")
    'torch-cpu'
    """
    if backend not in BACKENDS:
        raise InputError("INFER-BACKEND", f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if device not in DEVICES:
        raise InputError("INFER-DEVICE", f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    if backend != "auto":
        want = "cuda" if backend.endswith("cuda") else "cpu"
        if device not in ("auto", want):
            raise InputError("INFER-BACKEND", f"backend {backend} runs on {want}, not on --device {device}")
        if want == "cuda" and not cuda_available() and backend == "torch-cuda":
            raise InputError("INFER-DEVICE", "--backend torch-cuda needs a CUDA device and none is available",
                             hint="use --backend ort-cpu or torch-cpu")
        if backend == "ort-cuda" and not ort_gpu_providers():
            raise InputError("INFER-BACKEND", "onnxruntime has no CUDA or TensorRT provider here",
                             hint="install onnxruntime-gpu, or use --backend torch-cuda on a GPU")
        return backend
    if device == "cpu":
        return "ort-cpu"
    gpu = cuda_available() or bool(ort_gpu_providers())
    if device == "cuda" and not gpu:
        raise InputError("INFER-DEVICE", "--device cuda was asked for but no CUDA device is available",
                         hint="use --device cpu or auto")
    if not gpu:
        return "ort-cpu"
    return "ort-cuda" if ort_gpu_providers() else "torch-cuda"


def create(name: str, model_bytes: bytes, *, threads: int | None = None) -> Backend:
    """Build the named backend over the archived ONNX bytes (never a path: nothing is opened beside it)."""
    import onnx

    from archivist.inference import modelcheck

    try:
        proto = onnx.load_from_string(model_bytes)
    except Exception:  # protobuf's DecodeError and others
        raise InputError("INFER-MODEL-LOAD", "the model is not a readable ONNX file") from None
    modelcheck.refuse_unless_self_contained(proto, "the model")
    if name in ("ort-cpu", "ort-cuda"):
        return _ort(name, model_bytes, threads)
    if name in ("torch-cpu", "torch-cuda"):
        return _torch(name, model_bytes, threads)
    raise InputError("INFER-BACKEND", f"unknown backend {name!r}")


def _ort(name: str, model_bytes: bytes, threads: int | None) -> Backend:
    import onnxruntime as ort

    heap.fix_mmap_threshold()  # aligned blocks freed into glibc's heap can pile up there (heap.py)

    opts = ort.SessionOptions()
    opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, ORT_OPT_LEVEL)
    # The arena without memory patterns reuses its blocks from frame to frame. Measured on a 2K frame
    # (small chroma model, one thread): 880 MiB peak and about 0.01 s of system time a run, against
    # 1,250 MiB and 0.65 s (every tensor's pages faulted in afresh) with the arena off, and 1,630 MiB
    # with patterns on. Outputs are bit-identical in all four combinations (tested).
    opts.enable_cpu_mem_arena = True
    opts.enable_mem_pattern = False
    opts.log_severity_level = 3
    # Idle pool threads would otherwise spin and take CPU from the reading and writing threads.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = int(threads)
    if name == "ort-cuda":
        opts.use_deterministic_compute = True
        providers = ort_gpu_providers() + ["CPUExecutionProvider"]
    else:
        providers = ["CPUExecutionProvider"]
    try:
        session = ort.InferenceSession(model_bytes, sess_options=opts, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise InputError("INFER-MODEL-LOAD", f"onnxruntime cannot load the model: {exc}") from None
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise InputError("INFER-MODEL-IO", f"the model has {len(inputs)} inputs; archivist runs one-input image models")
    in_name, out_name = inputs[0].name, session.get_outputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        return session.run([out_name], {in_name: x})[0]

    info = {"name": name, "device": "cuda" if name == "ort-cuda" else "cpu",
            "engine": {"name": "onnxruntime", "version": ort.__version__},
            "providers": session.get_providers(),
            "settings": {"graph_optimization_level": ORT_OPT_LEVEL, "intra_op_num_threads": int(threads or 0),
                         "enable_cpu_mem_arena": True, "enable_mem_pattern": False, "intra_op_allow_spinning": False,
                         "use_deterministic_compute": name == "ort-cuda"},
            "platform": _platform()}
    return Backend(name, info["device"], run, info)


def _torch(name: str, model_bytes: bytes, threads: int | None) -> Backend:
    import onnx
    import torch

    from archivist.inference.onnx_torch import OnnxTorch

    device = "cuda" if name == "torch-cuda" else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise InputError("INFER-DEVICE", "torch-cuda needs a CUDA device and none is available")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if threads:
        torch.set_num_threads(int(threads))
    interp = OnnxTorch(onnx.load_from_string(model_bytes), device=device)
    engine = {"name": "torch", "version": torch.__version__}
    settings = {"executes": "archived ONNX graph (archivist.inference.onnx_torch)", "threads": torch.get_num_threads()}
    if device == "cuda":
        engine.update({"cuda": torch.version.cuda, "cudnn": str(torch.backends.cudnn.version()),
                       "gpu": torch.cuda.get_device_name(0)})
        settings.update({"tf32": False, "cudnn_deterministic": True, "cudnn_benchmark": False})
    info = {"name": name, "device": device, "engine": engine, "settings": settings, "platform": _platform()}
    return Backend(name, device, interp, info, run_tensor=interp.run_tensor)


def _platform() -> dict:
    return {"machine": platform.machine(), "system": platform.system(), "python": platform.python_version()}


ORT_MEMORY_SETTINGS = ("enable_cpu_mem_arena", "enable_mem_pattern")  # where tensors live, not what they hold


def fingerprint(info: dict) -> dict:
    """What must match for two runs to promise bit-identical outputs.

    onnxruntime's results do not depend on its thread count (measured) nor on how it allocates memory
    (tested), so those are left out for it: runs recorded with the arena off still compare exactly.
    PyTorch's CPU kernels may split work differently with other thread counts, so it stays in.
    """
    settings = dict(info.get("settings", {}))
    if info["engine"]["name"] == "onnxruntime":
        for key in ("intra_op_num_threads", *ORT_MEMORY_SETTINGS):
            settings.pop(key, None)
    return {"name": info["name"], "engine": info["engine"], "settings": settings,
            "machine": info.get("platform", {}).get("machine")}


def compare(actual: np.ndarray, expected: np.ndarray, tolerance: dict) -> dict:
    """Compare two arrays the way bioimage.io does, and say whether they agree.

    An element mismatches when ``|a - e| > absolute_tolerance +
    relative_tolerance * |e|``; the arrays agree when mismatches per million
    elements do not exceed ``mismatched_elements_per_million``. NaNs agree
    only with NaNs.

    >>> e = np.array([1.0, 2.0, 3.0], np.float32)
    >>> r = compare(e + 1e-6, e, {"absolute_tolerance": 1e-5, "relative_tolerance": 0,
    ...                           "mismatched_elements_per_million": 0})
    >>> r["passed"], r["mismatched"]
    (True, 0)
    >>> compare(e * 2, e, {"absolute_tolerance": 1e-5, "relative_tolerance": 0,
    ...                    "mismatched_elements_per_million": 0})["mismatched"]
    3
    """
    if actual.shape != expected.shape:
        return {"passed": False, "reason": f"shape {actual.shape} != {expected.shape}", "mismatched": int(expected.size)}
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    diff = np.abs(np.where(nan_a | nan_e, 0.0, a - e))
    bad = (diff > tolerance["absolute_tolerance"] + tolerance["relative_tolerance"] * np.abs(np.nan_to_num(e)))
    bad |= nan_a != nan_e
    mismatched = int(bad.sum())
    per_million = mismatched * 1e6 / max(1, e.size)
    rel = diff / np.maximum(np.abs(np.nan_to_num(e)), 1e-12)
    return {"passed": per_million <= tolerance["mismatched_elements_per_million"], "mismatched": mismatched,
            "elements": int(e.size), "mismatched_per_million": round(per_million, 3),
            "max_abs_diff": float(diff.max()) if diff.size else 0.0,
            "max_rel_diff": float(rel.max()) if rel.size else 0.0}


def parity(candidate: Backend, reference: Backend, tile: np.ndarray, *, where: dict | None = None,
           tolerance: dict | None = None) -> dict:
    """Run one input tile (1, C, H, W) through both backends; the record of the check."""
    tolerance = tolerance or PARITY_TOLERANCE
    got = candidate(tile)
    want = reference(tile)
    result = compare(got, want, tolerance)
    out = {"reference": reference.name, "tolerance": dict(tolerance), "shape": list(tile.shape), **result}
    if where:
        out["tile"] = where
    return out

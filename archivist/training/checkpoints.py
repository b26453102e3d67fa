"""Training checkpoints as safetensors: weights, optimizer state and sampler state.

A checkpoint holds everything a resumed run needs and nothing that varies
between identical runs (no run id, no time), and its header is written in
sorted-key order, so two runs with the same settings write the same bytes. Tensors are named ``model/<param>``,
``optim/<index>/<field>`` and ``rng/sampler``; the JSON metadata holds the
step, the architecture, the optimizer's hyper-parameters and a digest of
the settings that shaped the weights.

Loading never unpickles: the bytes are hashed, compared with the package,
and parsed by safetensors from the same buffer, so what was checked is what
is used.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from archivist.errors import InputError
from archivist.package.records import parse_json

FORMAT = "archivist-checkpoint/1"
MAX_HEADER_BYTES = 16 << 20  # a real header is a few KB; safetensors itself allows 100 MB


def settings_digest(settings: dict) -> str:
    """SHA-256 of the canonical JSON of the weight-shaping settings.

    >>> settings_digest({"b": 1, "a": 2}) == settings_digest({"a": 2, "b": 1})
    True
    """
    return hashlib.sha256(json.dumps(settings, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def pack(model: torch.nn.Module, optimizer: torch.optim.Optimizer, sampler: torch.Generator, *, step: int,
         architecture: dict, digest: str) -> bytes:
    """Serialise one training state to safetensors bytes."""
    tensors: dict[str, torch.Tensor] = {}
    for name, t in model.state_dict().items():
        tensors[f"model/{name}"] = t.detach().to("cpu").contiguous()
    state = optimizer.state_dict()
    for index, fields in state["state"].items():
        for field, value in fields.items():
            if not torch.is_tensor(value):
                value = torch.tensor(value)
            tensors[f"optim/{index}/{field}"] = value.detach().to("cpu").contiguous()
    tensors["rng/sampler"] = sampler.get_state().contiguous()
    groups = [{k: v for k, v in g.items() if k != "params"} for g in state["param_groups"]]
    metadata = {
        "format": FORMAT,
        "step": str(step),
        "architecture": json.dumps(architecture, sort_keys=True),
        "param_groups": json.dumps(groups, sort_keys=True),
        "settings_digest": digest,
    }
    return canonical(st_save(tensors, metadata=metadata))


def canonical(data: bytes) -> bytes:
    """The same safetensors file with its JSON header in sorted-key order.

    safetensors writes the header from a hash map, so the key order (and the
    bytes) can change from one save to the next; the tensor data and offsets
    do not. Sorting the header makes equal states give equal bytes.
    """
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes
    return struct.pack("<Q", len(text)) + text + data[8 + n:]


def header_metadata(data: bytes) -> dict:
    """The ``__metadata__`` of safetensors bytes, read without touching the tensors.

    The header is bounded (``MAX_HEADER_BYTES``, the JSON limits of
    ``records.parse_json``) and its shape checked, so a crafted one is a
    ``CHECKPOINT-FORMAT`` error, never a crash or a large allocation.
    """
    if len(data) < 8:
        raise InputError("CHECKPOINT-FORMAT", "not a safetensors file (shorter than its 8-byte header length)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES or 8 + n > len(data):
        raise InputError("CHECKPOINT-FORMAT", f"not a safetensors file: a header of {n} bytes (at most "
                         f"{MAX_HEADER_BYTES}, and within the file's {len(data)})")
    try:
        header = parse_json(data[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError("CHECKPOINT-FORMAT", f"not a safetensors file ({exc})") from None
    if not isinstance(header, dict):
        raise InputError("CHECKPOINT-FORMAT", "not a safetensors file: the header is not a JSON object")
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise InputError("CHECKPOINT-FORMAT", "not a safetensors file: __metadata__ is not an object of strings")
    if meta.get("format") != FORMAT:
        raise InputError("CHECKPOINT-FORMAT", f"not an archivist checkpoint (format {meta.get('format')!r})")
    if not re.fullmatch(r"[0-9]{1,12}", meta.get("step", "")):
        raise InputError("CHECKPOINT-FORMAT", f"checkpoint step {meta.get('step', '')[:40]!r} is not a number")
    for key in ("architecture", "param_groups"):
        try:
            parse_json(meta.get(key, ""))
        except json.JSONDecodeError as exc:
            raise InputError("CHECKPOINT-FORMAT", f"checkpoint {key} is not valid JSON ({exc})") from None
    return meta


def unpack(data: bytes) -> tuple[dict, dict[str, torch.Tensor]]:
    """Metadata and tensors of checkpoint bytes."""
    meta = header_metadata(data)
    try:
        tensors = st_load(data)
    except Exception as exc:  # safetensors raises its own error types
        raise InputError("CHECKPOINT-FORMAT", f"checkpoint tensors cannot be read ({exc})") from None
    return meta, tensors


def model_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}


def restore(model: torch.nn.Module, optimizer: torch.optim.Optimizer, sampler: torch.Generator,
            meta: dict, tensors: dict[str, torch.Tensor]) -> int:
    """Put a checkpoint's state back into live objects; returns its step."""
    model.load_state_dict(model_state(tensors), strict=True)
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, index, field = key.split("/", 2)
            state.setdefault(int(index), {})[field] = value
    groups = json.loads(meta["param_groups"])
    current = optimizer.state_dict()
    if len(groups) != len(current["param_groups"]):
        raise InputError("CHECKPOINT-FORMAT", "the checkpoint's optimizer does not match the model")
    for g, live in zip(groups, current["param_groups"]):
        g["params"] = live["params"]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    sampler.set_state(tensors["rng/sampler"])
    return int(meta["step"])

"""The model a run uses: the archived ONNX file, checked before anything runs.

``load`` finds the model card (``data/records/models/<id>.json``), reads the
ONNX file it names and refuses it unless its SHA-256 matches both the card
and the package manifest and ``onnx.checker`` (full check) passes. What the
model needs to be run correctly (mode, luma coefficients, the dataset it
was trained on and the colour space of its source frames) is read from the
card and the records it points to, never guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import onnx

from archivist.errors import InputError
from archivist.hashing import hash_bytes
from archivist.layout import Layout
from archivist.package import Package

CARD_LABEL = "archivist/model-card/1"
TRAINING_LABEL = "archivist/training-run/1"
DATASET_LABEL = "archivist/dataset/1"


@dataclass(frozen=True)
class ArchivedModel:
    id: str
    card: dict  # file_ref of the model card record
    onnx: dict  # file_ref of the ONNX file
    data: bytes  # the verified ONNX bytes
    mode: str  # chroma or spatial
    tone: bool
    architecture: str
    checkpoint: str  # in words: "<training run> step <n>"
    training: dict | None  # file_ref of the training-run record
    dataset: dict | None  # file_ref of the dataset record
    dataset_record: dict | None
    kr: float
    kb: float
    coefficients: str
    align: int  # the model's total downsampling factor

    @property
    def sha256(self) -> str:
        return self.onnx["sha256"]

    @property
    def luma_preserved(self) -> bool:
        return self.mode == "chroma" and not self.tone

    def as_record(self) -> dict:
        out = {"id": self.id, "card": self.card, "onnx": self.onnx, "architecture": self.architecture,
               "mode": self.mode, "tone": self.tone, "checkpoint": self.checkpoint, "align": self.align,
               "luma_coefficients": {"name": self.coefficients, "kr": self.kr, "kb": self.kb}}
        if self.training:
            out["training"] = self.training
        return out


def model_ids(pkg: Package) -> list[str]:
    d = pkg.root / Layout.RECORDS / "models"
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []


def verified_bytes(pkg: Package, ref: dict, code: str, what: str) -> bytes:
    """A payload file's bytes, refused unless they match the record and the manifest."""
    rel = ref["path"]
    try:
        data = pkg.layout.path(rel).read_bytes()
    except FileNotFoundError:
        raise InputError(code, f"{what} {rel} is missing from the package") from None
    actual = hash_bytes(data, algorithms=("sha256",)).sha256
    listed = pkg.manifest("sha256").get(rel)
    if actual != ref["sha256"] or actual != listed:
        raise InputError(code, f"{what} {rel} has been altered: its SHA-256 is {actual}, the record says "
                         f"{ref['sha256']} and the manifest {listed}",
                         hint="restore the file from a copy of the package; archivist will not use it as it is")
    return data


def check_onnx(data: bytes, where: str) -> onnx.ModelProto:
    """Parse and fully check an ONNX model; a clear error otherwise."""
    try:
        model = onnx.load_from_string(data)
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # onnx raises several unrelated exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError("INFER-MODEL-CHECK", f"{where} fails onnx.checker: {first}",
                         hint="the archived model is damaged or not a valid ONNX file; nothing was written") from None
    return model


def downsampling(model: onnx.ModelProto) -> int:
    """Product of the strides of the graph's strided convolutions and pools: a safe tile alignment.

    >>> from onnx import helper
    >>> n = helper.make_node("Conv", ["x", "w"], ["y"], strides=[4, 4])
    >>> m = helper.make_node("MaxPool", ["y"], ["z"], kernel_shape=[2, 2], strides=[2, 2])
    >>> g = helper.make_graph([n, m], "g", [], [])
    >>> downsampling(helper.make_model(g))
    8
    """
    factor = 1
    for node in model.graph.node:
        if node.op_type in ("Conv", "MaxPool", "AveragePool", "LpPool"):
            for a in node.attribute:
                if a.name == "strides" and a.ints:
                    factor *= max(a.ints)
        elif node.op_type == "SpaceToDepth":
            for a in node.attribute:
                if a.name == "blocksize":
                    factor *= a.i
    return max(1, min(factor, 1 << 12))


def _read(pkg: Package, ref: dict | None, label: str) -> dict | None:
    if not ref:
        return None
    verified_bytes(pkg, ref, "INFER-RECORD-ALTERED", "record")
    return pkg.read_record(ref["path"], label)


def _first(d: dict, *paths, default=None):
    for path in paths:
        v = d
        for key in path.split("."):
            v = v.get(key) if isinstance(v, dict) else None
        if v is not None:
            return v
    return default


def load(pkg: Package, model_id: str | None = None) -> ArchivedModel:
    """The verified archived model named ``model_id`` (or the only one in the package)."""
    ids = model_ids(pkg)
    if model_id is None:
        if not ids:
            raise InputError("INFER-NO-MODEL", "the package holds no exported model",
                             hint="train a model and run 'archivist export' first")
        if len(ids) > 1:
            raise InputError("INFER-MODEL-CHOICE", f"the package holds {len(ids)} models ({', '.join(ids)})",
                             hint="choose one with --model")
        model_id = ids[0]
    if model_id not in ids:
        raise InputError("INFER-NO-MODEL", f"no model {model_id!r} in the package (models: {', '.join(ids) or 'none'})")
    card_rel = Layout.record("models", model_id)
    card_bytes = pkg.layout.path(card_rel).read_bytes()
    card = pkg.read_record(card_rel, CARD_LABEL)
    card_ref = {"path": card_rel, "sha256": hash_bytes(card_bytes, algorithms=("sha256",)).sha256}
    onnx_ref = _first(card, "onnx", "model", "file")
    if not isinstance(onnx_ref, dict) or "path" not in onnx_ref:
        raise InputError("INFER-MODEL-CARD", f"model card {card_rel} names no ONNX file")
    onnx_ref = {"path": onnx_ref["path"], "sha256": onnx_ref["sha256"], "size": onnx_ref.get("size")}
    data = verified_bytes(pkg, onnx_ref, "INFER-MODEL-ALTERED", "model")
    onnx_ref["size"] = len(data)
    proto = check_onnx(data, onnx_ref["path"])

    training_ref = _first(card, "training.record", "training_run.record", "training")
    training_ref = training_ref if isinstance(training_ref, dict) and "sha256" in training_ref else None
    training = _read(pkg, training_ref, TRAINING_LABEL)
    dataset_ref = _first(card, "dataset.record", "dataset") or (training or {}).get("dataset", {}).get("record")
    dataset_ref = dataset_ref if isinstance(dataset_ref, dict) and "sha256" in dataset_ref else None
    dataset = _read(pkg, dataset_ref, DATASET_LABEL)

    arch = _first(card, "architecture.config", "architecture") or _first(training or {}, "architecture.config") or {}
    mode = _first(card, "mode") or arch.get("mode") or (training or {}).get("mode")
    tone = bool(_first(card, "tone", default=arch.get("tone", (training or {}).get("tone", False))))
    if mode not in ("chroma", "spatial"):
        raise InputError("INFER-MODEL-CARD", f"model card {card_rel} does not say whether the model is chroma or spatial")
    colour_rec = _first(card, "colour") or (dataset or {}).get("colour") or (training or {}).get("dataset", {}).get("colour")
    if not isinstance(colour_rec, dict) or "kr" not in colour_rec:
        raise InputError("INFER-MODEL-CARD", f"model card {card_rel} gives no luma coefficients (kr, kb)")
    kr, kb = float(colour_rec["kr"]), float(colour_rec["kb"])
    if not (0 < kr < 1 and 0 < kb < 1 and kr + kb < 1) or any(math.isnan(v) for v in (kr, kb)):
        raise InputError("INFER-MODEL-CARD", f"luma coefficients kr={kr}, kb={kb} are not valid")
    run_id = (training or {}).get("id") or _first(card, "training.id", "training_run.id")
    step = _first(card, "training.step", "checkpoint.step", "step")
    checkpoint = _first(card, "checkpoint_name")
    if not checkpoint:
        checkpoint = f"{run_id} step {step}" if run_id and step is not None else model_id
    return ArchivedModel(
        id=model_id, card=card_ref, onnx=onnx_ref, data=data, mode=mode, tone=tone,
        architecture=str(arch.get("name") or _first(card, "architecture.name", default="unknown")),
        checkpoint=str(checkpoint), training=training_ref, dataset=dataset_ref, dataset_record=dataset,
        kr=kr, kb=kb, coefficients=str(colour_rec.get("coefficients") or colour_rec.get("name") or "custom"),
        align=downsampling(proto))

"""The model a run uses: the archived ONNX file, checked before anything runs.

``load`` finds the model card (``data/records/models/<id>.json``, written by
``archivist export``), reads the ONNX file it names and refuses it unless
its SHA-256 matches both the card and the package manifest and
``onnx.checker`` (full check) passes. What the model needs to be run
correctly (mode, luma coefficients, alignment and receptive radius, the
dataset it was trained on and so the source element and its colour space)
is read from the card and the records it points to, each hash-checked,
never guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import onnx

from archivist.errors import InputError
from archivist.inference import modelcheck
from archivist.package import Package, kinds, records
from archivist.package.layout import Layout

CARD_LABEL = kinds.MODEL_CARD.label
TRAINING_LABEL = kinds.TRAINING_RUN.label
DATASET_LABEL = kinds.DATASET.label


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
    receptive_radius: int  # pixels an output depends on in each direction
    min_size: int  # smallest height and width the model takes
    whole_frames: bool = False  # the model must see whole frames (its frame field spans its input)

    @property
    def sha256(self) -> str:
        return self.onnx["sha256"]

    @property
    def luma_preserved(self) -> bool:
        return self.mode == "chroma" and not self.tone

    def as_record(self) -> dict:
        out = {"id": self.id, "card": self.card, "onnx": self.onnx, "architecture": self.architecture,
               "mode": self.mode, "tone": self.tone, "checkpoint": self.checkpoint, "align": self.align,
               "receptive_radius": self.receptive_radius,
               "luma_coefficients": {"name": self.coefficients, "kr": self.kr, "kb": self.kb}}
        if self.training:
            out["training"] = self.training
        return out


def model_ids(pkg: Package) -> list[str]:
    return pkg.record_ids("models")


def check_onnx(data: bytes, where: str) -> onnx.ModelProto:
    """Parse and fully check an ONNX model; a clear error otherwise."""
    try:
        model = onnx.load_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and others
        raise InputError("INFER-MODEL-CHECK", f"{where} is not an ONNX model: {type(exc).__name__}",
                         hint="the archived model is damaged or not a valid ONNX file; nothing was written") from None
    # Before the checker: it would resolve external data against the current directory.
    modelcheck.refuse_unless_self_contained(model, where)
    try:
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
    card_ref = {"path": card_rel, "sha256": pkg.manifest("sha256").get(card_rel, "")}
    card_bytes = pkg.verified_bytes(card_ref, "INFER-RECORD-ALTERED", "model card")
    card = records.loads(card_bytes, CARD_LABEL, where=card_rel)

    onnx_ref = {"path": card["model"]["path"], "sha256": card["model"]["sha256"]}
    data = pkg.verified_bytes(onnx_ref, "INFER-MODEL-ALTERED", "model")
    onnx_ref["size"] = len(data)
    proto = check_onnx(data, onnx_ref["path"])
    iface = card["interface"]
    graph_inputs = [i.name for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
    if graph_inputs != [t["name"] for t in iface["inputs"]]:
        raise InputError("INFER-MODEL-CARD", f"{onnx_ref['path']} takes {graph_inputs}, its card says "
                         f"{[t['name'] for t in iface['inputs']]}")

    training_ref = {"path": card["run"]["record"]["path"], "sha256": card["run"]["record"]["sha256"]}
    dataset_ref = {"path": Layout.record("datasets", card["dataset"]["id"]), "sha256": card["dataset"]["sha256"]}
    dataset = records.loads(pkg.verified_bytes(dataset_ref, "INFER-RECORD-ALTERED", "dataset record"),
                            DATASET_LABEL, where=dataset_ref["path"])
    cp = card["colour_pipeline"]
    kr, kb = float(cp["kr"]), float(cp["kb"])
    if not (0 < kr < 1 and 0 < kb < 1 and kr + kb < 1) or any(math.isnan(v) for v in (kr, kb)):
        raise InputError("INFER-MODEL-CARD", f"luma coefficients kr={kr}, kb={kb} are not valid")
    return ArchivedModel(
        id=model_id, card=card_ref, onnx=onnx_ref, data=data, mode=card["mode"], tone=bool(card["tone"]),
        architecture=str(card["architecture"].get("name", "unknown")),
        checkpoint=f"{card['run']['id']} step {card['checkpoint']['step']}",
        training=training_ref, dataset=dataset_ref, dataset_record=dataset, kr=kr, kb=kb,
        coefficients=str(dataset.get("colour", {}).get("coefficients") or cp.get("coefficients") or "custom"),
        align=max(int(iface["alignment"]), downsampling(proto)),
        receptive_radius=int(iface["receptive_radius"]), min_size=int(iface["min_size"]),
        whole_frames=bool(iface.get("whole_frames", False)))

"""What an inference run record says each of its frames carries.

Pure functions of a run record (``archivist/inference-run/1``): the
provenance every frame's header and sidecars are written from, and the
C2PA claim every frame's credential makes. The runner uses them to
resume a run, and ``verify`` to say what each frame should carry, so
this module imports neither the runner nor any inference engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from archivist.inference.provenance import RunProvenance, colour_statement


@dataclass(frozen=True)
class Claim:
    """What every frame's credential says beside its source frame (which differs per frame)."""

    ingredients: tuple[dict, ...]  # inputTo ingredients: the model, a chain's earlier models, the dataset record
    parameters: dict  # the c2pa.edited action's parameters, less the frame number


def provenance_from_record(rec: dict) -> RunProvenance:
    """The run's provenance, as the record stores it.

    Args:
        rec: a run record valid against ``archivist/inference-run/1``.

    Returns:
        What the header and sidecars of every frame of the run are written from.
        Raises ``KeyError`` or ``TypeError`` when the record lacks a field.
    """
    p = rec["provenance"]
    return RunProvenance(
        package=p["package"], run=rec["id"], mode=p["mode"], recovery_type=p["recovery_type"],
        ml_processing=p["ml_processing"], source_element=p["source_element"], reference=p["reference"],
        model=p["model"], dataset=rec.get("dataset"), source_type=rec["digital_source_type"],
        processing_date=p["processing_date"], archivist_version=p["archivist_version"], backend=p["backend"],
        colour=rec["settings"]["colour"]["conversion"], compression=rec["settings"]["compression"])


def claim_from_record(rec: dict) -> Claim:
    """The ingredients and action parameters every frame's credential carries.

    Args:
        rec: a run record valid against ``archivist/inference-run/1``.

    Returns:
        The claim; raises ``KeyError`` or ``TypeError`` when the record lacks a field.

    >>> c = claim_from_record(_record_for_doctest())
    >>> [(i["title"], i["relationship"]) for i in c.ingredients]
    [('model.onnx', 'inputTo'), ('ds-01.json', 'inputTo')]
    >>> c.parameters["run"], c.parameters["backend"]
    ('infer-01', 'onnxruntime-cpu')
    """
    model = rec["model"]
    ingredients = [{"title": PurePosixPath(model["onnx"]["path"]).name, "format": "application/onnx",
                    "sha256": model["onnx"]["sha256"], "path": model["onnx"]["path"], "relationship": "inputTo"}]
    for up in (rec.get("upstream") or {}).get("models", []):
        # A chain's earlier models made the frame this one was made from: ingredients too.
        ingredients.append({"title": PurePosixPath(up["path"]).name, "format": "application/onnx",
                            "sha256": up["sha256"], "path": up["path"], "relationship": "inputTo"})
    if rec.get("dataset"):
        ingredients.append({"title": PurePosixPath(rec["dataset"]["path"]).name, "format": "application/json",
                            "sha256": rec["dataset"]["sha256"], "path": rec["dataset"]["path"],
                            "relationship": "inputTo"})
    params = {"mode": rec["provenance"]["mode"], "model": model["id"], "model_sha256": model["onnx"]["sha256"],
              "run": rec["id"], "backend": rec["backend"]["name"], "recovery_type": rec["provenance"]["recovery_type"]}
    ref = rec["provenance"].get("reference") or {}
    if ref.get("hand_made"):
        # The credential says where the colour came from: a reference made by hand, and from what.
        params["reference"] = {"element": ref["id"], "description": ref["description"], "hand_made": True,
                               "digital_source_type": ref["hand_made"]["source_type"],
                               "artwork": dict(ref["hand_made"]["artwork"])}
        params["colour_source"] = colour_statement(ref)
    return Claim(tuple(ingredients), params)


def _record_for_doctest() -> dict:
    return {"id": "infer-01", "backend": {"name": "onnxruntime-cpu"},
            "provenance": {"mode": "chroma", "recovery_type": "Reference-Based Color"},
            "model": {"id": "m-01", "onnx": {"path": "data/models/m-01/model.onnx", "sha256": "0" * 64}},
            "dataset": {"path": "data/records/datasets/ds-01.json", "sha256": "1" * 64}}

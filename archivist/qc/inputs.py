"""What the QC compares, read from the package and checked before use.

The QC judges one inference run. From its record it follows the model
card, the training run and the dataset, and reads:

* the training pairs (source crop and the ground truth the training used,
  rebuilt with the same ``targets`` function and coefficients), to fit the
  LUT baseline;
* the dataset's held-out frames (never trained on): source crop, ground
  truth, and the run's output for the same frame, brought back from ACES
  2065-1 to the source's colour space and cropped like the source;
* optionally the true original frames (known for synthetic material), from
  a folder outside the package.

Every payload file is hashed against its record before it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archivist import dataset
from archivist.dataset.preprocess import Crop, apply_crop
from archivist.errors import InputError
from archivist.imaging import oiio
from archivist.inference import runner
from archivist.package import frames, kinds
from archivist.package.hashing import hash_file
from archivist.qc import logspace
from archivist.training import run as training
from archivist.training import targets


@dataclass
class Pair:
    number: int
    source: np.ndarray  # cropped source, R'G'B' as stored
    truth: np.ndarray  # ground truth the training used
    reference: np.ndarray  # aligned, median-filtered reference (what the ground truth's colour came from)


@dataclass
class HeldOut(Pair):
    ml: np.ndarray  # the run's output in the source's colour space, cropped
    ml_ref: dict  # the output's file_ref
    original: np.ndarray | None = None
    original_sha256: str | None = None
    original_name: str | None = None


@dataclass
class Context:
    """The records a QC run rests on."""

    inference: dict
    training: dict
    training_ref: dict
    dataset: dict
    dataset_sha256: str
    space: str  # the source frames' OpenColorIO colour space
    kr: float
    kb: float
    mode: str
    tone: bool
    model_step: int | None = None  # the checkpoint the judged model was exported from

    def target(self, source: np.ndarray, reference: np.ndarray) -> np.ndarray:
        sigma = self.training["settings"]["target"].get("sigma")
        return targets.target(self.mode, self.tone, source, reference, self.kr, self.kb, sigma)


def pick_run(pkg, run: str | None) -> dict:
    """The inference run to judge: the one named, else the latest complete one."""
    if run:
        return runner.read_run(pkg, run)
    runs = [runner.read_run(pkg, r) for r in runner.run_ids(pkg)]
    done = [r for r in runs if r["status"] == "complete"]
    if not done:
        raise InputError("QC-NO-RUN", "the package has no complete inference run to judge",
                         hint="run 'archivist infer' first")
    return max(done, key=lambda r: (r.get("completed", ""), r["id"]))


def context(pkg, run: str | None = None) -> Context:
    """Follow the inference run to its model card, training run and dataset."""
    inf = pick_run(pkg, run)
    if inf["status"] != "complete":
        raise InputError("QC-RUN-INCOMPLETE", f"inference run {inf['id']} is not complete",
                         hint=f"run 'archivist infer {pkg.root}' again to finish it")
    card_ref = inf["model"]["card"]
    pkg.verified_path(card_ref, "QC-HASH", "model card")
    card = pkg.read_record(card_ref["path"], kinds.MODEL_CARD.label)
    train_ref = inf["model"].get("training")
    if train_ref is None:  # older runs name the training run only through the model card
        train_ref = card["run"]["record"]
    pkg.verified_path(train_ref, "QC-HASH", "training record")
    train = pkg.read_record(train_ref["path"], training.LABEL)
    if not inf.get("dataset"):
        raise InputError("QC-NO-DATASET", f"inference run {inf['id']} names no dataset; the QC needs its held-out frames")
    ds_id = Path(inf["dataset"]["path"]).stem
    ds_record, ds_sha = dataset.load(pkg, ds_id)
    if ds_sha != inf["dataset"]["sha256"] or ds_sha != train["dataset"]["sha256"]:
        raise InputError("QC-DATASET", f"dataset {ds_id} is not the one the model was trained on and the run used")
    conversion = inf["settings"]["colour"]["conversion"]
    space = conversion["source"]  # what the run actually converted from
    if conversion["config"] != logspace.CONFIG:
        raise InputError("QC-COLOUR", f"inference run {inf['id']} converted colours with {conversion['config']}; "
                         f"this version of archivist measures with {logspace.CONFIG}",
                         hint="judge the run with the archivist version that made it")
    colour = ds_record["colour"]
    return Context(inf, train, {"path": train_ref["path"], "sha256": train_ref["sha256"]}, ds_record, ds_sha, space,
                   float(colour["kr"]), float(colour["kb"]), train["mode"], bool(train["tone"]),
                   int(card["checkpoint"]["step"]))


def training_pairs(pkg, ctx: Context) -> list[Pair]:
    out = []
    for entry in ctx.dataset["pairs"]:
        src, ref = dataset.pair_arrays(pkg, ctx.dataset, entry)
        out.append(Pair(entry["source"]["number"], src, ctx.target(src, ref), ref))
    return out


def _outputs(ctx: Context) -> dict[int, dict]:
    return {f["number"]: f for f in ctx.inference["frames"]}


def original_frames(folder: Path | None) -> dict[int, Path]:
    """Frames of the true original by number (``name.####.ext``), or nothing."""
    if folder is None:
        return {}
    try:
        return {f.number: f.path for f in frames.collect([Path(folder)])}
    except InputError as exc:
        raise InputError("QC-ORIGINAL", f"the original frames cannot be used: {exc.message}", hint=exc.hint) from None


def held_out(pkg, ctx: Context, originals: dict[int, Path] | None = None) -> list[HeldOut]:
    """Every held-out frame with its ground truth and the run's output (and the original, when known)."""
    entries = ctx.dataset.get("holdout") or []
    if not entries:
        raise InputError("QC-NO-HOLDOUT", f"dataset {ctx.dataset['id']} holds no frames out of training, so nothing "
                         "can be judged on frames the model never saw",
                         hint="build a dataset with --auto-preview K or --preview-frames")
    outputs = _outputs(ctx)
    missing = [e["source"]["number"] for e in entries if e["source"]["number"] not in outputs]
    if missing:
        raise InputError("QC-NO-OUTPUT", f"inference run {ctx.inference['id']} has no output for held-out frame(s) "
                         + ", ".join(map(str, missing)),
                         hint="run 'archivist infer' over those frames too")
    originals = originals or {}
    crop = Crop(**ctx.dataset["crop"])
    conversion = ctx.inference["settings"]["colour"]["conversion"]
    out = []
    for entry in entries:
        n = entry["source"]["number"]
        src, ref = dataset.pair_arrays(pkg, ctx.dataset, entry)
        fref = outputs[n]
        if fref["source"]["sha256"] != entry["source"]["sha256"]:
            raise InputError("QC-SOURCE", f"inference run {ctx.inference['id']} made frame {n} from another source "
                             "file than the dataset holds")
        ml_path = pkg.verified_path(fref["output"], "QC-HASH", "output frame")
        ml = logspace.undo_recorded(oiio.read(ml_path, channels=3), conversion)
        ml = apply_crop(ml, crop)
        if ml.shape != src.shape:
            raise InputError("QC-SHAPE", f"output frame {n} is {ml.shape[1]}x{ml.shape[0]} after the crop, the "
                             f"source {src.shape[1]}x{src.shape[0]}")
        item = HeldOut(n, src, ctx.target(src, ref), ref, np.ascontiguousarray(ml, np.float32), fref["output"])
        if originals:
            if n not in originals:
                raise InputError("QC-ORIGINAL", f"no original frame numbered {n} among the originals given")
            orig = oiio.read(originals[n], channels=3)
            if orig.shape[:2] != (ctx.dataset["resample"]["source_size"][1], ctx.dataset["resample"]["source_size"][0]):
                raise InputError("QC-ORIGINAL", f"original frame {originals[n].name} is {orig.shape[1]}x{orig.shape[0]};"
                                 " it must be the size of the source frames")
            item.original = np.ascontiguousarray(apply_crop(orig, crop), np.float32)
            item.original_sha256 = hash_file(originals[n]).sha256
            item.original_name = originals[n].name
        out.append(item)
    return out

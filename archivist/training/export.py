"""``archivist export``: a training checkpoint as a single-file ONNX model with a model card.

The checkpoint is hash-checked against the run record and the package
manifest before it is loaded. The model goes through the dynamo exporter
with dynamic batch, height and width, into one file (no external data),
must pass ``onnx.checker`` (full check), and carries its provenance in
``metadata_props``. Nothing in the file depends on the time or the model
id, so exporting the same checkpoint twice gives the same bytes.

The graph depends on the architecture and the exporter's versions, not on
the weights, and tracing it is nearly all of an export's time. So when the
package already holds a model exported with the same ``archivist.graph``
key (architecture, recipe and versions; ``graph_key``), that model's file
(hash-checked against its card and the manifest) is the template: its
weight initializers, named after the module's ``state_dict``, are replaced
by the checkpoint's, which gives the bytes a fresh trace gives. A template
that does not hold every weight under its name, with its shape and type, is
refused and the graph is traced afresh (as with ``reuse_graph=False``).

Before anything is written, torch and onnxruntime (CPU) run the model on
the preview frame (its centred window of at most 512 px a side, the one the
training contact sheets show, so large frames cost no more): the export is refused, leaving the package untouched,
when they differ by more than ``PARITY_BOUND`` or when a channel the model
promises to pass through (Y' in chroma mode, Cb and Cr in spatial mode) is
not bit-identical to the input in onnxruntime.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from archivist import __version__
from archivist.errors import InputError, PackageError
from archivist.imaging import contact
from archivist.package import Package, events, kinds, records
from archivist.package.hashing import hash_bytes
from archivist.package.layout import Layout
from archivist.package.transaction import utcnow
from archivist.progress import start
from archivist.training import checkpoints, models, targets
from archivist.training import data as training_data
from archivist.training import run as training

CARD_LABEL = kinds.MODEL_CARD.label
INPUT_NAME = "source_ycbcr"
OUTPUT_NAME = "restored_ycbcr"
# fp32 torch eager and onnxruntime differ by ~2e-7 on these graphs; 1e-4 is
# far below a half-float step at 1.0 (~5e-4) and far above rounding noise.
PARITY_BOUND = 1e-4
# Bump when the graph a trace makes changes without a version change (to_onnx's steps, or what a model
# traces: 2 is ChromaDenoise's stacked formulation): the graph key then changes, so models exported
# before are no longer taken as templates and every export gives the bytes a trace gives.
GRAPH_RECIPE = 2
ORT_SETTINGS = {"providers": ["CPUExecutionProvider"], "graph_optimization_level": "ORT_ENABLE_ALL",
                "enable_cpu_mem_arena": False}


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter logs warnings about optional packages it does not need."""
    logger = logging.getLogger("torch.onnx")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(old)


def to_onnx(model: torch.nn.Module, props: dict[str, str], doc: str = "") -> bytes:
    """Export ``model`` (Y'CbCr in, Y'CbCr out) to ONNX bytes with dynamic batch/height/width (a full trace)."""
    import onnxscript

    model = model.eval().to("cpu", memory_format=torch.contiguous_format)
    example = torch.zeros(2, 3, 64, 64)
    dyn = torch.export.Dim.DYNAMIC
    with _quiet_exporter(), torch.no_grad():
        # The exporter's own optimisation repeats shape inference over the whole graph; one
        # pass of constant folding and clean-up gives the same onnxruntime output in a third
        # of the time (onnxruntime applies its own graph optimisations when it loads the model).
        program = torch.onnx.export(model, (example,), dynamo=True, external_data=False, optimize=False,
                                    input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                    dynamic_shapes=({0: dyn, 2: dyn, 3: dyn},), verbose=False)
        graph = program.model.graph
        # The weights are hidden from the optimiser (graph inputs without a value), so that nothing it
        # does depends on them: the optimised graph is the same for every checkpoint of an architecture
        # and keeps each weight as an initializer named after the state_dict (see from_template).
        state = model.state_dict()
        hidden = []
        for name in [n for n in graph.initializers if n in state]:
            value = graph.initializers.pop(name)
            hidden.append((value, value.const_value))
            value.const_value = None
            graph.inputs.append(value)
        onnxscript.optimizer.optimize_ir(program.model, num_iterations=1, onnx_shape_inference=False)
        for value, tensor in hidden:
            graph.inputs.remove(value)
            value.const_value = tensor
            graph.register_initializer(value)
        shape = graph.inputs[0].shape
        program.rename_axes({shape[0]: "batch", shape[2]: "height", shape[3]: "width"})
    return _finish(program.model_proto, props, doc)


def _finish(proto: Any, props: dict[str, str], doc: str) -> bytes:
    import onnx

    onnx.helper.set_model_props(proto, props)
    proto.doc_string = doc
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise PackageError("EXPORT-CHECK", f"the exported model fails onnx.checker: {exc}") from None
    return proto.SerializeToString()


def graph_key(arch: dict) -> str:
    """What the exported graph depends on, hashed: the architecture, the export recipe and the versions."""
    from importlib.metadata import version  # importing onnxscript just for its version would cost a second

    what = {"recipe": GRAPH_RECIPE, "archivist": __version__, "architecture": arch, "torch": torch.__version__,
            "onnx": version("onnx"), "onnxscript": version("onnxscript"), "onnx_ir": version("onnx-ir"),
            "input": INPUT_NAME, "output": OUTPUT_NAME}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def from_template(template: bytes, model: torch.nn.Module, props: dict[str, str], doc: str = "") -> bytes | None:
    """``template`` (an export of the same architecture) with ``model``'s weights; None where it cannot be.

    Every ``state_dict`` entry must be an initializer of that name, once,
    with the same shape and element type, stored as raw little-endian
    data, and no tensor may point at external data; anything else (a
    template from another architecture, a graph that folded a weight into a
    constant, a file that would read weights from beside it) returns None,
    and the caller traces afresh.
    """
    import onnx

    if not np.little_endian:  # raw_data is little-endian
        return None
    try:
        proto = onnx.load_from_string(template)
    except Exception:  # protobuf's DecodeError, or anything a damaged file raises
        return None
    if [i.name for i in proto.graph.input] != [INPUT_NAME] or [o.name for o in proto.graph.output] != [OUTPUT_NAME]:
        return None
    if any(onnx.external_data_helper.uses_external_data(t) or t.external_data for t in _tensors(proto)):
        return None
    inits: dict[str, onnx.TensorProto] = {}
    for t in proto.graph.initializer:
        if t.name in inits:
            return None
        inits[t.name] = t
    for name, tensor in model.state_dict().items():
        arr = tensor.detach().cpu().contiguous().numpy()
        t = inits.get(name)
        if (t is None or list(t.dims) != list(arr.shape) or not t.HasField("raw_data")
                or t.data_type != onnx.helper.np_dtype_to_tensor_dtype(arr.dtype) or len(t.raw_data) != arr.nbytes):
            return None
        t.raw_data = arr.tobytes()
    try:
        return _finish(proto, props, doc)
    except PackageError:
        return None


def _tensors(proto: Any) -> Iterator[Any]:
    """Every TensorProto of a model: initializers and node attributes, in subgraphs and functions too."""
    def graph(g: Any) -> Iterator[Any]:
        yield from g.initializer
        for sparse in g.sparse_initializer:
            yield sparse.values
            yield sparse.indices
        for node in g.node:
            yield from nodes(node)

    def nodes(node: Any) -> Iterator[Any]:
        for a in node.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors
            if a.HasField("g"):
                yield from graph(a.g)
            for sub in a.graphs:
                yield from graph(sub)

    yield from graph(proto.graph)
    for f in proto.functions:
        for node in f.node:
            yield from nodes(node)


def _templates(pkg: Package, key: str) -> Iterator[tuple[dict, bytes]]:
    """(card, ONNX bytes) of the package's models made with this graph key, each checked against the manifest."""
    from archivist.errors import ArchivistError

    for ident in pkg.record_ids(kinds.MODEL_CARD):
        try:
            card = pkg.read_record(Layout.record("models", ident), CARD_LABEL)
            if card["format"]["metadata_props"].get("archivist.graph") != key:
                continue
            yield card, pkg.verified_bytes(card["model"], "EXPORT-CHECK", "model")
        except ArchivistError:
            continue  # a damaged model is verify's to report; it just cannot be a template


def _onnx_for(pkg: Package, model: torch.nn.Module, props: dict[str, str], doc: str,
              reuse_graph: bool) -> tuple[bytes, dict | None]:
    """The model's ONNX bytes, from a template in the package where one fits, else from a trace; and the template."""
    if reuse_graph:
        for card, data in _templates(pkg, props["archivist.graph"]):
            out = from_template(data, model, props, doc)
            if out is not None:
                return out, card
    return to_onnx(model, props, doc=doc), None


def ort_session(onnx_bytes: bytes):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, ORT_SETTINGS["graph_optimization_level"])
    opts.enable_cpu_mem_arena = ORT_SETTINGS["enable_cpu_mem_arena"]
    return ort.InferenceSession(onnx_bytes, sess_options=opts, providers=ORT_SETTINGS["providers"])


def parity(model: torch.nn.Module, onnx_bytes: bytes, x: np.ndarray, passthrough: list[int]) -> dict:
    """torch eager vs onnxruntime on one (1, 3, H, W) input; passthrough channels must be bit-exact."""
    import onnxruntime as ort

    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    got = ort_session(onnx_bytes).run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    return {
        "max_abs_error": float(diff.max()), "mean_abs_error": float(diff.mean()), "bound": PARITY_BOUND,
        "passthrough_bit_exact": bool(all(np.array_equal(got[:, c], x[:, c]) for c in passthrough)),
        "shape": list(x.shape), "onnxruntime": ort.__version__, "torch": torch.__version__, **ORT_SETTINGS,
    }


def _pick_run(pkg: Package, run: str | None) -> tuple[dict, bytes]:
    """The run record and its bytes, read once and refused unless they match the manifest."""
    if not run:
        ids = training.run_ids(pkg)
        if not ids:
            raise InputError("EXPORT-NO-RUN", "the package has no training runs", hint="run 'archivist train' first")
        if len(ids) > 1:
            raise InputError("EXPORT-RUN-AMBIGUOUS", f"the package has {len(ids)} training runs ({', '.join(ids)})",
                             hint="say which with --run")
        run = ids[0]
    training.read_run(pkg, run)  # a clear error for a missing run
    rel = Layout.record("training", run)
    data = pkg.layout.path(rel).read_bytes()
    if pkg.manifest("sha256").get(rel) != hash_bytes(data).sha256:
        raise InputError("EXPORT-RECORD-ALTERED", f"{rel} does not match the package manifest",
                         hint="run 'archivist verify' to see what changed")
    return records.loads(data, training.LABEL, where=rel), data


def _pick_checkpoint(rec: dict, checkpoint: str | int | None) -> tuple[dict, str]:
    """The checkpoint to export and how it was chosen: ``named``, by the run's ``selection``, or ``last``."""
    ckpts = rec["checkpoints"]
    if not ckpts:
        raise InputError("EXPORT-NO-CHECKPOINT", f"run {rec['id']} has no checkpoint yet")
    if checkpoint is None:
        chosen = rec.get("selection")
        for c in ckpts:
            if chosen and c["step"] == chosen["step"]:
                return c, chosen["by"]
        return ckpts[-1], "last"
    text = str(checkpoint)
    for c in ckpts:
        if (text.isdigit() and c["step"] == int(text)) or c["path"] == text:
            return c, "named"
    steps = ", ".join(str(c["step"]) for c in ckpts)
    raise InputError("EXPORT-NO-CHECKPOINT", f"run {rec['id']} has no checkpoint {text!r} (steps: {steps})")


def _passthrough(rec: dict) -> list[int]:
    if rec["mode"] == "spatial":
        return [1, 2]
    return [] if rec["tone"] else [0]


def _next_model_id(pkg: Package, rec: dict, step: int) -> str:
    base = f"{rec['id']}-s{step}"
    ident, n = base, 2
    while (pkg.root / Layout.record("models", ident)).exists():
        ident, n = f"{base}-{n}", n + 1
    return ident


def metadata_props(pkg: Package, rec: dict, ckpt: dict) -> dict[str, str]:
    """The provenance carried inside the ONNX file (all strings; nothing time- or id-dependent)."""
    colour = rec["dataset"]["colour"]
    arch = rec["architecture"]
    return {
        "archivist.package": pkg.record()["identifier"],
        "archivist.dataset": rec["dataset"]["id"],
        "archivist.dataset_sha256": rec["dataset"]["sha256"],
        "archivist.run": rec["id"],
        "archivist.checkpoint_step": str(ckpt["step"]),
        "archivist.checkpoint_sha256": ckpt["sha256"],
        "archivist.mode": rec["mode"],
        "archivist.tone": "true" if rec["tone"] else "false",
        "archivist.architecture": arch["name"],
        "archivist.architecture_config": json.dumps(arch["config"], sort_keys=True),
        "archivist.size": arch["size"],
        "archivist.colour.working_space": "Y'CbCr",
        "archivist.colour.kr": repr(float(colour["kr"])),
        "archivist.colour.kb": repr(float(colour["kb"])),
        "archivist.colour.input": f"{INPUT_NAME}: Y'CbCr (NCHW float32) of the source's non-linear R'G'B' "
                                  "in [0, 1]; Y' in [0, 1], Cb and Cr in [-0.5, 0.5]",
        "archivist.colour.output": f"{OUTPUT_NAME}: Y'CbCr in the same space; " + _passthrough_text(rec),
        "archivist.version": __version__,
        "archivist.graph": graph_key(arch),
    }


def _passthrough_text(rec: dict) -> str:
    if rec["mode"] == "spatial":
        return "Cb and Cr are the input's, bit for bit; Y' carries the restored detail"
    if rec["tone"]:
        return "Y' is the input's plus a smooth low-frequency correction; Cb and Cr are restored"
    return "Y' is the input's, bit for bit; Cb and Cr are restored"


def _intended_use(rec: dict, title: str) -> tuple[str, list[str]]:
    mode = rec["mode"]
    if mode == "chroma":
        use = (f"Reference-based chroma recovery for '{title}': restores the colour of frames from the same "
               "source element and shots as the training pairs, keeping the scan's luma"
               + (" apart from a smooth tone correction." if rec["tone"] else " exactly."))
    else:
        use = (f"Reference-based spatial recovery for '{title}': adds detail learned from the reference element "
               "to frames from the same source element and shots, keeping the scan's colour and grain.")
    limits = [
        "Trained on one film's pairs; it is not a general restoration model and should not be used on other material.",
        "Recovers what the reference shows; it cannot restore colour or detail absent from both elements.",
        "Inputs outside the training range (Y' in [0, 1]) are processed but were never seen in training.",
        "Judge results against the held-out preview frame and a LUT baseline before use; outputs are "
        "trained-model output and must be labelled as such.",
    ]
    if mode == "chroma":
        limits.append("Colour is predicted as a smooth field of local transforms at 1/4 resolution: very fine "
                      "colour detail follows the source's own chroma and luma structure.")
    return use, limits


def _current_rights(pkg: Package, rec: dict) -> list[dict]:
    return [pkg.element_rights(r["element"]) for r in rec["rights"]]


def export(pkg: Package, *, run: str | None = None, checkpoint: str | int | None = None,
           model_id: str | None = None, progress=None, reuse_graph: bool = True) -> dict:
    """Export one checkpoint; returns the model card.

    ``reuse_graph``: take the graph from a model of the same graph key in the package where there is one
    (same bytes, much faster); False traces it afresh.
    """
    rec, rec_bytes = _pick_run(pkg, run)
    ckpt, chosen = _pick_checkpoint(rec, checkpoint)
    model_id = model_id or _next_model_id(pkg, rec, ckpt["step"])
    card_rel, onnx_rel = Layout.record("models", model_id), Layout.onnx_model(model_id)
    if (pkg.root / card_rel).exists() or (pkg.root / onnx_rel).exists():
        raise InputError("EXPORT-EXISTS", f"model {model_id!r} already exists", hint="choose another --id")
    if pkg.interrupted():
        raise PackageError("PACKAGE-INTERRUPTED", f"an earlier command on {pkg.root} was interrupted",
                           hint=f"run 'archivist recover {pkg.root}' first")
    bar = start(progress, total=4, desc=f"exporting {model_id}", unit="stage")
    try:
        return _export(pkg, rec, rec_bytes, ckpt, chosen, model_id, card_rel, onnx_rel, bar, reuse_graph)
    finally:
        bar.close()


def _export(pkg: Package, rec: dict, rec_bytes: bytes, ckpt: dict, chosen: str, model_id: str, card_rel: str,
            onnx_rel: str, bar, reuse_graph: bool = True) -> dict:
    data = pkg.verified_bytes(ckpt, "EXPORT-CHECKPOINT-ALTERED", "checkpoint")
    meta, tensors = checkpoints.unpack(data)
    if meta.get("settings_digest") != rec["settings_digest"] or int(meta["step"]) != ckpt["step"]:
        raise InputError("EXPORT-CHECKPOINT-ALTERED", f"checkpoint {ckpt['path']} does not belong to run {rec['id']}")
    arch = rec["architecture"]["config"]
    model = models.build(arch)
    model.load_state_dict(checkpoints.model_state(tensors), strict=True)
    model.eval()
    bar.update(1)

    ds = training_data._dataset_api()
    ds_record, ds_sha = ds.load(pkg, rec["dataset"]["id"])
    if ds_sha != rec["dataset"]["sha256"]:
        raise InputError("EXPORT-DATASET", f"dataset {rec['dataset']['id']} has changed since run {rec['id']} "
                         "was trained; the preview frame for the parity check cannot be trusted")
    holdout = ds_record.get("holdout") or []
    entry = holdout[0] if holdout else ds_record["pairs"][0]
    src, _ = ds.pair_arrays(pkg, ds_record, entry)
    # The training preview's window: large frames would make torch eager the slowest stage.
    y0, x0, h, w = contact.centre_window(src.shape[0], src.shape[1], training_data.PREVIEW_MAX)
    src = src[y0:y0 + h, x0:x0 + w]
    colour = rec["dataset"]["colour"]
    x = targets.to_ycbcr(src, colour["kr"], colour["kb"]).transpose(2, 0, 1)[None].copy()
    title = pkg.record()["title"]
    use, limits = _intended_use(rec, title)
    props = metadata_props(pkg, rec, ckpt)
    onnx_bytes, template = _onnx_for(pkg, model, props, use, reuse_graph)
    bar.update(1)

    check = parity(model, onnx_bytes, x, _passthrough(rec))
    if template is not None and not (check["max_abs_error"] <= PARITY_BOUND and check["passthrough_bit_exact"]):
        # The key matched but the graph does not compute this model (code changed under the same
        # version): a template is only ever a shortcut, so trace afresh and judge that.
        onnx_bytes, template = to_onnx(model, props, doc=use), None
        check = parity(model, onnx_bytes, x, _passthrough(rec))
    check["frame"] = training_data._frame_number(entry)
    check["held_out"] = bool(holdout)
    check["window"] = {"x": x0, "y": y0, "width": w, "height": h}
    bar.update(1)
    if not check["max_abs_error"] <= PARITY_BOUND:
        raise PackageError("EXPORT-PARITY", f"onnxruntime and torch differ by {check['max_abs_error']:.3g} on the "
                           f"preview frame, more than the bound {PARITY_BOUND:g}; nothing was written")
    if not check["passthrough_bit_exact"]:
        raise PackageError("EXPORT-PASSTHROUGH", "onnxruntime does not pass the promised channels through bit for "
                           "bit; nothing was written")

    import onnx

    proto = onnx.load_from_string(onnx_bytes)
    colour_pipeline = {
        "working_space": "Y'CbCr", "kr": float(colour["kr"]), "kb": float(colour["kb"]),
        "rgb": "the source's non-linear R'G'B' as the dataset read it (the element's recorded colour space), "
               "values in [0, 1]",
        "forward": "Y' = kr R' + (1 - kr - kb) G' + kb B'; Cb = (B' - Y') / (2 (1 - kb)); Cr = (R' - Y') / (2 (1 - kr))",
        "inverse": "archivist.imaging.colour.ycbcr_to_rgb with the same kr, kb",
    }
    for key in ("coefficients", "source_colour_space", "reference_colour_space", "conversion"):
        if key in colour:
            colour_pipeline[key] = colour[key]
    channel_range = {"Y'": [0.0, 1.0], "Cb": [-0.5, 0.5], "Cr": [-0.5, 0.5]}
    tensor = {"dtype": "float32", "shape": ["batch", 3, "height", "width"], "layout": "NCHW",
              "channels": ["Y'", "Cb", "Cr"], "range": channel_range, "colour_space": "Y'CbCr (see colour_pipeline)"}
    now = utcnow()
    with pkg.transaction("export") as txn:
        fx = txn.write_bytes(onnx_rel, onnx_bytes)
        # The run record can still change (a resumed run); the model keeps the version it came from.
        snap_rel = Layout.model_training_record(model_id)
        sfx = txn.write_bytes(snap_rel, rec_bytes)
        card = {
            "schema": CARD_LABEL, "id": model_id, "created": now, "archivist_version": __version__,
            "model": {"path": onnx_rel, "sha256": fx.sha256, "size": fx.size},
            "format": {"name": "ONNX", "opset": int(proto.opset_import[0].version), "ir_version": int(proto.ir_version),
                       "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
                       "exporter": "torch.onnx.export(dynamo=True)", "external_data": False,
                       "metadata_props": props,
                       "graph": ({"from": "template", "model": template["id"], "sha256": template["model"]["sha256"]}
                                 if template else {"from": "trace"})},
            "run": {"id": rec["id"], "status": rec["status"], "step": rec["step"],
                    "record": {"path": snap_rel, "sha256": sfx.sha256, "size": sfx.size},
                    "live_record": Layout.record("training", rec["id"])},
            "checkpoint": {"step": ckpt["step"], "path": ckpt["path"], "sha256": ckpt["sha256"], "chosen_by": chosen,
                           **({"holdout_loss": ckpt["holdout_loss"]} if "holdout_loss" in ckpt else {})},
            "dataset": {"id": rec["dataset"]["id"], "sha256": rec["dataset"]["sha256"]},
            "mode": rec["mode"], "tone": rec["tone"],
            "architecture": {"name": rec["architecture"]["name"], "size": rec["architecture"]["size"],
                             "parameters": rec["architecture"]["parameters"],
                             "macs_per_pixel": rec["architecture"]["macs_per_pixel"], "config": arch},
            "interface": {
                "inputs": [{"name": INPUT_NAME, **tensor}],
                "outputs": [{"name": OUTPUT_NAME, **tensor, "passthrough": _passthrough_text(rec)}],
                "min_size": models.CHROMA_SCALE if rec["mode"] == "chroma" else 1,
                "alignment": models.alignment(arch),
                # The probe costs seconds in a fresh process; a template has the same architecture and code.
                "receptive_radius": (template["interface"]["receptive_radius"] if template
                                     else models.receptive_radius(arch)),
                **({"whole_frames": True} if models.whole_frames(arch) else {}),
            },
            "colour_pipeline": colour_pipeline,
            "intended_use": use,
            "limitations": limits,
            "training_data_rights": _current_rights(pkg, rec),
            "parity": check,
        }
        card_bytes = records.dumps(card, CARD_LABEL)
        cfx = txn.write_bytes(card_rel, card_bytes)
        events.append(txn, events.new_event(
            "export", "creation", now,
            [{"path": onnx_rel, "role": "created", "sha256": fx.sha256},
             {"path": snap_rel, "role": "created", "sha256": sfx.sha256},
             {"path": card_rel, "role": "created", "sha256": cfx.sha256},
             {"path": ckpt["path"], "role": "source", "sha256": ckpt["sha256"]},
             *([{"path": template["model"]["path"], "role": "source", "sha256": template["model"]["sha256"]}]
               if template else [])],
            detail=f"model {model_id}: ONNX export of run {rec['id']} step {ckpt['step']}, parity max "
                   f"{check['max_abs_error']:.2g}"
                   + (f"; graph of model {template['id']}, weights replaced" if template else "")))
        txn.commit()
    bar.update(1)
    return card

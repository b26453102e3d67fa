"""``archivist train``: reproducible training through the package.

A run reads its dataset from the package, trains on random patches of the
pre-loaded pairs, and writes back into the package, in short transactions:

- at the start, the training-run record (``status: running``) and an event;
- at every checkpoint (and when contact sheets pile up), the checkpoint
  (safetensors: weights, optimizer and sampler state), the loss log so far
  (JSON lines), the contact sheets since the last commit and the updated
  record, each hashed into the manifests, with an event;
- at the end, the last checkpoint and ``status: complete``.

The first checkpoint is step 0: the model as fitted in closed form (for
chroma, where the LUT ends). Every checkpoint is judged by its loss on
whole held-out frames against their ground truth (``data.GUARD_FRAMES`` of
the dataset's held-out list), and the record's ``selection`` names the
checkpoint with the lowest: what ``export`` takes by default. On four
pairs, steps can fit the pairs' own frames at the cost of the others; the
choice keeps the steps only where the held-out frames say they carry over
(judged against the reference, which can itself be wrong: docs/qc.md).

A run killed at any moment leaves a valid package whose record names its
last checkpoint; ``resume`` continues from there and, on the same device
and thread count, produces byte-identical checkpoints to a run that was
never interrupted, because the checkpoint carries all the state the loop
has (weights, Adam moments, the patch sampler's generator) and the
learning rate does not depend on the total step count.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from archivist.errors import ArchivistError, InputError, PackageError
from archivist.imaging import colour, contact, oiio
from archivist.package import Package, events, kinds, records
from archivist.package import rights as training_rights
from archivist.package.faults import fault
from archivist.package.hashing import hash_bytes
from archivist.package.layout import Layout
from archivist.package.locking import when_unlocked
from archivist.package.transaction import utcnow
from archivist.progress import start
from archivist.training import checkpoints, devices, estimate, models, targets
from archivist.training.data import TrainingData, _dataset_api, load_data
from archivist.training.sampling import PatchSampler, effective_patch, fit_views

LABEL = kinds.TRAINING_RUN.label
LOSS = "l1-rgb"
MAX_PENDING_CONTACTS = 8  # commit early rather than hold more sheets in memory
LOSS_SYNC = 50  # steps between fetching losses from the device (one sync each)
LOCK_WAIT = 300.0  # seconds a commit waits for another command's write lock
MIN_PATCH = 16


@dataclass(frozen=True)
class TrainSettings:
    """Everything ``archivist train`` can be told. Defaults follow the chroma recovery guide."""

    mode: str = "chroma"
    tone: bool = False
    size: str = "medium"
    steps: int = 40000
    batch: int = 3
    patch: int = 512
    lr: float = 1e-3
    checkpoint_every: int = 10000
    contact_every: int = 1000
    seed: int = 0
    threads: int | None = None
    device: str = "auto"
    channels_last: bool = False
    dataset: str | None = None
    preset: str | None = None  # the named preset the values came from (archivist.training.presets)
    preset_overrides: tuple[str, ...] = ()  # the preset's values the user changed

    def check(self) -> None:
        if self.mode not in models.MODES:
            raise InputError("TRAIN-MODE", f"mode must be one of {', '.join(models.MODES)}")
        if self.size not in models.SIZES:
            raise InputError("TRAIN-SIZE", f"size must be one of {', '.join(models.SIZES)}")
        if self.tone and self.mode != "chroma":
            raise InputError("TRAIN-TONE", "--tone applies to chroma mode only")
        for name in ("batch", "patch", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise InputError("TRAIN-SETTING", f"{name} must be at least 1")
        if self.steps < (0 if self.mode == "chroma" else 1):
            # A chroma model's step 0 is its closed-form fit; a spatial model's would be its random start.
            raise InputError("TRAIN-SETTING", "steps must be at least 1 in spatial mode (0 is chroma mode's fitted "
                             "start alone)" if self.mode != "chroma" else "steps must be 0 or more")
        if self.contact_every < 0:
            raise InputError("TRAIN-SETTING", "contact_every must be 0 (off) or more")
        if self.threads is not None and self.threads < 1:
            raise InputError("TRAIN-SETTING", "threads must be at least 1")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise InputError("TRAIN-SETTING", "lr must be a positive number")


class TrainingInterrupted(ArchivistError):
    """Ctrl-C during training: the package is valid and holds the run up to its last commit."""

    exit_code = 130


# Settings that may differ when a run is resumed; every other one shapes the weights.
RESUMABLE_CHANGES = ("steps",)


# -- the model and its optimiser ----------------------------------------------------------


def build_model(arch: dict, seed: int, device: str, channels_last: bool) -> torch.nn.Module:
    """The architecture with weights drawn from ``seed`` (CPU RNG, so every device starts alike).

    The caller's global RNG state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = models.build(arch)
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def optimizer_settings(lr: float, device: str) -> dict:
    # foreach changes the order of float operations, so it is fixed per device and recorded.
    return {"name": "Adam", "lr": lr, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0,
            "foreach": device == "cuda"}


def build_optimizer(model: torch.nn.Module, opt: dict) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=opt["lr"], betas=tuple(opt["betas"]), eps=opt["eps"],
                            weight_decay=opt["weight_decay"], foreach=opt["foreach"])


def loss_fn(model: torch.nn.Module, xb: torch.Tensor, yb: torch.Tensor, kr: float, kb: float,
            windows: list | None = None) -> torch.Tensor:
    """L1 in R'G'B' between the model's output and the ground truth (after the model's loss low-pass, if any).

    ``windows``: each patch's place in its frame, for models with a frame field."""
    out = colour.ycbcr_to_rgb_tensor(models.run(model, xb, windows), kr, kb)
    return F.l1_loss(models.loss_view(model, out), models.loss_view(model, yb))


# -- the run record ------------------------------------------------------------------------


def run_ids(pkg: Package) -> list[str]:
    """Training runs recorded in the package."""
    return pkg.record_ids("training")


def read_run(pkg: Package, run: str) -> dict:
    return pkg.read_kind("training", run, LABEL, "TRAIN-NO-RUN", "training run")


def _next_run_id(pkg: Package, mode: str) -> str:
    return pkg.next_id("training", mode)


def _record_sha256(pkg: Package, rel: str) -> str:
    actual = hash_bytes(pkg.layout.path(rel).read_bytes()).sha256
    if pkg.manifest("sha256").get(rel) != actual:
        raise InputError("TRAIN-RECORD-ALTERED", f"{rel} does not match the package manifest",
                         hint="run 'archivist verify' to see what changed")
    return actual


def _rights(pkg: Package, record: dict) -> list[dict]:
    """Training-use rights of the elements the dataset draws on."""
    return [pkg.element_rights(e) for e in dict.fromkeys((record["source_element"], record["reference_element"]))]


def _weight_settings(rec: dict) -> dict:
    s = rec["settings"]
    return {"architecture": rec["architecture"]["config"], "dataset_sha256": rec["dataset"]["sha256"],
            "batch": s["batch"], "patch": s["patch_effective"], "optimizer": s["optimizer"], "loss": s["loss"],
            "target": s["target"], "seed": s["seed"], "threads": s["threads"], "device": s["device"],
            "channels_last": s["channels_last"]}


def guard_loss(model: torch.nn.Module, data: TrainingData) -> float | None:
    """The training loss on the whole held-out frames that judge checkpoints, their mean; None without any."""
    if not data.guard_inputs:
        return None
    window = [data.window(0, 0)] if data.frame is not None else None
    with torch.no_grad():
        values = [loss_fn(model, x, y, data.kr, data.kb, window) for x, y in zip(data.guard_inputs, data.guard_targets)]
        return float(torch.stack(values).mean())


def select_checkpoint(rec: dict, frames: list[int]) -> dict:
    """The checkpoint ``export`` takes by default: the lowest held-out loss (the earliest of equals), else the last.

    >>> rec = {"checkpoints": [{"step": 0, "holdout_loss": 0.02}, {"step": 100, "holdout_loss": 0.019},
    ...                        {"step": 200, "holdout_loss": 0.021}]}
    >>> select_checkpoint(rec, [1002, 1011])["step"]
    100
    >>> select_checkpoint({"checkpoints": [{"step": 0}, {"step": 300}]}, [])
    {'by': 'last', 'step': 300}
    """
    judged = [c for c in rec["checkpoints"] if "holdout_loss" in c]
    if not judged:
        return {"by": "last", "step": rec["checkpoints"][-1]["step"]}
    best = min(judged, key=lambda c: c["holdout_loss"])
    return {"by": "holdout-loss", "frames": frames, "step": best["step"], "holdout_loss": best["holdout_loss"]}


def advance_record(rec: dict, step: int, final: bool, loss_values, holdout) -> None:
    """Bring a training record to ``step``: its time, its status when ``final``, and its loss summary."""
    now = utcnow()
    rec["updated"] = now
    if final:
        rec["status"] = "complete"
        rec["finished"] = now
    rec["step"] = step
    rec["loss_summary"] = _loss_summary(loss_values, holdout)


def _loss_summary(values: list[tuple[int, float]], holdout: list[tuple[int, float]]) -> dict:
    if not values:
        return {"steps": 0}
    losses = [v for _, v in values]
    best = min(range(len(losses)), key=losses.__getitem__)
    tail = losses[-100:]
    out = {"steps": len(losses), "first": losses[0], "last": losses[-1], "min": losses[best],
           "min_step": values[best][0], "mean_last_100": sum(tail) / len(tail)}
    if holdout:
        out["holdout_l1_last"] = holdout[-1][1]
        out["holdout_l1_step"] = holdout[-1][0]
    return out


# -- the loop ----------------------------------------------------------------------------------


def _postfix(bar, text: str) -> None:
    target = getattr(bar, "bar", bar)
    if hasattr(target, "set_postfix_str"):
        target.set_postfix_str(text, refresh=False)


class _Run:
    """One session of a run: the live state, the loop and the commits."""

    def __init__(self, pkg: Package, rec: dict, data: TrainingData, model, optimizer, sampler, *,
                 loss_lines: list[bytes], loss_values: list[tuple[int, float]], holdout: list[tuple[int, float]],
                 record_sha: str | None = None, notify=None, setup_seconds: float = 0.0):
        self.pkg, self.rec, self.data = pkg, rec, data
        self.notify = notify
        self.model, self.optimizer, self.sampler = model, optimizer, sampler
        self.loss_lines, self.loss_values, self.holdout = loss_lines, loss_values, holdout
        self.pending_losses: list[tuple[int, torch.Tensor]] = []
        self.pending_holdout: dict[int, float] = {}
        self.pending_contacts: list[tuple[int, np.ndarray]] = []
        s = rec["settings"]
        self.fmt = torch.channels_last if s["channels_last"] else torch.contiguous_format
        self.device = s["device"]
        # setup_seconds: reading the frames and the closed-form fit, before this object existed
        self.session_start = time.monotonic() - setup_seconds
        self.spent = {"commits": 0.0, "contact_sheets": 0.0, "fitting": setup_seconds}  # "where the time went"
        self.wall_before = rec.get("wall_seconds", 0.0)
        self.record_sha = record_sha
        self.done_contacts = {c["step"] for c in rec["contact_sheets"]}
        self.judged: float | None = None  # the held-out loss of the checkpoint being committed

    # -- bookkeeping -------------------------------------------------------------
    def _flush_losses(self) -> None:
        if not self.pending_losses:
            return
        values = torch.stack([t for _, t in self.pending_losses]).tolist()
        for (step, _), v in zip(self.pending_losses, values):
            line = {"step": step, "loss": v}
            if step in self.pending_holdout:
                line["holdout_l1"] = self.pending_holdout.pop(step)
                self.holdout.append((step, line["holdout_l1"]))
            self.loss_values.append((step, v))
            self.loss_lines.append((json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n").encode())
        self.pending_losses.clear()

    def checkpoint_entry(self, step: int, file: dict) -> dict:
        """Record a checkpoint just written (``file``: path, sha256, size), with its held-out loss."""
        entry = {"step": step, **file}
        if self.judged is not None:
            entry["holdout_loss"] = self.judged
        self.rec["checkpoints"].append(entry)
        self.rec["selection"] = select_checkpoint(self.rec, self.data.guard_frames)
        return entry

    def _contact(self, step: int) -> None:
        t0 = time.monotonic()
        try:
            self._draw_contact(step)
        finally:
            self.spent["contact_sheets"] += time.monotonic() - t0

    def _draw_contact(self, step: int) -> None:
        d = self.data
        with torch.no_grad():
            out = models.run(self.model, d.preview_input, [d.preview_window] if d.frame is not None else None)
            rgb = colour.ycbcr_to_rgb_tensor(out, d.kr, d.kb)[0].float().cpu().numpy().transpose(1, 2, 0)
        self.pending_holdout[step] = float(np.abs(rgb - d.preview_target).mean())
        if step not in self.done_contacts:
            self.pending_contacts.append((step, contact.sheet([d.preview_source, d.preview_target, rgb])))

    def _session(self, step: int, in_commit: float = 0.0) -> None:
        sess = self.rec["sessions"][-1]
        sess["to_step"] = step
        sess["wall_seconds"] = round(time.monotonic() - self.session_start, 3)
        done = step - sess["from_step"]
        stepping = sess["wall_seconds"] - self.spent["fitting"]
        sess["steps_per_second"] = round(done / stepping, 4) if stepping > 0 and done else 0.0
        commits = self.spent["commits"] + in_commit  # this commit so far counts too
        other = commits + self.spent["contact_sheets"] + self.spent["fitting"]
        sess["seconds"] = {"training_steps": round(max(0.0, sess["wall_seconds"] - other), 3),
                           "commits": round(commits, 3),
                           "contact_sheets": round(self.spent["contact_sheets"], 3),
                           "fitting": round(self.spent["fitting"], 3)}
        self.rec["wall_seconds"] = round(self.wall_before + sess["wall_seconds"], 3)

    def _begin(self):
        """The package's transaction, waiting a while for another command (an export, say) to finish."""
        return when_unlocked(lambda: self.pkg.transaction("train"), LOCK_WAIT)

    def _check_record(self, txn) -> None:
        """Refuse to go on if someone else wrote this run's record since our last commit."""
        rel = Layout.record("training", self.rec["id"])
        current = txn.manifests["sha256"].get(rel)
        if current != self.record_sha:
            what = "was created by another command" if self.record_sha is None else "was changed by another command"
            raise PackageError("TRAIN-CONCURRENT", f"training run {self.rec['id']} {what} while this one was "
                               "training; stopping without writing",
                               hint="only one process may train a run at a time")

    def commit(self, step: int, *, checkpoint: bool, final: bool, first: bool = False) -> None:
        t0 = time.monotonic()
        try:
            # Judged before the transaction: the forward passes need not hold the package's write lock.
            self.judged = guard_loss(self.model, self.data) if checkpoint else None
            self._commit(step, checkpoint, final, first, t0)
        finally:
            self.spent["commits"] += time.monotonic() - t0

    def _commit(self, step: int, checkpoint: bool, final: bool, first: bool, t0: float) -> None:
        self._flush_losses()
        rec = self.rec
        rid = rec["id"]
        objects = []
        with self._begin() as txn:
            self._check_record(txn)
            if checkpoint:
                data = checkpoints.pack(self.model, self.optimizer, self.sampler.generator, step=step,
                                        architecture=rec["architecture"]["config"], digest=rec["settings_digest"])
                rel = Layout.checkpoint(rid, step)
                fx = txn.write_bytes(rel, data)
                self.checkpoint_entry(step, {"path": rel, "sha256": fx.sha256, "size": fx.size})
                objects.append({"path": rel, "role": "created", "sha256": fx.sha256})
            for cstep, pixels in self.pending_contacts:
                rel = Layout.contact_sheet(rid, cstep)
                oiio.write(txn.staging_path(rel), pixels, pixel_type="uint8")
                fx = txn.adopt(rel)
                rec["contact_sheets"].append({"step": cstep, "path": rel, "sha256": fx.sha256, "size": fx.size})
                self.done_contacts.add(cstep)
                objects.append({"path": rel, "role": "created", "sha256": fx.sha256})
            self.pending_contacts.clear()
            if self.loss_lines or "loss_log" in rec:
                rel = Layout.loss_log(rid)
                existed = txn.exists(rel)
                fx = txn.write_bytes(rel, b"".join(self.loss_lines), replace=existed)
                rec["loss_log"] = {"path": rel, "sha256": fx.sha256, "size": fx.size}
                objects.append({"path": rel, "role": "modified" if existed else "created", "sha256": fx.sha256})
            advance_record(rec, step, final, self.loss_values, self.holdout)
            self._session(step, in_commit=time.monotonic() - t0)
            rel = Layout.record("training", rid)
            existed = txn.exists(rel)
            fx = txn.write_bytes(rel, records.dumps(rec, LABEL), replace=existed)
            objects.append({"path": rel, "role": "modified" if existed else "created", "sha256": fx.sha256})
            events.append(txn, events.new_event("train", "creation", rec["updated"], objects, detail=self._detail(step, checkpoint,
                                                                                                      final, first)))
            txn.commit()
            self.record_sha = fx.sha256

    def _detail(self, step: int, checkpoint: bool, final: bool, first: bool) -> str:
        rec = self.rec
        target = rec["settings"]["steps"]
        if first:
            sess = rec["sessions"][-1]
            how = f"resumed at step {sess['from_step']}" if sess["resumed"] else "started"
            return (f"training run {rec['id']} {how}: {rec['mode']}{' + tone' if rec['tone'] else ''}, "
                    f"{rec['architecture']['size']} model, {target} steps on {rec['settings']['device']}, "
                    f"dataset {rec['dataset']['id']}")
        last = rec["loss_summary"].get("last")
        loss = f", loss {last:.5f}" if last is not None else ""
        what = "checkpoint" if checkpoint else "progress"
        tail = "; run complete" if final else ""
        return f"training run {rec['id']}: {what} at step {step} of {target}{loss}{tail}"

    # -- the loop ------------------------------------------------------------------------
    def loop(self, start_step: int, end_step: int, progress=None) -> None:
        s = self.rec["settings"]
        kr, kb = self.data.kr, self.data.kb
        every_ckpt, every_contact = s["checkpoint_every"], s["contact_every"]
        bar = start(progress, total=end_step - start_step, desc=f"training {self.rec['id']}", unit="step")
        model, opt = self.model, self.optimizer
        model.train()
        step = start_step
        clock = estimate.Estimator(self.rec, start_step, end_step, self.notify,
                                   crop=min(min(hw) for hw in self.data.sizes))
        try:
            for step in range(start_step + 1, end_step + 1):
                xb, yb, windows = self.sampler.batch_of(self.data, self.fmt)
                loss = loss_fn(model, xb, yb, kr, kb, windows)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                fault(f"train-step-{step}")
                self.pending_losses.append((step, loss.detach()))
                last = step == end_step
                is_ckpt = step % every_ckpt == 0 or last
                is_contact = every_contact > 0 and (step % every_contact == 0 or last)
                if is_contact:
                    self._contact(step)
                if len(self.pending_losses) >= LOSS_SYNC or is_ckpt or is_contact:
                    self._flush_losses()
                    _postfix(bar, f"loss {self.loss_values[-1][1]:.5f}")
                if is_ckpt or len(self.pending_contacts) >= MAX_PENDING_CONTACTS:
                    self.commit(step, checkpoint=is_ckpt, final=last)
                bar.update(1)
                clock.tick(step)
        except KeyboardInterrupt:
            last = self.rec["checkpoints"][-1]["step"] if self.rec["checkpoints"] else 0
            hint = f"continue with 'archivist train {self.pkg.root} --resume {self.rec['id']}'"
            if self.pkg.interrupted():
                hint = f"run 'archivist recover {self.pkg.root}' first, then " + hint[0].lower() + hint[1:]
            raise TrainingInterrupted("TRAIN-INTERRUPTED", f"training run {self.rec['id']} stopped at step {step}; "
                                      f"the package holds it up to its last checkpoint (step {last})",
                                      hint=hint) from None
        finally:
            bar.close()


# -- entry points ------------------------------------------------------------------------------


def _check_dataset(pkg: Package, ds_record: dict, mode: str) -> list[dict]:
    rights = _rights(pkg, ds_record)
    training_rights.check(rights, "TRAIN-RIGHTS", "nothing was trained")
    median = (ds_record.get("preprocessing") or {}).get("median_size") or 0
    if mode == "spatial" and median > 1:
        raise InputError("TRAIN-DATASET-MODE", f"dataset {ds_record.get('id')!r} median-filters its references "
                         f"(size {median}), which removes the very detail spatial training learns",
                         hint="build a dataset for spatial recovery with the median filter off")
    return rights


def train(pkg: Package, settings: TrainSettings, *, run_id: str | None = None, progress=None, notify=None,
          run_class=None) -> dict:
    """Train a new run; returns its final record.

    Args:
        pkg: the package.
        settings: everything the run is told (``archivist.training.presets.apply`` fills them from a preset).
        run_id: the new run's id (default: ``<mode>-NN``).
        progress: a progress-bar factory (``archivist.progress``).
        notify: called with one-line messages for the user, such as the time estimate.
        run_class: what keeps the run (default: commits into the package; ``training.onray`` keeps it in a
            staging folder for the driver of a Ray job to commit).
    """
    settings.check()
    device = devices.resolve(settings.device)
    threads = settings.threads or devices.default_threads()
    if pkg.interrupted():
        raise PackageError("PACKAGE-INTERRUPTED", f"an earlier command on {pkg.root} was interrupted",
                           hint=f"run 'archivist recover {pkg.root}' first")
    ds = _dataset_api()
    ds_record, ds_sha = ds.load(pkg, settings.dataset)
    rights = _check_dataset(pkg, ds_record, settings.mode)
    run_id = run_id or _next_run_id(pkg, settings.mode)
    rel = Layout.record("training", run_id)
    if (pkg.root / rel).exists():
        raise InputError("TRAIN-EXISTS", f"training run {run_id!r} already exists",
                         hint=f"use --resume {run_id} to continue it, or choose another --run")
    with devices.pinned(threads, device) as flags:
        t_setup = time.monotonic()
        data = load_data(pkg, ds_record, settings.mode, settings.tone, device, settings.channels_last)
        patch = effective_patch(data, settings.patch)  # the crop's and every pair's region's limit
        if patch < MIN_PATCH:
            raise InputError("TRAIN-PATCH", f"the dataset's crop ({data.sizes[0][1]}x{data.sizes[0][0]}) "
                             + ("or a pair's region " if any(r is not None for r in data.regions) else "")
                             + f"is too small for training patches of at least {MIN_PATCH} px")
        arch = models.architecture(settings.mode, settings.size, settings.tone)
        model = build_model(arch, settings.seed, device, settings.channels_last)
        xs, ts, windows = fit_views(data)
        models.fit_lattice(model, xs, ts, data.kr, data.kb, windows=windows)  # the model starts as the LUT
        sigma = None
        if settings.mode == "spatial":
            sigma = targets.SPATIAL_SIGMA
        elif settings.tone:
            sigma = targets.TONE_SIGMA
        target = {"kind": "tone" if settings.tone else settings.mode}
        if sigma is not None:
            target["sigma"] = sigma
        if settings.mode == "spatial":
            target["grain_sigma"] = targets.GRAIN_SIGMA
        now = utcnow()
        rec = {
            "schema": LABEL, "id": run_id, "status": "running", "mode": settings.mode, "tone": settings.tone,
            "architecture": {"name": arch["name"], "size": settings.size, "config": arch,
                             "parameters": models.parameter_count(model),
                             "macs_per_pixel": models.complexity(settings.mode, settings.size,
                                                                 settings.tone)["macs_per_pixel"]},
            "dataset": {"id": ds_record["id"], "sha256": ds_sha,
                        "record": {"path": Layout.record("datasets", ds_record["id"]), "sha256": ds_sha},
                        "pairs": len(ds_record["pairs"]), "holdout": len(ds_record.get("holdout") or []),
                        "colour": dict(ds_record["colour"])},
            "rights": rights,
            "settings": {
                "steps": settings.steps, "batch": settings.batch, "patch": settings.patch, "patch_effective": patch,
                "lr": settings.lr, "optimizer": optimizer_settings(settings.lr, device), "loss": models.loss_name(arch),
                "lr_schedule": "constant", "target": target, "checkpoint_every": settings.checkpoint_every,
                "contact_every": settings.contact_every, "seed": settings.seed, "threads": threads, "device": device,
                "channels_last": settings.channels_last,
            },
            "determinism": flags,
            "preview": data.preview,
            "environment": devices.environment(device),
            "checkpoints": [], "contact_sheets": [], "step": 0,
            "loss_summary": {"steps": 0},
            "started": now, "updated": now, "wall_seconds": 0.0,
            "sessions": [{"started": now, "from_step": 0, "to_step": 0, "resumed": False, "wall_seconds": 0.0,
                          "steps_per_second": 0.0, "device": device, "threads": threads,
                          "environment": devices.environment(device)}],
        }
        if settings.preset:
            rec["settings"]["preset"] = {"name": settings.preset, "overrides": list(settings.preset_overrides)}
        rec["settings_digest"] = checkpoints.settings_digest(_weight_settings(rec))
        optimizer = build_optimizer(model, rec["settings"]["optimizer"])
        sampler = PatchSampler(settings.seed, data.sizes, settings.batch, patch, data.regions)
        run = (run_class or _Run)(pkg, rec, data, model, optimizer, sampler, loss_lines=[], loss_values=[],
                                  holdout=[], notify=notify, setup_seconds=time.monotonic() - t_setup)
        # The fitted start, judged like the others; with no steps to train, the whole run.
        run.commit(0, checkpoint=True, final=settings.steps == 0, first=True)
        run.loop(0, settings.steps, progress)
        return rec


def _differences(rec: dict, given: dict) -> list[str]:
    s = rec["settings"]
    recorded = {"mode": rec["mode"], "tone": rec["tone"], "size": rec["architecture"]["size"],
                "batch": s["batch"], "patch": s["patch"], "lr": s["lr"], "checkpoint_every": s["checkpoint_every"],
                "contact_every": s["contact_every"], "seed": s["seed"], "threads": s["threads"],
                "device": s["device"], "channels_last": s["channels_last"], "dataset": rec["dataset"]["id"]}
    out = []
    for key, value in given.items():
        if key in RESUMABLE_CHANGES or value is None:
            continue
        if key == "device":
            value = devices.resolve(value)
        if key not in recorded:
            raise ValueError(f"unknown setting {key!r}")
        if recorded[key] != value:
            out.append(f"{key} {value!r} (recorded {recorded[key]!r})")
    return out


def resume(pkg: Package, run_id: str, *, steps: int | None = None, given: dict | None = None, progress=None,
           notify=None) -> dict:
    """Continue ``run_id`` from its last checkpoint, to ``steps`` (default: the recorded total)."""
    rec = read_run(pkg, run_id)
    record_sha = _record_sha256(pkg, Layout.record("training", run_id))
    diffs = _differences(rec, given or {})
    if diffs:
        raise InputError("TRAIN-RESUME-SETTINGS", f"run {run_id} cannot be resumed with different settings: "
                         + "; ".join(diffs),
                         hint="only --steps may change on resume; start a new run for other settings")
    s = rec["settings"]
    target_steps = steps if steps is not None else s["steps"]
    last = rec["checkpoints"][-1] if rec["checkpoints"] else None
    done = last["step"] if last else 0
    if target_steps <= done:
        raise InputError("TRAIN-RESUME-DONE", f"run {run_id} already has a checkpoint at step {done}; "
                         f"nothing to do for {target_steps} steps", hint="give a larger --steps to train further")
    if pkg.interrupted():
        raise PackageError("PACKAGE-INTERRUPTED", f"an earlier command on {pkg.root} was interrupted",
                           hint=f"run 'archivist recover {pkg.root}' first")
    device = devices.resolve(s["device"])
    ds = _dataset_api()
    ds_record, ds_sha = ds.load(pkg, rec["dataset"]["id"])
    if ds_sha != rec["dataset"]["sha256"]:
        raise InputError("TRAIN-RESUME-DATASET", f"dataset {rec['dataset']['id']} has changed since run {run_id} "
                         f"started (SHA-256 {ds_sha}, recorded {rec['dataset']['sha256']})")
    _check_dataset(pkg, ds_record, rec["mode"])
    ckpt = None
    if last:
        ckpt = pkg.verified_bytes(last, "TRAIN-CHECKPOINT-ALTERED", "checkpoint")
        meta = checkpoints.header_metadata(ckpt)
        if meta.get("settings_digest") != rec["settings_digest"] or int(meta["step"]) != done:
            raise InputError("TRAIN-CHECKPOINT-ALTERED", f"checkpoint {last['path']} does not belong to run {run_id}")
    loss_bytes = b""
    if rec.get("loss_log"):
        loss_bytes = pkg.verified_bytes(rec["loss_log"], "TRAIN-LOSS-ALTERED", "loss log")
    with devices.pinned(s["threads"], device) as flags:
        t_setup = time.monotonic()
        data = load_data(pkg, ds_record, rec["mode"], rec["tone"], device, s["channels_last"])
        model = build_model(rec["architecture"]["config"], s["seed"], device, s["channels_last"])
        xs, ts, windows = fit_views(data)
        models.fit_lattice(model, xs, ts, data.kr, data.kb, windows=windows)  # as at the start (no checkpoint yet)
        optimizer = build_optimizer(model, s["optimizer"])
        sampler = PatchSampler(s["seed"], data.sizes, s["batch"], s["patch_effective"], data.regions)
        if ckpt is not None:
            meta, tensors = checkpoints.unpack(ckpt)
            checkpoints.restore(model, optimizer, sampler.generator, meta, {k: v.to(device) if k.startswith("model/")
                                                                             else v for k, v in tensors.items()})
        # Keep the log up to the checkpoint; the steps after it are trained again.
        lines, values, holdout = [], [], []
        for raw in loss_bytes.splitlines(keepends=True):
            entry = json.loads(raw)
            if entry["step"] > done:
                break
            lines.append(raw)
            values.append((entry["step"], entry["loss"]))
            if "holdout_l1" in entry:
                holdout.append((entry["step"], entry["holdout_l1"]))
        now = utcnow()
        rec["status"] = "running"
        rec.pop("finished", None)
        rec["settings"]["steps"] = target_steps
        rec["determinism"] = flags
        rec["sessions"].append({"started": now, "from_step": done, "to_step": done, "resumed": True,
                                "wall_seconds": 0.0, "steps_per_second": 0.0, "device": device, "threads": s["threads"],
                                "environment": devices.environment(device)})
        run = _Run(pkg, rec, data, model, optimizer, sampler, loss_lines=lines, loss_values=values, holdout=holdout,
                   record_sha=record_sha, notify=notify, setup_seconds=time.monotonic() - t_setup)
        run.commit(done, checkpoint=False, final=False, first=True)
        run.loop(done, target_steps, progress)
        return rec


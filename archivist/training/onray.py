"""``archivist train --ray --all-datasets``: independent training runs in parallel, one Ray task per dataset.

Each task trains one run exactly as ``archivist train`` does (the same
settings, seed, thread count and device give the same weights), reading
its dataset from the package on the shared filesystem; instead of
committing as it goes, it keeps the run's checkpoints, contact sheets and
loss log in ``.archivist/train/<run>`` and returns the record and each
file's SHA-256. The driver is the package's only writer: as each task
finishes it takes that run into the bag in one transaction, re-hashing
every file against what the worker reported, and then the next. A run is
in the package whole or not at all; a killed command loses the runs not
yet committed, and running it again trains the datasets that still have
no complete run of the mode (the committed ones are skipped).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

from archivist import cluster
from archivist.errors import ArchivistError, InputError, PackageError
from archivist.inference.runner import remove_scratch
from archivist.package import Package, events, records
from archivist.package.hashing import hash_bytes, hash_file
from archivist.package.layout import Layout
from archivist.package.locking import when_unlocked
from archivist.package.transaction import utcnow
from archivist.training import run as training

LOCK_WAIT = training.LOCK_WAIT


class StagedRun(training._Run):
    """A run that keeps its commits in a staging folder (``scratch``) for the driver, not in the package."""

    def __init__(self, *args, scratch: Path, **kwargs):
        super().__init__(*args, **kwargs)
        self.scratch = scratch
        self.files: dict[str, dict] = {}  # package path -> {"sha256", "size"}

    def _put(self, rel: str, data: bytes | None = None) -> dict:
        path = self.scratch / rel
        if data is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            fx = hash_bytes(data, algorithms=("sha256",))
        else:
            fx = hash_file(path, algorithms=("sha256",))
        self.files[rel] = {"sha256": fx.sha256, "size": fx.size}
        return {"path": rel, "sha256": fx.sha256, "size": fx.size}

    def _commit(self, step: int, checkpoint: bool, final: bool, first: bool, t0: float) -> None:
        from archivist.imaging import oiio
        from archivist.training import checkpoints

        self._flush_losses()
        rec = self.rec
        rid = rec["id"]
        if checkpoint:
            data = checkpoints.pack(self.model, self.optimizer, self.sampler.generator, step=step,
                                    architecture=rec["architecture"]["config"], digest=rec["settings_digest"])
            self.checkpoint_entry(step, self._put(Layout.checkpoint(rid, step), data))
        for cstep, pixels in self.pending_contacts:
            rel = Layout.contact_sheet(rid, cstep)
            (self.scratch / rel).parent.mkdir(parents=True, exist_ok=True)
            oiio.write(self.scratch / rel, pixels, pixel_type="uint8")
            rec["contact_sheets"].append({"step": cstep, **self._put(rel)})
            self.done_contacts.add(cstep)
        self.pending_contacts.clear()
        if self.loss_lines or "loss_log" in rec:
            rec["loss_log"] = self._put(Layout.loss_log(rid), b"".join(self.loss_lines))
        training.advance_record(rec, step, final, self.loss_values, self.holdout)
        self._session(step, in_commit=time.monotonic() - t0)


def _error(exc: ArchivistError) -> dict:
    return {"error": {"code": exc.code, "message": exc.message, "hint": exc.hint,
                      "package": isinstance(exc, PackageError)}}


def train_one(root: str, fields: dict, run_id: str, scratch: str) -> dict:
    """A Ray task: train one run into ``scratch``; the record and its files, or the error that stopped it."""
    where = cluster.worker_facts()
    folder = Path(scratch)
    shutil.rmtree(folder, ignore_errors=True)
    for _ in range(10):
        try:  # the driver's commits remove an empty .archivist/ at the same moment, now and then
            folder.mkdir(parents=True, exist_ok=True)
            break
        except FileNotFoundError:
            time.sleep(0.05)
    try:
        pkg = Package.open(root)
        settings = training.TrainSettings(**{**fields, "preset_overrides": tuple(fields.get("preset_overrides", ()))})
        holder: dict = {}

        def run_class(*args, **kwargs):
            holder["run"] = StagedRun(*args, scratch=folder, **kwargs)
            return holder["run"]

        rec = training.train(pkg, settings, run_id=run_id, run_class=run_class)
    except ArchivistError as exc:
        return {**_error(exc), "worker": where}
    return {"record": rec, "files": holder["run"].files, "worker": where}


def _complete_datasets(pkg: Package, mode: str) -> set[str]:
    done = set()
    for rid in training.run_ids(pkg):
        rec = training.read_run(pkg, rid)
        if rec["status"] == "complete" and rec["mode"] == mode:
            done.add(rec["dataset"]["id"])
    return done


def _commit(pkg: Package, out: dict, facts: dict) -> dict:
    """Take one finished run into the bag: its files, re-hashed against the worker's report, then its record."""
    rec = out["record"]
    rid = rec["id"]
    scratch = pkg.root / Layout.train_scratch(rid)
    rel = Layout.record("training", rid)
    rec["sessions"][-1]["cluster"] = {"address": facts["address"], "ray_version": facts["ray_version"],
                                      "nodes": facts["nodes"],
                                      "worker": {"node_id": out["worker"]["node_id"],
                                                 "hostname": out["worker"]["hostname"]}}
    objects = []
    with when_unlocked(lambda: pkg.transaction("train"), LOCK_WAIT) as txn:
        if txn.exists(rel):
            raise InputError("TRAIN-EXISTS", f"training run {rid!r} was created by another command meanwhile")
        for path, ref in sorted(out["files"].items()):
            dest = txn.staging_path(path)
            if not (scratch / path).is_file():
                raise PackageError("TRAIN-SCRATCH-ALTERED", f"{path}, which the worker wrote in {scratch.name}, is "
                                   "gone (was 'archivist recover' run meanwhile?); nothing of that run was committed",
                                   hint="run the same command again: the run will be trained anew")
            try:
                os.link(scratch / path, dest)
            except OSError:
                shutil.copyfile(scratch / path, dest)
            fx = txn.adopt(path)
            if fx.sha256 != ref["sha256"]:
                raise PackageError("TRAIN-SCRATCH-ALTERED", f"{path} changed after the worker wrote it (SHA-256 "
                                   f"{fx.sha256}, expected {ref['sha256']}); nothing was committed",
                                   hint="run the same command again: the run will be trained anew")
            objects.append({"path": path, "role": "created", "sha256": fx.sha256})
        fx = txn.write_bytes(rel, records.dumps(rec, training.LABEL))
        objects.insert(0, {"path": rel, "role": "created", "sha256": fx.sha256})
        objects.append({"path": rec["dataset"]["record"]["path"], "role": "source",
                        "sha256": rec["dataset"]["record"]["sha256"]})
        last = rec["loss_summary"].get("last")
        detail = (f"training run {rid} trained on Ray ({out['worker']['hostname']}): {rec['mode']}"
                  f"{' + tone' if rec['tone'] else ''}, {rec['architecture']['size']} model, "
                  f"{rec['settings']['steps']} steps on {rec['settings']['device']}, dataset {rec['dataset']['id']}"
                  + (f", loss {last:.5f}" if last is not None else "") + "; run complete")
        events.append(txn, events.new_event("train", "creation", utcnow(), objects, detail=detail))
        txn.commit()
    remove_scratch(pkg.root, scratch)
    return rec


def train_all(root: Path | str, settings: training.TrainSettings, *, ray: str | None = "local",
              datasets: list[str] | None = None, notify=None) -> dict:
    """Train one run per dataset (default: every dataset without a complete run of this mode) on Ray.

    Args:
        root: the package.
        settings: the settings every run shares (``dataset`` is ignored: each task has its own).
        ray: ``"local"`` or a Ray cluster's address (``archivist.cluster.connect``).
        datasets: the datasets to train on (default: all of the package's).
        notify: called with a line as each run is committed.

    Returns:
        ``{"ok", "runs": [record...], "skipped": [dataset...], "cluster"}``.
    """
    settings.check()
    pkg = Package.open(root)
    if pkg.interrupted():
        raise PackageError("PACKAGE-INTERRUPTED", f"an earlier command on {pkg.root} was interrupted",
                           hint=f"run 'archivist recover {pkg.root}' first")
    wanted = list(datasets) if datasets else pkg.record_ids("datasets")
    if not wanted:
        raise InputError("DATASET-MISSING", "the package holds no dataset to train on",
                         hint="build one with 'archivist dataset'")
    done = _complete_datasets(pkg, settings.mode)
    skipped = [d for d in wanted if d in done]
    todo = [d for d in wanted if d not in done]
    ds = training._dataset_api()
    for d in todo:  # every dataset's record and rights, before any work starts
        record, _ = ds.load(pkg, d)
        training._check_dataset(pkg, record, settings.mode)
    taken = set(training.run_ids(pkg))
    ids = []
    for _ in todo:
        n = 1
        while f"{settings.mode}-{n:02d}" in taken:
            n += 1
        taken.add(f"{settings.mode}-{n:02d}")
        ids.append(f"{settings.mode}-{n:02d}")

    committed: list[dict] = []
    with cluster.connect(ray) as facts:
        if not todo:
            return {"ok": True, "runs": [], "skipped": skipped, "cluster": facts}
        ray_mod = cluster._ray()
        device = settings.device
        if device == "auto":
            device = "cuda" if cluster.resources().get("GPU", 0) >= 1 else "cpu"
        threads = settings.threads or 1  # recorded; several runs share a node's cores
        task_opts: dict = {"num_cpus": threads, "max_retries": 0}
        if device == "cuda":
            task_opts["num_gpus"] = 1
        remote = ray_mod.remote(**task_opts)(train_one)
        refs = {}
        for d, rid in zip(todo, ids):
            fields = {**dataclasses.asdict(dataclasses.replace(settings, dataset=d, device=device, threads=threads))}
            fields["preset_overrides"] = list(fields.get("preset_overrides") or ())
            refs[remote.remote(str(pkg.root), fields, rid, str(pkg.root / Layout.train_scratch(rid)))] = (d, rid)
        failures = []
        while refs:
            ready, _ = ray_mod.wait(list(refs), num_returns=1)
            d, rid = refs.pop(ready[0])
            try:
                out = ray_mod.get(ready[0])
            except Exception as exc:  # the worker died: nothing of this run reached the package
                failures.append(InputError("RAY-WORKER", f"the worker training dataset {d} died: "
                                           f"{type(exc).__name__}"))
                remove_scratch(pkg.root, pkg.root / Layout.train_scratch(rid))
                continue
            if "error" in out:
                e = out["error"]
                cls = PackageError if e.get("package") else InputError
                failures.append(cls(e["code"], f"dataset {d}: {e['message']}", hint=e.get("hint")))
                remove_scratch(pkg.root, pkg.root / Layout.train_scratch(rid))
                continue
            rec = _commit(pkg, out, facts)
            committed.append(rec)
            if notify:
                notify(f"run {rec['id']} (dataset {d}) committed")
        if failures:
            first = failures[0]
            note = (f"runs committed before it: {', '.join(r['id'] for r in committed)}" if committed
                    else "no run was committed")
            if len(failures) > 1:
                note += f"; {len(failures) - 1} other dataset(s) failed too"
            first.hint = f"{first.hint}; {note}" if first.hint else note
            raise first
    return {"ok": True, "runs": committed, "skipped": skipped, "cluster": facts}

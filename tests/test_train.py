"""archivist train: learning, bit-exact luma, determinism, resume (also after SIGKILL), refusals."""

from __future__ import annotations

import json
import signal

import bagit
import numpy as np
import pytest
import torch
from support.common import run_cli
from support.train import make_package, soften_and_grain

from archivist import dataset
from archivist.errors import ArchivistError
from archivist.package import Package, records
from archivist.package.layout import Layout
from archivist.package.transaction import FAULT_ENV
from archivist.training import checkpoints, models, targets
from archivist.training import run as training

# Tiny and fast: 48 px patches, small models, a few dozen steps on one thread.
FAST = dict(size="small", batch=3, patch=48, lr=3e-3, checkpoint_every=10, contact_every=10, threads=1)
STEPS = 20


def settings(**kw) -> training.TrainSettings:
    return training.TrainSettings(**{"mode": "chroma", "steps": STEPS, **FAST, **kw})


def snapshot(pkg: Package) -> dict[str, bytes]:
    """Every file of the package, for 'left exactly as it was' checks."""
    return {str(p.relative_to(pkg.root)): p.read_bytes() for p in sorted(pkg.root.rglob("*")) if p.is_file()}


def assert_valid(pkg: Package) -> None:
    bagit.Bag(str(pkg.root)).validate()
    from archivist.verify import verify

    report = verify(pkg.root)
    assert report.ok, [p.to_dict() for p in report.errors]


def load_checkpoint_model(pkg: Package, rec: dict, ref: dict) -> torch.nn.Module:
    _, tensors = checkpoints.unpack(pkg.layout.path(ref["path"]).read_bytes())
    model = models.build(rec["architecture"]["config"])
    model.load_state_dict(checkpoints.model_state(tensors))
    return model.eval()


def preview_arrays(pkg: Package) -> tuple[np.ndarray, np.ndarray, dict]:
    record, _ = dataset.load(pkg)
    src, ref = dataset.pair_arrays(pkg, record, record["holdout"][0])
    return src, ref, record


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    """One package, one finished chroma run of 2 x STEPS steps (shared by the tests below)."""
    pkg = make_package(tmp_path_factory.mktemp("chroma"))
    rec = training.train(pkg, settings(steps=2 * STEPS), run_id="full")
    return pkg, rec


def test_training_learns_and_writes_everything_into_the_package(chroma):
    pkg, rec = chroma
    assert rec["status"] == "complete" and rec["step"] == 2 * STEPS
    stored = pkg.read_record(Layout.record("training", "full"), training.LABEL)
    assert stored["status"] == "complete" and stored["checkpoints"] == rec["checkpoints"]
    assert [c["step"] for c in rec["checkpoints"]] == [0, 10, 20, 30, 40]  # step 0: the fitted start
    manifest = pkg.manifest("sha256")
    for ref in rec["checkpoints"] + rec["contact_sheets"] + [rec["loss_log"]]:
        assert manifest[ref["path"]] == ref["sha256"]
    assert rec["checkpoints"][1]["path"] == "data/training/full/checkpoints/step-0000010.safetensors"
    lines = [json.loads(x) for x in pkg.layout.path(rec["loss_log"]["path"]).read_bytes().splitlines()]
    assert [x["step"] for x in lines] == list(range(1, 2 * STEPS + 1))
    # Learned: the held-out frame is much closer to its ground truth than the faded source it started from.
    src, ref, record = preview_arrays(pkg)
    kr, kb = record["colour"]["kr"], record["colour"]["kb"]
    w = rec["preview"]["window"]
    gt = targets.chroma_target(src, ref, kr, kb)[w["y"]:w["y"] + w["height"], w["x"]:w["x"] + w["width"]]
    start_l1 = float(np.abs(src[w["y"]:w["y"] + w["height"], w["x"]:w["x"] + w["width"]] - gt).mean())
    assert rec["loss_summary"]["holdout_l1_last"] < 0.5 * start_l1
    # The model starts at the lattice fitted from the pairs: the first loss is already far below the faded
    # source's distance, and training stays there.
    first, last = lines[0]["loss"], np.mean([x["loss"] for x in lines[-5:]])
    assert first < 0.05 * start_l1 and last < 0.05 * start_l1
    # Records: everything that shapes the weights, and where it ran.
    s = rec["settings"]
    assert (s["seed"], s["threads"], s["device"], s["channels_last"], s["patch_effective"]) == (0, 1, "cpu", False, 48)
    assert rec["environment"]["torch"] == torch.__version__
    assert rec["dataset"]["sha256"] == dataset.load(pkg)[1]
    assert {r["element"] for r in rec["rights"]} == {"print16", "dvd"}
    assert records.problems(stored, training.LABEL) == []
    events = [e for e in pkg.events() if e["command"] == "train"]
    assert len(events) == 1 + 4 and "complete" in events[-1]["detail"]
    assert_valid(pkg)


def test_every_checkpoint_is_judged_on_held_out_frames_and_export_takes_the_best(chroma):
    pkg, rec = chroma
    record, _ = dataset.load(pkg)
    frames = [h["source"]["number"] for h in record["holdout"]]
    chosen = rec["selection"]
    assert chosen["by"] == "holdout-loss" and chosen["frames"] == frames[:3]
    losses = {c["step"]: c["holdout_loss"] for c in rec["checkpoints"]}
    assert chosen["step"] == min(losses, key=losses.__getitem__) and chosen["holdout_loss"] == min(losses.values())
    # The recorded losses are the stored weights' own: recomputed from the checkpoint files.
    from archivist.training.data import load_data

    data = load_data(pkg, record, "chroma", False, "cpu", False)
    for ref in (rec["checkpoints"][0], rec["checkpoints"][-1]):
        model = load_checkpoint_model(pkg, rec, ref)
        assert training.guard_loss(model, data) == pytest.approx(ref["holdout_loss"], rel=1e-6)
    # Step 0 is the model as fitted in closed form, before any step.
    fitted = training.build_model(rec["architecture"]["config"], 0, "cpu", False)
    from archivist.training.sampling import fit_views

    xs, ts, windows = fit_views(data)
    models.fit_lattice(fitted, xs, ts, data.kr, data.kb, windows=windows)
    start = load_checkpoint_model(pkg, rec, rec["checkpoints"][0]).state_dict()
    assert all(torch.equal(v, start[k]) for k, v in fitted.state_dict().items())
    # Without a named checkpoint, export takes the selection and says so.
    from archivist.training import export

    card = export.export(pkg, run="full")
    assert card["checkpoint"]["step"] == chosen["step"] and card["checkpoint"]["chosen_by"] == "holdout-loss"
    assert card["checkpoint"]["holdout_loss"] == chosen["holdout_loss"]
    named = export.export(pkg, run="full", checkpoint=40)
    assert named["checkpoint"]["chosen_by"] == "named" and named["checkpoint"]["step"] == 40


def test_chroma_output_keeps_the_source_luma_bit_exactly(chroma):
    pkg, rec = chroma
    model = load_checkpoint_model(pkg, rec, rec["checkpoints"][-1])
    src, _, record = preview_arrays(pkg)
    x = torch.from_numpy(targets.to_ycbcr(src, record["colour"]["kr"], record["colour"]["kb"]).transpose(2, 0, 1)[None].copy())
    with torch.no_grad():
        y = model(x)
    assert torch.equal(y[:, 0], x[:, 0])
    assert (y[:, 1:] - x[:, 1:]).abs().max() > 0.01  # and the colour was restored


def test_same_settings_give_byte_identical_checkpoints_and_resume_matches(chroma):
    pkg, full = chroma
    # A second run, stopped half way (a shorter run: same first half), then resumed to the same length.
    half = training.train(pkg, settings(steps=STEPS), run_id="half")
    assert half["status"] == "complete" and half["step"] == STEPS
    for a, b in zip(half["checkpoints"], full["checkpoints"]):
        assert a["sha256"] == b["sha256"]  # two runs, same settings: same bytes
    resumed = training.resume(pkg, "half", steps=2 * STEPS)
    assert resumed["status"] == "complete" and [s["resumed"] for s in resumed["sessions"]] == [False, True]
    assert resumed["checkpoints"][-1]["sha256"] == full["checkpoints"][-1]["sha256"]
    assert pkg.layout.path(resumed["loss_log"]["path"]).read_bytes() == pkg.layout.path(full["loss_log"]["path"]).read_bytes()
    assert_valid(pkg)


@pytest.mark.slow
def test_resume_after_sigkill_matches_an_uninterrupted_run(chroma, tmp_path):
    pkg, full = chroma
    args = ["train", pkg.root, "--mode", "chroma", "--keep-luma", "--run", "killed", "--steps", 2 * STEPS, "--size", "small",
            "--batch", 3, "--patch", 48, "--lr", 3e-3, "--checkpoint-every", 10, "--contact-every", 10,
            "--threads", 1, "--json"]
    proc = run_cli(*args, env={FAULT_ENV: "train-step-25"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    killed = pkg.read_record(Layout.record("training", "killed"), training.LABEL)
    assert killed["status"] == "running" and killed["checkpoints"][-1]["step"] == 20
    assert_valid(pkg)  # a killed run leaves a valid package
    done = run_cli("train", pkg.root, "--resume", "killed", "--json", check=True)
    rec = json.loads(done.stdout)["run"]
    assert rec["status"] == "complete"
    assert rec["checkpoints"][-1]["sha256"] == full["checkpoints"][-1]["sha256"]
    assert_valid(pkg)


def test_resume_refuses_changed_settings_and_altered_checkpoints(chroma):
    pkg, _ = chroma
    training.train(pkg, settings(steps=10), run_id="short")
    before = snapshot(pkg)
    with pytest.raises(ArchivistError) as exc:
        training.resume(pkg, "short", steps=20, given={"lr": 1e-2, "seed": 0})
    assert exc.value.code == "TRAIN-RESUME-SETTINGS" and "lr" in exc.value.message
    proc = run_cli("train", pkg.root, "--resume", "short", "--steps", 20, "--batch", 2)
    assert proc.returncode == 2 and "TRAIN-RESUME-SETTINGS" in proc.stderr
    with pytest.raises(ArchivistError) as exc:
        training.resume(pkg, "short", steps=10)
    assert exc.value.code == "TRAIN-RESUME-DONE"
    assert snapshot(pkg) == before

    ckpt = pkg.layout.path(Layout.checkpoint("short", 10))
    good = ckpt.read_bytes()
    bad = bytearray(good)
    bad[-3] ^= 0x01  # one bit of one weight
    ckpt.write_bytes(bytes(bad))
    try:
        before = snapshot(pkg)
        with pytest.raises(ArchivistError) as exc:
            training.resume(pkg, "short", steps=20)
        assert exc.value.code == "TRAIN-CHECKPOINT-ALTERED"
        from archivist.training import export

        with pytest.raises(ArchivistError) as exc:
            export.export(pkg, run="short", checkpoint=10)
        assert exc.value.code == "EXPORT-CHECKPOINT-ALTERED"
        assert snapshot(pkg) == before
    finally:
        ckpt.write_bytes(good)


def test_refuses_a_dataset_whose_frames_changed(tmp_path):
    pkg = make_package(tmp_path)
    record, _ = dataset.load(pkg)
    frame = pkg.layout.path(record["pairs"][1]["aligned_reference"]["path"])
    data = bytearray(frame.read_bytes())
    data[-10] ^= 0xFF
    frame.write_bytes(bytes(data))
    before = snapshot(pkg)
    with pytest.raises(ArchivistError) as exc:
        training.train(pkg, settings(steps=5))
    assert exc.value.code == "DATASET-HASH"
    assert snapshot(pkg) == before


def test_bad_settings_are_refused_before_anything_is_written(chroma):
    pkg, _ = chroma
    before = snapshot(pkg)
    for kw, code in [({"mode": "spatial", "tone": True}, "TRAIN-TONE"), ({"steps": -1}, "TRAIN-SETTING"),
                     ({"mode": "spatial", "steps": 0}, "TRAIN-SETTING"),
                     ({"lr": float("nan")}, "TRAIN-SETTING"), ({"dataset": "nope"}, "DATASET-MISSING")]:
        with pytest.raises(ArchivistError) as exc:
            training.train(pkg, settings(**kw))
        assert exc.value.code == code
    # spatial training on a median-filtered dataset would learn from blurred detail
    with pytest.raises(ArchivistError) as exc:
        training.train(pkg, settings(mode="spatial"))
    assert exc.value.code == "TRAIN-DATASET-MODE"
    with pytest.raises(ArchivistError) as exc:
        training.train(pkg, settings(), run_id="full")
    assert exc.value.code == "TRAIN-EXISTS"
    proc = run_cli("train", pkg.root, "--resume", "full", "--run", "other")
    assert proc.returncode == 2 and "TRAIN-USAGE" in proc.stderr
    assert snapshot(pkg) == before


def _high_pass(plane: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return plane - ndimage.gaussian_filter(plane, 2.0, mode="reflect")


def test_tone_mode_corrects_luma_smoothly_and_keeps_its_detail(chroma):
    pkg, _ = chroma
    rec = training.train(pkg, settings(tone=True, steps=STEPS, contact_every=0), run_id="tone")
    assert rec["tone"] and rec["settings"]["target"] == {"kind": "tone", "sigma": targets.TONE_SIGMA}
    assert rec["contact_sheets"] == []
    model = load_checkpoint_model(pkg, rec, rec["checkpoints"][-1])
    src, _, record = preview_arrays(pkg)
    x = torch.from_numpy(targets.to_ycbcr(src, record["colour"]["kr"], record["colour"]["kb"]).transpose(2, 0, 1)[None].copy())
    with torch.no_grad():
        y = model(x)
    y_in, y_out = x[0, 0].numpy().astype(np.float64), y[0, 0].numpy().astype(np.float64)
    assert np.abs(y_out - y_in).mean() > 1e-3  # the luma moved (the fade lifted it) ...
    detail_in, detail_out = _high_pass(y_in), _high_pass(y_out)
    # ... but its detail did not: the correction lives below the detail band.
    assert np.abs(detail_out - detail_in).std() < 0.05 * detail_in.std()


def test_spatial_mode_keeps_the_source_grain_and_colour(tmp_path):
    pkg = make_package(tmp_path, degrade=soften_and_grain, median=0)
    rec = training.train(pkg, settings(mode="spatial", steps=2 * STEPS, lr=1e-2, contact_every=0))
    assert rec["id"] == "spatial-01"
    assert rec["settings"]["target"] == {"kind": "spatial", "sigma": targets.SPATIAL_SIGMA, "grain_sigma": targets.GRAIN_SIGMA}
    model = load_checkpoint_model(pkg, rec, rec["checkpoints"][-1])
    src, _ref, record = preview_arrays(pkg)
    kr, kb = record["colour"]["kr"], record["colour"]["kb"]
    x = torch.from_numpy(targets.to_ycbcr(src, kr, kb).transpose(2, 0, 1)[None].copy())
    with torch.no_grad():
        y = model(x)
    assert torch.equal(y[:, 1:], x[:, 1:])  # colour passes through bit for bit
    y_in, y_out = x[0, 0].numpy().astype(np.float64), y[0, 0].numpy().astype(np.float64)
    assert np.abs(y_out - y_in).max() > 1e-3  # the luma changed ...
    # ... but the grain band (periods of 3 px and less) is the source's: neither the target nor the
    # band-limited residual touches it, so the grain is neither smoothed nor amplified.
    assert 0.97 < _band_power(y_out, 0.35) / _band_power(y_in, 0.35) < 1.03
    fine_in, fine_out = y_in - _box3(y_in), y_out - _box3(y_out)
    assert np.corrcoef(fine_in.ravel(), fine_out.ravel())[0, 1] > 0.97
    # The target itself keeps the source's grain band.
    gt = targets.to_ycbcr(targets.spatial_target(src, _ref, kr, kb), kr, kb)[..., 0].astype(np.float64)
    assert 0.95 < _band_power(gt, 0.35) / _band_power(y_in, 0.35) < 1.05
    assert_valid(pkg)


def _box3(plane: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.uniform_filter(plane, 3, mode="reflect")


def _band_power(plane: np.ndarray, cutoff: float) -> float:
    """Power of a plane at spatial frequencies >= ``cutoff`` cycles per pixel."""
    power = np.abs(np.fft.fft2(plane - plane.mean())) ** 2
    f = np.hypot(np.fft.fftfreq(plane.shape[0])[:, None], np.fft.fftfreq(plane.shape[1])[None, :])
    return float(power[f >= cutoff].sum())


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.gpu
@cuda
def test_cuda_training_is_recorded_and_repeatable(tmp_path):
    pkg = make_package(tmp_path)
    a = training.train(pkg, settings(device="cuda", steps=STEPS), run_id="gpu-a")
    b = training.train(pkg, settings(device="auto", steps=STEPS), run_id="gpu-b")
    assert a["settings"]["device"] == b["settings"]["device"] == "cuda"
    assert a["environment"]["gpu"] and a["determinism"]["cudnn_deterministic"] is True
    assert a["checkpoints"][-1]["sha256"] == b["checkpoints"][-1]["sha256"]
    resumed = training.train(pkg, settings(device="cuda", steps=STEPS // 2), run_id="gpu-c")
    resumed = training.resume(pkg, "gpu-c", steps=STEPS)
    assert resumed["checkpoints"][-1]["sha256"] == a["checkpoints"][-1]["sha256"]
    assert_valid(pkg)


def test_commits_wait_for_another_writer_and_refuse_a_run_changed_underneath(chroma):
    import threading

    from archivist.package.locking import WriteLock

    pkg, _ = chroma
    lock = WriteLock(pkg.root, "export").acquire()  # another command is writing
    threading.Timer(1.0, lock.release).start()
    rec = training.train(pkg, settings(steps=5, checkpoint_every=5, contact_every=0), run_id="waited")
    assert rec["status"] == "complete"

    class Meddler:
        """A progress bar that, at step 3, rewrites the run's record as a second process would."""

        def __init__(self, **_):
            self.n = 0

        def update(self, n=1):
            self.n += n
            if self.n == 3:
                rel = Layout.record("training", "meddled")
                other = pkg.read_record(rel, training.LABEL)
                other["step"] = 99
                with pkg.transaction("train") as txn:
                    txn.write_bytes(rel, records.dumps(other, training.LABEL), replace=True)
                    txn.commit()

        def close(self):
            pass

    with pytest.raises(ArchivistError) as exc:
        training.train(pkg, settings(steps=10, checkpoint_every=5, contact_every=0), run_id="meddled",
                       progress=lambda **kw: Meddler(**kw))
    assert exc.value.code == "TRAIN-CONCURRENT"
    assert pkg.read_record(Layout.record("training", "meddled"), training.LABEL)["step"] == 99


def test_ctrl_c_stops_cleanly_with_the_package_at_the_last_checkpoint(chroma):
    pkg, _ = chroma

    class CtrlC:
        def __init__(self, **_):
            self.n = 0

        def update(self, n=1):
            self.n += n
            if self.n == 7:
                raise KeyboardInterrupt

        def close(self):
            pass

    with pytest.raises(training.TrainingInterrupted) as exc:
        training.train(pkg, settings(steps=10, checkpoint_every=5, contact_every=0), run_id="ctrl-c",
                       progress=lambda **kw: CtrlC(**kw))
    assert exc.value.code == "TRAIN-INTERRUPTED" and exc.value.exit_code == 130
    assert "--resume ctrl-c" in exc.value.hint and "step 5" in exc.value.message
    rec = pkg.read_record(Layout.record("training", "ctrl-c"), training.LABEL)
    assert rec["status"] == "running" and rec["checkpoints"][-1]["step"] == 5
    assert_valid(pkg)


def test_channels_last_is_recorded_and_changes_nothing_but_the_memory_format(chroma):
    pkg, full = chroma
    rec = training.train(pkg, settings(steps=10, channels_last=True, contact_every=0), run_id="cl")
    assert rec["settings"]["channels_last"] is True and rec["settings_digest"] != full["settings_digest"]
    model = load_checkpoint_model(pkg, rec, rec["checkpoints"][-1])
    ref = load_checkpoint_model(pkg, full, full["checkpoints"][1])  # contiguous run, same step
    for (name, a), (_, b) in zip(model.state_dict().items(), ref.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-4), name  # same training up to float rounding


def test_resume_after_a_progress_commit_redoes_the_steps_and_keeps_the_sheets(chroma):
    """Contact sheets pile up, are committed without a checkpoint, then Ctrl-C; resume redoes those steps."""
    pkg, _ = chroma
    kw = dict(steps=12, checkpoint_every=20, contact_every=1)
    whole = training.train(pkg, settings(**kw), run_id="sheets-a")

    class CtrlC:
        def __init__(self, **_):
            self.n = 0

        def update(self, n=1):
            self.n += n
            if self.n == 10:
                raise KeyboardInterrupt

        def close(self):
            pass

    with pytest.raises(training.TrainingInterrupted):
        training.train(pkg, settings(**kw), run_id="sheets-b", progress=lambda **k: CtrlC(**k))
    cut = pkg.read_record(Layout.record("training", "sheets-b"), training.LABEL)
    assert [c["step"] for c in cut["checkpoints"]] == [0] and cut["step"] == training.MAX_PENDING_CONTACTS
    assert len(cut["contact_sheets"]) == training.MAX_PENDING_CONTACTS
    done = training.resume(pkg, "sheets-b")
    assert done["checkpoints"][-1]["sha256"] == whole["checkpoints"][-1]["sha256"]
    assert [c["sha256"] for c in done["contact_sheets"]] == [c["sha256"] for c in whole["contact_sheets"]]
    assert pkg.layout.path(done["loss_log"]["path"]).read_bytes() == pkg.layout.path(whole["loss_log"]["path"]).read_bytes()
    assert_valid(pkg)

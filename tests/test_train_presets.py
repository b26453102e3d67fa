"""archivist train presets and the time estimate: the table, defaults per device, overrides, the record."""

from __future__ import annotations

import json
import re

import pytest
import torch
from support.common import run_cli
from support.train import make_package

from archivist.demo import run as demo
from archivist.errors import ArchivistError
from archivist.package import records
from archivist.training import estimate, presets
from archivist.training import run as training

ESTIMATE = re.compile(r"estimate: about (\d+(?:\.\d+)?) (s|min|h) on this (CPU|GPU)")


def _seconds(match: re.Match) -> float:
    return float(match.group(1)) * {"s": 1, "min": 60, "h": 3600}[match.group(2)]


def test_the_cli_takes_the_device_default_preset_and_explicit_values_win(tmp_path):
    pkg = make_package(tmp_path)
    proc = run_cli("train", pkg.root, "--mode", "chroma", "--steps", "8", "--patch", "32", "--checkpoint-every", "8",
                   "--contact-every", "0", "--threads", "1", "--json", check=True)
    rec = json.loads(proc.stdout)["run"]
    name = "full" if torch.cuda.is_available() else "quick"
    p = presets.PRESETS[name]
    s = rec["settings"]
    assert s["preset"] == {"name": name, "overrides": ["steps", "patch", "checkpoint_every", "contact_every"]}
    assert (rec["architecture"]["size"], s["batch"], s["lr"]) == (p.size, p.batch, p.lr)  # from the preset
    assert (s["steps"], s["patch"], s["checkpoint_every"], s["contact_every"]) == (8, 32, 8, 0)  # given
    assert records.problems(rec, training.LABEL) == []
    # The estimate is printed to stderr, measured after the first steps, and kept in the session.
    found = ESTIMATE.search(proc.stderr)
    assert found and _seconds(found) > 0, proc.stderr
    est = rec["sessions"][-1]["estimate"]
    assert est["steps_per_second"] > 0 and est["seconds_left"] >= 0
    # The quick preset trains no chroma steps (its model is the closed-form fit), so it costs no step time.
    assert est["quick_preset_seconds"] == (0 if name == "quick" else est["quick_preset_seconds"])
    assert est["measured_steps"][0] == 1 and est["at_step"] == est["measured_steps"][1] < 8


def test_a_named_preset_is_recorded_and_a_long_run_names_the_quick_one(tmp_path):
    pkg = make_package(tmp_path)
    messages: list[str] = []
    settings = presets.apply(training.TrainSettings(mode="chroma", threads=1, device="cpu"), "full",
                             {"steps": 6, "checkpoint_every": 6, "contact_every": 0})
    assert (settings.size, settings.batch, settings.patch, settings.lr) == ("medium", 3, 512, 1e-3)
    rec = training.train(pkg, settings, notify=messages.append)
    s = rec["settings"]
    assert s["preset"] == {"name": "full", "overrides": ["steps", "checkpoint_every", "contact_every"]}
    assert s["patch_effective"] < 512  # clamped to the tiny crop
    assert len(messages) == 1 and ESTIMATE.search(messages[0])
    # The same rate, projected over the full preset's 40,000 steps, is much longer than the quick preset.
    rate = rec["sessions"][-1]["estimate"]["steps_per_second"]
    crop = s["patch_effective"]
    long_run: list[str] = []
    est = estimate.Estimator(rec, 0, presets.PRESETS["full"].steps, long_run.append, crop=crop).report(1, rate)
    assert est["quick_preset_seconds"] == 0 < est["seconds_left"]
    assert "--preset quick takes no steps" in long_run[0]
    assert records.problems(rec, training.LABEL) == []
    # A spatial run's quick preset has steps, projected at the same rate.
    spatial = {**rec, "mode": "spatial", "tone": False}
    assert estimate.quick_seconds(spatial, rate, crop) > 0


def test_presets_refuse_unknown_names_and_resume_refuses_a_preset(tmp_path):
    with pytest.raises(ArchivistError) as exc:
        presets.apply(training.TrainSettings(mode="chroma"), "fast", {})
    assert exc.value.code == "TRAIN-PRESET"
    pkg = make_package(tmp_path)
    training.train(pkg, presets.apply(training.TrainSettings(mode="chroma", threads=1), "quick",
                                      {"steps": 3, "patch": 32, "checkpoint_every": 3, "contact_every": 0}),
                   run_id="r")
    proc = run_cli("train", pkg.root, "--resume", "r", "--steps", "5", "--preset", "quick")
    assert proc.returncode == 2 and "TRAIN-USAGE" in proc.stderr


def test_the_quick_preset_is_the_fitted_chroma_model_and_trains_on_when_asked(tmp_path):
    pkg = make_package(tmp_path)
    settings = presets.apply(training.TrainSettings(mode="chroma", threads=1, device="cpu"), "quick",
                             {"patch": 32, "contact_every": 0})
    assert settings.steps == 0 and "steps" not in settings.preset_overrides
    rec = training.train(pkg, settings, run_id="q")
    assert rec["status"] == "complete" and [c["step"] for c in rec["checkpoints"]] == [0]
    assert rec["loss_summary"] == {"steps": 0} and rec["selection"]["step"] == 0
    assert records.problems(training.read_run(pkg, "q"), training.LABEL) == []
    # The fitted start is where more training starts from.
    rec = training.resume(pkg, "q", steps=2)
    assert rec["status"] == "complete" and [c["step"] for c in rec["checkpoints"]] == [0, 2]
    assert rec["checkpoints"][0] == training.read_run(pkg, "q")["checkpoints"][0]


def test_spatial_mode_needs_steps_and_keeps_the_quick_presets_steps():
    assert presets.apply(training.TrainSettings(mode="spatial"), "quick", {}).steps == presets.PRESETS["quick"].steps
    with pytest.raises(ArchivistError) as exc:
        training.TrainSettings(mode="spatial", steps=0).check()
    assert exc.value.code == "TRAIN-SETTING" and "spatial" in exc.value.message
    with pytest.raises(ArchivistError) as exc:
        training.TrainSettings(mode="chroma", steps=-1).check()
    assert exc.value.code == "TRAIN-SETTING"


def test_the_demo_trains_with_the_quick_preset():
    plan = demo.full().train
    assert plan.preset == "quick"
    assert {k: getattr(plan, k) for k in presets.FIELDS} == presets.values_of("quick", "chroma")
    q = presets.PRESETS["quick"]
    assert demo.quick().train.preset == "quick" and demo.quick().train.patch < q.patch
    assert presets.default_for("cpu") == "quick" and presets.default_for("cuda") == "full"


def test_the_default_thread_count_is_one_on_a_small_machine_and_is_recorded(tmp_path):
    from archivist.training import devices

    cores = devices.physical_cores()
    assert 1 <= cores <= len(devices._cpus())
    assert devices.default_threads() == (1 if cores <= devices.SMALL_MACHINE else cores)
    pkg = make_package(tmp_path)
    rec = training.train(pkg, presets.apply(training.TrainSettings(mode="chroma", device="cpu"), "quick",
                                            {"steps": 2, "patch": 32, "checkpoint_every": 2, "contact_every": 0}))
    assert rec["settings"]["threads"] == rec["sessions"][-1]["threads"] == devices.default_threads()
    assert rec["determinism"]["threads"] == devices.default_threads()

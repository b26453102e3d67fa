"""infer, verify and train on a real Ray cluster started by the tests on this machine (2 CPUs, no dashboard).

The cluster is one per module; drivers that run in child processes join it by its address, as a second
machine's driver would."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import bagit
import pytest
import ray
from support.common import run_cli
from support.credentials import make_chain
from support.infer import model_package_copy, package_files

from archivist.errors import ArchivistError
from archivist.inference import runner
from archivist.inference.reproduce import reproduce
from archivist.package import Package
from archivist.package.faults import FAULT_ENV, FAULT_WORKER_ENV
from archivist.package.layout import Layout
from archivist.package.transaction import recover
from archivist.verify import verify

EPOCH = {"SOURCE_DATE_EPOCH": "1767225600"}


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster for the module: 2 CPUs, no dashboard, bound to this machine's address."""
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", configure_logging=False,
             log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    ca, chain, key = make_chain()
    for name, data in (("ca.pem", ca), ("chain.pem", chain), ("key.pem", key)):
        (d / name).write_bytes(data)
    return d


@pytest.fixture(scope="module")
def local_outputs(tmp_path_factory):
    """The outputs of a plain local run, unsigned: what every Ray run must reproduce byte for byte."""
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ.update(EPOCH)
    try:
        root = model_package_copy(tmp_path_factory, tmp_path_factory.mktemp("local") / "pkg")
        runner.infer(root, runner.InferOptions(commit_every=1))
    finally:
        os.environ.pop("SOURCE_DATE_EPOCH") if old is None else os.environ.update(SOURCE_DATE_EPOCH=old)
    return package_files(root / "data" / "outputs")


def _record(root, run="infer-01") -> dict:
    return Package.open(root).read_record(Layout.record("inference", run), runner.LABEL)


def test_a_two_worker_ray_run_makes_the_local_run_s_frames(cluster, tmp_path_factory, tmp_path, keys, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH["SOURCE_DATE_EPOCH"])
    roots = {how: model_package_copy(tmp_path_factory, tmp_path / how) for how in ("local", "ray")}
    sign = {"sign": True, "cert": keys / "chain.pem", "key": keys / "key.pem", "seal": False}
    runner.infer(roots["local"], runner.InferOptions(commit_every=2, **sign))
    out = runner.infer(roots["ray"], runner.InferOptions(commit_every=1, ray=cluster, workers=2, **sign))
    assert out["status"] == "complete" and out["frames"]["computed"] == 4

    local, onray = (package_files(r / "data" / "outputs") for r in (roots["local"], roots["ray"]))
    assert sorted(local) == sorted(onray) and len(local) == 4 * 5
    # Frames and sidecars byte for byte. A credential's ECDSA signature is new at every signing, on Ray or not.
    assert {k: v for k, v in onray.items() if not k.endswith(".c2pa")} == \
        {k: v for k, v in local.items() if not k.endswith(".c2pa")}

    session = _record(roots["ray"])["sessions"][-1]
    c = session["cluster"]
    assert c["address"] == cluster and c["ray_version"] == ray.__version__ and c["workers_lost"] == []
    assert [w["worker"] for w in c["workers"]] == ["w1", "w2"] and all(w["node_id"] and w["hostname"]
                                                                       for w in c["workers"])
    report = verify(roots["ray"], trust_anchors_pem=(keys / "ca.pem").read_bytes())
    assert report.ok and not report.problems and report.credentials == 4, report.to_dict()["problems"]
    # Repeating the recorded run as reproduce does gives the same frames, bytes and all.
    again = reproduce(roots["ray"])
    assert again["ok"] and all(f["bytes_identical"] for f in again["frames"]) and again["checked"] == 4


def test_a_killed_driver_leaves_a_run_that_resumes(cluster, tmp_path_factory, tmp_path, local_outputs,
                                                    monkeypatch):
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    args = ["infer", root, "--ray", cluster, "--workers", "1", "--commit-every", "1", "--json"]
    p = run_cli(*args, env={**EPOCH, FAULT_ENV: "infer-ray-received-1003"})
    assert p.returncode == -signal.SIGKILL, p.stderr
    done = [f["number"] for f in _record(root)["frames"]]
    assert 1003 not in done and len(done) < 4
    bagit.Bag(str(root)).validate()  # valid at the moment the driver died

    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH["SOURCE_DATE_EPOCH"])
    out = runner.infer(root, runner.InferOptions(ray=cluster, workers=2, commit_every=1))  # the same command, here
    assert out["resumed"] and out["status"] == "complete" and out["skipped_frames"] == done
    assert out["frames"]["computed"] + out["frames"]["reused"] == 4 - len(done)
    assert not (root / ".archivist").exists()
    assert package_files(root / "data" / "outputs") == local_outputs
    assert [s["resumed"] for s in _record(root)["sessions"]] == [False, True]
    assert verify(root).ok


def test_a_killed_worker_s_frames_are_made_again(cluster, tmp_path_factory, tmp_path, local_outputs, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH["SOURCE_DATE_EPOCH"])
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    # Worker w1 is given frames 1001 and 1002 first, and dies half-way through writing 1002's EXR;
    # w2 replaces it (the same environment, but the fault is aimed at w1 alone).
    env = {"env_vars": {FAULT_ENV: "infer-exr-written-1002", FAULT_WORKER_ENV: "w1"}}
    out = runner.infer(root, runner.InferOptions(ray=cluster, workers=1, queue_depth=2, commit_every=1,
                                                 ray_runtime_env=env))
    assert out["status"] == "complete" and out["frames"]["computed"] == 4
    c = _record(root)["sessions"][-1]["cluster"]
    assert c["workers_lost"] == ["w1"] and [w["worker"] for w in c["workers"]] == ["w1", "w2"]
    assert package_files(root / "data" / "outputs") == local_outputs  # nothing half-written was taken
    assert not (root / ".archivist").exists()
    assert verify(root).ok


def test_workers_with_another_version_are_refused(cluster, tmp_path_factory, tmp_path):
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    # A worker that really runs another archivist: a copy with another version, shipped to the job's workers
    # by Ray (py_modules), imported there ahead of the installed one.
    import archivist

    other = tmp_path / "other"
    shutil.copytree(os.path.dirname(archivist.__file__), other / "archivist",
                    ignore=shutil.ignore_patterns("__pycache__"))
    init = other / "archivist" / "__init__.py"
    init.write_text(init.read_text().replace(f'__version__ = "{archivist.__version__}"', '__version__ = "0.0.1"'))
    script = textwrap.dedent(f"""
        import json, ray
        from archivist.errors import ArchivistError
        from archivist.inference import runner
        ray.init(address={cluster!r}, runtime_env={{"py_modules": [{str(other / "archivist")!r}]}},
                 configure_logging=False, log_to_driver=False)
        try:
            runner.infer({str(root)!r}, runner.InferOptions(ray={cluster!r}, workers=1))
        except ArchivistError as exc:
            print(json.dumps(exc.to_dict()))
    """)
    before = package_files(root)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr
    err = json.loads(p.stdout.strip().splitlines()[-1])
    assert err["code"] == "RAY-VERSIONS" and "archivist: '0.0.1'" in err["message"], err
    assert package_files(root) == before


def test_verify_on_ray_reports_what_verify_reports(cluster, tmp_path_factory, tmp_path):
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    frame = root / Package.open(root).element("print16")["frames"][1]["path"]
    frame.write_bytes(frame.read_bytes()[:-1] + bytes([frame.read_bytes()[-1] ^ 1]))
    here, there = verify(root).to_dict(), verify(root, ray=cluster).to_dict()
    assert not here["ok"] and "BAG-010" in {p["code"] for p in here["problems"]}
    assert there == here
    p = run_cli("verify", root, "--ray", cluster, "--json")
    assert p.returncode == 1 and json.loads(p.stdout) == here


def test_refusals_leave_the_package_as_it_was(cluster, tmp_path_factory, tmp_path):
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    before = package_files(root)
    with pytest.raises(ArchivistError) as exc:
        runner.infer(root, runner.InferOptions(ray=cluster, workers=0))
    assert exc.value.code == "RAY-WORKER"
    with pytest.raises(ArchivistError) as exc:
        runner.infer(root, runner.InferOptions(ray=cluster, signer=object(), sign=True))
    assert exc.value.code == "INFER-RAY-SIGNER"
    from click.testing import CliRunner

    from archivist.cli import cli

    for args in (["train", str(root), "--mode", "chroma", "--all-datasets"],
                 ["train", str(root), "--mode", "chroma", "--ray", cluster, "--run", "mine"]):
        got = CliRunner().invoke(cli, args)
        assert isinstance(got.exception, ArchivistError) and got.exception.code == "TRAIN-USAGE", got.output
    assert package_files(root) == before


def test_train_all_datasets_on_ray_commits_one_run_per_dataset(cluster, tmp_path_factory, tmp_path):
    from archivist import dataset
    from archivist.training import onray
    from archivist.training import run as training

    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    pkg = Package.open(root)
    for frames in ([1001, 1002], [1003, 1004]):
        dataset.build(pkg, source="print16", reference="dvd", frames=frames)
    before = pkg.record_ids("datasets")
    assert len(before) == 3 and training.run_ids(pkg) == ["chroma-01"]  # the first dataset has its run already
    settings = training.TrainSettings(mode="chroma", size="small", steps=4, patch=32, batch=2, checkpoint_every=2,
                                      contact_every=0, threads=1, device="cpu")
    out = onray.train_all(root, settings, ray=cluster)
    assert out["skipped"] == [before[0]]
    runs = {r["dataset"]["id"]: r for r in out["runs"]}
    assert sorted(runs) == before[1:] and all(r["status"] == "complete" for r in runs.values())
    for r in runs.values():
        stored = training.read_run(pkg, r["id"])
        assert stored == r and [c["step"] for c in stored["checkpoints"]] == [0, 2, 4]
        c = stored["sessions"][-1]["cluster"]
        assert c["address"] == cluster and c["worker"]["hostname"]
    assert not (root / ".archivist").exists()
    assert verify(root).ok

    # The same settings trained here give the same weights, byte for byte.
    here = training.train(pkg, dataclasses.replace(settings, dataset=before[1]), run_id="chroma-here")
    assert [c["sha256"] for c in here["checkpoints"]] == [c["sha256"] for c in runs[before[1]]["checkpoints"]]

    # Nothing left to train: the command says so and changes nothing.
    files = package_files(root)
    again = onray.train_all(root, settings, ray=cluster)
    assert again["runs"] == [] and sorted(again["skipped"]) == before and package_files(root) == files

    # What a killed 'train --ray' leaves uncommitted is stale work that recover clears.
    left = root / Layout.train_scratch("chroma-09")
    left.mkdir(parents=True)
    (left / "half.safetensors").write_bytes(b"x")
    assert {p.code for p in verify(root).problems} == {"PKG-003"}
    recover(root)
    assert not (root / ".archivist").exists() or not (root / ".archivist" / "train").exists()
    assert verify(root).ok


@pytest.mark.gpu
def test_a_cuda_backend_runs_one_worker_per_gpu(cluster, tmp_path_factory, tmp_path, monkeypatch):
    from archivist.inference import backends

    if not backends.cuda_available() or ray.cluster_resources().get("GPU", 0) < 1:
        pytest.skip("needs CUDA and a GPU in the Ray cluster")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH["SOURCE_DATE_EPOCH"])
    roots = {how: model_package_copy(tmp_path_factory, tmp_path / how) for how in ("local", "ray")}
    runner.infer(roots["local"], runner.InferOptions(backend="torch-cuda"))
    out = runner.infer(roots["ray"], runner.InferOptions(backend="torch-cuda", ray=cluster))
    assert len(out["cluster"]["workers"]) == int(ray.cluster_resources()["GPU"])
    assert package_files(roots["ray"] / "data" / "outputs") == package_files(roots["local"] / "data" / "outputs")

"""What a new user trips over: missing packages, colour spaces, amendments, duplicates, authorisations, Ctrl-C."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.common import run_cli, write_shot
from support.dataset import add_pair_elements, write_pair_elements
from support.verify import snapshot

from archivist.imaging import colourspaces
from archivist.inference import aces
from archivist.package import Package
from archivist.package.layout import Layout
from archivist.verify import verify


def _json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout)


# -- one behaviour for a package that is not there -------------------------------------------------------

@pytest.mark.parametrize("command", ["verify", "report", "info", "log", "train"])
def test_a_missing_package_is_refused_alike_by_every_command(tmp_path, command):
    proc = run_cli(command, tmp_path / "nopkg", "--json")
    assert proc.returncode == 2, proc.stderr
    assert _json(proc)["error"]["code"] == "PACKAGE-NOT-A-BAG"
    assert proc.stderr.startswith("error: PACKAGE-NOT-A-BAG: ") and "Error:" not in proc.stderr


def test_usage_errors_print_like_every_other_error(tmp_path):
    proc = run_cli("train", tmp_path, "--size", "huge", "--json")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: CLI-USAGE: ") and "Error:" not in proc.stderr
    assert _json(proc)["error"]["code"] == "CLI-USAGE" and "archivist train --help" in _json(proc)["error"]["hint"]


def test_log_json_is_an_object(package):
    out = _json(run_cli("log", package.root, "--json", check=True))
    assert out["ok"] is True and [e["command"] for e in out["events"]] == ["init", "add", "add"]


# -- colour spaces ---------------------------------------------------------------------------------------

def _add(pkg: Path, element: str, frames: Path, *extra) -> subprocess.CompletedProcess:
    return run_cli("add", pkg, "--role", "source", "--element", element, "--description", "16mm positive print",
                   *extra, frames, "--json")


def test_add_refuses_an_unknown_colour_space_listing_the_names_infer_accepts(package, tmp_path):
    more = tmp_path / "more"
    write_shot(more, stem="neg", start=1)
    before = snapshot(package.root)
    proc = _add(package.root, "neg35", more, "--colour-space", "Kodak-ish")
    assert proc.returncode == 2
    error = _json(proc)["error"]
    assert error["code"] == "ADD-COLOUR-SPACE" and "Kodak-ish" in error["message"]
    for name in ("Rec.709", "sRGB", "ACEScct", "scene-linear Rec.709", "Linear Rec.2020"):
        assert name in error["hint"]
    assert snapshot(package.root) == before
    # infer's refusal lists the very same names: one function knows them.
    with pytest.raises(Exception) as exc:
        aces.resolve("Kodak-ish")
    assert exc.value.code == "INFER-COLOUR-SPACE" and exc.value.hint == error["hint"]
    assert error["hint"].endswith(", ".join(colourspaces.accepted_names()))


def test_add_records_an_alias_as_given_and_warns_when_none_is_given(package, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_shot(a, stem="a", start=1, image="coffee")
    write_shot(b, stem="b", start=1, image="chelsea")
    ok = _add(package.root, "neg35", a, "--colour-space", "acescct")
    assert ok.returncode == 0, ok.stderr
    assert package.element("neg35")["scan"]["colour_space"] == "acescct"
    bare = _add(package.root, "neg36", b)
    assert bare.returncode == 0, bare.stderr
    assert "colour_space" not in package.element("neg36")["scan"]
    assert f"archivist amend {package.root} --element neg36 --colour-space" in bare.stderr
    assert _json(bare)["warnings"] and "no colour space" in _json(bare)["warnings"][0]


# -- amending an element ------------------------------------------------------------------------------

def test_amend_changes_the_record_and_logs_it_and_leaves_frames_alone(package):
    frames_before = {f["path"]: (package.layout.path(f["path"]).read_bytes(), f["sha256"])
                     for f in package.element("print16")["frames"]}
    manifest_before = {k: v for k, v in package.manifest().items() if k.startswith(Layout.element_dir("source", "print16"))}
    proc = run_cli("amend", package.root, "--element", "print16", "--colour-space", "Rec.709",
                   "--description", "16mm positive print, reel 2", "--gauge", "", "--json")
    assert proc.returncode == 0, proc.stderr
    changes = {c["field"]: (c["from"], c["to"]) for c in _json(proc)["changes"]}
    assert changes == {"colour_space": (None, "Rec.709"), "description": ("16mm positive print", "16mm positive "
                       "print, reel 2"), "gauge": ("16mm", None)}
    rec = package.element("print16")  # read back through the schema
    assert rec["scan"]["colour_space"] == "Rec.709" and rec["description"].endswith("reel 2") and "gauge" not in rec
    assert rec["amended"]
    for f in rec["frames"]:
        data, sha = frames_before[f["path"]]
        assert package.layout.path(f["path"]).read_bytes() == data and f["sha256"] == sha
    assert {k: v for k, v in package.manifest().items() if k in manifest_before} == manifest_before
    last = package.events()[-1]
    assert last["command"] == "amend" and last["type"] == "metadata modification"
    assert "colour_space (none) -> 'Rec.709'" in last["detail"]
    assert last["objects"] == [{"path": Layout.element_record("print16"), "role": "modified",
                                "sha256": package.manifest()[Layout.element_record("print16")]}]
    report = verify(package.root)
    assert report.ok and report.problems == [], [p.to_dict() for p in report.problems]


def test_amend_refusals_leave_the_package_as_it_was(package):
    before = snapshot(package.root)
    for args, code in ((["--colour-space", "Kodak-ish"], "AMEND-COLOUR-SPACE"), ([], "AMEND-NOTHING"),
                       (["--description", "16mm positive print"], "AMEND-NOTHING"),
                       (["--training-use", "authorised", "--rights", "Licensed"], "AMEND-AUTHORISED-BY")):
        proc = run_cli("amend", package.root, "--element", "print16", *args, "--json")
        assert proc.returncode == 2 and _json(proc)["error"]["code"] == code, (args, proc.stdout)
    missing = run_cli("amend", package.root, "--element", "nosuch", "--notes", "x", "--json")
    assert _json(missing)["error"]["code"] == "AMEND-ELEMENT" and "print16" in _json(missing)["error"]["message"]
    assert snapshot(package.root) == before


def test_amend_records_who_authorised_and_drops_it_when_authorisation_is_withdrawn(package):
    given = package.amend_element("dvd", authorised_by="Filmoteca rights department")
    assert package.element("dvd")["rights"]["authorised_by"] == "Filmoteca rights department"
    assert given["changes"] == [{"field": "authorised_by", "from": None, "to": "Filmoteca rights department"}]
    withdrawn = package.amend_element("dvd", training_use="not-authorised")
    assert {c["field"] for c in withdrawn["changes"]} == {"training_use", "authorised_by"}
    assert "authorised_by" not in package.element("dvd")["rights"]
    assert verify(package.root).ok


# -- the same frames twice, authorisation without a name -------------------------------------------------

def test_the_same_frames_under_a_new_id_are_refused_unless_allowed(package, shot):
    before = snapshot(package.root)
    proc = _add(package.root, "print16b", shot, "--colour-space", "Rec.709")
    assert proc.returncode == 2
    error = _json(proc)["error"]
    assert error["code"] == "ADD-DUPLICATE" and "'print16'" in error["message"] and "4 of the 4" in error["message"]
    assert "--allow-duplicate" in error["hint"]
    assert snapshot(package.root) == before
    again = _add(package.root, "print16b", shot, "--colour-space", "Rec.709", "--allow-duplicate")
    assert again.returncode == 0, again.stderr
    assert len(package.element("print16b")["frames"]) == 4


def test_an_authorisation_must_name_who_gave_it(package, tmp_path):
    more = tmp_path / "more"
    write_shot(more, stem="neg", start=1, image="coffee")
    before = snapshot(package.root)
    proc = _add(package.root, "neg35", more, "--training-use", "authorised", "--rights", "Archive-owned")
    assert proc.returncode == 2 and _json(proc)["error"]["code"] == "ADD-AUTHORISED-BY"
    assert "--authorised-by" in _json(proc)["error"]["hint"]
    assert snapshot(package.root) == before
    ok = _add(package.root, "neg35", more, "--training-use", "authorised", "--rights", "Archive-owned",
              "--authorised-by", "Filmoteca rights department", "--colour-space", "Rec.709")
    assert ok.returncode == 0, ok.stderr
    info = _json(run_cli("info", package.root, "--json", check=True))
    assert {e["id"]: e["authorised_by"] for e in info["elements"]}["neg35"] == "Filmoteca rights department"


# -- info ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def inferred(tmp_path_factory):
    """A package after dataset, training, export and an (unsigned) inference run."""
    from support.infer import model_package_copy

    from archivist.inference import runner

    root = model_package_copy(tmp_path_factory, tmp_path_factory.mktemp("inferred") / "pkg")
    runner.infer(root, runner.InferOptions())
    return root


def _edit_record(root: Path, rel: str, **changes) -> None:
    path = root / rel
    rec = json.loads(path.read_text("utf-8"))
    rec.update(changes)
    path.write_text(json.dumps(rec, indent=2), "utf-8")


def test_info_shows_every_stage(inferred):
    info = _json(run_cli("info", inferred, "--json", check=True))
    assert info["payload"]["files"] > 0 and info["payload"]["bytes"] > 0 and info["sealed"] is False
    assert [d["id"] for d in info["datasets"]] == ["ds-001"] and info["datasets"][0]["pairs"] == 2
    (run,) = info["training_runs"]
    assert run["status"] == "complete" and run["step"] == run["total"] == 6 and not run["abandoned"]
    assert run["last_checkpoint"].endswith("step-0000006.safetensors")
    (model,) = info["models"]
    assert model["run"] == run["id"] and model["path"].endswith("model.onnx")
    (inf,) = info["inference_runs"]
    assert inf["status"] == "complete" and inf["done"] == inf["total"] == 4 and inf["signed"] is False
    assert info["qc"] == [] and info["abandoned_runs"] == []
    human = run_cli("info", inferred, check=True).stdout
    for text in ("datasets:", "training runs:", "step 6 of 6", "models:", "inference runs:", "4 of 4 frames",
                 "unsigned", "sealed        no"):
        assert text in human, text


def test_info_and_verify_flag_an_abandoned_run(inferred, tmp_path):
    import shutil

    root = tmp_path / "pkg"
    shutil.copytree(inferred, root)
    train_rel = Layout.record("training", Package(root).record_ids("training")[0])
    infer_rel = Layout.record("inference", "infer-01")
    _edit_record(root, train_rel, status="running")
    _edit_record(root, infer_rel, status="running")
    info = _json(run_cli("info", root, "--json", check=True))
    assert sorted(info["abandoned_runs"]) == sorted([info["training_runs"][0]["id"], "infer-01"])
    human = run_cli("info", root)
    assert "ABANDONED" in human.stdout and f"--resume {info['training_runs'][0]['id']}" in human.stderr
    codes = {p.code for p in verify(root).problems}
    assert "PKG-004" in codes
    # A live infer holds its run's lock: that run is not abandoned.
    scratch = root / Layout.run_scratch("infer-01")
    scratch.mkdir(parents=True)
    fd = os.open(scratch / "lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        held = _json(run_cli("info", root, "--json", check=True))
        assert held["abandoned_runs"] == [info["training_runs"][0]["id"]]
    finally:
        os.close(fd)


def test_reproduce_prints_the_largest_difference_and_the_tolerance(inferred, tmp_path):
    import shutil

    args = ("--frames", "1001-1002")
    same = run_cli("reproduce", inferred, *args, check=True).stdout
    assert "largest difference 0; tolerance: none (bit-identical)" in same
    # A run recorded with another numpy promises agreement within its tolerance only, as another backend does.
    root = tmp_path / "pkg"
    shutil.copytree(inferred, root)
    rel = Layout.record("inference", "infer-01")
    rec = json.loads((root / rel).read_text("utf-8"))
    _edit_record(root, rel, versions={**rec["versions"], "numpy": "1.0.0"})
    report = _json(run_cli("reproduce", root, *args, "--json", check=True))
    frames = [f["comparison"]["max_abs_diff"] for f in report["frames"]]
    assert report["expectation"] == "within tolerance" and report["max_abs_diff"] == max(frames)
    text = run_cli("reproduce", root, *args, check=True).stdout
    t = report["tolerance"]
    assert f"largest difference {report['max_abs_diff']:.3g}; tolerance: |difference| <= " \
           f"{t['absolute_tolerance']:g} + {t['relative_tolerance']:g} x |value|, at most " \
           f"{t['mismatched_elements_per_million']:g} values per million beyond it" in text
    assert f"frame 1001: ok (bytes identical), largest difference {frames[0]:.3g}, 0 mismatched per million" in text


# -- Ctrl-C -----------------------------------------------------------------------------------------------

def _interrupt_when(args: list, ready) -> subprocess.CompletedProcess:
    """Run the CLI, send it a real SIGINT as soon as ``ready()`` is true, and collect what it said."""
    # A terminal's Ctrl-C reaches a process whose SIGINT is neither ignored nor blocked. The test process
    # may have inherited either state (or got it from a library an earlier test ran), so the child starts
    # from the terminal's state rather than from pytest's.
    def as_from_a_terminal():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])

    proc = subprocess.Popen([sys.executable, "-m", "archivist", *map(str, args), "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=as_from_a_terminal)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.002)
    assert proc.poll() is None, f"finished before it could be interrupted:\n{proc.stderr.read()}"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _follow(advice: dict) -> None:
    """Do exactly what the interrupted command said."""
    for key in ("undo", "continue"):
        if advice[key]:
            argv = advice[key].split()
            assert argv[0] == "archivist"
            run_cli(*argv[1:], check=True)


def _has_files(folder: Path) -> bool:
    try:
        return any(p.is_file() for p in folder.rglob("*"))
    except FileNotFoundError:
        return False


def test_ctrl_c_in_infer_says_how_to_resume_and_the_advice_works(tmp_path_factory, tmp_path):
    from support.infer import model_package_copy

    pkg = Package(model_package_copy(tmp_path_factory, tmp_path / "pkg"))
    shot = tmp_path / "reel2"
    write_shot(shot, n=16, size=(96, 128), image="coffee")
    pkg.add_element(role="source", element="reel2", paths=[shot], description="16mm positive print",
                    colour_space="scene-linear Rec.709")
    outputs = pkg.root / Layout.stage_dir("outputs", "infer-01")
    args = ["infer", pkg.root, "--element", "reel2", "--commit-every", "1"]
    proc = _interrupt_when(args, outputs.exists)
    assert proc.returncode == 130, (proc.stderr, signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, []))
    out = _json(proc)
    advice = out["interrupted"]
    assert out["error"]["code"] == "CLI-INTERRUPTED" and advice["command"] == "infer"
    assert f"archivist infer {pkg.root} --element reel2 --commit-every 1 --json" == advice["continue"]
    assert advice["continue"] in proc.stderr and "aborted" not in proc.stderr
    if advice["undo"]:  # stopped in the middle of a commit
        assert advice["undo"] == f"archivist recover {pkg.root}" and "recover" in proc.stderr
    else:
        assert "inference run infer-01 holds the" in advice["state"]
    _follow(advice)
    rec = Package(pkg.root).read_record(Layout.record("inference", "infer-01"))
    assert rec["status"] == "complete" and len(rec["frames"]) == 16
    report = verify(pkg.root)
    assert report.ok, [p.to_dict() for p in report.problems]


def test_ctrl_c_in_dataset_leaves_the_package_as_it_was(tmp_path):
    src, ref = write_pair_elements(tmp_path / "frames", n=16, size=(128, 160), reference_size=(64, 80))
    pkg = Package.create(tmp_path / "pkg", title="Test film", organization="Test Archive", recovery="chroma")
    add_pair_elements(pkg, src, ref)
    before = snapshot(pkg.root)
    staging = pkg.root / Layout.STAGING
    proc = _interrupt_when(["dataset", pkg.root, "--source", "print16", "--reference", "dvd", "--auto", "16"],
                           lambda: _has_files(staging))
    assert proc.returncode == 130, proc.stderr
    advice = _json(proc)["interrupted"]
    assert advice["command"] == "dataset" and advice["continue"].startswith(f"archivist dataset {pkg.root} ")
    assert advice["continue"] in proc.stderr
    if advice["undo"]:
        run_cli(*advice["undo"].split()[1:], check=True)
    else:
        assert "is as it was before 'dataset'" in advice["state"]
    assert snapshot(pkg.root) == before


# -- the report as a person reads it ----------------------------------------------------------------

def test_report_reads_as_a_person_expects(tmp_path_factory, tmp_path):
    import re
    import shutil

    from support.verify_outputs import signed_package

    from archivist import dataset
    from archivist.report import build

    root = tmp_path / "pkg"
    shutil.copytree(signed_package(tmp_path_factory).root, root, symlinks=True)
    pkg = Package(root)
    pkg.amend_element("dvd", authorised_by="Filmoteca rights department")
    dataset.build(pkg, source="print16", reference="dvd", frames=[1001, 1002, 1003], preview=True)
    page, data = build(root)
    octets, files = data["package"]["bag_info"]["Payload-Oxum"].split(".")
    assert re.search(rf"<td>[0-9.]+ (KiB|MiB) in {int(files)} files \({int(octets):,} bytes\)</td>", page)
    assert f"{octets}.{files}" not in page  # never the raw octets.files
    # Code cells break only after a '/', so a term or a rule code never splits.
    for cell in re.findall(r"<code>(.*?)</code>", page):
        assert re.fullmatch(r"(<span class='nw'>[^<]*</span>)(<wbr><span class='nw'>[^<]*</span>)*", cell), cell
        assert all(seg.endswith("/") for seg in re.findall(r"<span class='nw'>([^<]*)</span><wbr>", cell))
    assert ".nw{white-space:nowrap}" in page and "break-all" not in page
    times = re.findall(r"<td><span class='time'>([^<]*)</span></td>", page)
    assert len(times) == len(pkg.events()) and ".time{white-space:nowrap" in page
    assert "<th>Algorithm</th><td>ES256</td>" in page and "Es256" not in page
    assert "by Filmoteca rights department" in page
    # Alignment previews: thumbnails that open large, labelled in the page's own text.
    sheets = re.findall(r"<details><summary><div class='panels'>(.*?)</div><img [^>]*src='data:image/png", page)
    embedded = [p for d in data["dataset"]["datasets"] for p in d["_previews"] if not p.get("skipped")]
    assert len(sheets) == len(embedded) >= 3
    assert "<span>source 1002</span><span>reference 2</span><span>difference x4</span>" in page
    assert ".sheets details[open]{grid-column:1/-1}" in page
    assert "<figcaption>Source frame" not in page  # no full-width sheets any more

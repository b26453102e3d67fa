"""Shots and scenes: EDL, OTIO and CSV shot lists, scoped commands, and a reel inferred shot by shot."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import metsrw
import numpy as np
import opentimelineio as otio
import pytest
from lxml import etree
from support.common import run_cli, write_shot
from support.package import snapshot
from support.train import fade

from archivist import dataset
from archivist.archive import describe
from archivist.errors import InputError
from archivist.imaging import oiio
from archivist.inference import runner, scoped
from archivist.package import Package, kinds
from archivist.shots import scope as scopes
from archivist.shots import store

SIZE = (48, 64)
PHOTOS = ("astronaut", "coffee", "chelsea")
PER_SHOT = 5

EDL = """TITLE: REEL 1
FCM: NON-DROP FRAME

001  AX       V     C        00:10:00:00 00:10:00:05 01:00:00:00 01:00:00:05
* FROM CLIP NAME: sh_a.mov
002  BX       V     C        00:20:00:00 00:20:00:05 01:00:00:05 01:00:00:10
* FROM CLIP NAME: sh_b.mov
003  CX       V     C        00:30:00:00 00:30:00:05 01:00:00:10 01:00:00:15
* FROM CLIP NAME: sh_c.mov
"""


def _reel(tmp_path: Path, name: str = "reel", shots: int = 3) -> Package:
    """A reel of ``shots`` shots of 5 frames, each made from another photograph: a faded scan and a DVD."""
    ref_dir, src_dir = tmp_path / f"{name}-dvd", tmp_path / f"{name}-scan"
    src_dir.mkdir(parents=True)
    for k in range(shots):
        refs = write_shot(ref_dir, ext="png", stem="dvd", start=1 + PER_SHOT * k, size=SIZE, n=PER_SHOT,
                          image=PHOTOS[k])
        for i, path in enumerate(refs):
            oiio.write(src_dir / f"scan.{1001 + PER_SHOT * k + i}.exr", fade(oiio.read(path), i), pixel_type="half",
                       compression="piz")
    pkg = Package.create(tmp_path / name, title="Reel", organization="Test Archive")
    pkg.add_element(role="source", element="print16", paths=[src_dir], description="16mm positive print",
                    training_use="authorised", authorised_by="Test Archive", colour_space="Rec.709", frame_rate="24")
    pkg.add_element(role="reference", element="dvd", paths=[ref_dir], description="PAL DVD 2003",
                    training_use="authorised", authorised_by="Distributor", colour_space="Rec.709")
    return pkg


def _train_export(pkg: Package, ds_id: str) -> str:
    from archivist.training import export
    from archivist.training import run as training

    rec = training.train(pkg, training.TrainSettings(mode="chroma", size="small", steps=4, patch=32, batch=2,
                                                     checkpoint_every=4, contact_every=0, threads=1, device="cpu",
                                                     dataset=ds_id), run_id=f"run-{ds_id}")
    return export.export(pkg, run=rec["id"])["id"]


# -- importing shot lists ----------------------------------------------------------------------------------

def test_edl_record_and_source_timecode_map_to_frames(tmp_path):
    pkg = _reel(tmp_path, shots=3)
    edl = tmp_path / "reel1.edl"
    edl.write_text(EDL)
    # Record side, the element's first frame at the programme's start: 01:00:00:00 -> 1001.
    out = json.loads(run_cli("shots", pkg.root, "import", edl, "--start", "01:00:00:00", "--scene", "sc1",
                             "--json", check=True).stdout)
    got = [(s["id"], s["first"], s["last"], s["origin"]["event"], s["origin"]["clip"]) for s in out["shots"]]
    assert got == [("sh010", 1001, 1005, 1, "sh_a.mov"), ("sh020", 1006, 1010, 2, "sh_b.mov"),
                   ("sh030", 1011, 1015, 3, "sh_c.mov")]
    tc = out["shots"][1]["origin"]["timecode"]
    assert tc == {"side": "record", "rate": 24.0, "in": "01:00:00:05", "out": "01:00:00:10", "start": "01:00:00:00",
                  "element_first_frame": 1001}
    assert out["shots"][0]["origin"]["file"]["name"] == "reel1.edl"
    assert store.scene(pkg, "sc1")["shots"] == ["sh010", "sh020", "sh030"]
    # A later start puts the first shot before the element: refused, nothing written.
    before = snapshot(pkg.root)
    bad = run_cli("shots", pkg.root, "import", edl, "--start", "01:00:00:02", "--prefix", "x")
    assert bad.returncode == 2 and "SHOTS-RANGE" in bad.stderr and snapshot(pkg.root) == before
    # Source side: the material's own timecode; this list's events come from three rolls, far apart.
    with pytest.raises(InputError, match="SHOTS-RANGE"):
        store.import_list(pkg, edl, side="source", start="00:10:00:00", prefix="src")
    one = tmp_path / "one.edl"
    one.write_text("TITLE: R\n\n001  AX  V  C  00:10:00:02 00:10:00:06 01:00:00:00 01:00:00:04\n")
    src = store.import_list(pkg, one, side="source", start="00:10:00:00", prefix="src")["shots"]
    assert [(s["id"], s["first"], s["last"]) for s in src] == [("src010", 1003, 1006)]
    assert snapshot(pkg.root) != before
    assert run_cli("verify", pkg.root).returncode == 0


def test_an_edl_needs_its_frame_rate_and_a_readable_file(tmp_path):
    pkg = Package.create(tmp_path / "p", title="t", organization="o")
    write_shot(tmp_path / "scan", n=15, size=(32, 48))
    pkg.add_element(role="source", element="print16", paths=[tmp_path / "scan"], description="16mm print",
                    training_use="authorised", authorised_by="o")
    edl = tmp_path / "r.edl"
    edl.write_text(EDL)
    before = snapshot(pkg.root)
    with pytest.raises(InputError, match="SHOTS-TIMECODE"):
        store.import_list(pkg, edl)
    (tmp_path / "bad.otio").write_text("{not json")
    with pytest.raises(InputError, match="SHOTS-FORMAT"):
        store.import_list(pkg, tmp_path / "bad.otio")
    (tmp_path / "r.txt").write_text(EDL)
    with pytest.raises(InputError, match="SHOTS-FORMAT"):  # no suffix to tell the format by
        store.import_list(pkg, tmp_path / "r.txt", rate=24)
    assert snapshot(pkg.root) == before
    assert [(s["first"], s["last"]) for s in store.import_list(pkg, edl, rate=24)["shots"]] == \
        [(1001, 1005), (1006, 1010), (1011, 1015)]


def test_otio_timeline_with_a_gap_and_csv_and_hand_made_ranges(tmp_path):
    pkg = Package.create(tmp_path / "p", title="t", organization="o")
    write_shot(tmp_path / "scan", n=20, size=(32, 48))
    pkg.add_element(role="source", element="print16", paths=[tmp_path / "scan"], description="16mm print",
                    training_use="authorised", authorised_by="o")
    rate = 25
    tl = otio.schema.Timeline(name="reel")
    tl.global_start_time = otio.opentime.from_timecode("10:00:00:00", rate)
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)

    def clip(name, start, n):
        return otio.schema.Clip(name=name, source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(n, rate)))

    track.append(clip("a", 100, 6))
    track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(2, rate))))
    track.append(clip("b", 500, 4))
    path = tmp_path / "reel.otio"
    otio.adapters.write_to_file(tl, str(path))
    found = store.import_list(pkg, path, start="10:00:00:00")["shots"]
    assert [(s["id"], s["first"], s["last"], s["origin"]["clip"]) for s in found] == \
        [("sh010", 1001, 1006, "a"), ("sh020", 1009, 1012, "b")]
    assert found[1]["origin"]["timecode"]["in"] == "10:00:00:08" and found[1]["origin"]["timecode"]["rate"] == 25

    csv = tmp_path / "list.csv"
    csv.write_text("name,first,last,scene,leave_as_source\nc1,1013,1016,sc2,no\nc2,1017,1020,sc2,yes\n")
    out = json.loads(run_cli("shots", pkg.root, "import", csv, "--json", check=True).stdout)
    assert [(s["id"], s["leave_as_source"], s["origin"]["kind"]) for s in out["shots"]] == \
        [("c1", False, "csv"), ("c2", True, "csv")]
    assert out["scenes"][0]["shots"] == ["c1", "c2"]
    hand = run_cli("shots", pkg.root, "add", "--name", "gap1", "--frames", "1007-1008", "--leave-as-source")
    assert hand.returncode == 0, hand.stderr
    assert store.shot(pkg, "gap1")["origin"] == {"kind": "manual"}
    before = snapshot(pkg.root)
    for args, code in ((("--name", "gap1", "--frames", "1007-1008"), "SHOTS-EXISTS"),
                       (("--name", "late", "--frames", "1019-1030"), "SHOTS-RANGE"),
                       (("--name", "bad name", "--frames", "1001-1002"), "SHOTS-NAME")):
        bad = run_cli("shots", pkg.root, "add", *args)
        assert bad.returncode == 2 and code in bad.stderr, (args, bad.stderr)
    assert snapshot(pkg.root) == before
    listed = json.loads(run_cli("shots", pkg.root, "list", "--json", check=True).stdout)
    assert [s["id"] for s in listed["shots"]] == ["sh010", "gap1", "sh020", "c1", "c2"]
    grouped = json.loads(run_cli("shots", pkg.root, "scene", "sc3", "--shots", "sh010,sh020", "--json",
                                 check=True).stdout)
    assert grouped["scene"]["shots"] == ["sh010", "sh020"] and store.scene_of(pkg, "sh020") == "sc3"
    again = run_cli("shots", pkg.root, "scene", "sc4", "--shots", "sh020")
    assert again.returncode == 2 and "SHOTS-SCENE" in again.stderr
    # Every frame is in one shot now: --all-shots would ask only for models.
    with pytest.raises(InputError, match="INFER-SHOT-MODEL"):
        scopes.plan_all_shots(pkg)
    # The archive's METS groups the frames by scene and shot, and stays valid against mets.xsd and Archivematica's rules.
    describe.describe(pkg)
    tree = etree.parse(str(pkg.root / "data/metadata/mets.xml"))
    ok, rep = metsrw.validate(tree, xmlschema=_mets_xsd(tmp_path))
    assert ok, metsrw.report_string(rep) if hasattr(metsrw, "report_string") else rep
    ns = {"m": "http://www.loc.gov/METS/"}
    scene = tree.xpath("//m:structMap[@ID='structMap_shots']/m:div[@LABEL='print16']/m:div[@TYPE='scene']",
                       namespaces=ns)
    assert [d.get("LABEL") for d in scene] == ["sc3", "sc2"]
    assert len(scene[1].xpath("m:div[@LABEL='c1']/m:fptr", namespaces=ns)) == 4


def _mets_xsd(tmp_path: Path) -> str:
    """metsrw's mets.xsd with its XLink and PREMIS imports resolved to the local copies (as test_archive does)."""
    data = Path(__file__).resolve().parent / "data"
    text = (Path(metsrw.__file__).parent / "resources" / "mets.xsd").read_text("utf-8")
    text = text.replace("http://www.loc.gov/standards/xlink/xlink.xsd", str(data / "xlink.xsd"))
    text = text.replace('<xsd:import namespace="http://www.w3.org/1999/xlink"',
                        f'<xsd:import namespace="http://www.loc.gov/premis/v3" '
                        f'schemaLocation="{data / "premis-3-subset.xsd"}"/>\n'
                        '<xsd:import namespace="http://www.w3.org/1999/xlink"', 1)
    path = tmp_path / "mets.xsd"
    path.write_text(text, "utf-8")
    return str(path)


# -- scoped datasets and the rule of thumb ------------------------------------------------------------------

def test_scoped_dataset_takes_the_rule_of_thumb_inside_its_shot(tmp_path):
    pkg = _reel(tmp_path, shots=2)
    store.write(pkg, [store.ShotSpec("a", 1001, 1005), store.ShotSpec("b", 1006, 1010)], element="print16",
                origin={"kind": "manual"}, scene_name="both")
    out = json.loads(run_cli("dataset", pkg.root, "--source", "print16", "--reference", "dvd", "--shot", "b",
                             "--auto", "--align", "none", "--median", "0", "--json", check=True).stdout)["dataset"]
    numbers = [p["source"]["number"] for p in out["pairs"]] + [p["source"]["number"] for p in out["holdout"]]
    assert len(out["pairs"]) == 4 and all(1006 <= n <= 1010 for n in numbers)
    assert out["selection"]["auto_rule"] == "rule-of-thumb" and out["selection"]["auto_count"] == 4
    assert out["scope"] == {"kind": "shot", "name": "b", "element": "print16", "shots": ["b"], "frames": "1006-1010"}
    assert [p["reference"]["number"] for p in out["pairs"]] == [6, 7, 9, 10]
    scene = dataset.build(pkg, source="print16", reference="dvd", scope=scopes.resolve(pkg, scene="both"),
                          align_mode="none", median_size=0)
    assert scene["selection"]["auto_count"] == 9 and scene["scope"]["frames"] == "1001-1010"  # 16, less one held out
    before = snapshot(pkg.root)
    with pytest.raises(InputError, match="DATASET-SCOPE"):
        dataset.build(pkg, source="print16", reference="dvd", scope=scopes.resolve(pkg, shot="b"), frames=[1001],
                      align_mode="none")
    bad = run_cli("dataset", pkg.root, "--source", "print16", "--reference", "dvd", "--shot", "nope", "--auto")
    assert bad.returncode == 2 and "SCOPE-UNKNOWN" in bad.stderr
    bad = run_cli("train", pkg.root, "--mode", "chroma", "--shot", "a")
    assert bad.returncode == 2 and "SCOPE-NOTHING" in bad.stderr
    assert snapshot(pkg.root) == before


# -- a reel inferred shot by shot ---------------------------------------------------------------------------

def _painted(tmp_path: Path) -> Path:
    """Three "painted" frames of the third shot: its pictures warmed and flattened, as a hand grade from artwork."""
    from scipy import ndimage

    folder = tmp_path / "painted"
    folder.mkdir()
    ref_dir = tmp_path / "reel-dvd"
    for n in (11, 13, 15):
        rgb = oiio.read(ref_dir / f"dvd.{n:04d}.png")
        warm = np.clip(ndimage.uniform_filter(rgb, size=(3, 3, 1)) * np.array([1.08, 1.0, 0.9]), 0, 1)
        oiio.write(folder / f"paint.{n:04d}.png", warm.astype(np.float32), pixel_type="uint8")
    return folder


def test_a_three_shot_reel_is_inferred_shot_by_shot_with_its_own_models(tmp_path):
    from archivist import credentials
    from archivist.report import write_report
    from archivist.verify import verify

    pkg = _reel(tmp_path)
    edl = tmp_path / "reel1.edl"
    edl.write_text(EDL)
    store.import_list(pkg, edl, start="01:00:00:00", scene_name="sc1")
    # The third shot's colour comes from painted frames, a reference made by hand.
    add = run_cli("add", pkg.root, "--role", "reference", "--element", "paint", "--description", "painted frames",
                  "--hand-made", "--source-type", "humanEdits", "--artwork-title", "Lobby card, reel 1",
                  "--artwork-creator", "Studio art department", "--artwork-institution", "Test Archive",
                  "--artwork-rights", "Public domain", "--training-use", "authorised", "--authorised-by", "Test Archive",
                  "--colour-space", "Rec.709", _painted(tmp_path))
    assert add.returncode == 0, add.stderr
    assert pkg.element("paint")["hand_made"]["artwork"]["creator"] == "Studio art department"
    models = {}
    ds = dataset.build(pkg, source="print16", reference="dvd", scope=scopes.resolve(pkg, shot="sh010"),
                       align_mode="none", median_size=2)
    models["sh010"] = _train_export(pkg, ds["id"])
    # The second shot has no model of its own: its scene's stands in, and the records say so.
    ds = dataset.build(pkg, source="print16", reference="dvd", scope=scopes.resolve(pkg, scene="sc1"),
                       align_mode="none", median_size=2)
    assert ds["selection"]["auto_count"] == 14  # the scene's 15 frames, less one to hold out
    models["sh020"] = _train_export(pkg, ds["id"])
    ds = dataset.build(pkg, source="print16", reference="paint", pairs=[(1011, 11), (1015, 15)],
                       preview_frames=[(1013, 13)], scope=scopes.resolve(pkg, shot="sh030"), align_mode="none",
                       median_size=2)
    assert ds["reference_hand_made"]["source_type"] == "humanEdits"
    models["sh030"] = _train_export(pkg, ds["id"])
    assert len(set(models.values())) == 3

    credentials.init_test_identity(tmp_path / "keys")
    done = json.loads(run_cli("infer", pkg.root, "--all-shots", "--sign", "--cert", tmp_path / "keys/chain.pem",
                              "--key", tmp_path / "keys/key.pem", "--json", check=True).stdout)
    by_shot = {s["shot"]: s for s in done["shots"]}
    assert {s: by_shot[s]["model"] for s in models} == models
    assert [by_shot[s]["trained_for"] for s in models] == ["shot sh010", "scene sc1", "shot sh030"]
    runs = {s: runner.read_run(pkg, by_shot[s]["run"]) for s in by_shot}
    for s, rec in runs.items():
        sh = store.shot(pkg, s)
        assert rec["planned_frames"] == list(range(sh["first"], sh["last"] + 1)) and rec["status"] == "complete"
        assert rec["scope"]["name"] == s and rec["model"]["id"] == models[s]
    assert runs["sh020"]["scope"]["trained_for"] == "scene sc1" and "trained_for" not in runs["sh010"]["scope"]
    # The credential and the sidecar say where the colour of the third shot came from; the others do not.
    ca = (tmp_path / "keys/ca.pem").read_bytes()
    checks = {}
    for s in ("sh010", "sh030"):
        f = runs[s]["frames"][0]
        checks[s] = credentials.validate_manifest(pkg.root / f["output"]["path"], pkg.root / f["credential"]["path"],
                                                  trust_anchors_pem=ca)
        assert checks[s].status == credentials.VALID
    said = checks["sh030"].parameters
    assert said["colour_source"].startswith("the colour came from a human-made reference: painted frames (humanEdits)")
    assert said["reference"]["artwork"]["title"] == "Lobby card, reel 1" and said["recovery_type"] == "Non-Reference Color"
    assert "colour_source" not in checks["sh010"].parameters
    assert checks["sh010"].parameters["recovery_type"] == "Reference-Based Color"
    side = json.loads((pkg.root / runs["sh030"]["frames"][0]["sidecars"]["json"]["path"]).read_text())
    assert side["exr_header"]["RecoveryType"] == "Non-Reference Color"
    from archivist.inference.reproduce import reproduce

    again = reproduce(pkg.root, run=by_shot["sh030"]["run"], sample=2)  # a shot's run reproduces like any other
    assert again["ok"] and again["expectation"] == "bit-identical", again

    # Each shot's QC judges its own run on its own held-out frames.
    qc = json.loads(run_cli("qc", pkg.root, "--shot", "sh020", "--json", check=True).stdout)
    assert qc["inference"]["id"] == by_shot["sh020"]["run"]
    assert set(qc["dataset"]["held_out"]) <= set(range(1006, 1011))
    html = write_report(pkg.root, tmp_path / "r.html", scene="sc1").read_text()
    assert "id='shots'" in html and "Shots: scene sc1" in html and all(m in html for m in models.values())
    assert "trained for scene sc1" in html
    assert html.count("no QC yet") == 2 and escape(qc["verdict"]["statement"], quote=True) in html
    assert "the colour comes from a human-made reference" in html and "Studio art department" in html
    describe.describe(pkg)
    ns = {"m": "http://www.loc.gov/METS/"}
    tree = etree.parse(str(pkg.root / "data/metadata/mets.xml"))
    shots_map = tree.xpath("//m:structMap[@ID='structMap_shots']", namespaces=ns)[0]
    assert [d.get("LABEL") for d in shots_map.xpath(".//m:div[@TYPE='shot']", namespaces=ns)] == list(by_shot)
    second = shots_map.xpath(".//m:div[@LABEL='sh020']/m:fptr", namespaces=ns)
    assert len(second) == 2 * PER_SHOT  # the scan's frames and the run's output frames of the shot
    report = verify(pkg.root, trust_anchors_pem=ca)
    assert report.ok, report.to_dict()

    # An overlap is refused before anything is inferred.
    store.write(pkg, [store.ShotSpec("extra", 1005, 1006)], element="print16", origin={"kind": "manual"})
    before = snapshot(pkg.root)
    with pytest.raises(InputError, match="INFER-SHOTS-OVERLAP"):
        scoped.infer_all_shots(pkg.root, runner.InferOptions())
    assert snapshot(pkg.root) == before


def test_frames_in_no_shot_are_refused_unless_left_as_source(tmp_path):
    pkg = _reel(tmp_path, shots=2)
    store.write(pkg, [store.ShotSpec("a", 1001, 1005)], element="print16", origin={"kind": "manual"})
    before = snapshot(pkg.root)
    with pytest.raises(InputError, match="INFER-SHOTS-GAP") as err:
        scoped.infer_all_shots(pkg.root, runner.InferOptions())
    assert "1006-1010" in err.value.message and snapshot(pkg.root) == before
    store.write(pkg, [store.ShotSpec("rest", 1006, 1010, leave_as_source=True)], element="print16",
                origin={"kind": "manual"})
    # The gap is now a range kept as scanned, which needs no model; the shot that is inferred does.
    with pytest.raises(InputError, match="INFER-SHOT-MODEL") as err:
        scoped.infer_all_shots(pkg.root, runner.InferOptions())
    assert "shot(s) a " in err.value.message
    with pytest.raises(InputError, match="SCOPE-NOTHING"):
        scoped.infer_scope(pkg.root, runner.InferOptions(), shot="a")
    with pytest.raises(InputError, match="SCOPE-USAGE"):
        scoped.infer_scope(pkg.root, runner.InferOptions(frames="1001-1002"), shot="a")
    with pytest.raises(InputError, match="SCOPE-USAGE"):
        scoped.infer_all_shots(pkg.root, runner.InferOptions(model="m"))
    assert pkg.record_ids(kinds.INFERENCE_RUN) == []


# -- hand-made references: what add refuses ---------------------------------------------------------------------

def test_a_hand_made_reference_needs_its_source_type_and_artwork(tmp_path):
    pkg = Package.create(tmp_path / "p", title="t", organization="o")
    write_shot(tmp_path / "paint", n=2, size=(32, 48), ext="png")
    before = snapshot(pkg.root)
    base = ["add", pkg.root, "--element", "paint", "--description", "painted frames"]
    for extra, needle in ((["--role", "source", "--hand-made", "--source-type", "digitalCreation",
                            "--artwork-title", "T"], "only a reference"),
                          (["--role", "reference", "--hand-made", "--source-type", "positiveFilm",
                            "--artwork-title", "T"], "digitalCreation"),
                          (["--role", "reference", "--hand-made", "--source-type", "digitalCreation"], "artwork"),
                          (["--role", "reference", "--source-type", "digitalCreation", "--artwork-title", "T"],
                           "--hand-made")):
        bad = run_cli(*base, *extra, tmp_path / "paint")
        assert bad.returncode == 2 and "ADD-HAND-MADE" in bad.stderr and needle in bad.stderr, (extra, bad.stderr)
    assert snapshot(pkg.root) == before

    # Declared properly, it pairs and aligns like any reference: a stated transform, or none.
    write_shot(tmp_path / "scan", n=4, size=(32, 48))
    pkg.add_element(role="source", element="print16", paths=[tmp_path / "scan"], description="16mm print",
                    training_use="authorised", authorised_by="o")
    ref = pkg.add_element(role="reference", element="paint", paths=[tmp_path / "paint"], description="painted frames",
                          source_type="digitalCreation", training_use="authorised", authorised_by="o",
                          hand_made={"artwork": {"title": "Poster", "holding_institution": "Museum"}})
    assert ref["digital_source_type"].endswith("/digitalCreation") and ref["digital_source_type_inferred"] is False
    (tmp_path / "t.json").write_text(json.dumps({"scale": 1.0, "rotation_deg": 0.0, "translation": [0.5, 0.0]}))
    out = json.loads(run_cli("dataset", pkg.root, "--source", "print16", "--reference", "paint", "--pairs",
                             "1001:1001", "--preview-frames", "1002:1002", "--align", "manual", "--transform",
                             tmp_path / "t.json", "--median", "0", "--json", check=True).stdout)["dataset"]
    assert out["alignment"]["mode"] == "manual" and out["pairs"][0]["transform"]["translation"] == [0.5, 0.0]
    assert out["reference_hand_made"] == {"source_type": "digitalCreation",
                                          "artwork": {"title": "Poster", "holding_institution": "Museum"}}
    auto = dataset.build(pkg, source="print16", reference="paint", pairs=[(1001, 1001)], preview_frames=[1002],
                         median_size=0)
    assert any("hand-made" in w and "--align manual or none" in w for w in auto["warnings"])

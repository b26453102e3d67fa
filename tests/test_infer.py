"""archivist infer end to end on a package built by the real pipeline: EXR provenance, sidecars, ACES,
determinism, C2PA, and a clear refusal (with the package untouched) for every bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import bagit
import numpy as np
import pytest
from support.common import run_cli
from support.infer import model_package_copy, package_files

from archivist.errors import ArchivistError
from archivist.imaging import colour, oiio
from archivist.inference import aces, provenance, runner, xmp
from archivist.package import Package, records
from archivist.package.layout import Layout
from archivist.package.transaction import Transaction
from archivist.verify import verify

AP0 = (0.7347, 0.2653, 0.0, 1.0, 0.0001, -0.0770, 0.32168, 0.33767)
COMPOSITE = "compositeWithTrainedAlgorithmicMedia"


@pytest.fixture
def pkg(tmp_path_factory, tmp_path) -> Package:
    return Package.open(model_package_copy(tmp_path_factory, tmp_path / "pkg"))


@pytest.fixture(scope="module")
def inferred(tmp_path_factory):
    """One package after a complete run (shared by the read-only checks below)."""
    root = model_package_copy(tmp_path_factory, tmp_path_factory.mktemp("inferred") / "pkg")
    result = runner.infer(root, runner.InferOptions(commit_every=3))
    return Package.open(root), result


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_infer_writes_every_frame_and_the_package_verifies(inferred):
    pkg, result = inferred
    assert result["status"] == "complete" and result["frames"] == {"planned": 4, "computed": 4, "reused": 0, "skipped": 0}
    rec = pkg.read_record(Layout.record("inference", result["run"]), runner.LABEL)
    assert [f["number"] for f in rec["frames"]] == rec["planned_frames"] == [1001, 1002, 1003, 1004]
    manifest = pkg.manifest("sha256")
    for f in rec["frames"]:
        for ref in [f["output"], *f["sidecars"].values()]:
            assert manifest[ref["path"]] == ref["sha256"] == sha256(pkg.root / ref["path"])
    assert rec["backend"]["name"] == "ort-cpu" and rec["parity"] is None
    assert rec["versions"]["onnxruntime"] and rec["settings"]["compression"] == "piz"
    tol = rec["reproducibility_tolerance"]
    assert set(tol) == {"absolute_tolerance", "relative_tolerance", "mismatched_elements_per_million"}
    assert not (pkg.root / ".archivist").exists()
    bagit.Bag(str(pkg.root)).validate()
    report = verify(pkg.root)
    assert report.ok, report.to_dict()
    events = [e for e in pkg.events() if e["command"] == "infer"]
    assert "started" in events[0]["detail"] and events[-1]["detail"].endswith("run complete")


def test_each_commit_validates_the_new_frames_and_all_the_rest(inferred):
    pkg, result = inferred
    rec = pkg.read_record(Layout.record("inference", result["run"]), runner.LABEL)
    assert records.check_grown(rec, runner.LABEL, "frames", rec["frames"][-1:]) is rec
    written = (pkg.root / Layout.record("inference", result["run"])).read_bytes()
    assert b"".join(records.iter_bytes(rec)) == records.dumps(rec, runner.LABEL) == written
    bad = json.loads(json.dumps(rec))
    bad["frames"][-1]["number"] = "1004"
    with pytest.raises(records.RecordError, match="frames/3/number"):  # the new entry, checked
        records.check_grown(bad, runner.LABEL, "frames", bad["frames"][-1:])
    bad = json.loads(json.dumps(rec))
    bad["status"] = "finished"
    with pytest.raises(records.RecordError, match="status"):  # the rest of the record, checked
        records.check_grown(bad, runner.LABEL, "frames", [])
    bad = json.loads(json.dumps(rec))
    bad["planned_frames"] = []
    with pytest.raises(records.RecordError, match="planned_frames"):  # minItems: an array judged as a whole
        records.check_grown(bad, runner.LABEL, "planned_frames", [])


def test_a_record_is_written_in_pieces_with_the_bytes_of_one_piece(monkeypatch):
    record = {"schema": "x", "frames": [{"number": n, "name": f"é{n}"} for n in range(300)]}
    whole = b"".join(records.iter_bytes(record))
    monkeypatch.setattr(records, "PIECE", 64)
    pieces = list(records.iter_bytes(record))
    assert len(pieces) > 100 and b"".join(pieces) == whole == (json.dumps(record, indent=2, sort_keys=True,
                                                                          ensure_ascii=False) + "\n").encode()


def _damaged(record: dict, rng) -> list[dict]:
    """Copies of ``record`` each with one value made wrong: a type changed, a key removed or added."""
    paths = []

    def walk(node, path):
        if isinstance(node, dict):
            paths.append(path)
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node[:3]):
                walk(v, (*path, i))
        else:
            paths.append(path)

    walk(record, ())
    out = []
    for path in rng.sample(paths, min(len(paths), 40)):
        copy = json.loads(json.dumps(record))
        parent = copy
        for p in path[:-1]:
            parent = parent[p]
        if not path:
            copy["unexpected"] = 1
        elif isinstance(parent[path[-1]], dict):
            parent[path[-1]]["unexpected"] = 1
        elif isinstance(parent, dict) and rng.random() < 0.3:
            del parent[path[-1]]
        else:
            parent[path[-1]] = [] if isinstance(parent[path[-1]], str) else "x"
        out.append(copy)
    return out


def test_inlined_schemas_judge_every_record_as_the_schemas_do(inferred):
    import random

    from jsonschema import Draft202012Validator

    pkg, _ = inferred
    rng = random.Random(5)
    files = sorted((pkg.root / "data").rglob("*.json"))
    labels = set()
    for path in files:
        record = json.loads(path.read_bytes())
        label = record.get("schema") if isinstance(record, dict) else None
        if not isinstance(label, str) or not label.startswith("archivist/"):
            continue
        labels.add(label)
        name = records.schema_file(label)
        plain = Draft202012Validator(records._schema_texts()[name], registry=records._registry())
        inlined = records.validator(label)
        assert '"$ref"' not in json.dumps(inlined.schema)
        for case in [record, *_damaged(record, rng)]:
            said = [sorted(("/".join(map(str, e.absolute_path)), e.message) for e in v.iter_errors(case))
                    for v in (inlined, plain)]
            assert said[0] == said[1], (path.name, case)
    assert len(labels) >= 6, labels  # element, dataset, training run, model card, inference run, sidecar, ...


def test_exr_headers_carry_the_provenance_keys(inferred):
    pkg, result = inferred
    rec = pkg.read_record(Layout.record("inference", result["run"]), runner.LABEL)
    card = pkg.read_record(Layout.record("models", rec["model"]["id"]))
    source = {f["number"]: f for f in pkg.element("print16")["frames"]}
    for f in rec["frames"]:
        path = pkg.root / f["output"]["path"]
        header = oiio.header(path)
        expected = {
            "MLProcessing": "archivist chroma recovery (chroma-lattice-affine-field-unet)",
            "RecoveryType": "Reference-Based Color", "SourceElement": "16mm positive print",
            "ReferenceSource": "PAL DVD 2003", "ModelCheckpoint": f"{card['run']['id']} step {card['checkpoint']['step']}",
            "IPTCDigitalSourceType": COMPOSITE, "ArchivistPackage": pkg.record()["identifier"],
            "InferenceRun": result["run"], "ModelSHA256": card["model"]["sha256"],
            "SourceFrame": source[f["number"]]["path"], "SourceFrameSHA256": source[f["number"]]["sha256"],
            "FrameNumber": str(f["number"]), "ProcessingDate": rec["provenance"]["processing_date"],
            "ArchivistVersion": rec["versions"]["archivist"],
        }
        assert {k: header.get(k) for k in expected} == expected
        assert np.allclose(header["chromaticities"], AP0, atol=1e-6)
        assert header["compression"] == "piz" and "capDate" not in header
        info = oiio.probe(path)
        assert info.pixel_type == "half" and info.channel_names == ("R", "G", "B")


def test_an_independent_reader_sees_the_same_header(inferred):
    OpenEXR = pytest.importorskip("OpenEXR")
    pkg, result = inferred
    rec = pkg.read_record(Layout.record("inference", result["run"]), runner.LABEL)
    path = pkg.root / rec["frames"][0]["output"]["path"]
    f = OpenEXR.File(str(path))
    header = f.header()
    ours = oiio.header(path)
    for key in provenance.HEADER_KEYS:
        assert header[key] == ours[key]
    assert np.allclose(header["chromaticities"], AP0, atol=1e-6)
    assert "PIZ" in str(header["compression"])
    channels = f.channels()
    rgb = channels["RGB"].pixels if "RGB" in channels else np.stack([channels[c].pixels for c in "RGB"], -1)
    assert rgb.dtype == np.float16
    assert np.array_equal(rgb.astype(np.float32), oiio.read(path))


def test_sidecars_say_the_same_as_the_header(inferred):
    pkg, result = inferred
    rec = pkg.read_record(Layout.record("inference", result["run"]), runner.LABEL)
    for f in rec["frames"]:
        exr = pkg.root / f["output"]["path"]
        header = oiio.header(exr)
        side = records.loads((pkg.root / f["sidecars"]["json"]["path"]).read_bytes(), provenance.SIDECAR_LABEL)
        assert side["exr_header"] == {k: header[k] for k in provenance.HEADER_KEYS}
        assert side["exr"]["sha256"] == sha256(exr) and side["exr"]["path"] == f["output"]["path"]
        assert side["digital_source_type"]["uri"].endswith("/" + COMPOSITE)
        assert side["model"]["sha256"] == rec["model"]["onnx"]["sha256"]
        assert side["dataset"] == rec["dataset"] and side["credential"] is None
        parsed = xmp.parse((pkg.root / f["sidecars"]["xmp"]["path"]).read_bytes())
        assert parsed["DigitalSourceType"] == "http://cv.iptc.org/newscodes/digitalsourcetype/" + COMPOSITE
        assert {k: parsed["keys"][k] for k in provenance.HEADER_KEYS} == side["exr_header"]
        assert parsed["keys"]["OutputSHA256"] == side["exr"]["sha256"]
        text = (pkg.root / f["sidecars"]["text"]["path"]).read_text("utf-8")
        for value in (header["SourceFrameSHA256"], header["ModelSHA256"], side["exr"]["sha256"], COMPOSITE,
                      "ACES2065-1", "lossless"):
            assert value in text


def test_xmp_namespace_is_iptcs(inferred):
    from lxml import etree

    pkg, result = inferred
    rec = pkg.read_record(Layout.record("inference", result["run"]), runner.LABEL)
    root = etree.fromstring((pkg.root / rec["frames"][0]["sidecars"]["xmp"]["path"]).read_bytes())
    found = root.findall(".//{http://iptc.org/std/Iptc4xmpExt/2008-02-29/}DigitalSourceType")
    assert len(found) == 1 and found[0].text.endswith(COMPOSITE)


def test_output_is_aces_and_keeps_the_scans_luma(inferred):
    """Back from ACES 2065-1 to the source's colour space, the output has the source's luma (a chroma model)."""
    import PyOpenColorIO as ocio

    pkg, result = inferred
    rec = pkg.read_record(Layout.record("inference", result["run"]), runner.LABEL)
    conv = rec["settings"]["colour"]["conversion"]
    assert conv["source"] == "Linear Rec.709 (sRGB)" and conv["destination"] == "ACES2065-1"
    back = aces.config().getProcessor("ACES2065-1", conv["source"]).getDefaultCPUProcessor()
    kr, kb = rec["model"]["luma_coefficients"]["kr"], rec["model"]["luma_coefficients"]["kb"]
    for f in rec["frames"]:
        out = oiio.read(pkg.root / f["output"]["path"]).copy()
        back.applyRGB(out)
        src = oiio.read(pkg.root / f["source"]["path"], channels=3)
        ys, yo = colour.luma(src, kr, kb), colour.luma(out, kr, kb)
        assert np.abs(yo - ys).max() < 2e-3 * max(1.0, float(np.abs(ys).max()))
        assert np.abs(out - src).max() > 0  # the chroma did change
    assert isinstance(ocio.__version__, str)


def test_a_known_colour_reaches_aces_2065_1():
    red = aces.to_aces("scene-linear Rec.709").apply(np.array([[[1.0, 0.0, 0.0]]], np.float32))[0, 0]
    assert np.allclose(red, [0.4397, 0.0898, 0.0175], atol=2e-4)  # the Rec.709 -> AP0 matrix's first column
    grey = aces.to_aces("Rec.709").apply(np.full((1, 1, 3), 0.5, np.float32))[0, 0]
    assert np.allclose(grey, 0.5 ** 2.4, atol=1e-4)  # BT.1886 decoding; neutral stays neutral
    assert aces.resolve("ACES2065-1") == "ACES2065-1"
    white = aces.to_aces("sRGB").apply(np.ones((1, 1, 3), np.float32))[0, 0]
    assert np.allclose(white, 1.0, atol=1e-4)


@pytest.mark.parametrize("size", [(32, 32), (300, 260)])  # one call, and row bands on threads
def test_aces_conversion_gives_the_same_bits_in_bands_as_in_one_call(size):
    rgb = np.random.default_rng(3).random((*size, 3), dtype=np.float32)
    conv = aces.to_aces("Rec.709")
    assert conv.apply_inplace(rgb.copy(), workers=2).tobytes() == conv.apply_inplace(rgb.copy(), workers=1).tobytes()


def test_same_inputs_give_byte_identical_outputs(tmp_path_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    roots = [model_package_copy(tmp_path_factory, tmp_path / f"copy{i}") for i in range(2)]
    for root in roots:
        runner.infer(root, runner.InferOptions(frames="1001-1002", threads=1 + (root.name == "copy1")))
    a, b = (package_files(r / "data" / "outputs") for r in roots)
    assert a and a == b  # EXRs and every sidecar, across thread counts
    rec = Package.open(roots[0]).read_record(Layout.record("inference", "infer-01"), runner.LABEL)
    assert rec["provenance"]["processing_date"] == "2026-01-01T00:00:00Z"


def test_source_type_override_and_retired_terms(pkg):
    before = package_files(pkg.root)
    with pytest.raises(ArchivistError) as exc:
        runner.infer(pkg.root, runner.InferOptions(source_type="softwareImage"))
    assert exc.value.code == "IPTC-RETIRED"
    assert package_files(pkg.root) == before
    result = runner.infer(pkg.root, runner.InferOptions(frames="1001", source_type="trainedAlgorithmicMedia"))
    dst = result["digital_source_type"]
    assert dst["term"] == "trainedAlgorithmicMedia" and dst["overridden"] and dst["policy_term"] == COMPOSITE
    rec = pkg.read_record(Layout.record("inference", result["run"]), runner.LABEL)
    assert oiio.header(pkg.root / rec["frames"][0]["output"]["path"])["IPTCDigitalSourceType"] == "trainedAlgorithmicMedia"


def _flip(path: Path, offset: int = -100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _replace_model(pkg: Package, data: bytes) -> None:
    """Swap the archived ONNX bytes and update the card and manifests, as a careless tool might."""
    card_rel = Layout.record("models", "chroma-01-s6") if (pkg.root / Layout.record("models", "chroma-01-s6")).exists() \
        else Layout.record("models", sorted(p.stem for p in (pkg.root / "data/records/models").glob("*.json"))[0])
    card = pkg.read_record(card_rel)
    with Transaction(pkg.root, "test") as txn:
        fx = txn.write_bytes(card["model"]["path"], data, replace=True)
        card["model"].update(sha256=fx.sha256, size=fx.size)
        txn.write_bytes(card_rel, records.dumps(card), replace=True)
        txn.commit()


@pytest.mark.parametrize("case", ["flipped-model", "checker", "source", "colour", "frames", "backend", "tile"])
def test_bad_input_is_refused_before_any_output(pkg, case):
    card_rel = next((pkg.root / "data/records/models").glob("*.json"))
    model_path = pkg.root / json.loads(card_rel.read_text())["model"]["path"]
    options = runner.InferOptions()
    code = {"flipped-model": "INFER-MODEL-ALTERED", "checker": "INFER-MODEL-CHECK", "source": "INFER-SOURCE-ALTERED",
            "colour": "INFER-COLOUR-SPACE", "frames": "INFER-FRAMES", "backend": "INFER-BACKEND",
            "tile": "INFER-TILE"}[case]
    if case == "flipped-model":
        _flip(model_path)
    elif case == "checker":
        import onnx

        model = onnx.load_from_string(model_path.read_bytes())
        model.graph.node[0].input[0] = "no_such_tensor"  # still parses; fails onnx.checker
        _replace_model(pkg, model.SerializeToString())
    elif case == "source":
        _flip(pkg.root / pkg.element("print16")["frames"][2]["path"])
    elif case == "colour":
        options.colour_space = "Kodachrome"
    elif case == "frames":
        options.frames = "2001-2010"
    elif case == "backend":
        options.backend, options.device = "torch-cpu", "cuda"
    elif case == "tile":
        options.tile, options.overlap = 64, 64
    before = package_files(pkg.root)
    with pytest.raises(ArchivistError) as exc:
        runner.infer(pkg.root, options)
    assert exc.value.code == code, exc.value
    assert package_files(pkg.root) == before


def test_a_model_with_a_frame_field_runs_on_whole_frames_only(pkg):
    import dataclasses

    from archivist.inference import archived

    model = archived.load(pkg)
    assert model.whole_frames  # the chroma architecture's frame field spans the frame
    big = {"id": "scan4k", "scan": {"width": 4096, "height": 3112}}
    assert runner._tile(runner.InferOptions(), big, model) == (0, 0)  # not tiled, however large
    with pytest.raises(ArchivistError) as exc:
        runner._tile(runner.InferOptions(tile=1024), big, model)
    assert exc.value.code == "INFER-TILE" and "whole frames" in str(exc.value)
    tileable = dataclasses.replace(model, whole_frames=False)
    assert runner._tile(runner.InferOptions(), big, tileable)[0] == runner.AUTO_TILE
    assert runner._tile(runner.InferOptions(tile=1024), big, tileable)[0] == 1024


def test_cli_infer_then_verify(pkg):
    proc = run_cli("infer", pkg.root, "--frames", "1002-1003", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] and out["frames"]["computed"] == 2 and out["run"] == "infer-01"
    assert run_cli("verify", pkg.root).returncode == 0
    again = json.loads(run_cli("infer", pkg.root, "--frames", "1002-1003", "--json").stdout)
    assert again["already_complete"] and again["run"] == "infer-01"
    bad = run_cli("infer", pkg.root, "--source-type", "digitalArt")
    assert bad.returncode == 2 and "IPTC-RETIRED" in bad.stderr


def test_signed_run_has_a_valid_credential_per_frame_and_no_key_in_the_package(pkg, tmp_path):
    import c2pa

    from archivist import credentials

    ident = credentials.init_test_identity(tmp_path / "keys")
    keydir = tmp_path / "keys"
    result = runner.infer(pkg.root, runner.InferOptions(frames="1001-1002", sign=True, cert=keydir / "chain.pem",
                                                        key=keydir / "key.pem"))
    rec = pkg.read_record(Layout.record("inference", result["run"]), runner.LABEL)
    assert rec["signing"]["timestamp"]["used"] is False and "expires" in rec["signing"]["timestamp"]["consequence"]
    ca = (keydir / "ca.pem").read_bytes()
    for f in rec["frames"]:
        exr, cred = pkg.root / f["output"]["path"], pkg.root / f["credential"]["path"]
        assert cred.name == Path(f["output"]["path"]).with_suffix(".c2pa").name
        side = json.loads((pkg.root / f["sidecars"]["json"]["path"]).read_text())
        assert side["credential"] == f["credential"]["path"]
        check = credentials.validate_manifest(exr, cred, trust_anchors_pem=ca)
        assert check.status == credentials.VALID, check.to_dict()
        # An independent read with the SDK: actions, source type, ingredients with their hashes.
        with open(exr, "rb") as stream, c2pa.Reader("image/x-exr", stream, cred.read_bytes()) as reader:
            store = json.loads(reader.json())
        m = store["manifests"][store["active_manifest"]]
        actions = next(a for a in m["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"]
        assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.edited"]
        edited = actions[1]
        assert edited["digitalSourceType"].endswith("/" + COMPOSITE)
        assert edited["softwareAgent"]["name"] == "archivist"
        assert edited["parameters"]["run"] == result["run"] and edited["parameters"]["frame"] == f["number"]
        ings = {i["relationship"]: [] for i in m["ingredients"]}
        for i in m["ingredients"]:
            ings[i["relationship"]].append(i["metadata"]["sha256"])
        assert ings["parentOf"] == [f["source"]["sha256"]]
        assert sorted(ings["inputTo"]) == sorted([rec["model"]["onnx"]["sha256"], rec["dataset"]["sha256"]])
    seal = credentials.validate_seal(pkg.root, trust_anchors_pem=ca)
    assert seal.status == credentials.VALID
    key_pem = (keydir / "key.pem").read_bytes()
    for name, data in package_files(pkg.root).items():
        assert key_pem not in data and b"PRIVATE KEY" not in data and str(keydir).encode() not in data, name
    assert ident is not None
    assert verify(pkg.root).ok


def test_a_commit_waits_for_another_writer(pkg):
    import threading

    from archivist.package.locking import WriteLock

    lock = WriteLock(pkg.root, "another command").acquire()
    threading.Timer(1.0, lock.release).start()
    result = runner.infer(pkg.root, runner.InferOptions(frames="1001"))
    assert result["status"] == "complete"
    assert verify(pkg.root).ok

"""archivist export: a single-file ONNX model that matches torch, with its card; refusals leave the package alone."""

from __future__ import annotations

import json

import bagit
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper
from support.common import run_cli
from support.train import make_package

from archivist import dataset
from archivist.errors import ArchivistError
from archivist.package import records
from archivist.package.layout import Layout
from archivist.training import checkpoints, export, models, targets
from archivist.training import run as training

FAST = dict(mode="chroma", size="small", batch=3, patch=48, lr=3e-3, checkpoint_every=10, contact_every=0, threads=1)


def snapshot(pkg) -> dict[str, bytes]:
    return {str(p.relative_to(pkg.root)): p.read_bytes() for p in sorted(pkg.root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A trained chroma run, exported once through the real command line."""
    pkg = make_package(tmp_path_factory.mktemp("export"))
    rec = training.train(pkg, training.TrainSettings(steps=20, **FAST), run_id="run")
    proc = run_cli("export", pkg.root, "--checkpoint", "20", "--json", check=True)  # the last; not the selection
    card = json.loads(proc.stdout)["model"]
    return pkg, rec, card


def test_export_writes_a_checked_single_file_model_and_its_card(exported):
    pkg, rec, card = exported
    assert card["id"] == "run-s20"
    rel = Layout.onnx_model("run-s20")
    assert card["model"]["path"] == rel and pkg.manifest("sha256")[rel] == card["model"]["sha256"]
    # one ONNX file (no external data) and the run record as it was at export
    assert sorted(p.name for p in pkg.layout.path(rel).parent.iterdir()) == ["model.onnx", "training-run.json"]
    proto = onnx.load(str(pkg.layout.path(rel)))
    onnx.checker.check_model(proto, full_check=True)
    assert all(not t.HasField("data_location") or t.data_location == TensorProto.DEFAULT for t in proto.graph.initializer)
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in (proto.graph.input[0], proto.graph.output[0])]
    assert dims == [["batch", 3, "height", "width"]] * 2
    props = {p.key: p.value for p in proto.metadata_props}
    ds_record, ds_sha = dataset.load(pkg)
    assert props["archivist.package"] == pkg.record()["identifier"]
    assert props["archivist.dataset"] == ds_record["id"] and props["archivist.dataset_sha256"] == ds_sha
    assert props["archivist.checkpoint_sha256"] == rec["checkpoints"][-1]["sha256"]
    assert (props["archivist.mode"], props["archivist.tone"], props["archivist.size"]) == ("chroma", "false", "small")
    assert props["archivist.colour.kr"] == repr(ds_record["colour"]["kr"])
    assert "archivist.version" in props and "archivist.colour.input" in props
    stored = pkg.read_record(Layout.record("models", "run-s20"), export.CARD_LABEL)
    assert stored == card and records.problems(stored, export.CARD_LABEL) == []
    assert card["checkpoint"]["sha256"] == rec["checkpoints"][-1]["sha256"]
    assert {r["element"]: r["training_use"] for r in card["training_data_rights"]} == {"print16": "authorised",
                                                                                      "dvd": "authorised"}
    assert card["interface"]["inputs"][0]["name"] == export.INPUT_NAME
    assert card["interface"]["alignment"] == 16 and card["interface"]["receptive_radius"] > 0
    parity = card["parity"]
    assert parity["max_abs_error"] <= parity["bound"] == export.PARITY_BOUND
    assert parity["passthrough_bit_exact"] and parity["held_out"] and parity["frame"] == ds_record["holdout"][0]["source"]["number"]
    assert [e for e in pkg.events() if e["command"] == "export"][0]["outcome"] == "success"
    bagit.Bag(str(pkg.root)).validate()
    from archivist.verify import verify

    assert verify(pkg.root).ok


def test_onnxruntime_matches_torch_at_any_size_and_keeps_luma_bit_exact(exported):
    pkg, rec, card = exported
    _, tensors = checkpoints.unpack(pkg.layout.path(rec["checkpoints"][-1]["path"]).read_bytes())
    model = models.build(rec["architecture"]["config"])
    model.load_state_dict(checkpoints.model_state(tensors))
    model.eval()
    session = ort.InferenceSession(pkg.layout.path(card["model"]["path"]).read_bytes(), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["archivist.run"] == "run"
    record, _ = dataset.load(pkg)
    src, _ = dataset.pair_arrays(pkg, record, record["holdout"][0])
    frame = targets.to_ycbcr(src, record["colour"]["kr"], record["colour"]["kb"]).transpose(2, 0, 1)
    for x in (frame[None], np.stack([frame[:, :37, :53], frame[:, 5:42, 11:64]])):  # batch 1 and 2, odd sizes
        x = np.ascontiguousarray(x)
        got = session.run(None, {export.INPUT_NAME: x})[0]
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()
        assert got.shape == x.shape
        assert np.abs(got - want).max() <= export.PARITY_BOUND
        assert np.array_equal(got[:, 0], x[:, 0])  # Y' passes through bit for bit in onnxruntime too
        assert np.abs(got[:, 1:] - x[:, 1:]).max() > 0.01


def test_re_export_gives_identical_bytes(exported):
    pkg, rec, card = exported
    again = export.export(pkg, run="run", checkpoint="20", model_id="again")
    # the first export traced the graph; this one took it from run-s20's file: the same bytes
    assert card["format"]["graph"] == {"from": "trace"}
    assert again["format"]["graph"] == {"from": "template", "model": "run-s20", "sha256": card["model"]["sha256"]}
    event = [e for e in pkg.events() if e["command"] == "export"][-1]
    assert {"path": card["model"]["path"], "role": "source", "sha256": card["model"]["sha256"]} in event["objects"]
    assert again["model"]["sha256"] == card["model"]["sha256"]
    assert pkg.layout.path(again["model"]["path"]).read_bytes() == pkg.layout.path(card["model"]["path"]).read_bytes()
    assert again["id"] == "again" and again["checkpoint"] == card["checkpoint"]


def _off_by(delta: float):
    """A real ONNX model with the right interface whose output is off by ``delta``."""
    def to_onnx(model, props, doc=""):
        x = helper.make_tensor_value_info(export.INPUT_NAME, TensorProto.FLOAT, ["batch", 3, "height", "width"])
        y = helper.make_tensor_value_info(export.OUTPUT_NAME, TensorProto.FLOAT, ["batch", 3, "height", "width"])
        c = helper.make_tensor("delta", TensorProto.FLOAT, [1], [delta])
        graph = helper.make_graph([helper.make_node("Add", [export.INPUT_NAME, "delta"], [export.OUTPUT_NAME])],
                                  "off", [x], [y], [c])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10).SerializeToString()
    return to_onnx


def test_export_refuses_a_model_that_does_not_match_torch(exported, monkeypatch):
    pkg, _, _ = exported
    before = snapshot(pkg)
    monkeypatch.setattr(export, "to_onnx", _off_by(1e-3))
    with pytest.raises(ArchivistError) as exc:
        export.export(pkg, run="run", model_id="bad", reuse_graph=False)
    assert exc.value.code == "EXPORT-PARITY"
    assert snapshot(pkg) == before


def test_export_refuses_bad_choices_without_touching_the_package(exported):
    pkg, _, _ = exported
    before = snapshot(pkg)
    cases = [({"run": "run", "model_id": "run-s20"}, "EXPORT-EXISTS"),
             ({"run": "run", "checkpoint": "15"}, "EXPORT-NO-CHECKPOINT"),
             ({"run": "nope"}, "TRAIN-NO-RUN")]
    for kw, code in cases:
        with pytest.raises(ArchivistError) as exc:
            export.export(pkg, **kw)
        assert exc.value.code == code
    proc = run_cli("export", pkg.root, "--run", "run", "--checkpoint", "data/training/run/checkpoints/nope.safetensors")
    assert proc.returncode == 2 and "EXPORT-NO-CHECKPOINT" in proc.stderr
    assert snapshot(pkg) == before


def test_export_needs_a_run_when_there_are_several(tmp_path):
    pkg = make_package(tmp_path)
    with pytest.raises(ArchivistError) as exc:
        export.export(pkg)
    assert exc.value.code == "EXPORT-NO-RUN"
    training.train(pkg, training.TrainSettings(steps=2, **FAST))
    training.train(pkg, training.TrainSettings(steps=2, **FAST))
    with pytest.raises(ArchivistError) as exc:
        export.export(pkg)
    assert exc.value.code == "EXPORT-RUN-AMBIGUOUS" and "chroma-01, chroma-02" in exc.value.message


def test_the_card_keeps_the_run_record_it_came_from_when_the_run_goes_on(exported):
    pkg, rec, card = exported
    snap = pkg.layout.path(card["run"]["record"]["path"]).read_bytes()
    assert snap == pkg.layout.path(card["run"]["live_record"]).read_bytes()
    training.resume(pkg, "run", steps=30)
    live = pkg.read_record(card["run"]["live_record"], training.LABEL)
    assert live["step"] == 30 and card["run"]["step"] == 20
    # the copy kept with the model still matches the card and the manifest
    assert pkg.manifest("sha256")[card["run"]["record"]["path"]] == card["run"]["record"]["sha256"]
    kept = records.loads(pkg.layout.path(card["run"]["record"]["path"]).read_bytes(), training.LABEL)
    assert kept["step"] == 20 and kept["checkpoints"][-1]["sha256"] == card["checkpoint"]["sha256"]
    bagit.Bag(str(pkg.root)).validate()


def _randomised(mode: str, seed: int) -> torch.nn.Module:
    model = models.build(models.architecture(mode, "small")).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
    return model


def test_a_template_with_other_weights_gives_the_bytes_of_a_trace():
    a, b = _randomised("spatial", 1), _randomised("spatial", 2)
    props = {"archivist.graph": export.graph_key(models.architecture("spatial", "small"))}
    traced = export.to_onnx(a, props, doc="a")
    as_b = export.from_template(traced, b, props, doc="b")
    # the graph a trace gives does not depend on the weights: a's file with b's weights is b's trace
    assert as_b == export.to_onnx(b, props, doc="b") and as_b != traced
    assert export.from_template(as_b, a, props, doc="a") == traced
    x = np.random.default_rng(0).random((2, 3, 21, 34), dtype=np.float32) - np.float32(0.5)
    with torch.no_grad():
        want = b(torch.from_numpy(x)).numpy()
    got = export.ort_session(as_b).run(None, {export.INPUT_NAME: x})[0]
    assert np.abs(got - want).max() <= export.PARITY_BOUND
    assert np.array_equal(got[:, 1:], x[:, 1:])

    # refused (None: the caller traces afresh): another architecture, a renamed or reshaped weight, a
    # graph without the weights, bytes that are no model
    assert export.from_template(traced, _randomised("chroma", 1), props) is None
    for change in ("name", "dims", "external"):
        proto = onnx.load_from_string(traced)
        weights = b.state_dict()
        t = next(t for t in proto.graph.initializer if (t.name == "unet.head.weight") == (change != "external")
                 and (change != "external" or t.name not in weights))
        if change == "name":
            t.name = "unet.head.w"
        elif change == "dims":
            t.dims[0] += 1
        else:  # a constant that onnxruntime would read from a file beside the model
            t.data_location = TensorProto.EXTERNAL
            t.external_data.add(key="location", value="big.bin")
        assert export.from_template(proto.SerializeToString(), b, props) is None
    assert export.from_template(_off_by(0.0)(b, props), b, props) is None
    assert export.from_template(traced[:1000], b, props) is None


def test_a_damaged_model_is_not_taken_as_a_template(exported):
    pkg, _, card = exported
    key = card["format"]["metadata_props"]["archivist.graph"]
    assert "run-s20" in [c["id"] for c, _ in export._templates(pkg, key)]
    path = pkg.layout.path(card["model"]["path"])
    data = path.read_bytes()
    try:
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
        assert "run-s20" not in [c["id"] for c, _ in export._templates(pkg, key)]
    finally:
        path.write_bytes(data)
    assert list(export._templates(pkg, "0" * 64)) == []


def test_a_template_that_fails_the_parity_check_gives_way_to_a_trace(exported, monkeypatch):
    pkg, _, card = exported
    good = pkg.layout.path(card["model"]["path"]).read_bytes()
    real = export.from_template
    traced = []

    def to_onnx(model, props, doc=""):  # stands in for the trace (which gives these bytes, tested above)
        traced.append(True)
        return real(good, model, props, doc)

    # the key matches, but the graph is another model's (as after a code change under the same version)
    monkeypatch.setattr(export, "from_template", lambda t, m, props, doc="": _off_by(1e-3)(m, props, doc))
    monkeypatch.setattr(export, "to_onnx", to_onnx)
    # a traced export runs the receptive-field probe (seconds); the first export's card holds its result
    monkeypatch.setattr(models, "receptive_radius", lambda arch: card["interface"]["receptive_radius"])
    again = export.export(pkg, run="run", checkpoint="20", model_id="fallback")
    assert traced == [True] and again["format"]["graph"] == {"from": "trace"}
    assert again["model"]["sha256"] == card["model"]["sha256"]

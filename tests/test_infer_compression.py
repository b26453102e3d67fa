"""infer --compression htj2k256: lossless (the same half values as PIZ), recorded everywhere, and it verifies."""

from __future__ import annotations

import json

import numpy as np
from support.infer import model_package_copy

from archivist.imaging import oiio
from archivist.inference import runner
from archivist.package import Package
from archivist.package.layout import Layout
from archivist.verify import verify


def test_htj2k_output_has_the_piz_outputs_pixels_and_says_so(tmp_path_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    runs = {}
    for comp in ("piz", "htj2k256"):  # two runs of one package: the compression is part of a run's settings
        result = runner.infer(root, runner.InferOptions(frames="1001-1002", compression=comp))
        runs[comp] = Package.open(root).read_record(Layout.record("inference", result["run"]), runner.LABEL)
    rec = runs["htj2k256"]
    assert rec["settings"]["compression"] == "htj2k256"
    for f, g in zip(rec["frames"], runs["piz"]["frames"]):
        out = root / f["output"]["path"]
        assert oiio.header(out)["compression"] == "htj2k256"
        sidecar = json.loads((root / f["sidecars"]["json"]["path"]).read_text())
        assert sidecar["exr"]["compression"] == "htj2k256"
        assert "lossless" in (root / f["sidecars"]["text"]["path"]).read_text()
        piz = root / g["output"]["path"]
        assert f["output"]["sha256"] != g["output"]["sha256"]  # other bytes ...
        a, b = oiio.read(out, pixel_type="half"), oiio.read(piz, pixel_type="half")
        assert np.array_equal(a.view(np.uint16), b.view(np.uint16))  # ... the same pixels
    report = verify(root)
    assert report.ok, [p.to_dict() for p in report.problems]

"""The HTML report: self-contained, complete, readable, and it renders in a real browser."""

from __future__ import annotations

import re

import numpy as np
import pytest
from support.common import run_cli
from support.package import snapshot
from support.qc import CHROMIUM, chromium_screenshot, page_requests, quick_demo  # noqa: F401 (fixture)

from archivist.errors import InputError
from archivist.imaging import oiio
from archivist.report import build, write_report


def test_report_of_the_demo_has_every_section(quick_demo):  # noqa: F811
    out, summary = quick_demo
    page = (out / "report.html").read_text("utf-8")
    for heading in ("1. The package", "Elements and their rights", "2. The training pairs", "3. Training",
                    "Model card", "4. The restored frames", "5. Quality control", "Against the true original",
                    "6. Provenance of a sample output frame", "EXR header keys", "C2PA Content Credential",
                    "7. Full package check (verify)", "8. What was done, in order", "Glossary"):
        assert heading in page, heading
    assert summary["verdict"]["statement"] in page.replace("&#x27;", "'")
    assert "trainedAlgorithmicMedia" in page  # the demo trains with the tone correction: the luma changes too
    assert "authorised" in page and "Example Film Archive" in page
    # The sample frame's credential validates against the demo's test CA.
    assert "<span class='ok'>valid</span>, signed by a trusted identity" in page
    # Every picture the records name is embedded: strips, loss curve, alignment previews, contact sheet.
    strips = len(re.findall(r"<figcaption>Held-out frame \d+: source", page))
    assert strips == len(summary["verdict"]["frames_ml_better"]) + len(summary["verdict"]["frames_ml_not_better"])
    assert "Loss curve of training run" in page and "Last contact sheet" in page
    assert page.count("src='data:image/") >= strips + 3


def test_report_makes_no_network_requests_by_construction(quick_demo):  # noqa: F811
    page = (quick_demo[0] / "report.html").read_text("utf-8")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    for pattern in (r"<script", r"<link", r"<iframe", r"@import", r"url\(", r"<object", r"<embed"):
        assert not re.search(pattern, page, re.I), pattern
    assert set(re.findall(r"src='([a-z]+):", page)) == {"data"}
    assert not re.search(r"href=['\"](?!#)", page)  # only in-page links


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (scripts/install-chromium.sh)")
def test_report_renders_in_headless_chromium_without_fetching_anything(quick_demo, tmp_path):  # noqa: F811
    out, _ = quick_demo
    png, netlog = tmp_path / "report.png", tmp_path / "net.json"
    proc = chromium_screenshot(out / "report.html", png, tmp_path / "profile", netlog)
    assert png.is_file(), proc.stderr[-2000:]
    shot = oiio.read(png)
    assert shot.shape[:2] == (2400, 1280)
    assert shot.std() > 0.1  # text, tables and pictures, not a blank page
    assert float((np.abs(np.diff(shot, axis=-1)).sum(-1) > 0.1).mean()) > 0.01  # colour pictures are drawn
    assert page_requests(netlog) == set()

    # The same check sees a request when a page makes one, so the assertion above can fail.
    leaky = tmp_path / "leaky.html"
    leaky.write_text("<html><body><img src='http://192.0.2.1/x.png'><p>x</p></body></html>", "utf-8")
    chromium_screenshot(leaky, tmp_path / "leaky.png", tmp_path / "profile2", tmp_path / "net2.json", size=(400, 300))
    assert "http://192.0.2.1/x.png" in page_requests(tmp_path / "net2.json")


def test_report_of_a_package_without_later_stages(package, tmp_path):
    before = snapshot(package.root)
    page, data = build(package.root)
    assert "No dataset has been built yet" in page and "No QC has been run yet" in page
    assert "No output frames yet" in page and "print16" in page and "PAL DVD 2003" in page
    assert data["verify"]["result"]["ok"] is True
    assert snapshot(package.root) == before  # reading only


def test_report_is_written_outside_the_package_only(package, tmp_path):
    with pytest.raises(InputError) as info:
        write_report(package.root, package.root / "data" / "report.html")
    assert info.value.code == "REPORT-PLACE"
    with pytest.raises(InputError):
        write_report(package.root, package.root / "report.html")
    proc = run_cli("report", package.root, "-o", tmp_path / "r.html")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r.html").read_text("utf-8").startswith("<!DOCTYPE html>")
    proc = run_cli("report", package.root, "-o", package.root / "r.html")
    assert proc.returncode == 2 and "REPORT-PLACE" in proc.stderr


def test_text_from_the_package_is_escaped(tmp_path):
    from support.common import write_shot

    from archivist.package import Package

    write_shot(tmp_path / "scan")
    pkg = Package.create(tmp_path / "pkg", title="<script>alert(1)</script>", organization="A & B")
    pkg.add_element(role="source", element="print16", paths=[tmp_path / "scan"], description="<b>16mm</b> print",
                    source_type="positiveFilm")
    page, _ = build(pkg.root)
    assert "<script>" not in page and "&lt;script&gt;" in page and "A &amp; B" in page

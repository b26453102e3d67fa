"""describe --resolve-csv: a DaVinci Resolve metadata CSV of the output frames, from the records."""

from __future__ import annotations

import csv
import io
import json

from support.common import run_cli
from support.package import snapshot
from support.verify_outputs import copy_signed, signed_package

from archivist.archive.resolve import COLUMNS, sequences
from archivist.package import Package, kinds
from archivist.package.layout import Layout


def test_one_row_per_output_clip_with_resolve_headers(tmp_path, tmp_path_factory):
    root = copy_signed(signed_package(tmp_path_factory), tmp_path / "pkg")
    out = tmp_path / "resolve.csv"
    proc = run_cli("describe", root, "--resolve-csv", out, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["resolve_csv"] == {"path": str(out), "rows": 1}
    data = out.read_bytes()
    assert data.startswith(",".join(COLUMNS).encode() + b"\r\n")
    [row] = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    pkg = Package.open(root)
    [run_id] = pkg.record_ids(kinds.INFERENCE_RUN)
    run = pkg.read_record(Layout.record(kinds.INFERENCE_RUN, run_id))
    numbers = sorted(f["number"] for f in run["frames"])
    name = run["frames"][0]["output"]["path"].rsplit("/", 1)[1]
    stem, digits, ext = name.rsplit(".", 2)
    assert row["File Name"] == f"{stem}.[{numbers[0]:0{len(digits)}d}-{numbers[-1]:0{len(digits)}d}].{ext}"
    element = pkg.element(run["source"]["element"])
    assert row["Roll Card #"] == element["id"] and row["Take"] == run_id
    assert row["Production Name"] == pkg.record()["title"]
    assert element["rights"]["statement"] in row["Comments"] and run["model"]["id"] in row["Comments"]
    assert run["digital_source_type"]["uri"].rsplit("/", 1)[1] in row["Keywords"].split(", ")


def test_a_csv_inside_the_package_is_refused_before_anything_is_written(tmp_path, tmp_path_factory):
    root = copy_signed(signed_package(tmp_path_factory), tmp_path / "pkg")
    before = snapshot(root)
    for place in (root / "data" / "resolve.csv", tmp_path / "missing" / "r.csv", tmp_path):
        proc = run_cli("describe", root, "--resolve-csv", place, "--json")
        assert proc.returncode == 2 and json.loads(proc.stdout)["error"]["code"] == "DESCRIBE-RESOLVE-PLACE"
        assert snapshot(root) == before


def test_sequences_split_at_gaps_and_padding():
    assert sequences(["o/a.0009.exr", "o/a.0010.exr", "o/a.00011.exr", "p/a.0011.exr"]) == [
        ("o", "a.[0009-0010].exr", [9, 10]), ("o", "a.[00011-00011].exr", [11]), ("p", "a.[0011-0011].exr", [11])]

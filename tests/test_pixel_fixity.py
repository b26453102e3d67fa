"""Pixel fixity end to end: recorded by infer, checked by verify --pixels, written into PREMIS."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from lxml import etree
from support.common import run_cli
from support.verify_outputs import (
    FRAMES,
    RUN_RECORD,
    copy_signed,
    cover_up,
    frame_entry,
    out,
    read_json,
    resign,
    sha256,
    signed_package,
)

from archivist.archive.describe import PIXELS_ALGORITHM, describe
from archivist.imaging import oiio
from archivist.imaging.pixels import SCHEME, pixel_hash
from archivist.inference import provenance
from archivist.package import records
from archivist.package.model import Package
from archivist.verify import verify

PREMIS = "{http://www.loc.gov/premis/v3}"
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    return signed_package(tmp_path_factory)


@pytest.fixture
def pkg(signed, tmp_path) -> Path:
    return copy_signed(signed, tmp_path / "pkg")


def reencode(root: Path, rel: str, compression: str) -> None:
    """Write an output EXR again with another lossless compression, header attributes kept."""
    path = root / rel
    keys = {k: v for k, v in oiio.header(path).items() if k in provenance.HEADER_KEYS}
    tmp = path.with_name(".reencoded.exr")
    oiio.write(tmp, oiio.read(path, pixel_type="half"), pixel_type="half",
               attributes=provenance.exr_attributes(keys), compression=compression)
    tmp.replace(path)


def test_infer_records_each_outputs_pixel_hash_and_verify_pixels_passes(pkg, signed):
    rec = read_json(pkg, RUN_RECORD)
    for n in FRAMES:
        entry = frame_entry(rec, n)
        want = {"scheme": SCHEME, "sha256": pixel_hash(pkg / out(n, "exr"))}
        assert entry["output"]["pixels"] == want
        assert read_json(pkg, out(n, "json"))["exr"]["pixels"] == want
        assert "Pixel SHA-256:" in (pkg / out(n, "txt")).read_text()
    report = verify(pkg, pixels=True, trust_anchors_pem=signed.ca)
    assert report.ok and report.problems == [], report.to_dict()
    # A record written before pixel fixity (no pixel hash) is still valid, and so is its sidecar.
    for f in rec["frames"]:
        f["output"].pop("pixels")
    assert records.problems(rec) == []
    side = read_json(pkg, out(1001, "json"))
    side["exr"].pop("pixels")
    assert records.problems(side) == []


def test_a_lossless_reencode_is_named_as_one_and_a_changed_pixel_is_found(pkg, signed):
    exr, c2pa = out(1002, "exr"), out(1002, "c2pa")
    before = sha256(pkg / exr)
    reencode(pkg, exr, "zip")
    assert sha256(pkg / exr) != before
    plain = verify(pkg, trust_anchors_pem=signed.ca)
    report = verify(pkg, pixels=True, trust_anchors_pem=signed.ca)
    # The file changed (size too: bag-info's Payload-Oxum and the run record's size disagree with it) ...
    assert {(p.code, p.path) for p in report.problems} == {("BAG-010", exr), ("C2PA-001", c2pa), ("CON-001", exr),
                                                           ("BAG-027", "bag-info.txt")}
    assert report.codes() == plain.codes()  # ... its pixels did not: no OUT-012
    bag010 = next(p.message for p in report.problems if p.code == "BAG-010")
    assert "its decoded pixels match the recorded pixel hash" in bag010 and "a lossless re-encode" in bag010
    assert "lossless" not in next(p.message for p in plain.problems if p.code == "BAG-010")

    # Everything that hashes files made to agree with the re-encoded frame: the image is the same, nothing to find.
    resign(signed, pkg, 1002)
    cover_up(pkg, [exr, c2pa])
    assert verify(pkg, pixels=True, trust_anchors_pem=signed.ca).problems == []

    # One changed pixel, covered up the same way: only the pixel hash tells, and only when asked.
    pixels = oiio.read(pkg / exr)
    pixels[0, 0, 2] = np.float32(np.float16(pixels[0, 0, 2]) + np.float16(0.5))
    oiio.write(pkg / exr, pixels, pixel_type="half", compression="zip",
               attributes=provenance.exr_attributes({k: v for k, v in oiio.header(pkg / exr).items()
                                                     if k in provenance.HEADER_KEYS}))
    resign(signed, pkg, 1002)
    cover_up(pkg, [exr, c2pa])
    assert verify(pkg, trust_anchors_pem=signed.ca).problems == []
    report = verify(pkg, pixels=True, trust_anchors_pem=signed.ca)
    assert report.codes() == {"OUT-012"} and report.problems[0].path == exr
    assert "decoded pixels differ from the run record" in report.problems[0].message

    proc = run_cli("verify", pkg, "--pixels", "--json")
    assert proc.returncode == 1
    assert "OUT-012" in {p["code"] for p in json.loads(proc.stdout)["problems"]}


def test_premis_gives_each_output_its_pixel_hash_as_a_second_fixity(pkg):
    describe(Package.open(pkg))
    doc = etree.parse(str(pkg / "data/metadata/premis.xml"))
    assert etree.XMLSchema(etree.parse(str(DATA / "premis-3-subset.xsd"))).validate(doc)
    rec = read_json(pkg, RUN_RECORD)
    want = {f["output"]["path"]: f["output"]["pixels"]["sha256"] for f in rec["frames"]}
    got = {}
    for obj in doc.iter(f"{PREMIS}object"):
        path = obj.findtext(f"{PREMIS}objectIdentifier/{PREMIS}objectIdentifierValue")
        for fx in obj.iter(f"{PREMIS}fixity"):
            if fx.findtext(f"{PREMIS}messageDigestAlgorithm") == PIXELS_ALGORITHM:
                assert fx.findtext(f"{PREMIS}messageDigestOriginator") == "archivist"
                assert [c.tag for c in obj.iter(f"{PREMIS}fixity")].count(f"{PREMIS}fixity") == 3  # SHA-256, -512
                got[path] = fx.findtext(f"{PREMIS}messageDigest")
    assert got == want and len(got) == len(FRAMES)

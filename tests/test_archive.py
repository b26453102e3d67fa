"""describe, transfer, deposit: checked by the validators archives use.

METS: metsrw's mets.xsd and Archivematica's schematron (``metsrw.validate``).
mets.xsd imports XLink and the document's PREMIS from the network; offline,
the test compiles mets.xsd against ``tests/data/xlink.xsd`` (the XLink 1.0
attributes) and ``tests/data/premis-3-subset.xsd`` (the part of PREMIS 3.0
archivist writes; no package on PyPI ships the Library of Congress schema).
OCFL: ocfl-py's validator. BagIt: bagit-python and ``archivist verify``.
RO-Crate: roc-validator's Process Run Crate 0.5 profile, offline, its HTTP
cache seeded with the RO-Crate 1.3 context that rocrate ships.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import bagit
import metsrw
import pytest
from lxml import etree
from support.common import REPO, run_cli, write_shot
from support.package import snapshot
from support.verify_outputs import copy_signed, signed_package

from archivist.archive import describe as describe_mod
from archivist.archive.deposit import deposit
from archivist.archive.describe import RIGHTS_COLUMNS, describe
from archivist.archive.transfer import transfer
from archivist.errors import ArchivistError
from archivist.package import Package
from archivist.package.bagfiles import format_bag_info, parse_bag_info, parse_manifest
from archivist.package.transaction import FAULT_ENV, recover
from archivist.verify import verify

DATA = REPO / "tests" / "data"
PREMIS = "{http://www.loc.gov/premis/v3}"


@pytest.fixture(scope="module")
def mets_xsd(tmp_path_factory) -> str:
    """metsrw's own mets.xsd, its XLink and PREMIS imports resolved to local files."""
    text = (Path(metsrw.__file__).parent / "resources" / "mets.xsd").read_text("utf-8")
    text = text.replace("http://www.loc.gov/standards/xlink/xlink.xsd", str(DATA / "xlink.xsd"))
    text = text.replace('<xsd:import namespace="http://www.w3.org/1999/xlink"',
                        f'<xsd:import namespace="http://www.loc.gov/premis/v3" '
                        f'schemaLocation="{DATA / "premis-3-subset.xsd"}"/>\n'
                        '<xsd:import namespace="http://www.w3.org/1999/xlink"', 1)
    path = tmp_path_factory.mktemp("xsd") / "mets.xsd"
    path.write_text(text, "utf-8")
    return str(path)


@pytest.fixture(scope="module")
def premis_schema():
    return etree.XMLSchema(etree.parse(str(DATA / "premis-3-subset.xsd")))


@pytest.fixture
def restored(tmp_path, tmp_path_factory) -> Path:
    """A package after dataset, training, export and a signed inference run."""
    return copy_signed(signed_package(tmp_path_factory), tmp_path / "restored")


@pytest.fixture(scope="module")
def crate_cache(tmp_path_factory) -> Path:
    """roc-validator's HTTP cache holding the one document it fetches: the RO-Crate context, as rocrate ships it."""
    from importlib import resources

    import requests
    import urllib3
    from requests_cache import CachedSession

    url = "https://w3id.org/ro/crate/1.3/context"
    body = (resources.files("rocrate") / "data" / "ro-crate.jsonld").read_bytes()
    assert json.loads(body)["@id"] == url
    path = tmp_path_factory.mktemp("crate-cache") / "http"
    session = CachedSession(cache_name=str(path), backend="sqlite", allowable_methods=("GET",), expire_after=-1)
    response = requests.Response()
    response.status_code, response.url, response.reason, response.encoding = 200, url, "OK", "utf-8"
    response._content = body
    response.headers.update({"Content-Type": "application/ld+json"})
    response.request = requests.Request("GET", url).prepare()
    response.raw = urllib3.HTTPResponse(body=io.BytesIO(body), headers=dict(response.headers), status=200,
                                        preload_content=False, request_url=url)
    session.cache.save_response(response)
    session.close()
    return path


def validate_crate(root: Path, cache: Path, tmp_path: Path) -> dict:
    out = tmp_path / "crate-report.json"
    subprocess.run([str(Path(sys.executable).parent / "rocrate-validator"), "validate", "-p", "process-run-crate-0.5",
                    "-f", "json", "--offline", "--cache-path", str(cache), "--no-paging", "-o", str(out), str(root)],
                   capture_output=True, timeout=300, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    return json.loads(out.read_text("utf-8"))


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))


def bagit_valid(root: Path) -> bool:
    return bagit.Bag(str(root)).is_valid()


def test_describe_a_restored_package(restored, mets_xsd, premis_schema):
    pkg = Package.open(restored)
    before = pkg.events()
    result = describe(pkg)
    meta = restored / "data" / "metadata"
    assert sorted(p.name for p in meta.iterdir()) == ["metadata.csv", "mets.xml", "premis.xml", "rights.csv"]
    assert (restored / "data/ro-crate-metadata.json").is_file()

    report = verify(restored)
    assert report.ok and not [p for p in report.problems if p.code.startswith(("CON", "BAG", "PRO", "REC"))], \
        [p.to_dict() for p in report.problems]
    assert bagit_valid(restored)

    # METS: metsrw's XSD and Archivematica's schematron
    mets = etree.parse(str(meta / "mets.xml"))
    ok, rep = metsrw.validate(mets, xmlschema=mets_xsd)
    assert ok, rep["report"]
    manifest = parse_manifest((restored / "manifest-sha256.txt").read_text("utf-8")).as_dict()
    described = {p: d for p, d in manifest.items()
                 if not p.startswith("data/metadata/") and p not in ("data/records/metadata.json",
                                                                     "data/records/events.jsonl",
                                                                     "data/ro-crate-metadata.json")}
    doc = metsrw.METSDocument.fromfile(str(meta / "mets.xml"))
    files = {f.path: f.checksum for f in doc.all_files() if f.type == "Item"}
    assert files == {describe_mod.archive_path(p): d for p, d in described.items()}

    # PREMIS 3: objects with both digests, every earlier event, derivations
    premis = etree.parse(str(meta / "premis.xml"))
    assert premis_schema.validate(premis), premis_schema.error_log
    objects = premis.findall(f"{PREMIS}object")
    assert len(objects) == len(described)
    first = objects[0]
    path = first.findtext(f"{PREMIS}objectIdentifier/{PREMIS}objectIdentifierValue")
    digests = {f.findtext(f"{PREMIS}messageDigestAlgorithm"): f.findtext(f"{PREMIS}messageDigest")
               for f in first.iter(f"{PREMIS}fixity")}
    sha512 = parse_manifest((restored / "manifest-sha512.txt").read_text("utf-8")).as_dict()
    assert digests == {"SHA-256": manifest[path], "SHA-512": sha512[path]}
    events = premis.findall(f"{PREMIS}event")
    assert [e.findtext(f"{PREMIS}eventIdentifier/{PREMIS}eventIdentifierValue") for e in events] == \
        [e["id"].removeprefix("urn:uuid:") for e in before]
    run = json.loads((restored / "data/records/inference/infer-01.json").read_text())
    frame = run["frames"][0]
    output = next(o for o in objects if o.findtext(f"{PREMIS}objectIdentifier/{PREMIS}objectIdentifierValue")
                  == frame["output"]["path"])
    sources = [r.findtext(f"{PREMIS}relatedObjectIdentifier/{PREMIS}relatedObjectIdentifierValue")
               for r in output.iter(f"{PREMIS}relationship")]
    assert frame["source"]["path"] in sources and run["model"]["onnx"]["path"] in sources
    agents = [a.findtext(f"{PREMIS}agentName") for a in premis.findall(f"{PREMIS}agent")]
    assert run["signing"]["certificate"]["subject"] in agents

    # metadata.csv: one row per object group; rights.csv: Archivematica's columns
    rows = read_csv(meta / "metadata.csv")
    record = pkg.record()
    assert [r["filename"] for r in rows] == [
        "objects/", "objects/references/dvd/", "objects/sources/print16/",
        f"objects/models/{run['model']['id']}/", "objects/outputs/infer-01/"]
    assert rows[0]["dc.title"] == record["title"] and rows[0]["dc.identifier"] == record["identifier"]
    source = pkg.element("print16")
    assert rows[2]["film.frame_range"] == f"{source['frames'][0]['number']}-{source['frames'][-1]['number']}"
    assert rows[4]["iptc.digital_source_type"] == run["digital_source_type"]["uri"]
    rights_text = (meta / "rights.csv").read_text("utf-8")
    assert rights_text.splitlines()[0].split(",") == RIGHTS_COLUMNS
    rights = read_csv(meta / "rights.csv")
    for file in {r["file"] for r in rights}:  # a copyright statement and a training-use act for each
        mine = [r for r in rights if r["file"] == file]
        assert {"Copyright", "Other"} <= {r["basis"] for r in mine}
        assert all(r["grant_act"] == "use" and r["grant_restriction"] == "Allow" for r in mine
                   if r["basis"] == "Other")
    assert {r["file"] for r in rights} == {r["filename"] for r in rows[1:]}

    # the record names the files; the event says what was done
    rec = json.loads((restored / "data/records/metadata.json").read_text())
    assert rec["events"] == len(before) and rec["event"] == result["event"]
    assert Package.open(restored).events()[-1]["command"] == "describe"


def test_the_payload_is_a_valid_process_run_crate(restored, crate_cache, tmp_path):
    describe(Package.open(restored))
    report = validate_crate(restored / "data", crate_cache, tmp_path)
    assert report["passed"] and report["statistics"]["total_failed_checks"] == 0, report["issues"]
    assert set(report["statistics"]["profiles"]) == {"process-run-crate-0.5", "ro-crate-1.1"}
    graph = {e["@id"]: e for e in json.loads((restored / "data/ro-crate-metadata.json").read_text())["@graph"]}
    actions = [e for e in graph.values() if e["@type"] == "CreateAction"]
    assert [a["name"] for a in actions] == [f"archivist {e['command']}" for e in Package.open(restored).events()]
    infer = next(a for a in actions if a["name"] == "archivist infer")
    assert graph[infer["instrument"]["@id"]]["@type"] == "SoftwareApplication"
    results = infer["result"] if isinstance(infer["result"], list) else [infer["result"]]
    assert all("sha256" in graph[r["@id"]] or r["@id"].endswith("/") for r in results)

    # the validator can fail: an action without its instrument
    doc = json.loads((restored / "data/ro-crate-metadata.json").read_text())
    next(e for e in doc["@graph"] if e["@type"] == "CreateAction").pop("instrument")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "ro-crate-metadata.json").write_text(json.dumps(doc))
    assert not validate_crate(broken, crate_cache, tmp_path)["passed"]


def test_the_schemas_used_can_fail(restored, mets_xsd, premis_schema):
    """The offline schemas are not permissive: a misordered PREMIS object or a METS without agents fails."""
    describe(Package.open(restored))
    premis = etree.parse(str(restored / "data/metadata/premis.xml"))
    ch = premis.find(f"{PREMIS}object/{PREMIS}objectCharacteristics")
    ch.append(ch.find(f"{PREMIS}fixity"))  # fixity after format
    assert not premis_schema.validate(premis)
    mets = etree.parse(str(restored / "data/metadata/mets.xml"))
    ns = {"m": "http://www.loc.gov/METS/"}
    for dp in mets.xpath("//m:amdSec[1]/m:digiprovMD[m:mdWrap/@MDTYPE='PREMIS:AGENT']", namespaces=ns)[:1]:
        dp.getparent().remove(dp)
    ok, _ = metsrw.validate(mets, xmlschema=mets_xsd)
    assert not ok


def test_stale_and_edited_metadata_are_named(package, tmp_path):
    describe(package)
    assert verify(package.root).problems == []
    write_shot(tmp_path / "more", n=2, image="coffee")
    package.add_element(role="source", element="print35", paths=[tmp_path / "more"],
                        description="35mm positive print", training_use="unknown")
    report = verify(package.root)
    assert report.ok and report.codes() == {"CON-006"}
    describe(package)  # rewritten for the package as it is
    assert verify(package.root).problems == []
    rights = read_csv(package.root / "data/metadata/rights.csv")
    assert [r["grant_restriction"] for r in rights
            if r["file"] == "objects/sources/print35/" and r["basis"] == "Other"] == ["Conditional"]
    with open(package.root / "data/metadata/metadata.csv", "a", encoding="utf-8") as f:
        f.write("objects/extra/,An edit after bagging\r\n")
    assert {"BAG-010", "CON-001"} <= verify(package.root).codes()


def test_a_killed_describe_rolls_back_to_the_package_as_it_was(package):
    describe(package)
    write = package.root / "data/records/elements"
    assert write.is_dir()
    before = snapshot(package.root)
    proc = run_cli("describe", package.root, env={FAULT_ENV: "payload-moved"})
    assert proc.returncode != 0
    recover(package.root)
    assert snapshot(package.root) == before


def test_bag_info_labels_are_xml_names_and_the_bag_has_no_hidden_file(package):
    describe(package)
    pairs, bad = parse_bag_info((package.root / "bag-info.txt").read_text("utf-8"))
    assert pairs and not bad
    for label, _ in pairs:
        etree.Element(label)  # raises ValueError for a name XML does not allow
    assert not [p for p in package.root.rglob(".*")]
    with pytest.raises(ValueError):  # and the writer refuses one that is not
        format_bag_info([("Rights holder", "Filmoteca")])
    import doctest

    from archivist.package import bagfiles
    assert doctest.testmod(bagfiles).failed == 0


def test_transfer_is_reproducible_and_reads_back_as_a_valid_bag(package, tmp_path):
    describe(package)
    copy = tmp_path / "elsewhere" / "pkg"
    shutil.copytree(package.root, copy)
    for suffix in ("tar.gz", "zip"):
        (tmp_path / "one").mkdir(exist_ok=True)
        a = transfer(package, tmp_path / "one" / f"film.{suffix}")
        b = transfer(Package.open(copy), tmp_path / f"film.{suffix}")
        assert a["sha256"] == b["sha256"] and a["files"] == b["files"]
        assert (tmp_path / "one" / f"film.{suffix}").read_bytes() == (tmp_path / f"film.{suffix}").read_bytes()
        out = tmp_path / f"x-{suffix}"
        if suffix == "zip":
            with zipfile.ZipFile(tmp_path / "film.zip") as zf:
                infos = zf.infolist()
                assert {i.date_time for i in infos} == {infos[0].date_time}
                zf.extractall(out)
        else:
            with tarfile.open(tmp_path / "film.tar.gz") as tar:
                members = tar.getmembers()
                assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
                assert {m.mode for m in members} == {0o644, 0o755}
                assert [m.name for m in members] == sorted(m.name for m in members)
                tar.extractall(out, filter="data")
        assert sorted(p.name for p in out.iterdir()) == ["film"]  # one top-level directory
        bag = out / "film"
        assert verify(bag).problems == [] and bagit_valid(bag)
        assert not list(bag.rglob(".*"))


def test_transfer_refuses_what_an_archive_would_reject(package, tmp_path):
    before = snapshot(package.root)
    with pytest.raises(ArchivistError) as exc:
        transfer(package, tmp_path / "film.rar")
    assert exc.value.code == "TRANSFER-FORMAT"
    (package.root / "data/sources/print16/.DS_Store").write_bytes(b"\0")
    with pytest.raises(ArchivistError) as exc:
        transfer(package, tmp_path / "film.zip")
    assert exc.value.code == "TRANSFER-HIDDEN" and not list(tmp_path.glob("*film*"))
    (package.root / "data/sources/print16/.DS_Store").unlink()
    frame = next((package.root / "data/sources/print16").iterdir())
    data = frame.read_bytes()
    frame.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ArchivistError) as exc:
        transfer(package, tmp_path / "film.tar.gz")
    assert exc.value.code == "TRANSFER-CHANGED" and not list(tmp_path.glob("*film*"))
    frame.write_bytes(data)
    assert snapshot(package.root) == before


def test_deposit_adds_one_ocfl_version_per_change(package, tmp_path):
    import ocfl
    from ocfl.validator import Validator

    root = tmp_path / "ocfl"
    first = deposit(package, root)
    assert first["changed"] and first["head"] == "v1"
    objdir = Path(first["object"])
    assert Validator(check_digests=True).validate_object(str(objdir))
    assert ocfl.StorageRoot(root=str(root)).validate()

    again = deposit(package, root)
    assert not again["changed"] and again["head"] == "v1"

    describe(package)  # the change: metadata files, the record, the log and the tag files
    second = deposit(package, root)
    assert second["changed"] and second["head"] == "v2" and second["versions"] == 2
    assert Validator(check_digests=True).validate_object(str(objdir))
    stored = sorted(str(p.relative_to(objdir / "v2" / "content")) for p in (objdir / "v2" / "content").rglob("*")
                    if p.is_file())
    changed = ["bag-info.txt", "data/ro-crate-metadata.json", "data/metadata/mets.xml", "data/metadata/metadata.csv", "data/metadata/premis.xml",
               "data/metadata/rights.csv", "data/records/events.jsonl", "data/records/metadata.json",
               "manifest-sha256.txt", "manifest-sha512.txt", "tagmanifest-sha256.txt", "tagmanifest-sha512.txt"]
    assert stored == sorted(changed) and second["stored_files"] == len(changed)
    out = tmp_path / "v2"
    ocfl.Object(path=str(objdir)).extract(objdir=str(objdir), version="v2", dstdir=str(out))
    assert verify(out).problems == [] and bagit_valid(out)


def test_a_failed_deposit_leaves_the_object_and_the_package_as_they_were(package, tmp_path):
    root = tmp_path / "ocfl"
    deposit(package, root)
    describe(package)
    frame = next((package.root / "data/sources/print16").iterdir())
    data = frame.read_bytes()
    frame.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # damaged after its hash was recorded
    before_root, before_pkg = snapshot(root), snapshot(package.root)
    with pytest.raises(ArchivistError) as exc:
        deposit(package, root)
    assert exc.value.code == "DEPOSIT-MISMATCH"
    assert snapshot(root) == before_root and snapshot(package.root) == before_pkg


def test_commands_and_their_errors(package, tmp_path):
    proc = run_cli("describe", package.root, "--json", check=True)
    assert json.loads(proc.stdout)["ok"]
    proc = run_cli("transfer", package.root, tmp_path / "pkg.tgz", "--json", check=True)
    assert json.loads(proc.stdout)["files"] > 0
    proc = run_cli("deposit", package.root, "--ocfl", tmp_path / "ocfl", "--json", check=True)
    assert json.loads(proc.stdout)["head"] == "v1"
    proc = run_cli("transfer", package.root, package.root / "data" / "x.zip", "--json")
    assert proc.returncode == 2 and json.loads(proc.stdout)["error"]["code"] == "TRANSFER-INSIDE"
    proc = run_cli("deposit", package.root, "--ocfl", package.root / "data" / "ocfl", "--json")
    assert proc.returncode == 2 and json.loads(proc.stdout)["error"]["code"] == "DEPOSIT-INSIDE"

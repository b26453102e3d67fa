"""init, add, info and log through the library and the CLI."""

from __future__ import annotations

import json
import os

import bagit
import numpy as np
import pytest
from support.common import run_cli, write_shot
from support.package import snapshot

from archivist.errors import ArchivistError, InputError
from archivist.imaging import oiio
from archivist.package import Package, records
from archivist.package.layout import Layout


def test_new_package_is_a_valid_bag_1_0(tmp_path):
    pkg = Package.create(tmp_path / "p", title="Film", organization="Archive", recovery="spatial")
    assert (pkg.root / "bagit.txt").read_bytes() == b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    bag = bagit.Bag(str(pkg.root))
    bag.validate()
    assert set(bag.algorithms) == {"sha256", "sha512"}
    info = pkg.bag_info()
    for field in ("Source-Organization", "External-Identifier", "External-Description", "Bagging-Date",
                  "Bag-Software-Agent", "Payload-Oxum", "BagIt-Profile-Identifier"):
        assert info[field]
    assert info["Payload-Oxum"].endswith(".2")  # package record and event log
    assert pkg.record()["recovery"] == "spatial"
    assert not (pkg.root / ".archivist").exists()


def test_add_records_frames_with_hashes_and_scan_details(package):
    el = package.element("print16")
    assert el["role"] == "source" and el["gauge"] == "16mm"
    assert el["digital_source_type"].endswith("/positiveFilm") and el["digital_source_type_inferred"]
    assert [f["number"] for f in el["frames"]] == [1001, 1002, 1003, 1004]
    assert el["scan"]["width"] == 64 and el["scan"]["height"] == 48 and el["scan"]["pixel_type"] == "half"
    manifest = package.manifest("sha256")
    for f in el["frames"]:
        assert manifest[f["path"]] == f["sha256"]
        assert f["path"].startswith("data/sources/print16/shot.")
    assert package.element("dvd")["digital_source_type"].endswith("/digitalCapture")
    bagit.Bag(str(package.root)).validate()


def test_records_are_validated_on_read(package):
    path = package.root / Layout.element_record("print16")
    rec = json.loads(path.read_text())
    rec["role"] = "villain"
    path.write_text(json.dumps(rec))
    with pytest.raises(records.RecordError) as err:
        package.element("print16")
    assert "role" in str(err.value)


def test_event_log_is_a_hash_chain(package):
    evs = package.events()
    assert [e["command"] for e in evs] == ["init", "add", "add"]
    assert evs[0]["previous"] is None and all(e["previous"] for e in evs[1:])
    assert all(e["agent"]["name"] == "archivist" for e in evs)
    log = package.root / Layout.EVENT_LOG
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(lines[0] + lines[2])  # drop the middle event
    with pytest.raises(ArchivistError) as err:
        package.events()
    assert err.value.code == "PACKAGE-EVENT-LOG"


def test_add_only_hashes_new_files(package, tmp_path, monkeypatch):
    import archivist.package.hashing as hashing

    read = []
    real = hashing.copy_and_hash
    monkeypatch.setattr("archivist.package.transaction.copy_and_hash", lambda s, d, p=None: read.append(s) or real(s, d, p))
    write_shot(tmp_path / "neg", ext="tif", stem="neg", n=2)
    package.add_element(role="source", element="neg35", paths=[tmp_path / "neg"], description="35mm internegative")
    assert sorted(p.name for p in read) == ["neg.1001.tif", "neg.1002.tif"]
    assert package.element("neg35")["digital_source_type"].endswith("/negativeFilm")


@pytest.mark.parametrize("ext", ["exr", "png", "tif", "dpx"])
def test_each_frame_format_is_accepted(tmp_path, ext):
    write_shot(tmp_path / "f", ext=ext, n=2)
    pkg = Package.create(tmp_path / "p", title="t", organization="o")
    rec = pkg.add_element(role="source", element="e", paths=[tmp_path / "f"], description="35mm positive print")
    assert rec["scan"]["file_format"] in ("openexr", "png", "tiff", "dpx")


def test_first_frame_override_and_underscore_numbering(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    for name in ("b.png", "a.png"):
        oiio.write(folder / name, np.zeros((4, 4, 3), np.float32), pixel_type="uint8")
    pkg = Package.create(tmp_path / "p", title="t", organization="o")
    with pytest.raises(InputError) as err:
        pkg.add_element(role="reference", element="r", paths=[folder], description="telecine")
    assert err.value.code == "ADD-FRAME-NUMBER"
    rec = pkg.add_element(role="reference", element="r", paths=[folder], description="telecine", first_frame=86400)
    assert [(f["number"], f["path"].rsplit("/", 1)[1]) for f in rec["frames"]] == [(86400, "a.png"), (86401, "b.png")]


def _assert_add_fails_untouched(pkg, code, **kwargs):
    before = snapshot(pkg.root)
    with pytest.raises(ArchivistError) as err:
        pkg.add_element(**{"role": "source", "element": "bad", "description": "16mm positive print", **kwargs})
    assert err.value.code == code, str(err.value)
    assert snapshot(pkg.root) == before
    return err.value


def test_truncated_frame_stops_add_and_names_it(package, tmp_path):
    paths = write_shot(tmp_path / "t", n=3)
    data = paths[1].read_bytes()
    paths[1].write_bytes(data[: len(data) // 2])
    err = _assert_add_fails_untouched(package, "ADD-FRAME-CORRUPT", paths=[tmp_path / "t"])
    assert paths[1].name in err.message and "nothing was added" in err.message


def test_garbage_frame_stops_add(package, tmp_path):
    write_shot(tmp_path / "g", n=2)
    (tmp_path / "g" / "shot.1003.exr").write_bytes(b"not an exr at all" * 20)
    err = _assert_add_fails_untouched(package, "ADD-FRAME-CORRUPT", paths=[tmp_path / "g"])
    assert "shot.1003.exr" in err.message


def test_inconsistent_sizes_stop_add(package, tmp_path):
    write_shot(tmp_path / "m", n=2)
    write_shot(tmp_path / "m", n=1, start=1003, size=(40, 64))
    err = _assert_add_fails_untouched(package, "ADD-INCONSISTENT", paths=[tmp_path / "m"])
    assert "shot.1003.exr" in err.message


def test_inconsistent_channels_stop_add(package, tmp_path):
    write_shot(tmp_path / "c", n=2, ext="png")
    oiio.write(tmp_path / "c" / "shot.1003.png", np.zeros((48, 64, 4), np.float32), pixel_type="uint8")
    _assert_add_fails_untouched(package, "ADD-INCONSISTENT", paths=[tmp_path / "c"])


def test_existing_element_and_retired_source_type_are_refused(package, shot):
    _assert_add_fails_untouched(package, "ADD-EXISTS", paths=[shot], element="print16")
    _assert_add_fails_untouched(package, "IPTC-RETIRED", paths=[shot], source_type="softwareImage")
    _assert_add_fails_untouched(package, "ADD-SOURCE-TYPE", paths=[shot], description="mystery reel")


def test_link_hard_links_frames(tmp_path, shot):
    pkg = Package.create(tmp_path / "p", title="t", organization="o")
    rec = pkg.add_element(role="source", element="e", paths=[shot], description="16mm print", link=True)
    first = pkg.root / rec["frames"][0]["path"]
    assert os.stat(first).st_ino == os.stat(shot / "shot.1001.exr").st_ino
    assert rec["linked"] is True
    bagit.Bag(str(pkg.root)).validate()


def test_cli_init_add_info_log_json(tmp_path, shot):
    pkg = tmp_path / "pkg"
    out = run_cli("init", pkg, "--title", "Film", "--organization", "Archive", "--json", check=True)
    assert json.loads(out.stdout)["package"]["title"] == "Film"
    run_cli("add", pkg, "--role", "source", "--element", "print16", "--description", "16mm positive print",
            "--training-use", "authorised", "--authorised-by", "Archive", shot, check=True)
    info = json.loads(run_cli("info", pkg, "--json", check=True).stdout)
    assert info["elements"][0]["frames"] == 4 and info["elements"][0]["training_use"] == "authorised"
    human = run_cli("info", pkg, check=True).stdout
    assert "print16" in human and "16mm positive print" in human
    log = json.loads(run_cli("log", pkg, "--json", check=True).stdout)
    assert [e["command"] for e in log["events"]] == ["init", "add"]


def test_cli_errors_have_codes_and_exit_2(tmp_path, shot):
    pkg = tmp_path / "pkg"
    run_cli("init", pkg, "--title", "Film", "--organization", "Archive", check=True)
    again = run_cli("init", pkg, "--title", "Film", "--organization", "Archive", "--json")
    assert again.returncode == 2 and json.loads(again.stdout)["error"]["code"] == "PACKAGE-EXISTS"
    bad = run_cli("add", pkg, "--role", "source", "--element", "../x", "--description", "16mm print", shot)
    assert bad.returncode == 2 and "PATH-005" in bad.stderr
    notbag = run_cli("info", tmp_path)
    assert notbag.returncode == 2 and "PACKAGE-NOT-A-BAG" in notbag.stderr
    usage = run_cli("add", pkg, "--role", "wizard", "--element", "x", "--description", "d", shot)
    assert usage.returncode == 2

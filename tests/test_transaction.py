"""Crash consistency, recovery, locking and hostile paths on write."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import unicodedata

import bagit
import numpy as np
import pytest
from support.common import run_cli, write_shot
from support.package import snapshot

from archivist.errors import ArchivistError, LockedError, UnsafePathError
from archivist.imaging import oiio
from archivist.package.locking import WriteLock, writer_active
from archivist.package.model import Package, recover_package
from archivist.package.transaction import FAULT_ENV

ADD_ARGS = ("--role", "reference", "--element", "dvd", "--description", "PAL DVD 2003")


@pytest.fixture
def base(tmp_path, shot):
    pkg = Package.create(tmp_path / "pkg", title="Film", organization="Archive")
    pkg.add_element(role="source", element="print16", paths=[shot], description="16mm positive print")
    write_shot(tmp_path / "ref", ext="png", stem="dvd", start=1, n=3)
    return pkg


def _valid_bag(root) -> bool:
    try:
        bagit.Bag(str(root)).validate()
        return True
    except bagit.BagError:
        return False


@pytest.mark.parametrize("point", ["staged", "applying", "payload-moved", "tags-moved"])
def test_killed_add_rolls_back_to_exactly_the_old_package(base, tmp_path, point):
    before = snapshot(base.root)
    proc = run_cli("add", base.root, *ADD_ARGS, tmp_path / "ref", env={FAULT_ENV: point})
    assert proc.returncode == -signal.SIGKILL
    assert base.interrupted()
    # The next writer refuses until recovery; readers are told.
    again = run_cli("add", base.root, *ADD_ARGS, tmp_path / "ref")
    assert again.returncode == 2 and "PACKAGE-INTERRUPTED" in again.stderr and "archivist recover" in again.stderr
    assert "interrupted" in run_cli("info", base.root).stdout.lower()
    out = run_cli("recover", base.root, "--json", check=True)
    assert '"state"' in out.stdout
    assert snapshot(base.root) == before
    assert _valid_bag(base.root)
    # And the same command now completes.
    run_cli("add", base.root, *ADD_ARGS, tmp_path / "ref", check=True)
    assert len(base.element("dvd")["frames"]) == 3 and _valid_bag(base.root)


def test_killed_after_commit_point_keeps_the_new_package(base, tmp_path):
    proc = run_cli("add", base.root, *ADD_ARGS, tmp_path / "ref", env={FAULT_ENV: "committed"})
    assert proc.returncode == -signal.SIGKILL
    assert run_cli("recover", base.root, "--json", check=True).stdout.count("committed") >= 1
    assert not base.interrupted()
    assert [e["id"] for e in base.elements()] == ["dvd", "print16"]
    assert _valid_bag(base.root)


def test_killed_init_recovers_to_an_empty_directory(tmp_path):
    target = tmp_path / "new"
    proc = run_cli("init", target, "--title", "t", "--organization", "o", env={FAULT_ENV: "payload-moved"})
    assert proc.returncode == -signal.SIGKILL
    recover_package(target)
    assert list(target.iterdir()) == []
    run_cli("init", target, "--title", "t", "--organization", "o", check=True)
    assert _valid_bag(target)


@pytest.mark.slow
def test_sigkill_at_an_arbitrary_moment_loses_nothing(base, tmp_path):
    big = tmp_path / "big"
    write_shot(big, n=40, size=(256, 320), ext="tif", stem="ref", start=1)
    before = snapshot(base.root)
    proc = subprocess.Popen([sys.executable, "-m", "archivist", "add", str(base.root), *ADD_ARGS, str(big)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = base.root / ".archivist" / "staging"
    deadline = time.time() + 60
    while time.time() < deadline and not (staging.exists() and any(staging.rglob("*.tif"))):
        if proc.poll() is not None:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    recover_package(base.root)
    after = snapshot(base.root)
    if after != before:  # the kill came after the commit point: the add must be whole
        assert len(base.element("dvd")["frames"]) == 40
    assert _valid_bag(base.root)


def test_second_writer_is_stopped_with_a_clear_message(base, tmp_path):
    before = snapshot(base.root)
    lock = WriteLock(base.root, "train").acquire()
    try:
        assert "train" in writer_active(base.root)
        proc = run_cli("add", base.root, *ADD_ARGS, tmp_path / "ref", "--json")
        assert proc.returncode == 2
        assert "PACKAGE-LOCKED" in proc.stdout and "another archivist command is writing" in proc.stderr
        with pytest.raises(LockedError):
            WriteLock(base.root, "add").acquire()
    finally:
        lock.release()
    assert writer_active(base.root) is None
    assert snapshot(base.root) == before


def test_lock_of_a_killed_writer_does_not_block(base, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from archivist.package.locking import WriteLock; "
        f"WriteLock(__import__('pathlib').Path({str(base.root)!r}), 'x').acquire(); print('held', flush=True); "
        "time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert writer_active(base.root)
    holder.kill()
    holder.wait()
    assert writer_active(base.root) is None
    run_cli("add", base.root, *ADD_ARGS, tmp_path / "ref", check=True)


def test_symlinked_directory_inside_the_package_is_refused(base, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (base.root / "data" / "references").symlink_to(outside)
    before = snapshot(base.root)
    with pytest.raises(UnsafePathError) as err:
        base.add_element(role="reference", element="dvd", paths=[tmp_path / "ref"], description="PAL DVD 2003")
    assert err.value.code == "PATH-006"
    assert list(outside.iterdir()) == [] and snapshot(base.root) == before


def test_names_that_collide_after_nfc_are_refused(base, tmp_path):
    folder = tmp_path / "nfc"
    folder.mkdir()
    composed = unicodedata.normalize("NFC", "caf\u00e9.0001.png")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    for name in (composed, decomposed):
        oiio.write(folder / name, np.zeros((8, 8, 3), np.float32), pixel_type="uint8")
    before = snapshot(base.root)
    with pytest.raises(ArchivistError) as err:
        base.add_element(role="reference", element="dvd", paths=[folder], description="telecine")
    assert err.value.code == "ADD-DUPLICATE-NAME"
    assert snapshot(base.root) == before


def test_untracked_file_in_the_way_is_refused(base, tmp_path):
    stray = base.root / "data" / "references" / "dvd" / "dvd.0001.png"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"x")
    with pytest.raises(ArchivistError) as err:
        base.add_element(role="reference", element="dvd", paths=[tmp_path / "ref"], description="PAL DVD 2003")
    assert err.value.code == "PACKAGE-UNTRACKED"
    assert stray.read_bytes() == b"x"


def test_percent_and_newline_in_names_are_encoded_in_manifests(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    for name in ("100%.0001.png", "line\nbreak.0002.png"):
        oiio.write(folder / name, np.zeros((8, 8, 3), np.float32), pixel_type="uint8")
    pkg = Package.create(tmp_path / "p", title="t", organization="o")
    pkg.add_element(role="reference", element="r", paths=[folder], description="telecine")
    text = (pkg.root / "manifest-sha256.txt").read_text()
    assert "100%25.0001.png" in text and "line%0Abreak.0002.png" in text
    manifest = pkg.manifest("sha256")
    assert "data/references/r/line\nbreak.0002.png" in manifest
    assert (pkg.root / "data/references/r/100%.0001.png").exists()


def _fake_seal(root):
    seal = root / "tagmanifest-sha256.c2pa"
    seal.write_bytes(b"seal over the old tag manifest")
    return seal


def test_a_commit_drops_the_seal_of_the_state_it_replaces(base, tmp_path):
    seal = _fake_seal(base.root)
    base.add_element(role="reference", element="dvd", paths=[tmp_path / "ref"], description="PAL DVD 2003")
    assert not seal.exists()
    assert _valid_bag(base.root)


def test_a_rolled_back_commit_restores_the_seal(base, tmp_path):
    seal = _fake_seal(base.root)
    before = snapshot(base.root)
    proc = run_cli("add", base.root, *ADD_ARGS, tmp_path / "ref", env={FAULT_ENV: "tags-moved"})
    assert proc.returncode == -signal.SIGKILL and not seal.exists()
    recover_package(base.root)
    assert snapshot(base.root) == before and seal.exists()

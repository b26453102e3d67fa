"""Pieces every stage shares, each with one home: the wait for the write lock, frame ranges, Y'CbCr, rights."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from support.package import snapshot

from archivist.errors import InputError, LockedError
from archivist.imaging import colour
from archivist.package import ranges
from archivist.package import rights as training_rights
from archivist.package.locking import WriteLock, when_unlocked


# -- the write lock ---------------------------------------------------------------------------------
def test_a_commit_waits_for_another_writer_then_goes_ahead(package):
    holder = WriteLock(package.root, "add").acquire()  # another command, holding the lock
    threading.Timer(0.6, holder.release).start()
    t0 = time.monotonic()
    with when_unlocked(lambda: package.transaction("infer"), wait=10) as txn:
        waited = time.monotonic() - t0
        txn.write_bytes("data/records/notes.txt", b"written after the wait\n")
        txn.commit()
    assert waited >= 0.5
    assert (package.root / "data/records/notes.txt").read_bytes() == b"written after the wait\n"
    assert not (package.root / ".archivist").exists()  # the lock went with the transaction


def test_the_wait_ends_with_the_lock_error(package):
    holder = WriteLock(package.root, "add").acquire()
    try:
        before = snapshot(package.root)
        t0 = time.monotonic()
        with pytest.raises(LockedError) as exc:
            with when_unlocked(lambda: package.transaction("infer"), wait=0.5, delay=0.1):
                pytest.fail("entered a transaction another command holds")
        assert exc.value.code == "PACKAGE-LOCKED"
        assert 0.5 <= time.monotonic() - t0 < 5
        assert snapshot(package.root) == before
    finally:
        holder.release()


def test_an_error_inside_rolls_the_transaction_back(package):
    before = snapshot(package.root)
    with pytest.raises(RuntimeError, match="half-way"):
        with when_unlocked(lambda: package.transaction("infer"), wait=1) as txn:
            txn.write_bytes("data/records/notes.txt", b"never committed\n")
            raise RuntimeError("half-way")
    assert snapshot(package.root) == before
    assert not (package.root / ".archivist").exists()
    with when_unlocked(lambda: package.transaction("infer"), wait=0) as txn:  # and the lock is free again
        assert txn is not None


# -- frame ranges ------------------------------------------------------------------------------------
@pytest.mark.parametrize("numbers", [[1001], [1001, 1002, 1003], [1, 3, 5], [7, 8, 10, 11, 12, 20], list(range(50))])
def test_ranges_printed_are_ranges_parsed(numbers):
    text = ranges.show(numbers)
    back = sorted(n for lo, hi in ranges.parse(text) for n in range(lo, hi + 1))
    assert back == sorted(numbers)


@pytest.mark.parametrize("text", ["1001-", "a", "10-5", "1001:1002", ""])
def test_bad_ranges_are_refused_with_the_callers_code(text):
    with pytest.raises(InputError) as exc:
        ranges.parse(text, "INFER-FRAMES")
    assert exc.value.code == "INFER-FRAMES"


# -- Y'CbCr ------------------------------------------------------------------------------------------
def test_the_three_forms_of_ycbcr_agree():
    rng = np.random.default_rng(3)
    rgb = rng.random((5, 6, 3), dtype=np.float32)
    for kr, kb in ((0.2126, 0.0722), (0.299, 0.114)):
        ref = colour.rgb_to_ycbcr(rgb.astype(np.float64), kr, kb)
        planes = colour.rgb_to_planar(rgb, kr, kb)
        assert planes.dtype == np.float32 and planes.shape == (3, 5, 6)
        assert np.abs(planes - ref.transpose(2, 0, 1)).max() < 1e-6
        back = colour.planar_to_rgb(planes, kr, kb)
        assert back.shape == (5, 6, 3) and np.abs(back - rgb).max() < 1e-6
        t = colour.ycbcr_to_rgb_tensor(torch.from_numpy(planes[None].copy()), kr, kb)
        assert np.abs(t[0].numpy().transpose(1, 2, 0) - colour.ycbcr_to_rgb(ref, kr, kb)).max() < 1e-6


def test_ycbcr_shapes_are_checked():
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        colour.planar_to_rgb(np.zeros((4, 4, 3), np.float32), 0.2126, 0.0722)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        colour.rgb_to_planar(np.zeros((4, 4, 4), np.float32), 0.2126, 0.0722)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        colour.ycbcr_to_rgb_tensor(torch.zeros(3, 4, 4), 0.2126, 0.0722)


# -- training rights ------------------------------------------------------------------------------------
def test_the_training_rights_policy():
    ok = {"element": "print16", "role": "source", "training_use": "authorised"}
    unknown = {"element": "dvd", "role": "reference", "training_use": "unknown"}
    refused = {"element": "neg", "role": "source", "training_use": "not-authorised"}
    assert training_rights.check([ok], "TRAIN-RIGHTS", "nothing was trained") == []
    assert training_rights.check([ok, unknown], "TRAIN-RIGHTS", "nothing was trained") == [
        "the reference element 'dvd' has no recorded authorisation for training (training use unknown)"]
    with pytest.raises(InputError) as exc:
        training_rights.check([ok, unknown, refused], "DATASET-RIGHTS", "no dataset was built")
    assert exc.value.code == "DATASET-RIGHTS" and "neg" in exc.value.message and "print16" not in exc.value.message
    assert set(training_rights.TRAINING_USE) == {"authorised", "unknown", "not-authorised"}

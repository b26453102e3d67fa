"""Reading datasets back: the record, its identity, and the arrays a trainer uses.

Every file is checked against the SHA-256 the record names before it is
used, so a model is never trained on frames that differ from the ones the
dataset describes.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from archivist.dataset.preprocess import Crop, apply_crop
from archivist.errors import ArchivistError, InputError, PackageError
from archivist.imaging import oiio
from archivist.package import kinds, records
from archivist.package.layout import Layout

LABEL = kinds.DATASET.label
KIND = kinds.DATASET.folder
_AUTO_ID = re.compile(r"^ds-([0-9]+)$")


def dataset_ids(pkg) -> list[str]:
    """Ids of the datasets in ``pkg``, in name order."""
    return pkg.record_ids(KIND)


def next_id(pkg) -> str:
    """``ds-001``, ``ds-002``, ...: one more than the highest automatic id so far."""
    used = [int(m.group(1)) for i in dataset_ids(pkg) if (m := _AUTO_ID.match(i))]
    return f"ds-{max(used, default=0) + 1:03d}"


def record_path(dataset_id: str) -> str:
    try:
        return Layout.record(KIND, dataset_id)
    except ArchivistError as exc:
        raise InputError("DATASET-ID", f"dataset id {dataset_id!r} is not usable: {exc.message}") from None


def load(pkg, dataset_id: str | None = None) -> tuple[dict, str]:
    """The validated dataset record and the SHA-256 of its bytes (its identity downstream).

    ``dataset_id=None`` takes the latest dataset (by creation time, then id).
    Raises ``InputError("DATASET-MISSING")`` when there is none, and
    ``InputError("DATASET-HASH")`` when the record differs from the manifest.
    """
    if dataset_id is None:
        ids = dataset_ids(pkg)
        if not ids:
            raise InputError("DATASET-MISSING", f"{pkg.root} has no dataset yet", hint="run 'archivist dataset' first")
        loaded = [_load_one(pkg, i) for i in ids]
        return max(loaded, key=lambda rs: (rs[0]["created"], _id_key(rs[0]["id"])))
    return _load_one(pkg, dataset_id)


def _id_key(ident: str) -> tuple:
    m = _AUTO_ID.match(ident)
    return (1, int(m.group(1)), ident) if m else (0, 0, ident)


def _load_one(pkg, dataset_id: str) -> tuple[dict, str]:
    rel = record_path(dataset_id)
    try:
        data = pkg.layout.path(rel).read_bytes()
    except FileNotFoundError:
        known = ", ".join(dataset_ids(pkg)) or "none"
        raise InputError("DATASET-MISSING", f"no dataset {dataset_id!r} in {pkg.root} (datasets: {known})") from None
    sha = hashlib.sha256(data).hexdigest()
    listed = pkg.manifest("sha256").get(rel)
    if listed != sha:
        raise InputError("DATASET-HASH", f"{rel} does not match the package manifest"
                         + ("" if listed else " (it is not in the manifest)"),
                         hint="run 'archivist verify' to see what changed")
    try:
        record = records.loads(data, LABEL, where=rel)
    except records.RecordError as exc:
        raise PackageError("DATASET-RECORD", exc.message) from None
    return record, sha


def pair_arrays(pkg, record: dict, entry: dict) -> tuple[np.ndarray, np.ndarray]:
    """(source crop, aligned reference) for one pair or held-out entry, float32 (H, W, 3) R'G'B'.

    Both files are hashed and compared with the record first; a mismatch
    raises ``InputError("DATASET-HASH")`` naming the file. The values are
    as stored (the working R'G'B'); convert with ``archivist.imaging.colour`` and
    the record's ``colour`` coefficients for Y'CbCr.
    """
    src_path = pkg.verified_path(entry["source"], "DATASET-HASH", "source frame")
    ref_path = pkg.verified_path(entry["aligned_reference"], "DATASET-HASH", "aligned reference")
    from archivist.imaging import readback

    read_as = readback.read_as_of(pkg, entry["source"]["element"])  # a derived element's outputs, read back
    source = apply_crop(readback.read(src_path, read_as), Crop(**record["crop"]))
    aligned = oiio.read(ref_path, channels=3)
    if source.shape != aligned.shape or source.shape[2] != 3:
        raise InputError("DATASET-SHAPE", f"{entry['aligned_reference']['path']} is {aligned.shape[1]}x{aligned.shape[0]}"
                         f"x{aligned.shape[2]} but the cropped source is {source.shape[1]}x{source.shape[0]}x{source.shape[2]}")
    return np.ascontiguousarray(source, dtype=np.float32), np.ascontiguousarray(aligned, dtype=np.float32)

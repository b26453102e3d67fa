"""Datasets: the record of exactly what a model learns from.

A dataset pairs frames of a source element (the scan being restored) with
frames of a reference element (the picture with the right colour or
detail), aligns each reference frame onto its source frame, applies one
crop to both, median-filters the reference, and materialises the result as
float EXRs inside the package, so training never redoes any of it. The
record (``data/records/datasets/<id>.json``, schema ``archivist/dataset/1``)
names every frame by path and SHA-256; the SHA-256 of the record's own
bytes is the dataset's identity downstream.

Library API:

* ``build(pkg, *, source, reference, ...) -> record``
* ``load(pkg, dataset_id=None) -> (record, sha256)``
* ``pair_arrays(pkg, record, entry) -> (source crop, aligned reference)``
"""

from archivist.dataset.build import ALIGN_MODES, DEFAULT_MEDIAN, DEFAULT_THRESHOLD, build
from archivist.dataset.selection import parse_frames, parse_pairs, pick_even, pick_holdout
from archivist.dataset.store import LABEL, dataset_ids, load, next_id, pair_arrays

__all__ = ["ALIGN_MODES", "DEFAULT_MEDIAN", "DEFAULT_THRESHOLD", "LABEL", "build", "dataset_ids", "load", "next_id",
           "pair_arrays", "parse_frames", "parse_pairs", "pick_even", "pick_holdout"]

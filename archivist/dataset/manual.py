"""Manual alignment: transforms a person measured, read from a JSON document.

The document gives one transform for every frame, per-frame transforms, or
both (per-frame ones win)::

    {"matrix": [[1.02, 0.0, -12.5], [0.0, 1.02, -9.0]]}
    {"scale": 1.02, "rotation_deg": 0.4, "translation": [-12.5, -9.0]}
    {"scale": 1.0, "rotation_deg": 0.0, "translation": [0, 0],
     "frames": {"1001": {"matrix": [[1, 0, 2.5], [0, 1, 0]]}}}

Transforms use the dataset's convention (``archivist.dataset.align``): reference
(stretched onto the source grid) to source pixel coordinates, origin at the
top-left corner, y down. A pair's ``transform`` from an earlier dataset
record is accepted as it is, so a good alignment can be reused.
"""

from __future__ import annotations

from archivist.dataset.align import Transform
from archivist.errors import InputError

_KEYS = {"matrix", "scale", "rotation_deg", "translation"}


def one(spec, where: str = "transform") -> Transform:
    """One transform from ``{"matrix": ...}`` or ``{"scale", "rotation_deg", "translation"}``.

    >>> one({"scale": 1.0, "rotation_deg": 0.0, "translation": [2, 3]}).translation
    (2.0, 3.0)
    >>> one({"matrix": [[1, 0], [0, 1]]})
    Traceback (most recent call last):
    ...
    archivist.errors.InputError: DATASET-TRANSFORM: transform: a transform matrix must be 2x3 finite numbers [[a, b, tx], [c, d, ty]]
    """
    if not isinstance(spec, dict):
        raise InputError("DATASET-TRANSFORM", f"{where} must be a JSON object")
    try:
        if "matrix" in spec:
            return Transform.from_array(spec["matrix"])
        if {"scale", "translation"} <= spec.keys():
            scale = float(spec["scale"])
            if not scale > 0:
                raise ValueError("scale must be positive")
            return Transform.similarity(scale, float(spec.get("rotation_deg", 0.0)), spec["translation"])
    except (TypeError, ValueError) as exc:
        raise InputError("DATASET-TRANSFORM", f"{where}: {exc}") from None
    raise InputError("DATASET-TRANSFORM", f"{where} needs \"matrix\" or \"scale\", \"rotation_deg\" and \"translation\"")


def per_frame(spec, numbers: list[int]) -> dict[int, Transform]:
    """The transform for each source frame number in ``numbers``.

    >>> t = per_frame({"matrix": [[1, 0, 1], [0, 1, 0]], "frames": {"7": {"matrix": [[1, 0, 2], [0, 1, 0]]}}}, [6, 7])
    >>> t[6].translation, t[7].translation
    ((1.0, 0.0), (2.0, 0.0))
    """
    if not isinstance(spec, dict):
        raise InputError("DATASET-TRANSFORM", "the transform file must hold a JSON object")
    default = one(spec) if spec.keys() & _KEYS else None
    frames = spec.get("frames", {})
    if not isinstance(frames, dict):
        raise InputError("DATASET-TRANSFORM", "\"frames\" must map source frame numbers to transforms")
    given: dict[int, Transform] = {}
    for key, value in frames.items():
        try:
            number = int(key)
        except ValueError:
            raise InputError("DATASET-TRANSFORM", f"\"frames\" key {key!r} is not a frame number") from None
        given[number] = one(value, f"transform for frame {number}")
    out = {}
    for n in numbers:
        t = given.get(n, default)
        if t is None:
            raise InputError("DATASET-TRANSFORM", f"the transform file has nothing for source frame {n}",
                             hint="add it under \"frames\" or give a transform for every frame at the top level")
        out[n] = t
    return out

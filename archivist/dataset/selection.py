"""Which frames a dataset uses: training pairs, held-out preview frames, and their reference frames.

Everything here is a pure function of frame numbers, so the rules are easy
to state, test and repeat:

* ``pick_even(numbers, n)``: ``n`` source frames spread evenly *by position*
  in the element (gaps in the numbering do not matter), both ends included:
  position ``i`` of ``n`` is ``round(i * (count - 1) / (n - 1))``, halves
  rounded up; ``n = 1`` takes the middle frame.
* ``pick_holdout(numbers, training, k)``: ``k`` frames never trained on,
  each midway (by position) between two neighbouring training frames, the
  widest gaps first; when the gaps run out, the untrained frames nearest to
  the middle of the training span.
* ``reference_numbers(...)``: the reference frame for each source frame. With
  an offset, ``reference = source + offset``. Without one, the same number
  when the reference element has every number asked for; otherwise the frame
  at the same position when both elements have the same number of frames
  (a conformed reference that is numbered differently); otherwise nothing is
  guessed and the caller is asked for ``--offset`` or ``--pairs``.
"""

from __future__ import annotations

from dataclasses import dataclass

from archivist.errors import InputError

DEFAULT_HOLDOUT = 3  # held-out frames when none are named: QC judges on more than one frame


@dataclass(frozen=True)
class Plan:
    pairs: list[tuple[int, int]]      # (source number, reference number), trained on
    holdout: list[tuple[int, int]]    # held out for previews, never trained on
    selection: dict                   # how they were chosen, for the record
    warnings: list[str]


# -- parsing -----------------------------------------------------------------------

def parse_pairs(text: str) -> list[tuple[int, int]]:
    """``1001:1,1040:40`` -> [(1001, 1), (1040, 40)].

    >>> parse_pairs("1001:1, 1040:40")
    [(1001, 1), (1040, 40)]
    >>> parse_pairs("1001")
    Traceback (most recent call last):
    ...
    archivist.errors.InputError: DATASET-PAIRS: pair '1001' must be SOURCE:REFERENCE frame numbers, e.g. 1001:1
    """
    out = []
    for item in _items(text):
        a, sep, b = item.partition(":")
        try:
            if not sep:
                raise ValueError
            out.append((int(a), int(b)))
        except ValueError:
            raise InputError("DATASET-PAIRS", f"pair {item!r} must be SOURCE:REFERENCE frame numbers, e.g. 1001:1") from None
    return out


def parse_frames(text: str) -> list[int | tuple[int, int]]:
    """``1010,1020:20`` -> [1010, (1020, 20)]: source numbers, or explicit source:reference.

    >>> parse_frames("1010, 1020:20")
    [1010, (1020, 20)]
    """
    out: list[int | tuple[int, int]] = []
    for item in _items(text):
        if ":" in item:
            out.extend(parse_pairs(item))
            continue
        try:
            out.append(int(item))
        except ValueError:
            raise InputError("DATASET-FRAMES", f"frame {item!r} is not a frame number") from None
    return out


def _items(text: str) -> list[str]:
    items = [t.strip() for t in str(text).split(",")]
    if not any(items):
        raise InputError("DATASET-PAIRS", "an empty list of frames")
    return [t for t in items if t]


# -- picking ---------------------------------------------------------------------------------

def pick_even(numbers: list[int], n: int) -> list[int]:
    """``n`` of ``numbers`` spread evenly by position, both ends included.

    >>> pick_even(list(range(20, 61)), 4)   # the guide's shot 20-60
    [20, 33, 47, 60]
    >>> pick_even([1001, 1002, 1003, 1004], 3)
    [1001, 1003, 1004]
    >>> pick_even([5, 9, 30], 1)
    [9]
    """
    numbers = sorted(numbers)
    m = len(numbers)
    if n < 1:
        raise InputError("DATASET-AUTO", "--auto needs at least 1 pair")
    if n > m:
        raise InputError("DATASET-AUTO", f"--auto {n} asks for more pairs than the {m} source frames")
    if n == 1:
        return [numbers[(m - 1) // 2]]
    # round(i (m-1) / (n-1)) with halves up, in integers so it is exact.
    return [numbers[(2 * i * (m - 1) + (n - 1)) // (2 * (n - 1))] for i in range(n)]


def pick_holdout(numbers: list[int], training: list[int], k: int) -> list[int]:
    """``k`` untrained frames: midway between training frames (widest gaps first), then nearest the middle.

    >>> pick_holdout([1001, 1002, 1003, 1004], [1001, 1003, 1004], 1)
    [1002]
    >>> pick_holdout(list(range(1, 11)), [1, 4, 10], 2)
    [7, 2]
    >>> pick_holdout(list(range(1, 9)), [1, 2, 3, 4], 1)
    [5]
    """
    numbers = sorted(numbers)
    pos = {n: i for i, n in enumerate(numbers)}
    trained = sorted(pos[t] for t in set(training))
    gaps = sorted(((b - a, a, b) for a, b in zip(trained, trained[1:]) if b - a >= 2), key=lambda g: (-g[0], g[1]))
    chosen = [(a + b) // 2 for _, a, b in gaps]
    centre = (trained[0] + trained[-1]) / 2.0
    rest = sorted((i for i in range(len(numbers)) if i not in set(trained) and i not in set(chosen)),
                  key=lambda i: (abs(i - centre), i))
    return [numbers[i] for i in (chosen + rest)[:k]]


def reference_numbers(sources: list[int], source_all: list[int], reference_all: list[int],
                      offset: int | None) -> tuple[list[int], str]:
    """The reference frame number for each source number, and the rule used.

    >>> reference_numbers([1001, 1003], [1001, 1002, 1003], [1, 2, 3], None)
    ([1, 3], 'position')
    >>> reference_numbers([5, 7], [5, 6, 7], [5, 6, 7, 8], None)
    ([5, 7], 'same-number')
    >>> reference_numbers([1001], [1001], [1, 2], -1000)
    ([1], 'offset')
    """
    if offset is not None:
        return [s + offset for s in sources], "offset"
    refs = set(reference_all)
    if all(s in refs for s in sources):
        return list(sources), "same-number"
    if len(source_all) == len(reference_all):
        src_sorted, ref_sorted = sorted(source_all), sorted(reference_all)
        pos = {n: i for i, n in enumerate(src_sorted)}
        return [ref_sorted[pos[s]] for s in sources], "position"
    raise InputError("DATASET-PAIRING", f"cannot tell which reference frame goes with source frame {sources[0]}: the "
                     f"reference has no frame {sources[0]} and the elements differ in length "
                     f"({len(source_all)} source frames, {len(reference_all)} reference frames)",
                     hint="give --offset N (reference = source + N) or explicit --pairs SOURCE:REFERENCE")


# -- the whole plan --------------------------------------------------------------------------------

def plan(source_all: list[int], reference_all: list[int], *, pairs: list[tuple[int, int]] | None = None,
         frames: list[int] | None = None, auto: int | None = None, offset: int | None = None,
         preview_frames: list[int | tuple[int, int]] | None = None, auto_preview: int | None = None,
         scope: list[int] | None = None) -> Plan:
    """Decide every pair and held-out frame; refuse what does not exist or overlaps.

    ``scope`` (the source numbers of a shot or scene) limits where pairs and held-out frames are
    picked and where given ones may lie; reference numbers still follow the whole elements.

    >>> p = plan([1001, 1002, 1003, 1004], [1, 2, 3, 4], auto=3)
    >>> p.pairs, p.holdout, p.selection["reference_rule"]
    ([(1001, 1), (1003, 3), (1004, 4)], [(1002, 2)], 'position')
    """
    chosen = [x is not None for x in (pairs, frames, auto)]
    if sum(chosen) != 1:
        raise InputError("DATASET-PAIRS", "choose the training frames one way: --pairs, --frames or --auto N",
                         hint="e.g. --auto 4 picks 4 frames spread over the shot, ends included")
    if pairs is not None and offset is not None:
        raise InputError("DATASET-PAIRS", "--offset does not apply to explicit --pairs (they name both frames)")
    if preview_frames is not None and auto_preview is not None:
        raise InputError("DATASET-PREVIEW", "give --preview-frames or --auto-preview, not both")
    warnings: list[str] = []
    selection: dict = {}
    pickable = sorted(scope) if scope is not None else source_all

    if pairs is not None:
        train = list(pairs)
        selection.update(pairs_rule="explicit", reference_rule="explicit")
        offsets = {r - s for s, r in train}
        # Held-out frames follow the pairs' offset when they all share one.
        preview_offset = offsets.pop() if len(offsets) == 1 else None
    else:
        if frames is not None:
            src = list(frames)
            selection["pairs_rule"] = "frames"
        else:
            src = pick_even(pickable, auto)
            selection.update(pairs_rule="auto", auto_count=auto)
        refs, rule = reference_numbers(src, source_all, reference_all, offset)
        train = list(zip(src, refs))
        selection["reference_rule"] = rule
        if offset is not None:
            selection["offset"] = offset
        preview_offset = offset

    seen: set[int] = set()
    for s, _ in train:
        if s in seen:
            raise InputError("DATASET-PAIRS", f"source frame {s} is paired twice")
        seen.add(s)
    _check_exist(train, source_all, reference_all, "pair")
    _check_scope(train, scope)

    if preview_frames is not None:
        holdout = []
        plain = [f for f in preview_frames if not isinstance(f, tuple)]
        plain_refs = iter(_holdout_refs(plain, source_all, reference_all, preview_offset, selection) if plain else [])
        for f in preview_frames:
            holdout.append(f if isinstance(f, tuple) else (f, next(plain_refs)))
        selection["holdout_rule"] = "explicit" if holdout else "none"
    else:
        k = DEFAULT_HOLDOUT if auto_preview is None else auto_preview
        if k < 0:
            raise InputError("DATASET-PREVIEW", "--auto-preview must be 0 or more")
        picked = pick_holdout(pickable, [s for s, _ in train], k) if k else []
        if len(picked) < k and auto_preview is not None:
            raise InputError("DATASET-PREVIEW", f"--auto-preview {k}: only {len(picked)} source frames are not trained on")
        refs = _holdout_refs(picked, source_all, reference_all, preview_offset, selection) if picked else []
        holdout = list(zip(picked, refs))
        selection["holdout_rule"] = "midway" if holdout else "none"
    if not holdout:
        warnings.append("no held-out preview frame: generalisation cannot be judged during training")
    overlap = sorted({s for s, _ in holdout} & seen)
    if overlap:
        raise InputError("DATASET-PREVIEW", f"held-out preview frame {overlap[0]} is also a training pair; "
                         "a preview frame must never be trained on")
    if len({s for s, _ in holdout}) != len(holdout):
        raise InputError("DATASET-PREVIEW", "a held-out preview frame is named twice")
    _check_exist(holdout, source_all, reference_all, "held-out preview frame")
    _check_scope(holdout, scope)
    return Plan(train, holdout, selection, warnings)


def _check_scope(pairs, scope) -> None:
    if scope is None:
        return
    outside = sorted({s for s, _ in pairs} - set(scope))
    if outside:
        raise InputError("DATASET-SCOPE", f"source frame {outside[0]} is outside the scope ({_span(list(scope))}); a "
                         "scoped dataset trains and holds out only its own frames")


def _holdout_refs(numbers, source_all, reference_all, offset, selection) -> list[int]:
    refs, rule = reference_numbers(numbers, source_all, reference_all, offset)
    if selection["reference_rule"] == "explicit":
        selection["holdout_reference_rule"] = rule
    return refs


def _check_exist(pairs, source_all, reference_all, what: str) -> None:
    src, ref = set(source_all), set(reference_all)
    missing = [f"source frame {s}" for s, _ in pairs if s not in src]
    missing += [f"reference frame {r} (for source frame {s})" for s, r in pairs if r not in ref]
    if missing:
        raise InputError("DATASET-FRAME", f"{what} frames do not exist in the package: " + ", ".join(missing[:10])
                         + (" ..." if len(missing) > 10 else ""),
                         hint=f"the source has frames {_span(source_all)}, the reference {_span(reference_all)}")


def _span(numbers: list[int]) -> str:
    numbers = sorted(numbers)
    return f"{numbers[0]}-{numbers[-1]} ({len(numbers)} frames)" if numbers else "none"

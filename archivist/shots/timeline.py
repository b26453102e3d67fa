"""Reading shot lists: an EDL (CMX 3600), an OpenTimelineIO file or a CSV of frame ranges.

Editorial lists are read with OpenTimelineIO (the CMX 3600 reader is the
``otio-cmx3600-adapter`` plugin). A timeline speaks in timecode; an element
in frame numbers. The mapping is one subtraction, stated in every shot
record (``origin.timecode``) so it can be checked by hand:

    frame = element_first_frame + (in - start), counted in frames at ``rate``

where ``in`` is the clip's in point on the chosen side (``record``: where the
clip sits in the edited programme, the default; ``source``: the timecode of
the material the clip was cut from), ``start`` is the timecode of the
element's first frame (default: the earliest in point of the list on that
side) and the out point is exclusive, as in an EDL. A CSV names frame
numbers directly and needs no mapping.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archivist.errors import InputError

FORMATS = ("edl", "otio", "csv")
SIDES = ("record", "source")
MAX_LIST_BYTES = 16 << 20  # far beyond any real shot list
_SUFFIX = {".edl": "edl", ".otio": "otio", ".csv": "csv"}
_TRUE = {"1", "true", "yes", "y", "source"}
_FALSE = {"", "0", "false", "no", "n"}


@dataclass
class ShotSpec:
    """One shot as a list gives it, before it is checked against an element."""

    name: str | None
    first: int
    last: int
    event: int | None = None
    clip: str | None = None
    scene: str | None = None
    description: str | None = None
    leave_as_source: bool = False
    timecode: dict | None = None


@dataclass
class ShotList:
    kind: str  # edl, otio, csv
    file: dict  # {"name", "sha256"}
    shots: list[ShotSpec] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def guess_format(path: Path, given: str | None) -> str:
    """The list's format: as given, else from the file name's suffix.

    >>> guess_format(Path("reel1.EDL"), None), guess_format(Path("x.txt"), "csv")
    ('edl', 'csv')
    """
    if given:
        if given not in FORMATS:
            raise InputError("SHOTS-FORMAT", f"--format must be one of {', '.join(FORMATS)}")
        return given
    kind = _SUFFIX.get(path.suffix.lower())
    if kind is None:
        raise InputError("SHOTS-FORMAT", f"{path.name}: cannot tell the format from the suffix",
                         hint="give --format edl, otio or csv")
    return kind


def read(path: Path, *, fmt: str | None = None, rate: float | None = None, side: str = "record",
         start: str | None = None, element_first: int = 1) -> ShotList:
    """Read a shot list and map it to frame numbers of an element whose first frame is ``element_first``.

    Args:
        path: the EDL, OTIO or CSV file (read only; nothing is written beside it).
        fmt: ``edl``, ``otio`` or ``csv`` (default: from the suffix).
        rate: frames per second of the timecode; needed for an EDL, which does not say.
            For an OTIO file, default: the rate the file records.
        side: ``record`` or ``source`` timecode.
        start: the timecode of the element's first frame (default: the earliest in point).
        element_first: the element's first frame number.

    Returns:
        The list, with each shot's inclusive frame range.
    """
    kind = guess_format(path, fmt)
    if side not in SIDES:
        raise InputError("SHOTS-TIMECODE", f"--timecode must be one of {', '.join(SIDES)}")
    try:
        data = path.read_bytes()[:MAX_LIST_BYTES + 1]
    except OSError as exc:
        raise InputError("SHOTS-FORMAT", f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_LIST_BYTES:
        raise InputError("SHOTS-FORMAT", f"{path.name} is larger than a shot list can be ({MAX_LIST_BYTES} bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("SHOTS-FORMAT", f"{path.name} is not UTF-8 text") from None
    out = ShotList(kind, {"name": path.name, "sha256": hashlib.sha256(data).hexdigest()})
    if kind == "csv":
        out.shots = _csv(text, path.name)
    else:
        out.shots, out.warnings = _timeline(text, kind, path.name, rate, side, start, element_first)
    if not out.shots:
        raise InputError("SHOTS-NONE", f"{path.name} lists no shot")
    return out


# -- CSV ------------------------------------------------------------------------------------------

def _csv(text: str, name: str) -> list[ShotSpec]:
    reader = csv.DictReader(io.StringIO(text))
    cols = {c.strip().lower() for c in (reader.fieldnames or [])}
    if not {"first", "last"} <= cols:
        raise InputError("SHOTS-FORMAT", f"{name}: a CSV shot list needs a header with columns first and last "
                         "(and optionally name, scene, description, leave_as_source)")
    shots = []
    for i, row in enumerate(reader, start=1):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(row.values()):
            continue
        try:
            first, last = int(row["first"]), int(row["last"])
        except ValueError:
            raise InputError("SHOTS-FORMAT", f"{name} row {i}: first and last must be frame numbers, not "
                             f"{row['first']!r} and {row['last']!r}") from None
        flag = row.get("leave_as_source", "").lower()
        if flag not in _TRUE | _FALSE:
            raise InputError("SHOTS-FORMAT", f"{name} row {i}: leave_as_source must be yes or no, not {flag!r}")
        shots.append(ShotSpec(row.get("name") or None, first, last, event=i, scene=row.get("scene") or None,
                              description=row.get("description") or None, leave_as_source=flag in _TRUE))
    return shots


# -- EDL and OTIO -----------------------------------------------------------------------------------

def _timeline(text: str, kind: str, name: str, rate: float | None, side: str, start: str | None,
              element_first: int) -> tuple[list[ShotSpec], list[str]]:
    import opentimelineio as otio

    if kind == "edl" and not rate:
        raise InputError("SHOTS-TIMECODE", f"{name}: an EDL does not say its frame rate",
                         hint="give --fps, e.g. --fps 24 (or record the element's --frame-rate)")
    try:
        if kind == "edl":
            timeline = otio.adapters.read_from_string(text, "cmx_3600", rate=rate)
        else:
            timeline = otio.adapters.read_from_string(text, "otio_json")
    except otio.exceptions.OTIOError as exc:
        raise InputError("SHOTS-FORMAT", f"{name}: not a readable {kind.upper()} ({exc})") from None
    except Exception as exc:  # the adapters raise what their parsers raise on malformed text
        raise InputError("SHOTS-FORMAT", f"{name}: not a readable {kind.upper()} ({type(exc).__name__}: {exc})") from None
    if not isinstance(timeline, otio.schema.Timeline):
        raise InputError("SHOTS-FORMAT", f"{name}: holds a {type(timeline).__name__}, not a timeline")
    tracks = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]
    if not tracks:
        raise InputError("SHOTS-NONE", f"{name} has no video track")
    warnings = []
    if len(tracks) > 1:
        warnings.append(f"{name} has {len(tracks)} video tracks; the shots are read from the first")
    offset = timeline.global_start_time
    events = _edl_events(text) if kind == "edl" else []
    if offset is None and events:
        # The CMX reader places the first event's record-in at 0 and does not keep it; put it back.
        offset = otio.opentime.from_timecode(events[0][1], rate)
    clips = []
    for index, item in enumerate(tracks[0]):
        if not isinstance(item, otio.schema.Clip):
            continue  # gaps and transitions are not shots
        if side == "record":
            in_point = item.range_in_parent().start_time
            if offset is not None:
                in_point = in_point + offset
        else:
            in_point = item.trimmed_range().start_time
        clips.append((index, item, in_point, item.trimmed_range().duration))
    if not clips:
        return [], warnings
    fps = float(rate or clips[0][2].rate)
    if not fps > 0:
        raise InputError("SHOTS-TIMECODE", f"{name}: frame rate {fps} is not usable", hint="give --fps")
    if start is not None:
        try:
            origin = otio.opentime.from_timecode(start, fps)
        except Exception as exc:
            raise InputError("SHOTS-TIMECODE", f"--start {start!r} is not a timecode at {fps:g} fps ({exc})") from None
    else:
        origin = min(c[2] for c in clips)
    origin_frames = _frames(origin, fps)
    shots = []
    numbers = [e[0] for e in events] if len(events) == len(clips) else []
    for ordinal, (index, clip, in_point, duration) in enumerate(clips):
        n_in, n_dur = _frames(in_point, fps), _frames(duration, fps)
        if n_dur < 1:
            warnings.append(f"{name}: clip {clip.name or index} has no duration; skipped")
            continue
        first = element_first + n_in - origin_frames
        tc = {"side": side, "rate": fps, "in": _timecode(in_point, fps),
              "out": _timecode(in_point + duration, fps), "start": _timecode(origin, fps),
              "element_first_frame": element_first}
        event = numbers[ordinal] if numbers else ordinal + 1
        shots.append(ShotSpec(None, first, first + n_dur - 1, event=event, clip=clip.name or None, timecode=tc))
    return shots, warnings


def _frames(t: Any, fps: float) -> int:
    return int(round(t.rescaled_to(fps).value))


def _timecode(t: Any, fps: float) -> str:
    import opentimelineio as otio

    return otio.opentime.to_timecode(t, fps)


_EVENT = re.compile(r"^\s*([0-9]{1,6})\s+\S+\s+\S+\s+\S+(?:\s+[0-9]+)?\s+"
                    r"([0-9:;.]{11})\s+([0-9:;.]{11})\s+([0-9:;.]{11})\s+([0-9:;.]{11})\s*$")


def _edl_events(text: str) -> list[tuple[int, str]]:
    """(event number, record-in timecode) of each video event line, in order (the reader keeps neither).

    >>> _edl_events("001  AX  V  C  00:10:00:00 00:10:00:04 01:00:00:00 01:00:00:04")
    [(1, '01:00:00:00')]
    """
    out = []
    for line in text.splitlines():
        m = _EVENT.match(line)
        if m and line.split()[2].upper().startswith("V"):
            out.append((int(m.group(1)), m.group(4)))
    return out


_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def default_names(shots: list[ShotSpec], prefix: str) -> None:
    """Name unnamed shots ``<prefix>010``, ``<prefix>020``, ... in list order (the editorial numbering by tens).

    >>> s = [ShotSpec(None, 1, 2), ShotSpec("keep", 3, 4), ShotSpec(None, 5, 6)]
    >>> default_names(s, "sh"); [x.name for x in s]
    ['sh010', 'keep', 'sh030']
    """
    prefix = _NAME_CHARS.sub("-", prefix)
    for i, s in enumerate(shots, start=1):
        if not s.name:
            s.name = f"{prefix}{i * 10:03d}"

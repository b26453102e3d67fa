"""Inference outputs: each frame's files read once, for fixity and provenance together.

An inference run record (``data/records/inference/<run>.json``) names, for
every output frame, the EXR, its JSON, text and XMP sidecars and its C2PA
credential. ``plan`` finds them before fixity runs; fixity then skips
them, and ``read`` gives each frame to one job that reads every one of its
files once, hashes it for the manifests, and checks the header, the
sidecars and the credential from the same bytes (``sidecars``,
``credentials``). A frame's files are read whole (each is at most one
frame), so memory is bounded by the number of jobs in flight; a file larger
than ``WHOLE_LIMIT`` is hashed as a stream and validated from the disk.

Findings are collected per frame and reported in a fixed order, after the
record checks, whatever order the jobs finish in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archivist.package import kinds, records
from archivist.package.hashing import hash_bytes, hash_file, map_files
from archivist.package.layout import Layout, credential_name
from archivist.progress import start
from archivist.verify import fixity
from archivist.verify.bag import BagView
from archivist.verify.findings import Findings, Outcome
from archivist.verify.inventory import Tree, read_small
from archivist.verify.report import Report

if TYPE_CHECKING:
    from archivist.verify.sidecars import RunFacts

WHOLE_LIMIT = 1 << 30  # a frame file larger than this is streamed (and read again to validate its credential)
KINDS = ("exr", "json", "text", "xmp", "c2pa")


@dataclass
class Run:
    path: str  # the run record
    rec: dict  # valid against archivist/inference-run/1


@dataclass
class Frame:
    run: Run
    entry: dict  # the run record's entry for this frame
    files: dict[str, str]  # kind -> package path, for files the walk found
    owned: frozenset[str] = frozenset()  # the files whose fixity this frame checks (each file has one owner)


@dataclass
class Plan:
    runs: list[Run] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # .c2pa files no run names
    package_id: str | None = None
    claimed: set[str] = field(default_factory=set)  # files read by the frame jobs, not by fixity
    outputs: dict[tuple[str, int], str] = field(default_factory=dict)  # (run, frame) -> output path
    output_sha256: dict[str, str] = field(default_factory=dict)  # recorded SHA-256 -> output path

    def other_frame(self, run: str | None, number: Any, here: str) -> str | None:
        """The output of frame ``number`` of ``run`` if that is not ``here``: where a copy came from.

        >>> plan = Plan(outputs={("infer-01", 1001): "data/outputs/infer-01/f.1001.exr"})
        >>> plan.other_frame("infer-01", "1001", "data/outputs/infer-01/f.1002.exr")
        'data/outputs/infer-01/f.1001.exr'
        >>> plan.other_frame("infer-01", 1001, "data/outputs/infer-01/f.1001.exr") is None
        True
        """
        if run is None:
            return None
        try:
            found = self.outputs.get((run, int(number)))
        except (TypeError, ValueError):
            return None
        return found if found and found != here else None


def _parsed(view: BagView, path: str) -> Any:
    data = view.blobs.get(path)
    if data is None:
        return None
    try:
        return records.parse_json(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None  # reported by the record checks


def plan(tree: Tree, view: BagView) -> Plan:
    """The runs, their frames and every credential, from the records already read (``records.read``)."""
    out = Plan()
    pkg = _parsed(view, Layout.PACKAGE_RECORD)
    if isinstance(pkg, dict) and isinstance(pkg.get("identifier"), str):
        out.package_id = pkg["identifier"]
    places = {p: Layout.classify(p) for p in tree.files}
    for path in sorted(p for p, place in places.items() if place.kind is kinds.INFERENCE_RUN):
        rec = _parsed(view, path)
        if not isinstance(rec, dict) or rec.get("schema") != kinds.INFERENCE_RUN.label:
            continue  # not a run record: the record checks judge it
        # The record checks report an invalid one (REC-002), reusing this validation.
        view.schema_problems[path] = records.problems(rec)
        if not view.schema_problems[path]:
            out.runs.append(Run(path, rec))
    present = {p for p in tree.files if p not in view.hostile}
    for run in out.runs:
        for entry in run.rec["frames"]:
            out.outputs.setdefault((run.rec["id"], entry["number"]), entry["output"]["path"])
            out.output_sha256.setdefault(entry["output"]["sha256"], entry["output"]["path"])
            named = {"exr": entry["output"]["path"], "json": entry["sidecars"]["json"]["path"],
                     "text": entry["sidecars"]["text"]["path"], "xmp": entry["sidecars"]["xmp"]["path"]}
            # An unsigned frame may still have a credential beside it (named by no record: CON-003).
            cred = entry["credential"]["path"] if entry["credential"] else credential_name(named["exr"])
            if cred:
                named["c2pa"] = cred
            files = {k: p for k, p in named.items() if p in present}
            # A file two run records name (a copied record) is checked for both, but hashed for one.
            owned = frozenset(files.values()) - out.claimed
            out.claimed |= owned
            out.frames.append(Frame(run, entry, files, owned))
    out.orphans = sorted(p for p in present if places[p].what == "credential"
                         and p not in out.claimed)
    return out


# -- reading each frame once ---------------------------------------------------------------
@dataclass
class Read:
    """One frame's files as read: bytes (None when streamed), and what was hashed for the manifests."""

    data: dict[str, bytes | None] = field(default_factory=dict)  # kind -> bytes
    sha256: dict[str, str] = field(default_factory=dict)  # path -> digest, for the files this frame owns
    files: int = 0
    bytes: int = 0


FrameCheck = Callable[[Frame, Read, Outcome], None]  # what ``read`` runs on each frame's bytes


def read_frame(root: Path, tree: Tree, want: dict[str, dict[str, str]], frame: Frame, found: Findings,
               progress: Callable[[int], None] | None = None) -> Read:
    """Read every file of ``frame`` once; report fixity problems into ``found``."""
    out = Read()
    for kind, path in frame.files.items():
        algs = tuple(sorted(want.get(path, {}))) or ("sha256",)
        size = tree.files[path]
        try:
            if size <= WHOLE_LIMIT:
                data = read_small(root, path)
                fx = hash_bytes(data, algorithms=algs)
                if progress:
                    progress(len(data))
            else:
                data = None
                fx = hash_file(root / path, progress, algorithms=algs)
        except OSError as exc:
            found.add("BAG-021", path, f"cannot be read: {exc}")
            continue
        out.data[kind] = data
        if path in want and path in frame.owned:
            fixity.compare(found, path, want[path], fx.digests)
            if "sha256" in fx.digests:
                out.sha256[path] = fx.digests["sha256"]
            out.files += 1
            out.bytes += fx.size
    return out


def read(root: Path, tree: Tree, view: BagView, work: Plan, check_frame: FrameCheck, report: Report, *,
         progress: Callable | None = None, workers: int | None = None) -> list[Outcome]:
    """Run ``check_frame(frame, read, outcome)`` over every frame, each frame's files read once.

    Fixity problems go into ``report`` now (they are BAG findings, like
    fixity's own); the frames' other findings stay in the outcomes.
    """
    want = fixity.expected(view, tree)

    def one(frame: Frame, progress: Callable[[int], None] | None = None) -> Outcome:
        outcome = Outcome()
        got = read_frame(root, tree, want, frame, outcome.fixity, progress)
        outcome.sha256, outcome.files, outcome.bytes = got.sha256, got.files, got.bytes
        check_frame(frame, got, outcome)
        return outcome

    total = sum(tree.files[p] for f in work.frames for p in f.files.values())
    bar = start(progress, total=total, desc="checking outputs")
    outcomes = []
    try:
        for _, outcome in map_files(one, [(f,) for f in work.frames], workers=workers, progress=bar.update):
            if isinstance(outcome, BaseException):  # an OSError outside reading: a file vanished
                outcome = _failed(outcome)
            outcome.fixity.into(report)
            report.files += outcome.files
            report.bytes += outcome.bytes
            outcomes.append(outcome)
    finally:
        bar.close()
    return outcomes


def _failed(exc: BaseException) -> Outcome:
    out = Outcome()
    out.fixity.add("BAG-021", None, f"a file of an output frame cannot be read: {exc}")
    return out


# -- what each frame is checked for ----------------------------------------------------------------
def run_facts(work: Plan) -> tuple[dict[str, RunFacts], list[tuple[str, str]]]:
    """What each run's frames should say; runs whose record cannot say it, with the reason."""
    from archivist.verify import sidecars

    facts: dict[str, RunFacts] = {}
    unusable: list[tuple[str, str]] = []
    for run in work.runs:
        try:
            facts[run.path] = sidecars.run_facts(run.rec)
        except (KeyError, TypeError, ValueError) as exc:
            unusable.append((run.path, f"the run record cannot be read for its provenance ({type(exc).__name__}: "
                                       f"{exc})"))
    return facts, unusable


def checker(root: Path, work: Plan, facts: dict[str, RunFacts], anchors: bytes | None, *,
            pixels: bool = False) -> FrameCheck:
    """The per-frame check that ``read`` runs on each frame's bytes; ``pixels`` decodes each EXR that has a
    recorded pixel hash and compares it (``verify --pixels``)."""
    from archivist.imaging import oiio
    from archivist.verify import credentials, sidecars

    def check_frame(frame: Frame, got: Read, outcome: Outcome) -> None:
        found, files, data = outcome.checks, frame.files, got.data
        f = facts.get(frame.run.path)
        exp = sidecars.expected(f, frame.entry) if f is not None else None
        if exp is not None and f is not None:
            if "exr" in data:
                header: dict | BaseException
                try:
                    header = oiio.header(root / files["exr"])
                except Exception as exc:  # a damaged or hostile file: whatever the reader raised is the finding
                    header = exc
                sidecars.check_header(files["exr"], header, exp, work, found)
            if (js := data.get("json")) is not None:
                sidecars.check_json(files["json"], js, exp, work, found)
            if (text := data.get("text")) is not None:
                sidecars.check_text(files["text"], text, exp, f, work, found)
            if (xmp := data.get("xmp")) is not None:
                sidecars.check_xmp(files["xmp"], xmp, exp, f, work, found)
        if pixels and "exr" in data and frame.entry["output"].get("pixels"):
            check_pixels(root, files["exr"], frame.entry["output"], got, outcome)
        if "c2pa" in data and "exr" in data:
            result = credentials.validate(root, files["exr"], files["c2pa"], anchors, data["exr"], data["c2pa"])
            credentials.judge(result, files["exr"], files["c2pa"], work, found, outcome)
            if result.label is not None:
                outcome.ingredients.append((files["c2pa"], result.ingredients))
                if exp is not None and f is not None:
                    credentials.check_claim(result, files["c2pa"], exp, f, work, found)

    return check_frame


def check_pixels(root: Path, path: str, recorded: dict, got: Read, outcome: Outcome) -> None:
    """Decode the EXR and compare its pixel hash with the run record's (OUT-012).

    When the pixels match but the file does not (BAG-010 for it), the file was re-encoded losslessly:
    the fixity finding says so, since the image itself is unchanged.
    """
    from archivist.imaging.pixels import SCHEME, pixel_hash

    want = recorded["pixels"]
    if want["scheme"] != SCHEME:
        outcome.checks.add("OUT-012", path, f"the pixel hash is recorded under scheme {want['scheme']!r}; this "
                                            f"archivist computes {SCHEME} only")
        return
    try:
        actual = pixel_hash(root / path)
    except Exception as exc:  # a damaged or hostile file: whatever the decoder raised is the finding
        outcome.checks.add("OUT-012", path, f"the pixels cannot be decoded: {exc}")
        return
    if actual != want["sha256"]:
        outcome.checks.add("OUT-012", path, f"the decoded pixels differ from the run record: {SCHEME} SHA-256 is "
                                            f"{actual[:16]}..., the run record says {want['sha256'][:16]}...")
        return
    file_sha = got.sha256.get(path)
    if file_sha is not None and file_sha != recorded["sha256"]:
        note = (f"; its decoded pixels match the recorded pixel hash ({SCHEME}): a lossless re-encode, the "
                "image is unchanged")
        items = outcome.fixity.items
        for i, (code, where, message) in enumerate(items):
            if code == "BAG-010" and where == path:
                items[i] = (code, where, message + note)

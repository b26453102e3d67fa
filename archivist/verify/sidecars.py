"""Does each output frame say what its run record says? EXR header, JSON, text and XMP sidecars.

What a frame should say is derived from its run record by archivist's own
writers (``archivist.inference.recorded`` and ``archivist.inference.provenance``,
which import no inference engine and not the runner): the header keys, the JSON
sidecar, and the text and XMP renderings of that sidecar. Each artefact is
compared field by field, so a message names what differs; a sidecar or
header that describes another frame is named as a copy of it. Text and XMP
written by this version of archivist must also match byte for byte.

Only run records that passed their schema reach here. Nothing is imported
from the inference package until a package has outputs, so ``verify`` of a
package without them does not load OpenColorIO.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archivist import __version__
from archivist.package import kinds, records
from archivist.verify.findings import Findings, copy_note, differences, flatten, listing, short

if TYPE_CHECKING:
    from archivist.inference.provenance import RunProvenance
    from archivist.verify.outputs import Plan

SIDECAR_LABEL = kinds.OUTPUT_SIDECAR.label
_FIELD = re.compile(r"^([A-Z][A-Za-z0-9 -]*):\s+(.*)$")
AP0_TOLERANCE = 1e-6  # chromaticities are stored as 32-bit floats


@dataclass(frozen=True)
class RunFacts:
    """What every frame of one run should say, from its run record."""

    provenance: RunProvenance
    c2pa_parameters: dict  # the c2pa.edited action's parameters, less the frame number
    inputs: tuple  # (relationship, path) of the inputTo ingredients
    digital_source_type: str  # IPTC URI
    agent: dict  # softwareAgent {name, version}
    signer_serial: int | None  # the run record's signing certificate, when signed
    same_version: bool  # written by this archivist: text and XMP must match byte for byte


@dataclass(frozen=True)
class Expected:
    number: int
    output: str  # the EXR's package path
    source: dict  # {"path", "sha256"}
    header: dict[str, str]
    sidecar: dict
    text: str
    xmp: bytes


def run_facts(rec: dict) -> RunFacts:
    """Raises KeyError, TypeError or ValueError when the record, although schema-valid, cannot be used."""
    from archivist.inference import recorded

    prov = recorded.provenance_from_record(rec)
    claim = recorded.claim_from_record(rec)
    serial = None
    cert = (rec.get("signing") or {}).get("certificate") or {}
    if isinstance(cert.get("serial"), str):
        serial = int(cert["serial"], 16)
    return RunFacts(
        provenance=prov, c2pa_parameters=dict(claim.parameters),
        inputs=tuple((i.get("relationship", "inputTo"), i["path"]) for i in claim.ingredients),
        digital_source_type=rec["digital_source_type"]["uri"],
        agent={"name": "archivist", "version": prov.archivist_version}, signer_serial=serial,
        same_version=prov.archivist_version == __version__)


def expected(facts: RunFacts, entry: dict) -> Expected:
    from archivist.inference import provenance

    n, src = entry["number"], entry["source"]
    keys = provenance.header_keys(facts.provenance, n, src["path"], src["sha256"])
    side = provenance.sidecar(facts.provenance, keys, number=n, source=src, output=entry["output"],
                              credential=entry["credential"]["path"] if entry["credential"] else None)
    return Expected(n, entry["output"]["path"], src, keys, side, provenance.text_sidecar(side),
                    provenance.xmp_sidecar(side))


# -- the EXR header ---------------------------------------------------------------------------
def check_header(path: str, header: dict | BaseException, exp: Expected, plan: Plan, found: Findings) -> None:
    """``header`` is the dict ``imaging.header`` returned, or the exception it raised."""
    from archivist.inference import aces

    if isinstance(header, BaseException):
        found.add("OUT-007", path, f"the EXR header cannot be read: {header}")
        return
    diffs = differences({k: header[k] for k in exp.header if k in header}, exp.header)
    chroma: Any = header.get("chromaticities")  # read under try: a damaged header may hold anything
    try:
        ap0 = len(chroma) == 8 and all(abs(float(a) - b) <= AP0_TOLERANCE
                                       for a, b in zip(chroma, aces.AP0_CHROMATICITIES))
    except (TypeError, ValueError):
        ap0 = False
    if not ap0:
        diffs.append(f"chromaticities are {short(list(chroma) if isinstance(chroma, tuple) else chroma)}, not "
                     "ACES AP0")
    if diffs:
        origin = plan.other_frame(header.get("InferenceRun"), header.get("FrameNumber"), path)
        found.add("OUT-007", path, listing(diffs) + copy_note(origin))


# -- the JSON sidecar ---------------------------------------------------------------------------
def check_json(path: str, data: bytes, exp: Expected, plan: Plan, found: Findings) -> dict | None:
    """Compare the JSON sidecar with the one archivist writes; return it when it could be read."""
    try:
        value = records.parse_json(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        found.add("OUT-008", path, f"not valid UTF-8 JSON: {exc}")
        return None
    if value == exp.sidecar:
        return value  # what archivist writes, which passed the schema when it was written
    wrong = records.problems(value, SIDECAR_LABEL)
    if wrong:
        found.add("OUT-008", path, f"does not match schema {SIDECAR_LABEL}: " + listing(wrong, 3))
        return None
    diffs = differences(flatten(value), flatten(exp.sidecar))
    if diffs:
        origin = plan.other_frame(value.get("run"), value.get("frame"), exp.output)
        found.add("OUT-008", path, listing(diffs) + copy_note(origin))
    return value


# -- the text sidecar ---------------------------------------------------------------------------
def fields(text: str) -> dict[str, str]:
    """The ``Label: value`` lines of a text sidecar.

    >>> fields("f.exr: frame 1\\n\\nSource SHA-256:  ab\\nModel:           m.onnx\\n")
    {'Source SHA-256': 'ab', 'Model': 'm.onnx'}
    """
    out = {}
    for line in text.splitlines():
        m = _FIELD.match(line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def check_text(path: str, data: bytes, exp: Expected, facts: RunFacts, plan: Plan, found: Findings) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        found.add("OUT-009", path, f"not UTF-8 (byte {exc.start})")
        return
    got = fields(text)
    diffs = differences(got, fields(exp.text))
    if diffs:
        origin = got.get("Output") if got.get("Output") in plan.outputs.values() else None
        found.add("OUT-009", path, listing(diffs) + copy_note(origin if origin != exp.output else None))
    elif facts.same_version and text != exp.text:
        line = next(i for i, (a, b) in enumerate(zip(text.splitlines() + [""], exp.text.splitlines() + [""]), 1)
                    if a != b)
        found.add("OUT-009", path, f"line {line} differs from the text archivist writes for this frame")


# -- the XMP sidecar ------------------------------------------------------------------------------
def check_xmp(path: str, data: bytes, exp: Expected, facts: RunFacts, plan: Plan, found: Findings) -> None:
    from archivist.inference import xmp

    try:
        got = xmp.parse(data)
    except ValueError as exc:
        found.add("OUT-010", path, f"not an XMP packet: {exc}")
        return
    diffs = differences(flatten(got), flatten(xmp.parse(exp.xmp)))
    if diffs:
        origin = got.get("identifier") if got.get("identifier") in plan.outputs.values() else None
        found.add("OUT-010", path, listing(diffs) + copy_note(origin if origin != exp.output else None))
    elif facts.same_version and data != exp.xmp:
        found.add("OUT-010", path, "differs from the packet archivist writes for this frame")


"""What every inferred frame says about itself: EXR header keys and sidecars.

The header keys are the provenance note's (``MLProcessing``,
``RecoveryType``, ``SourceElement``, ``ReferenceSource``,
``ModelCheckpoint``, ``IPTCDigitalSourceType``; Nuke shows them as
``exr/<key>``) plus the identity of everything the frame was made from:
``ArchivistPackage``, ``InferenceRun``, ``ModelSHA256``, ``SourceFrame``,
``SourceFrameSHA256``, ``FrameNumber``, ``ProcessingDate`` and
``ArchivistVersion``. All are plain strings (OpenImageIO writes a Python
float as a 32-bit float, so numbers are written as text), and the frame
also carries the ACES AP0 ``chromaticities``.

Beside each frame ``<name>.exr`` lie:

* ``<name>.json``: the machine-readable sidecar, schema
  ``archivist/output-sidecar/1``, with the same keys under ``exr_header``
  and the SHA-256 of the EXR it describes;
* ``<name>.txt``: the same facts for people;
* ``<name>.xmp``: an XMP packet with ``Iptc4xmpExt:DigitalSourceType``
  and the same keys (``archivist.inference.xmp``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archivist.inference import aces, xmp
from archivist.package import kinds, records

SIDECAR_LABEL = kinds.OUTPUT_SIDECAR.label

NOTE_KEYS = ("MLProcessing", "RecoveryType", "SourceElement", "ReferenceSource", "ModelCheckpoint",
             "IPTCDigitalSourceType")
IDENTITY_KEYS = ("ArchivistPackage", "InferenceRun", "ModelSHA256", "SourceFrame", "SourceFrameSHA256",
                 "FrameNumber", "ProcessingDate", "ArchivistVersion")
HEADER_KEYS = NOTE_KEYS + IDENTITY_KEYS

RECOVERY_TYPES = {
    ("chroma", True): "Reference-Based Color",
    ("chroma", False): "Non-Reference Color",
    ("spatial", True): "Spatial",
    ("spatial", False): "Spatial",
    ("combined", True): "Combined",
    ("combined", False): "Combined",
}


def recovery_type(mode: str, has_reference: bool) -> str:
    """The provenance note's recovery type for a mode.

    >>> recovery_type("chroma", True)
    'Reference-Based Color'
    >>> recovery_type("spatial", False)
    'Spatial'
    """
    return RECOVERY_TYPES[(mode, has_reference)]


def reference_entry(reference: dict | None) -> dict | None:
    """What the run's provenance says of the reference element: id, description and, when it is
    hand-made, its IPTC source type and the artwork it was made from.

    >>> reference_entry({"id": "paint", "description": "painted frames", "hand_made": {
    ...     "source_type": "digitalCreation", "artwork": {"title": "Poster"}}})["hand_made"]["source_type"]
    'digitalCreation'
    """
    if reference is None:
        return None
    out = {"id": reference["id"], "description": reference["description"]}
    if reference.get("hand_made"):
        out["hand_made"] = dict(reference["hand_made"])
    return out


def colour_statement(reference: dict | None) -> str | None:
    """The sentence credentials and reports carry when the colour came from a human-made reference.

    >>> colour_statement({"id": "p", "description": "painted frames", "hand_made": {
    ...     "source_type": "humanEdits", "artwork": {"title": "Poster", "creator": "A. Painter"}}})
    "the colour came from a human-made reference: painted frames (humanEdits), made from 'Poster' by A. Painter"
    """
    hm = (reference or {}).get("hand_made")
    if not hm:
        return None
    art = hm["artwork"]
    made = f"'{art['title']}'" + (f" by {art['creator']}" if art.get("creator") else "")
    if art.get("holding_institution"):
        made += f", held by {art['holding_institution']}"
    return f"the colour came from a human-made reference: {reference['description']} ({hm['source_type']}), made from {made}"


@dataclass(frozen=True)
class RunProvenance:
    """What is the same for every frame of one run."""

    package: str  # package identifier
    run: str
    mode: str
    recovery_type: str
    ml_processing: str
    source_element: dict  # {"id", "description"}
    reference: dict | None  # {"id", "description"} or None
    model: dict  # {"id", "checkpoint", "path", "sha256"}
    dataset: dict | None  # file_ref of the dataset record, when known
    source_type: dict  # policy.SourceTypeDecision.as_record()
    processing_date: str
    archivist_version: str
    backend: dict  # {"name", "engine", "version"}
    colour: dict  # aces.AcesConversion.as_record()
    compression: str
    extra: dict = field(default_factory=dict)

    def model_checkpoint(self) -> str:
        return self.model["checkpoint"]


def header_keys(run: RunProvenance, number: int, source_path: str, source_sha256: str) -> dict[str, str]:
    """The provenance keys of one frame, all strings, in ``HEADER_KEYS`` order."""
    values = {
        "MLProcessing": run.ml_processing,
        "RecoveryType": run.recovery_type,
        "SourceElement": run.source_element["description"],
        "ReferenceSource": run.reference["description"] if run.reference else "none",
        "ModelCheckpoint": run.model_checkpoint(),
        "IPTCDigitalSourceType": run.source_type["term"],
        "ArchivistPackage": run.package,
        "InferenceRun": run.run,
        "ModelSHA256": run.model["sha256"],
        "SourceFrame": source_path,
        "SourceFrameSHA256": source_sha256,
        "FrameNumber": str(int(number)),
        "ProcessingDate": run.processing_date,
        "ArchivistVersion": run.archivist_version,
    }
    return {k: values[k] for k in HEADER_KEYS}


def exr_attributes(keys: dict[str, str]) -> dict:
    """Header attributes for ``imaging.write``: the keys plus AP0 chromaticities."""
    attrs: dict = dict(keys)
    attrs["chromaticities"] = aces.AP0_CHROMATICITIES
    return attrs


def sidecar(run: RunProvenance, keys: dict[str, str], *, number: int, source: dict, output: dict,
            credential: str | None) -> dict:
    """The JSON sidecar of one frame (validated against its schema by ``sidecar_bytes``).

    ``source`` is ``{"path", "sha256"}`` of the source frame, ``output`` is
    ``{"path", "sha256", "size"}`` of the EXR (with ``"pixels"``, its pixel
    hash ``{"scheme", "sha256"}``, when it was recorded), ``credential`` the
    package path of its C2PA manifest or None.
    """
    out = {
        "schema": SIDECAR_LABEL,
        "frame": int(number),
        "package": run.package,
        "run": run.run,
        "exr": {"path": output["path"], "sha256": output["sha256"], "size": int(output["size"]),
                "pixel_type": "half", "compression": run.compression,
                "colour_space": aces.DESTINATION, "chromaticities": list(aces.AP0_CHROMATICITIES)},
        "exr_header": dict(keys),
        "recovery": {"mode": run.mode, "type": run.recovery_type, "ml_processing": run.ml_processing},
        "source": {"element": run.source_element["id"], "description": run.source_element["description"],
                   "path": source["path"], "sha256": source["sha256"]},
        "reference": ({"element": run.reference["id"], "description": run.reference["description"]}
                      if run.reference else None),
        "model": {"id": run.model["id"], "checkpoint": run.model["checkpoint"], "path": run.model["path"],
                  "sha256": run.model["sha256"]},
        "digital_source_type": dict(run.source_type),
        "colour": dict(run.colour),
        "backend": dict(run.backend),
        "processing_date": run.processing_date,
        "software": {"name": "archivist", "version": run.archivist_version},
        "credential": credential,
    }
    if output.get("pixels"):
        # Runs recorded before pixel fixity have none; the sidecar says what the run record says.
        out["exr"]["pixels"] = dict(output["pixels"])
    if run.dataset:
        out["dataset"] = {"path": run.dataset["path"], "sha256": run.dataset["sha256"]}
    return out


def sidecar_bytes(record: dict) -> bytes:
    return records.dumps(record, SIDECAR_LABEL)


def text_sidecar(record: dict) -> str:
    """The human-readable sidecar: the JSON sidecar's facts in sentences and aligned fields."""
    h = record["exr_header"]
    ref = record["reference"]
    lines = [
        f"{record['exr']['path'].rsplit('/', 1)[-1]}: frame {record['frame']}, made by machine learning",
        "",
        f"This frame was made by {h['MLProcessing']} ({h['RecoveryType']}) from frame {record['frame']} of the",
        f"{h['SourceElement']} ({record['source']['element']}), with the model {record['model']['id']}"
        f" ({h['ModelCheckpoint']}){', trained against the ' + ref['description'] if ref else ''}.",
        f"IPTC digital source type: {h['IPTCDigitalSourceType']} ({record['digital_source_type']['rule']}).",
        "",
    ]
    fields = [
        ("Package", h["ArchivistPackage"]),
        ("Inference run", h["InferenceRun"]),
        ("Processing date", h["ProcessingDate"]),
        ("Software", f"archivist {h['ArchivistVersion']}"),
        ("Backend", f"{record['backend']['name']} ({record['backend']['engine']} {record['backend']['version']})"),
        ("Source frame", h["SourceFrame"]),
        ("Source SHA-256", h["SourceFrameSHA256"]),
        ("Reference", ref["description"] if ref else "none"),
        ("Model", record["model"]["path"]),
        ("Model SHA-256", h["ModelSHA256"]),
        ("Output", record["exr"]["path"]),
        ("Output SHA-256", record["exr"]["sha256"]),
        *([("Pixel SHA-256", f"{record['exr']['pixels']['sha256']} ({record['exr']['pixels']['scheme']})")]
          if "pixels" in record["exr"] else []),
        ("Encoding", f"OpenEXR, half float, {record['exr']['compression']}"
                     f"{' (lossy)' if record['exr']['compression'].startswith('dwa') else ' (lossless)'}"),
        ("Colour space", f"{record['exr']['colour_space']} (AP0 chromaticities), converted from "
                         f"{record['colour']['source']} with {record['colour']['config']}"),
        ("IPTC source type", record["digital_source_type"]["uri"]),
        ("Content credential", record["credential"] or "none"),
    ]
    if "dataset" in record:
        fields.insert(10, ("Dataset record", record["dataset"]["path"]))
    width = max(len(k) for k, _ in fields)
    lines += [f"{k + ':':<{width + 1}} {v}" for k, v in fields]
    return "\n".join(lines) + "\n"


def xmp_sidecar(record: dict) -> bytes:
    h = record["exr_header"]
    keys = dict(h)
    keys["OutputSHA256"] = record["exr"]["sha256"]
    description = (f"{h['MLProcessing']} ({h['RecoveryType']}) of frame {record['frame']} of the "
                   f"{h['SourceElement']}; model {record['model']['id']} ({h['ModelCheckpoint']}).")
    return xmp.build(digital_source_type=record["digital_source_type"]["uri"], description=description,
                     source=h["SourceFrame"], identifier=record["exr"]["path"],
                     creator_tool=f"archivist {h['ArchivistVersion']}", create_date=h["ProcessingDate"], keys=keys)

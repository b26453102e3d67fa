"""``archivist describe``: the archive-facing metadata, written from the records only.

Writes, in one transaction, ``data/metadata/metadata.csv`` (Archivematica's
Dublin Core import), ``rights.csv`` (Archivematica's PREMIS rights import),
``premis.xml`` (PREMIS 3: objects with fixity, agents, the event log,
derivation relationships) and ``mets.xml`` (a METS document written with
metsrw, one structMap of the payload by element and run), and the
``archivist/metadata/1`` record that names them. docs/archives.md maps
every field.

Archivematica moves a bag's payload into ``objects/`` and its
``data/metadata/`` into ``metadata/``, so paths in these files are written
as Archivematica will see them: ``data/sources/x`` becomes ``objects/sources/x``.
"""

from __future__ import annotations

import bisect
import csv
import io
import uuid
from datetime import UTC, datetime

from lxml import etree

from archivist import __version__
from archivist.archive import crate
from archivist.archive.stream import XmlStream
from archivist.errors import InputError, InterruptedTransactionError
from archivist.package import events, kinds, records
from archivist.package.layout import Layout
from archivist.package.model import Package
from archivist.package.transaction import utcnow

LABEL = kinds.METADATA.label
RECORD = Layout.METADATA_RECORD
METADATA_CSV = f"{Layout.METADATA}/metadata.csv"
RIGHTS_CSV = f"{Layout.METADATA}/rights.csv"
PREMIS_XML = f"{Layout.METADATA}/premis.xml"
METS_XML = f"{Layout.METADATA}/mets.xml"
CRATE_JSON = crate.PATH
FILES = {METADATA_CSV: "text/csv; Dublin Core (Archivematica metadata.csv)",
         RIGHTS_CSV: "text/csv; PREMIS rights (Archivematica rights.csv)",
         PREMIS_XML: "application/xml; PREMIS 3.0", METS_XML: "application/xml; METS 1.12",
         CRATE_JSON: "application/ld+json; RO-Crate 1.3, Process Run Crate 0.5"}

PREMIS_NS = "http://www.loc.gov/premis/v3"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
PREMIS_LOCATION = "http://www.loc.gov/standards/premis/v3/premis.xsd"
ID_TYPE = "archivist package path"  # objects are named by their path in the bag
# The second fixity of an output frame: its pixel hash, scheme archivist-pixels/1 (docs/package-format.md 3.1)
PIXELS_ALGORITHM = "archivist-pixels-sha256"

METADATA_COLUMNS = [
    "filename", "dc.title", "dc.identifier", "dc.type", "dc.format", "dc.description", "dc.creator",
    "dc.publisher", "dc.date", "dc.rights", "dc.source", "dc.relation",
    "film.role", "film.gauge", "film.generation", "film.element_description", "film.frame_range", "film.frames",
    "film.resolution", "iptc.digital_source_type", "archivist.recovery_type",
]
RIGHTS_COLUMNS = [
    "file", "basis", "status", "determination_date", "jurisdiction", "start_date", "end_date", "note",
    "grant_act", "grant_restriction", "grant_start_date", "grant_end_date", "grant_note",
    "doc_id_type", "doc_id_value", "doc_id_role",
]
# training_use -> PREMIS restriction on the act of using the work to train a model
RESTRICTION = {"authorised": "Allow", "not-authorised": "Disallow", "unknown": "Conditional"}
FORMATS = {".exr": "OpenEXR", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".dpx": "DPX", ".json": "JSON",
           ".jsonl": "JSON Lines", ".onnx": "ONNX", ".safetensors": "safetensors", ".txt": "Plain text",
           ".xmp": "XMP", ".c2pa": "C2PA manifest store", ".cube": "Cube 3D LUT", ".html": "HTML",
           ".csv": "CSV", ".xml": "XML"}


def archive_path(rel: str) -> str:
    """Where Archivematica puts a payload path: ``data/x`` is ``objects/x``.

    >>> archive_path("data/sources/print16/")
    'objects/sources/print16/'
    """
    return "objects/" + rel[len("data/"):]


def file_format(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1]
    ext = name[name.rfind("."):].lower() if "." in name else ""
    return FORMATS.get(ext, "unknown")


class Sources:
    """Everything the metadata is made from, read once from the records and the bag."""

    def __init__(self, pkg: Package, manifests: dict[str, dict[str, str]] | None = None):
        self.pkg = pkg
        self.package = pkg.record()
        self.elements = {e["id"]: e for e in pkg.elements()}
        self.events = pkg.events()
        # A transaction's manifests when it has them: a second copy is some 500 bytes a file.
        self.sha256 = manifests["sha256"] if manifests else pkg.manifest("sha256")
        self.sha512 = manifests["sha512"] if manifests else pkg.manifest("sha512")
        self.runs = [pkg.read_record(Layout.record(kinds.INFERENCE_RUN, i), kinds.INFERENCE_RUN.label)
                     for i in pkg.record_ids("inference")]
        self.models = [pkg.read_record(Layout.record(kinds.MODEL_CARD, i), kinds.MODEL_CARD.label)
                       for i in pkg.record_ids("models")]
        self.datasets = {i: pkg.read_record(Layout.record(kinds.DATASET, i), kinds.DATASET.label)
                         for i in pkg.record_ids("datasets")}
        self.shots = [pkg.read_record(Layout.record(kinds.SHOT, i), kinds.SHOT.label) for i in pkg.record_ids("shots")]
        self.scenes = [pkg.read_record(Layout.record(kinds.SCENE, i), kinds.SCENE.label)
                       for i in pkg.record_ids("scenes")]
        # output path -> its recorded pixel hash (runs recorded before pixel fixity have none)
        self.pixels = {f["output"]["path"]: f["output"]["pixels"] for run in self.runs for f in run["frames"]
                       if f["output"].get("pixels")}

    def objects(self) -> list[str]:
        """Payload files the metadata describes: all but itself and the log it is about to extend."""
        skip = set(FILES) | {RECORD, Layout.EVENT_LOG}
        return sorted(p for p in self.sha256 if p not in skip)

    def size(self, rel: str) -> int:
        return (self.pkg.root / rel).stat().st_size


def listed(objects: list[str], rel: str) -> bool:
    """Whether ``rel`` is one of sorted ``objects``."""
    i = bisect.bisect_left(objects, rel)
    return i < len(objects) and objects[i] == rel


# -- metadata.csv --------------------------------------------------------------------------------

def _frame_range(numbers: list[int]) -> str:
    return f"{min(numbers)}-{max(numbers)}" if numbers else ""


def _metadata_rows(src: Sources) -> list[dict]:
    pkg = src.package
    title, ident = pkg["title"], pkg["identifier"]
    rows = [{
        "filename": "objects/", "dc.title": title, "dc.identifier": ident, "dc.type": "Moving image",
        "dc.description": pkg.get("description") or f"ML {pkg['recovery']} recovery restoration package",
        "dc.creator": pkg["organization"], "dc.publisher": pkg["organization"], "dc.date": pkg["created"],
        "archivist.recovery_type": pkg["recovery"],
    }]
    for eid, e in sorted(src.elements.items()):
        numbers = [f["number"] for f in e["frames"]]
        scan = e["scan"]
        rows.append({
            "filename": archive_path(Layout.element_dir(e["role"], eid)) + "/",
            "dc.title": f"{title}: {e['description']}", "dc.identifier": f"{ident}#element-{eid}",
            "dc.type": "Moving image", "dc.format": f"{scan['file_format']} {scan['pixel_type']}",
            "dc.description": e.get("notes") or e["description"], "dc.date": e["added"],
            "dc.rights": e["rights"]["statement"], "dc.creator": e["rights"].get("holder", ""),
            "dc.relation": f"isPartOf {ident}",
            "film.role": e["role"], "film.gauge": e.get("gauge", ""), "film.generation": e.get("generation", ""),
            "film.element_description": e["description"], "film.frame_range": _frame_range(numbers),
            "film.frames": str(len(numbers)), "film.resolution": f"{scan['width']}x{scan['height']}",
            "iptc.digital_source_type": e["digital_source_type"],
        })
    for m in src.models:
        rows.append({
            "filename": archive_path(m["model"]["path"].rsplit("/", 1)[0]) + "/",
            "dc.title": f"{title}: restoration model {m['id']}", "dc.identifier": f"{ident}#model-{m['id']}",
            "dc.type": "Software", "dc.format": "ONNX", "dc.description": m["intended_use"],
            "dc.date": m["created"], "dc.creator": pkg["organization"],
            "dc.source": f"dataset {m['dataset']['id']}" if m.get("dataset") else "",
            "dc.relation": f"isPartOf {ident}", "archivist.recovery_type": m["mode"],
        })
    for r in src.runs:
        numbers = [f["number"] for f in r["frames"]]
        source = src.elements.get(r["source"]["element"])
        rows.append({
            "filename": archive_path(Layout.stage_dir("outputs", r["id"])) + "/",
            "dc.title": f"{title}: restored frames ({r['id']})", "dc.identifier": f"{ident}#run-{r['id']}",
            "dc.type": "Moving image", "dc.format": "OpenEXR half (ACES 2065-1)",
            "dc.description": f"{r['source']['description']} restored by model {r['model']['id']}",
            "dc.date": r.get("completed") or r["updated"], "dc.creator": pkg["organization"],
            "dc.source": archive_path(Layout.element_dir("source", r["source"]["element"])) + "/",
            "dc.relation": f"isPartOf {ident}",
            "film.role": "output", "film.gauge": (source or {}).get("gauge", ""),
            "film.generation": (source or {}).get("generation", ""),
            "film.element_description": r["source"]["description"], "film.frame_range": _frame_range(numbers),
            "film.frames": str(len(numbers)), "iptc.digital_source_type": r["digital_source_type"]["uri"],
            "archivist.recovery_type": r["model"].get("mode", pkg["recovery"]),
        })
    return rows


def _csv(columns: list[str], rows: list[dict]) -> bytes:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")  # RFC 4180
    w.writeheader()
    for row in rows:
        w.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue().encode("utf-8")


# -- rights.csv ---------------------------------------------------------------------------------

def _rights_pair(file: str, r: dict, date: str, inherited: str = "") -> list[dict]:
    """A copyright statement and a training-use grant for one object, from one element's rights."""
    holder = f" Rights holder: {r['holder']}." if r.get("holder") else ""
    statement = (r.get("statement") or "No rights statement was recorded.").rstrip(".") + "."
    where = f" Inherited from element {inherited}." if inherited else ""
    by = f" Authorised by {r['authorised_by']}." if r.get("authorised_by") else ""
    return [
        {"file": file, "basis": "Copyright", "status": "unknown", "determination_date": date,
         "note": f"{statement}{holder}{where}"},
        {"file": file, "basis": "Other", "determination_date": date,
         "note": f"Use for training machine-learning models: {r['training_use']}.{where}",
         "grant_act": "use", "grant_restriction": RESTRICTION[r["training_use"]],
         "grant_note": f"Training a restoration model on this material ({r['training_use']}).{by}"},
    ]


def _rights_rows(src: Sources) -> list[dict]:
    rows: list[dict] = []
    for eid, e in sorted(src.elements.items()):
        rows += _rights_pair(archive_path(Layout.element_dir(e["role"], eid)) + "/", e["rights"], e["added"][:10])
    # A model and its outputs carry the rights of everything they were made from.
    for m in src.models:
        file = archive_path(m["model"]["path"].rsplit("/", 1)[0]) + "/"
        for r in m["training_data_rights"]:
            rows += _rights_pair(file, r, m["created"][:10], inherited=r["element"])
    cards = {m["id"]: m for m in src.models}
    for run in src.runs:
        file = archive_path(Layout.stage_dir("outputs", run["id"])) + "/"
        date = (run.get("completed") or run["updated"])[:10]
        inputs = [run["source"]["element"]]
        card = cards.get(run["model"]["id"])
        inputs += [r["element"] for r in (card or {}).get("training_data_rights", []) if r["element"] not in inputs]
        for eid in inputs:
            if eid in src.elements:
                rows += _rights_pair(file, src.elements[eid]["rights"], date, inherited=eid)
    return rows


# -- PREMIS 3 -----------------------------------------------------------------------------------

def _p(tag: str) -> str:
    return f"{{{PREMIS_NS}}}{tag}"


def _sub(parent, tag: str, text: str | None = None, **attrib):
    el = etree.SubElement(parent, _p(tag), {k: v for k, v in attrib.items()})
    if text is not None:
        el.text = text
    return el


def _identifier(parent, tag: str, kind: str, value: str) -> None:
    el = _sub(parent, tag)
    _sub(el, f"{tag}Type", kind)
    _sub(el, f"{tag}Value", value)


def _relations(src: Sources) -> dict[str, list[str]]:
    """path -> paths it was made from: output -> source frame, model -> dataset, dataset -> frames."""
    rel: dict[str, list[str]] = {}
    for ds_id, ds in src.datasets.items():
        frames = []
        for pair in ds["pairs"] + ds.get("holdout", []):
            for key in ("source", "reference"):
                if isinstance(pair.get(key), dict) and "path" in pair[key]:
                    frames.append(pair[key]["path"])
        rel[Layout.record("datasets", ds_id)] = sorted(set(frames))
    for m in src.models:
        made_from = [Layout.record("datasets", m["dataset"]["id"])] if m.get("dataset") else []
        if m.get("checkpoint", {}).get("path"):
            made_from.append(m["checkpoint"]["path"])
        rel[m["model"]["path"]] = made_from
    for run in src.runs:
        for f in run["frames"]:
            rel[f["output"]["path"]] = [f["source"]["path"], run["model"]["onnx"]["path"]]
    return rel


def _premis_object(rel: str, src: Sources, made_from: list[str]):
    obj = etree.Element(_p("object"), {f"{{{XSI_NS}}}type": "premis:file"}, nsmap={"premis": PREMIS_NS, "xsi": XSI_NS})
    _identifier(obj, "objectIdentifier", ID_TYPE, rel)
    ch = _sub(obj, "objectCharacteristics")
    _sub(ch, "compositionLevel", "0")
    for alg, table in (("SHA-256", src.sha256), ("SHA-512", src.sha512)):
        fx = _sub(ch, "fixity")
        _sub(fx, "messageDigestAlgorithm", alg, authority="cryptographicHashFunctions",
             authorityURI="http://id.loc.gov/vocabulary/preservation/cryptographicHashFunctions",
             valueURI=f"http://id.loc.gov/vocabulary/preservation/cryptographicHashFunctions/{alg.lower().replace('-', '')}")
        _sub(fx, "messageDigest", table[rel])
        _sub(fx, "messageDigestOriginator", f"archivist {__version__}")
    if rel in src.pixels:
        # A second fixity of the image itself, which a lossless migration keeps (docs/package-format.md 3.1).
        fx = _sub(ch, "fixity")
        _sub(fx, "messageDigestAlgorithm", PIXELS_ALGORITHM)
        _sub(fx, "messageDigest", src.pixels[rel]["sha256"])
        _sub(fx, "messageDigestOriginator", "archivist")
    _sub(ch, "size", str(src.size(rel)))
    fmt = _sub(ch, "format")
    _sub(_sub(fmt, "formatDesignation"), "formatName", file_format(rel))
    _sub(obj, "originalName", archive_path(rel))
    for i, parent in enumerate(made_from):
        r = _sub(obj, "relationship")
        _sub(r, "relationshipType", "derivation", authority="relationshipType",
             authorityURI="http://id.loc.gov/vocabulary/preservation/relationshipType",
             valueURI="http://id.loc.gov/vocabulary/preservation/relationshipType/der")
        _sub(r, "relationshipSubType", "has source", authority="relationshipSubType",
             authorityURI="http://id.loc.gov/vocabulary/preservation/relationshipSubType",
             valueURI="http://id.loc.gov/vocabulary/preservation/relationshipSubType/has")
        rid = _sub(r, "relatedObjectIdentifier")
        _sub(rid, "relatedObjectIdentifierType", ID_TYPE)
        _sub(rid, "relatedObjectIdentifierValue", parent)
        _sub(rid, "relatedObjectSequence", str(i))
    return obj


def _agents(src: Sources) -> list[tuple[str, str, str, str | None]]:
    """(identifier, name, type, version): the software, the organisation and each signer."""
    found = {(f"archivist {__version__}", f"archivist {__version__}", "software", __version__)}
    for e in src.events:
        found.add((f"{e['agent']['name']} {e['agent']['version']}", f"{e['agent']['name']} {e['agent']['version']}",
                   "software", e["agent"]["version"]))
    org = src.package["organization"]
    out = sorted(found) + [(org, org, "organization", None)]
    for run in src.runs:
        cert = (run.get("signing") or {}).get("certificate") or {}
        if cert.get("subject") and all(a[0] != cert["subject"] for a in out):
            out.append((cert["subject"], cert["subject"], "organization", None))
    return out


def _premis_event(e: dict, objects: list[dict] | None = None):
    """A PREMIS event; ``objects`` narrows its linking objects (all of the event's when None)."""
    ev = etree.Element(_p("event"), nsmap={"premis": PREMIS_NS, "xsi": XSI_NS})
    _identifier(ev, "eventIdentifier", "UUID", e["id"].removeprefix("urn:uuid:"))
    _sub(ev, "eventType", e["type"], authority="eventType",
         authorityURI="http://id.loc.gov/vocabulary/preservation/eventType", valueURI=e["type_uri"])
    _sub(ev, "eventDateTime", e["time"])
    _sub(_sub(ev, "eventDetailInformation"), "eventDetail",
         f"archivist {e['command']}" + (f": {e['detail']}" if e.get("detail") else ""))
    out = _sub(ev, "eventOutcomeInformation")
    _sub(out, "eventOutcome", e["outcome"])
    if e.get("outcome_detail"):
        _sub(_sub(out, "eventOutcomeDetail"), "eventOutcomeDetailNote", e["outcome_detail"])
    agent = _sub(ev, "linkingAgentIdentifier")
    _sub(agent, "linkingAgentIdentifierType", "software")
    _sub(agent, "linkingAgentIdentifierValue", f"{e['agent']['name']} {e['agent']['version']}")
    _sub(agent, "linkingAgentRole", "executing program")
    for o in e["objects"] if objects is None else objects:
        link = _sub(ev, "linkingObjectIdentifier")
        _sub(link, "linkingObjectIdentifierType", ID_TYPE)
        _sub(link, "linkingObjectIdentifierValue", o["path"])
        _sub(link, "linkingObjectRole", o["role"])
    return ev


def _premis_agent(ident: str, name: str, kind: str, version: str | None):
    ag = etree.Element(_p("agent"), nsmap={"premis": PREMIS_NS, "xsi": XSI_NS})
    _identifier(ag, "agentIdentifier", kind, ident)
    _sub(ag, "agentName", name)
    _sub(ag, "agentType", kind)
    if version:
        _sub(ag, "agentVersion", version)
    return ag


def write_premis(out, src: Sources, objects: list[str]) -> None:
    """premis.xml to ``out`` (a binary file), one object, event or agent at a time."""
    root = etree.Element(_p("premis"), {"version": "3.0", f"{{{XSI_NS}}}schemaLocation": f"{PREMIS_NS} {PREMIS_LOCATION}"},
                         nsmap={"premis": PREMIS_NS, "xsi": XSI_NS})
    xml = XmlStream(out, root)
    relations = _relations(src)
    for rel in objects:
        xml.write(_premis_object(rel, src, relations.get(rel, [])))
    for e in src.events:
        xml.write(_premis_event(e))
    for agent in _agents(src):
        xml.write(_premis_agent(*agent))
    xml.close()


def premis_document(src: Sources, objects: list[str]) -> bytes:
    """premis.xml's bytes (``write_premis`` into memory, for small packages)."""
    out = io.BytesIO()
    write_premis(out, src, objects)
    return out.getvalue()


# -- METS ------------------------------------------------------------------------------------------

# The event types Archivematica's METS schematron accepts; the others (migration,
# recovery) are in premis.xml only.
METS_EVENT_TYPES = {"ingestion", "message digest calculation", "virus check", "name cleanup",
                    "format identification", "validation", "normalization", "fixity check", "creation",
                    "unpacking", "compression"}


class EventIndex:
    """The METS events of each file, found when the file is written: memory holds the named paths, not the files.

    A file's events are those naming the file itself and those naming a directory above it, each
    with the event's objects that are the file or that directory: a file's copy of an event links
    that file alone, since an event naming thousands of files (a batch of infer's outputs) would
    otherwise be copied into each of them whole, quadratic in the batch.

    An event that *modified* a directory (each of infer's batch commits after the first adds files to
    the run's output directory) is not copied into the files below it: every output file would carry
    every batch, files times batches (4,000 files and 32 batches made a 300 MB mets.xml at 1,000
    frames). premis.xml has those events, linked to the directory; the event that created the
    directory, and any event naming the file itself, are in the file's amdSec.
    """

    def __init__(self, src: Sources, objects: list[str]):
        self.files: dict[str, list[tuple[int, int, dict, dict]]] = {}
        self.dirs: dict[str, list[tuple[int, int, dict, dict]]] = {}
        for i, e in enumerate(src.events):
            if e["type"] not in METS_EVENT_TYPES:
                continue
            for j, o in enumerate(e["objects"]):
                path = o["path"]
                if listed(objects, path):
                    self.files.setdefault(path, []).append((i, j, e, o))
                elif o["role"] != "modified":
                    self.dirs.setdefault(path.rstrip("/"), []).append((i, j, e, o))

    def of(self, rel: str) -> list[tuple[dict, list[dict]]]:
        """(event, its objects that are ``rel`` or a directory above it), in the log's order."""
        hits = list(self.files.get(rel, []))
        parts = rel.split("/")
        for k in range(1, len(parts)):
            hits += self.dirs.get("/".join(parts[:k]), [])
        hits.sort(key=lambda h: (h[0], h[1]))
        out: list[tuple[dict, list[dict]]] = []
        for _, _, e, o in hits:
            if out and out[-1][0] is e:
                out[-1][1].append(o)
            else:
                out.append((e, [o]))
        return out


def _mets_agents(src: Sources) -> list[tuple[str, str, str, str | None]]:
    """Archivematica's schematron wants three agents per file: the software, the organisation, the rights holder."""
    version = src.package["archivist_version"]
    org = src.package["organization"]
    holders = sorted({e["rights"]["holder"] for e in src.elements.values()
                      if e["role"] == "source" and e["rights"].get("holder")})
    holder = "; ".join(holders) or org
    return [(f"archivist {version}", f"archivist {version}", "software", version),
            (org, org, "organization", None),
            (f"rights holder: {holder}", holder, "organization", None)]


def _mets_now() -> str:
    # metsrw's own stamp for CREATEDATE and CREATED: UTC to the second, no zone
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat("T")


def _file_uuid(src: Sources, rel: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{src.package['identifier']}/{rel}"))


def _fs_entry(src: Sources, rel: str):
    import metsrw

    return metsrw.FSEntry(path=archive_path(rel), label=rel.rsplit("/", 1)[-1], type="Item", use="original",
                          file_uuid=_file_uuid(src, rel), checksum=src.sha256[rel], checksumtype="SHA-256")


def write_mets(out, src: Sources, objects: list[str]) -> None:
    """mets.xml to ``out``: the payload as one structMap, directories by stage, element and run, each file
    with its PREMIS object.

    Written as metsrw writes a document of ``FSEntry`` items, one file at a time: an amdSec per file (in
    the files' order, numbered as metsrw numbers them), then the fileSec and the physical structMap from
    the sorted paths (a directory's files are one contiguous run of them), then the shots.
    """
    import metsrw
    from metsrw.utils import lxmlns

    relations = _relations(src)
    touching = EventIndex(src, objects)
    mets_agents = _mets_agents(src)
    now = _mets_now()
    doc = metsrw.METSDocument()
    doc.objid = src.package["identifier"]
    xml = XmlStream(out, doc._document_root(fully_qualified=True))
    xml.write(doc._mets_header(now=now))
    first = 0  # the number of the first file's amdSec (metsrw counts them per process)
    for i, rel in enumerate(objects):
        entry = _fs_entry(src, rel)
        obj = _premis_object(rel, src, relations.get(rel, []))
        # Standalone in a METS techMD, the object names its own schema and version.
        obj.set("version", "3.0")
        obj.set(f"{{{XSI_NS}}}schemaLocation", f"{PREMIS_NS} {PREMIS_LOCATION}")
        entry.add_premis_object(obj)
        for e, links in touching.of(rel):
            ev = _premis_event(e, links)
            ev.set("version", "3.0")
            ev.set(f"{{{XSI_NS}}}schemaLocation", f"{PREMIS_NS} {PREMIS_LOCATION}")
            entry.add_premis_event(ev)
        for agent in mets_agents:
            entry.add_premis_agent(_premis_agent(*agent))
        (amdsec,) = entry.amdsecs
        number = int(amdsec.id_string.rsplit("_", 1)[1])
        if i == 0:
            first = number
        elif number != first + i:
            raise RuntimeError(f"metsrw numbered the amdSec of file {i + 1} {amdsec.id_string}, not amdSec_{first + i}")
        xml.write(amdsec.serialize(now=now))
    del touching
    xml.open(etree.Element(lxmlns("mets") + "fileSec"))
    if objects:
        xml.open(etree.Element(lxmlns("mets") + "fileGrp", USE="original"))
        for i, rel in enumerate(objects):
            entry = _fs_entry(src, rel)
            entry.amdsecs.append(metsrw.AMDSec(section_id=f"amdSec_{first + i}"))
            xml.write(entry.serialize_filesec())
        xml.close()
    xml.close()
    xml.open(doc._structmap())
    if objects:
        def directory(label: str):
            el = etree.Element(lxmlns("mets") + "div", TYPE="Directory")
            el.attrib["LABEL"] = label
            return el

        xml.open(directory("objects"))
        opened: list[str] = []
        for rel in objects:
            parts = rel.split("/")[1:]
            keep = 0
            while keep < min(len(opened), len(parts) - 1) and opened[keep] == parts[keep]:
                keep += 1
            for _ in opened[keep:]:
                xml.close()
            del opened[keep:]
            for part in parts[keep:-1]:
                xml.open(directory(part))
                opened.append(part)
            xml.write(_fs_entry(src, rel).serialize_structmap(recurse=False))
        for _ in opened:
            xml.close()
        xml.close()
    xml.close()
    _shot_struct_map(xml, src, objects)
    xml.close()


def mets_document(src: Sources, objects: list[str]) -> bytes:
    """mets.xml's bytes (``write_mets`` into memory, for small packages)."""
    out = io.BytesIO()
    write_mets(out, src, objects)
    return out.getvalue()


METS_NS = "http://www.loc.gov/METS/"
XLINK_NS = "http://www.w3.org/1999/xlink"


def _shot_struct_map(xml: XmlStream, src: Sources, objects: list[str]) -> None:
    """A second, logical structMap: each element's frames grouped by scene and shot.

    A shot's division points at the element's frames in its range and at the output frames every
    inference run made of them, so an archive sees the reel as the editor cut it. Written a shot at a
    time; a scene's division holds its shots, placed where its first shot is.
    """
    if not src.shots:
        return
    from metsrw.utils import urlencode

    frames: dict[str, list[tuple[int, str]]] = {}
    for el in src.elements.values():
        frames.setdefault(el["id"], []).extend((f["number"], f["path"]) for f in el["frames"])
    for run in src.runs:
        frames.setdefault(run["source"]["element"], []).extend((f["number"], f["output"]["path"])
                                                               for f in run["frames"])
    for v in frames.values():
        v.sort()
    scene_of = {n: sc for sc in src.scenes for n in sc["shots"]}

    def shot_div(s: dict):
        div = etree.Element(f"{{{METS_NS}}}div", TYPE="shot", LABEL=s["id"], ORDERLABEL=f"{s['first']}-{s['last']}")
        mine = frames.get(s["element"], [])
        lo = bisect.bisect_left(mine, (s["first"],))
        hi = bisect.bisect_left(mine, (s["last"] + 1,), lo)
        for _, rel in mine[lo:hi]:
            # A file is pointed at when the fileSec holds it under its own path (as metsrw writes the href).
            if listed(objects, rel) and urlencode(archive_path(rel)) == archive_path(rel):
                etree.SubElement(div, f"{{{METS_NS}}}fptr", FILEID=metsrw_file_id(src, rel))
        return div

    xml.open(etree.Element(f"{{{METS_NS}}}structMap", TYPE="logical", LABEL="Shots", ID="structMap_shots"))
    for element in sorted({s["element"] for s in src.shots}):
        xml.open(etree.Element(f"{{{METS_NS}}}div", TYPE="reel", LABEL=element))
        # The reel's children in order of first appearance: a scene where its first shot is, or a shot.
        groups: dict[str, list[dict]] = {}
        for s in sorted((s for s in src.shots if s["element"] == element), key=lambda s: (s["first"], s["id"])):
            sc = scene_of.get(s["id"])
            groups.setdefault(f"scene:{sc['id']}" if sc is not None else f"shot:{s['id']}", []).append(s)
        for key, shots in groups.items():
            if key.startswith("scene:"):
                xml.open(etree.Element(f"{{{METS_NS}}}div", TYPE="scene", LABEL=key[len("scene:"):]))
                for s in shots:
                    xml.write(shot_div(s))
                xml.close()
            else:
                xml.write(shot_div(shots[0]))
        xml.close()
    xml.close()


def metsrw_file_id(src: Sources, rel: str) -> str:
    """The fileSec ID metsrw gives the file at ``rel``."""
    from metsrw.utils import FILE_ID_PREFIX

    return FILE_ID_PREFIX + _file_uuid(src, rel)


# -- the command -------------------------------------------------------------------------------------

def counts_of(src: Sources, objects: list[str], meta_rows: list[dict], rights_rows: list[dict]) -> dict[str, int]:
    return {"metadata_rows": len(meta_rows), "rights_rows": len(rights_rows), "objects": len(objects),
            "events": len(src.events), "agents": len(_agents(src))}


def build(pkg: Package) -> tuple[dict[str, bytes], dict[str, int], Sources]:
    """The four files' bytes and what they hold, in memory (small packages; ``describe`` streams them)."""
    src = Sources(pkg)
    objects = src.objects()
    meta_rows, rights_rows = _metadata_rows(src), _rights_rows(src)
    files = {
        METADATA_CSV: _csv(METADATA_COLUMNS, meta_rows),
        RIGHTS_CSV: _csv(RIGHTS_COLUMNS, rights_rows),
        PREMIS_XML: premis_document(src, objects),
        METS_XML: mets_document(src, objects),
    }
    return files, counts_of(src, objects, meta_rows, rights_rows), src


def describe(pkg: Package) -> dict:
    """Write (or rewrite) ``data/metadata/`` and its record in one transaction.

    PREMIS, METS and the RO-Crate are written into the transaction's staging a piece at a time and
    hashed as they are written, so memory does not hold the documents (docs/archives.md).
    """
    if not pkg.is_archivist():
        raise InputError("DESCRIBE-NOT-ARCHIVIST", f"{pkg.root} is a bag but not an archivist package",
                         hint="describe reads the package's records; a plain bag has none")
    if pkg.interrupted():
        raise InterruptedTransactionError("DESCRIBE-INTERRUPTED", f"an earlier command on {pkg.root} was interrupted",
                                          hint=f"run 'archivist recover {pkg.root}' first")
    with pkg.transaction("describe") as txn:
        src = Sources(pkg, txn.manifests)  # under the lock: nothing changes while we read
        objects = src.objects()
        meta_rows, rights_rows = _metadata_rows(src), _rights_rows(src)
        counts = counts_of(src, objects, meta_rows, rights_rows)
        txn.write_bytes(METADATA_CSV, _csv(METADATA_COLUMNS, meta_rows), replace=txn.exists(METADATA_CSV))
        txn.write_bytes(RIGHTS_CSV, _csv(RIGHTS_COLUMNS, rights_rows), replace=txn.exists(RIGHTS_CSV))
        with txn.writing(PREMIS_XML, replace=txn.exists(PREMIS_XML)) as out:
            write_premis(out, src, objects)
        with txn.writing(METS_XML, replace=txn.exists(METS_XML)) as out:
            write_mets(out, src, objects)
        now = utcnow()
        event = events.new_event("describe", "creation", now, [], detail=(
            f"archive metadata for {counts['objects']} files, {counts['events']} events"))
        written = {rel: (txn.staged[rel].fixity.sha256, txn.staged[rel].fixity.size)
                   for rel in (METADATA_CSV, RIGHTS_CSV, PREMIS_XML, METS_XML)}
        event["objects"] = [{"path": rel, "role": "created", "sha256": sha} for rel, (sha, _) in written.items()]
        with txn.writing(CRATE_JSON, replace=txn.exists(CRATE_JSON)) as out:
            crate.write_crate(out, src, objects, event, written)
        refs = [{"path": rel, "sha256": txn.staged[rel].fixity.sha256, "size": txn.staged[rel].fixity.size,
                 "format": FILES[rel]} for rel in (*written, CRATE_JSON)]
        record = {"schema": LABEL, "created": now, "agent": {"name": "archivist", "version": __version__},
                  "package": {"identifier": src.package["identifier"], "title": src.package["title"]},
                  "events": len(src.events), "event": event["id"], "counts": counts, "files": refs}
        rec_fix = txn.write_bytes(RECORD, records.dumps(record, LABEL), replace=txn.exists(RECORD))
        event["objects"] = [{"path": r["path"], "role": "created", "sha256": r["sha256"]} for r in refs] + [
            {"path": RECORD, "role": "created", "sha256": rec_fix.sha256}]
        events.append(txn, event)
        txn.commit()
    return {"ok": True, "record": RECORD, "files": refs, "counts": counts, "event": event["id"]}

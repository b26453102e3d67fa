"""describe writes PREMIS, METS and the RO-Crate a piece at a time: the same documents as whole trees give.

The references below build each document whole, as describe did before it
streamed (lxml trees, metsrw's ``METSDocument``, rocrate's ``ROCrate`` with
every file added), from the same pieces.
"""

from __future__ import annotations

import copy
import io
import json
import random

import metsrw
from lxml import etree
from metsrw import metadata as mets_metadata

from archivist.archive import crate as crate_mod
from archivist.archive import describe as d
from archivist.archive.stream import XmlStream, json_lines
from archivist.package import Package, events
from archivist.shots import store
from archivist.shots.timeline import ShotSpec

METS = "{http://www.loc.gov/METS/}"


def _random_tree(rng: random.Random, depth: int = 0) -> etree._Element:
    ns = {"p": "urn:p", "x": "urn:x"}
    el = etree.Element(f"{{urn:{rng.choice('px')}}}n{depth}", {"a": str(rng.random())}, nsmap=ns)
    if depth < 3:
        for _ in range(rng.randrange(4)):
            el.append(_random_tree(rng, depth + 1))
    if depth and not len(el) and rng.random() < 0.5:
        el.text = rng.choice(["plain", "two\nlines", "<&>"])
    return el


def _put(xml: XmlStream, el: etree._Element, rng: random.Random) -> None:
    """Containers opened and filled child by child (an empty one too), leaves written whole (a copy:
    writing moves an element into the stream's skeleton)."""
    if len(el) or (el.text is None and rng.random() < 0.3):
        xml.open(etree.Element(el.tag, dict(el.attrib), nsmap=el.nsmap))
        for child in el:
            _put(xml, child, rng)
        xml.close()
    else:
        xml.write(copy.deepcopy(el))


def test_an_xml_stream_is_byte_for_byte_the_whole_tree():
    rng = random.Random(4)
    for _ in range(30):
        whole = _random_tree(rng)
        out = io.BytesIO()
        xml = XmlStream(out, etree.Element(whole.tag, dict(whole.attrib), nsmap=whole.nsmap))
        for child in whole:
            _put(xml, child, rng)
        xml.close()
        assert out.getvalue() == etree.tostring(whole, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    assert json_lines({"a": [1, {"b": "c\nd"}]}, 2) == "\n".join(
        "    " + line for line in json.dumps({"a": [1, {"b": "c\nd"}]}, indent=2).split("\n"))


def _whole_premis(src: d.Sources, objects: list[str]) -> bytes:
    root = etree.Element(d._p("premis"), {"version": "3.0", f"{{{d.XSI_NS}}}schemaLocation":
                                          f"{d.PREMIS_NS} {d.PREMIS_LOCATION}"}, nsmap={"premis": d.PREMIS_NS, "xsi": d.XSI_NS})
    relations = d._relations(src)
    for rel in objects:
        root.append(d._premis_object(rel, src, relations.get(rel, [])))
    for e in src.events:
        root.append(d._premis_event(e))
    for agent in d._agents(src):
        root.append(d._premis_agent(*agent))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _events_by_object(src: d.Sources, objects: list[str]) -> dict[str, list]:
    """path -> (event, its objects that are the file or a directory above it), for every file at once."""
    out: dict[str, list] = {}
    for e in src.events:
        if e["type"] not in d.METS_EVENT_TYPES:
            continue
        for o in e["objects"]:
            path = o["path"]
            if path in objects:
                hits = [path]
            elif o["role"] == "modified":
                continue
            else:
                hits = [p for p in objects if p.startswith(path.rstrip("/") + "/")]
            for p in hits:
                mine = out.setdefault(p, [])
                if mine and mine[-1][0] is e:
                    mine[-1][1].append(o)
                else:
                    mine.append((e, [o]))
    return out


def _whole_mets(src: d.Sources, objects: list[str]) -> etree._Element:
    relations, touching, agents = d._relations(src), _events_by_object(src, objects), d._mets_agents(src)
    root = metsrw.FSEntry(label="objects", type="Directory")
    dirs = {"": root}

    def directory(parts: tuple[str, ...]) -> metsrw.FSEntry:
        if "/".join(parts) not in dirs:
            dirs["/".join(parts)] = metsrw.FSEntry(label=parts[-1], type="Directory")
            directory(parts[:-1]).add_child(dirs["/".join(parts)])
        return dirs["/".join(parts)]

    for rel in objects:
        entry = d._fs_entry(src, rel)
        obj = d._premis_object(rel, src, relations.get(rel, []))
        obj.set("version", "3.0")
        obj.set(f"{{{d.XSI_NS}}}schemaLocation", f"{d.PREMIS_NS} {d.PREMIS_LOCATION}")
        entry.add_premis_object(obj)
        for e, links in touching.get(rel, []):
            ev = d._premis_event(e, links)
            ev.set("version", "3.0")
            ev.set(f"{{{d.XSI_NS}}}schemaLocation", f"{d.PREMIS_NS} {d.PREMIS_LOCATION}")
            entry.add_premis_event(ev)
        for agent in agents:
            entry.add_premis_agent(d._premis_agent(*agent))
        directory(tuple(rel.split("/")[1:-1])).add_child(entry)
    doc = metsrw.METSDocument()
    doc.objid = src.package["identifier"]
    doc.append_file(root)
    tree = doc.serialize(normative_structmap=False)
    # the shots, as a whole tree: scenes where their first shot is
    frames: dict[str, list] = {}
    for el in src.elements.values():
        frames.setdefault(el["id"], []).extend((f["number"], f["path"]) for f in el["frames"])
    scene_of = {n: sc for sc in src.scenes for n in sc["shots"]}
    smap = etree.SubElement(tree, f"{METS}structMap", TYPE="logical", LABEL="Shots", ID="structMap_shots")
    for element in sorted({s["element"] for s in src.shots}):
        reel = etree.SubElement(smap, f"{METS}div", TYPE="reel", LABEL=element)
        parents: dict = {}
        for s in sorted((s for s in src.shots if s["element"] == element), key=lambda s: (s["first"], s["id"])):
            sc = scene_of.get(s["id"])
            parent = reel
            if sc is not None:
                if sc["id"] not in parents:
                    parents[sc["id"]] = etree.SubElement(reel, f"{METS}div", TYPE="scene", LABEL=sc["id"])
                parent = parents[sc["id"]]
            div = etree.SubElement(parent, f"{METS}div", TYPE="shot", LABEL=s["id"], ORDERLABEL=f"{s['first']}-{s['last']}")
            for _, rel in sorted(f for f in frames.get(element, []) if s["first"] <= f[0] <= s["last"]):
                if rel in objects:
                    etree.SubElement(div, f"{METS}fptr", FILEID=d.metsrw_file_id(src, rel))
    return tree


def _sections(root: etree._Element) -> dict:
    """What a METS document holds, whatever order its amdSecs and files are in (metsrw's fileSec order is a set's)."""
    for el in root.iter():
        for stamp in ("CREATEDATE", "CREATED"):
            if stamp in el.attrib:
                el.attrib[stamp] = "-"
    text = {"with_tail": False}
    return {"attrib": dict(root.attrib), "order": [c.tag for c in root if c.tag != f"{METS}amdSec"],
            "header": etree.tostring(root.find(f"{METS}metsHdr"), **text),
            "amdSec": sorted(etree.tostring(a, **text) for a in root.findall(f"{METS}amdSec")),
            "files": sorted(etree.tostring(f, **text) for f in root.iter(f"{METS}file")),
            "structMaps": [etree.tostring(s, **text) for s in root.findall(f"{METS}structMap")]}


def _whole_crate(src: d.Sources, objects: list[str], event: dict, written: dict) -> bytes:
    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

    pkg, crate = src.package, ROCrate()
    root = crate.root_dataset
    root["name"] = pkg["title"]
    root["description"] = pkg.get("description") or f"ML {pkg['recovery']} recovery restoration package"
    root["identifier"] = pkg["identifier"]
    root["datePublished"] = pkg["created"]
    root["conformsTo"] = {"@id": crate_mod.PROFILE}
    crate.add(ContextEntity(crate, crate_mod.PROFILE, properties={
        "@type": "CreativeWork", "name": "Process Run Crate", "version": "0.5"}))
    statements = [f"{e['id']}: {e['rights']['statement'] or 'no rights statement recorded'}"
                  for e in sorted(src.elements.values(), key=lambda e: e["id"])]
    root["license"] = crate.add(ContextEntity(crate, "#rights", properties={
        "@type": "CreativeWork", "name": "Rights of the elements", "description": "; ".join(statements) or "no elements"}))
    crate.metadata["conformsTo"] = [{"@id": "https://w3id.org/ro/crate/1.1"}, {"@id": "https://w3id.org/ro/crate/1.3"}]
    org = crate.add(ContextEntity(crate, "#organization", properties={"@type": "Organization", "name": pkg["organization"]}))
    root["publisher"] = org
    files = {rel: crate.add_file(None, dest_path=crate_mod._local(rel), properties={
        "sha256": src.sha256[rel], "contentSize": str(src.size(rel))}) for rel in objects}
    files |= {rel: crate.add_file(None, dest_path=crate_mod._local(rel), properties={
        "sha256": sha, "contentSize": str(size)}) for rel, (sha, size) in written.items()}
    dirs, tools = {}, {}

    def entity(path: str):
        if path in files:
            return files[path]
        if path.startswith("data/") and (src.pkg.root / path).is_dir():
            dirs.setdefault(path, None) or dirs.update({path: crate.add_dataset(None, dest_path=crate_mod._local(path) + "/")})
            return dirs[path]
        return None

    for e in src.events + [event]:
        v = e["agent"]["version"]
        if v not in tools:
            tools[v] = crate.add(ContextEntity(crate, f"#archivist-{v}", properties={
                "@type": "SoftwareApplication", "name": e["agent"]["name"], "softwareVersion": v}))
        inputs = [x for x in (entity(o["path"]) for o in e["objects"] if o["role"] == "source") if x is not None]
        outputs = [x for x in (entity(o["path"]) for o in e["objects"]
                               if o["role"] in ("created", "modified", "outcome")) if x is not None]
        props = {"name": f"archivist {e['command']}", "endTime": e["time"],
                 "actionStatus": {"@id": "http://schema.org/CompletedActionStatus" if e["outcome"] != "failure"
                                  else "http://schema.org/FailedActionStatus"}, "agent": {"@id": org.id}}
        if e.get("detail"):
            props["description"] = e["detail"]
        crate.add_action(tools[v], identifier=f"#{e['id'].removeprefix('urn:uuid:')}", object=inputs or None,
                         result=outputs or None, properties=props)
    return (json.dumps(crate.metadata.generate(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _reset_mets_ids() -> None:
    # metsrw numbers sections per process; both documents start from 1
    mets_metadata.AMDSec._id_generator.clear()
    for gen in mets_metadata.SubSection._id_generators.values():
        gen.clear()


def test_streamed_metadata_is_what_whole_documents_give(package: Package):
    store.write(package, [ShotSpec("sh1", 1001, 1002), ShotSpec("sh2", 1003, 1003), ShotSpec("sh3", 1004, 1004)],
                element="print16", origin={"kind": "manual"})
    store.group(package, "sc1", ["sh1", "sh3"])
    with package.transaction("infer") as txn:  # as infer's later batch commits name the run's directory
        modified = events.new_event("infer", "creation", "2026-01-01T00:00:00Z",
                                    [{"path": "data/sources/print16", "role": "modified"}], detail="a later batch")
        events.append(txn, modified)
        txn.commit()
    d.describe(package)  # a second describe describes the first one's files too
    src = d.Sources(package)
    objects = src.objects()
    assert not any(p.startswith("data/metadata/") for p in objects) and len(objects) > 8
    assert d.premis_document(src, objects) == _whole_premis(src, objects)

    _reset_mets_ids()
    streamed = etree.fromstring(d.mets_document(src, objects))
    _reset_mets_ids()
    whole = etree.fromstring(etree.tostring(_whole_mets(src, objects), pretty_print=True))
    assert _sections(streamed) == _sections(whole)
    ids = [a.get("ID") for a in streamed.findall(f"{METS}amdSec")]
    assert ids == [f"amdSec_{i + 1}" for i in range(len(objects))]  # in the files' order
    uuid = modified["id"].removeprefix("urn:uuid:")
    assert uuid not in etree.tostring(streamed).decode() and uuid in d.premis_document(src, objects).decode()
    shots = streamed.find(f"{METS}structMap[@ID='structMap_shots']")
    assert [(x.get("TYPE"), x.get("LABEL")) for x in shots[0]] == [("scene", "sc1"), ("shot", "sh2")]

    event = events.new_event("describe", "creation", "2026-01-01T00:00:00Z", [], detail="test")
    written = {rel: ("0" * 64, 1) for rel in (d.METADATA_CSV, d.RIGHTS_CSV, d.PREMIS_XML, d.METS_XML)}
    event["objects"] = [{"path": rel, "role": "created", "sha256": "0" * 64} for rel in written]
    assert crate_mod.crate_document(src, objects, event, written) == _whole_crate(src, objects, event, written)


def test_verify_reads_premis_as_a_stream_and_names_what_disagrees(package: Package):
    from support.verify import edit_json, rehash

    from archivist.package.hashing import hash_file
    from archivist.verify import verify

    d.describe(package)
    assert verify(package.root).problems == []
    root, rel = package.root, d.PREMIS_XML
    doc = etree.parse(str(root / rel))
    first = doc.find(f"{{{d.PREMIS_NS}}}object//{{{d.PREMIS_NS}}}messageDigest")
    first.text = "0" * 64
    event = doc.find(f"{{{d.PREMIS_NS}}}event")
    event.getparent().remove(event)
    doc.write(str(root / rel), xml_declaration=True, encoding="UTF-8")
    rehash(root, rel)
    sha = hash_file(root / rel, algorithms=["sha256"]).digests["sha256"]
    edit_json(root, d.RECORD, lambda rec: next(f for f in rec["files"] if f["path"] == rel).update(
        sha256=sha, size=(root / rel).stat().st_size))
    found = [p.message for p in verify(root).problems if p.code == "CON-008"]
    assert any("objects have another SHA-256" in m for m in found) and any("events, the metadata" in m for m in found)

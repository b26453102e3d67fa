"""``data/ro-crate-metadata.json``: the payload as a Process Run Crate, written with ``rocrate``.

The crate's root is the bag's payload directory, as RO-Crate embeds a crate
in a BagIt bag. Every event of the log that made or changed something is a
``CreateAction``: its instrument is the archivist version that ran it, its
objects the files it read (with their SHA-256), its results the files it
wrote. Files are named by their path under ``data/``.
"""

from __future__ import annotations

import io
import json
from pathlib import PurePosixPath
from urllib.parse import quote

from archivist.archive.stream import json_lines
from archivist.package.layout import PAYLOAD_DIR

PROFILE = "https://w3id.org/ro/wfrun/process/0.5"
PATH = f"{PAYLOAD_DIR}/ro-crate-metadata.json"


def _local(rel: str) -> str:
    return rel[len(PAYLOAD_DIR) + 1:]


def _file_id(rel: str) -> str:
    # rocrate's identifier for a file added with dest_path (quoted as it quotes it)
    return quote(PurePosixPath(_local(rel)).as_posix())


def write_crate(out, src, objects: list[str], describe_event: dict, written: dict[str, tuple[str, int]]) -> None:
    """The crate for the package as ``src`` (describe.Sources) reads it, to ``out`` (a binary file).

    ``objects`` are the sorted payload files it describes; ``written`` (path -> SHA-256, size) the
    metadata files the describe event writes beside it, which are its results.

    The entities other than files are made with ``rocrate`` as a crate without files; the file
    entities (and the root's ``hasPart`` list of them) are written one at a time where ``rocrate``
    would have placed them, so the bytes are those of the whole crate's ``json.dumps(indent=2)``.
    """
    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

    from archivist.archive.describe import listed

    pkg = src.package
    crate = ROCrate()
    root = crate.root_dataset
    root["name"] = pkg["title"]
    root["description"] = pkg.get("description") or f"ML {pkg['recovery']} recovery restoration package"
    root["identifier"] = pkg["identifier"]
    root["datePublished"] = pkg["created"]
    root["conformsTo"] = {"@id": PROFILE}
    crate.add(ContextEntity(crate, PROFILE, properties={
        "@type": "CreativeWork", "name": "Process Run Crate", "version": "0.5"}))
    # No licence is recorded; the rights statements of the elements stand for it (rights.csv has them all).
    statements = [f"{e['id']}: {e['rights']['statement'] or 'no rights statement recorded'}"
                  for e in sorted(src.elements.values(), key=lambda e: e["id"])]
    root["license"] = crate.add(ContextEntity(crate, "#rights", properties={
        "@type": "CreativeWork", "name": "Rights of the elements",
        "description": "; ".join(statements) or "no elements"}))
    # The crate is written with the RO-Crate 1.3 context; the Process Run Crate 0.5 builds on 1.1,
    # whose terms it uses only.
    crate.metadata["conformsTo"] = [{"@id": "https://w3id.org/ro/crate/1.1"}, {"@id": "https://w3id.org/ro/crate/1.3"}]
    org = crate.add(ContextEntity(crate, "#organization", properties={"@type": "Organization",
                                                                      "name": pkg["organization"]}))
    root["publisher"] = org
    root.append_to("hasPart", [])  # where the first file would have started it; the files go first in it
    files_at = len(crate.get_entities())  # the files' entities come here in the graph

    def file_entities():
        for rel in objects:
            yield {"@id": _file_id(rel), "@type": "File", "sha256": src.sha256[rel], "contentSize": str(src.size(rel))}
        for rel, (sha256, size) in written.items():
            yield {"@id": _file_id(rel), "@type": "File", "sha256": sha256, "contentSize": str(size)}

    every = src.events + [describe_event]
    made = ("created", "modified", "outcome")

    def named(e: dict):
        """The paths an event's action names, in rocrate's order: its sources, then what it made."""
        yield from (o["path"] for o in e["objects"] if o["role"] == "source")
        yield from (o["path"] for o in e["objects"] if o["role"] in made)

    def is_file(path: str) -> bool:
        return listed(objects, path) or path in written

    # The directories the actions name, in the order rocrate would add them (the root lists them).
    dirs: dict = {}
    for e in every:
        for path in named(e):
            if path not in dirs and not is_file(path) and path.startswith(PAYLOAD_DIR + "/") \
                    and (src.pkg.root / path).is_dir():
                dirs[path] = crate.add_dataset(None, dest_path=_local(path).rstrip("/") + "/")

    def ref(path: str):
        if is_file(path):
            return {"@id": _file_id(path)}
        return dirs.get(path)  # None: a file that is no longer in the package (replaced since)

    def tail():
        """Tools, directories and actions, in the order rocrate adds them, one action at a time."""
        tools: dict = {}
        shown: set = set()
        for e in every:
            version = e["agent"]["version"]
            if version not in tools:
                tools[version] = ContextEntity(crate, f"#archivist-{version}", properties={
                    "@type": "SoftwareApplication", "name": e["agent"]["name"], "softwareVersion": version})
                yield tools[version].properties()
            for path in named(e):
                if path in dirs and path not in shown:
                    shown.add(path)
                    yield dirs[path].properties()
            inputs = [x for x in (ref(o["path"]) for o in e["objects"] if o["role"] == "source") if x is not None]
            outputs = [x for x in (ref(o["path"]) for o in e["objects"] if o["role"] in made) if x is not None]
            props = {"name": f"archivist {e['command']}", "endTime": e["time"],
                     "actionStatus": {"@id": "http://schema.org/CompletedActionStatus"
                                      if e["outcome"] != "failure" else "http://schema.org/FailedActionStatus"},
                     "agent": {"@id": org.id}, "@type": "CreateAction"}
            if e.get("detail"):
                props["description"] = e["detail"]
            # as ROCrate.add_action makes it
            action = ContextEntity(crate, f"#{e['id'].removeprefix('urn:uuid:')}", properties=props)
            action["instrument"] = tools[version]
            if inputs:
                action["object"] = inputs
            if outputs:
                action["result"] = outputs
            yield action.properties()

    doc = crate.metadata.generate()
    graph = doc.pop("@graph")[:files_at]  # the directories that follow are written with their actions
    # {"@context": ..., "@graph": [ entity, ... ]} as json.dumps(indent=2) writes it, entity by entity
    head = json.dumps({**doc, "@graph": [None]}, indent=2, ensure_ascii=False)
    before, after = head.split("\n    null\n")
    out.write((before + "\n").encode("utf-8"))
    first = True

    def put(pieces) -> None:
        nonlocal first
        if not first:
            out.write(b",\n")
        first = False
        for piece in pieces:
            out.write(piece.encode("utf-8"))

    for props in graph:
        put(_root_lines(props, file_entities()) if props is root.properties() else [json_lines(props, 2)])
    for f in file_entities():
        put([json_lines(f, 2)])
    for props in tail():
        put([json_lines(props, 2)])
    out.write(("\n" + after + "\n").encode("utf-8"))


def _root_lines(props: dict, files):
    """The root dataset in pieces, its ``hasPart`` the files (one at a time) then what it already lists."""
    marker = "archivist-stream-has-part"
    before, after = json_lines({**props, "hasPart": marker}, 2).split(f'"hasPart": "{marker}"')
    yield before + '"hasPart": ['
    n = 0
    for ref in ({"@id": f["@id"]} for f in files):
        yield ("\n" if n == 0 else ",\n") + json_lines(ref, 4)
        n += 1
    for ref in props["hasPart"]:
        yield ("\n" if n == 0 else ",\n") + json_lines(ref, 4)
        n += 1
    yield ("\n      ]" if n else "]") + after


def crate_document(src, objects: list[str], describe_event: dict, written: dict[str, tuple[str, int]]) -> bytes:
    """The crate's bytes (``write_crate`` into memory, for small packages)."""
    buf = io.BytesIO()
    write_crate(buf, src, objects, describe_event, written)
    return buf.getvalue()

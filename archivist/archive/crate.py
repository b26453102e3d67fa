"""``data/ro-crate-metadata.json``: the payload as a Process Run Crate, written with ``rocrate``.

The crate's root is the bag's payload directory, as RO-Crate embeds a crate
in a BagIt bag. Every event of the log that made or changed something is a
``CreateAction``: its instrument is the archivist version that ran it, its
objects the files it read (with their SHA-256), its results the files it
wrote. Files are named by their path under ``data/``.
"""

from __future__ import annotations

import json

from archivist.package.layout import PAYLOAD_DIR

PROFILE = "https://w3id.org/ro/wfrun/process/0.5"
PATH = f"{PAYLOAD_DIR}/ro-crate-metadata.json"


def _local(rel: str) -> str:
    return rel[len(PAYLOAD_DIR) + 1:]


def crate_document(src, objects: list[str], describe_event: dict, written: dict[str, tuple[str, int]]) -> bytes:
    """The crate for the package as ``src`` (describe.Sources) reads it.

    ``objects`` are the payload files it describes; ``written`` (path -> SHA-256, size) the metadata
    files the describe event writes beside it, which are its results.
    """
    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

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

    files = {}
    for rel in objects:
        files[rel] = crate.add_file(None, dest_path=_local(rel), properties={
            "sha256": src.sha256[rel], "contentSize": str((src.pkg.root / rel).stat().st_size)})
    for rel, (sha256, size) in written.items():
        files[rel] = crate.add_file(None, dest_path=_local(rel), properties={"sha256": sha256,
                                                                            "contentSize": str(size)})
    dirs = {}

    def entity(path: str):
        if path in files:
            return files[path]
        if path.startswith(PAYLOAD_DIR + "/") and (src.pkg.root / path).is_dir():
            if path not in dirs:
                dirs[path] = crate.add_dataset(None, dest_path=_local(path).rstrip("/") + "/")
            return dirs[path]
        return None  # a file that is no longer in the package (replaced since)

    tools = {}
    for e in src.events + [describe_event]:
        version = e["agent"]["version"]
        if version not in tools:
            tools[version] = crate.add(ContextEntity(crate, f"#archivist-{version}", properties={
                "@type": "SoftwareApplication", "name": e["agent"]["name"], "softwareVersion": version}))
        inputs = [entity(o["path"]) for o in e["objects"] if o["role"] == "source"]
        outputs = [entity(o["path"]) for o in e["objects"] if o["role"] in ("created", "modified", "outcome")]
        inputs = [x for x in inputs if x is not None]
        outputs = [x for x in outputs if x is not None]
        props = {"name": f"archivist {e['command']}", "endTime": e["time"],
                 "actionStatus": {"@id": "http://schema.org/CompletedActionStatus"
                                  if e["outcome"] != "failure" else "http://schema.org/FailedActionStatus"},
                 "agent": {"@id": org.id}}
        if e.get("detail"):
            props["description"] = e["detail"]
        crate.add_action(tools[version], identifier=f"#{e['id'].removeprefix('urn:uuid:')}",
                         object=inputs or None, result=outputs or None, properties=props)
    return (json.dumps(crate.metadata.generate(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")

"""BagIt Profiles 1.4: load and check a profile, then check a bag against it.

The published ``bagit_profile`` validator predates 1.4 (no
``Payload-Files-Required``/``-Allowed``), crashes on some valid profiles
and calls ``sys.exit``; this module is small and reports every problem.

Path patterns (``Tag-Files-Allowed``, ``Payload-Files-Allowed``) follow the
specification's wording, "asterisks can represent zero or more
characters": ``*`` also matches ``/``, so ``data/outputs/*`` covers a whole
subtree. ``?`` and ``[...]`` work as in glob(7).
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path

from archivist.errors import InputError
from archivist.package.layout import BAG_INFO_TXT, BAGIT_TXT, PROFILE_FILE, PROFILE_IDENTIFIER, Layout
from archivist.verify.bag import FETCH_TXT, NON_REPEATABLE, BagView
from archivist.verify.inventory import Tree
from archivist.verify.report import Report

KEYS = (
    "BagIt-Profile-Info", "Bag-Info", "Manifests-Required", "Manifests-Allowed", "Allow-Fetch.txt",
    "Fetch.txt-Required", "Data-Empty", "Serialization", "Accept-Serialization", "Accept-BagIt-Version",
    "Tag-Manifests-Required", "Tag-Manifests-Allowed", "Tag-Files-Required", "Tag-Files-Allowed",
    "Payload-Files-Required", "Payload-Files-Allowed",
)
INFO_REQUIRED = ("Source-Organization", "External-Description", "Version", "BagIt-Profile-Identifier")
TAG_KEYS = ("required", "values", "repeatable", "description")
LISTS = ("Manifests-Required", "Manifests-Allowed", "Accept-Serialization", "Accept-BagIt-Version",
         "Tag-Manifests-Required", "Tag-Manifests-Allowed", "Tag-Files-Required", "Tag-Files-Allowed",
         "Payload-Files-Required", "Payload-Files-Allowed")
BOOLS = ("Allow-Fetch.txt", "Fetch.txt-Required", "Data-Empty")
SERIALIZATION = ("forbidden", "required", "optional")
KNOWN = {PROFILE_IDENTIFIER}  # profiles archivist ships; others are only checked with --profile


def matches(patterns: list[str], path: str) -> bool:
    """Whether ``path`` matches any profile pattern.

    >>> matches(["data/sources/*/*"], "data/sources/print16/shot.1001.exr")
    True
    >>> matches(["data/outputs/*"], "data/outputs/run1/frames/f.exr")
    True
    >>> matches(["manifest-*.txt"], "tagmanifest-sha256.txt")
    False
    """
    return any(fnmatchcase(path, p) for p in patterns)


def _is_bagit_file(name: str) -> bool:
    """Tag files BagIt itself defines; governed by their own profile keys, not Tag-Files-Allowed."""
    if "/" in name:
        return False
    return name in (BAGIT_TXT, BAG_INFO_TXT, FETCH_TXT) or matches(["manifest-*.txt", "tagmanifest-*.txt"], name)


def document_problems(doc: object) -> list[str]:
    """Every way ``doc`` fails BagIt Profiles 1.4 (empty when it is a valid profile)."""
    if not isinstance(doc, dict):
        return ["the profile is not a JSON object"]
    out = [f"unknown key {k!r}" for k in doc if k not in KEYS]
    info = doc.get("BagIt-Profile-Info")
    if not isinstance(info, dict):
        out.append("BagIt-Profile-Info is missing or not an object")
    else:
        for key in INFO_REQUIRED:
            if not isinstance(info.get(key), str) or not info[key].strip():
                out.append(f"BagIt-Profile-Info needs {key}")
        version = info.get("BagIt-Profile-Version", "1.1.0")
        if not isinstance(version, str) or not version.startswith("1."):
            out.append(f"BagIt-Profile-Version {version!r} is not a 1.x version of the specification")
    bag_info = doc.get("Bag-Info", {})
    if not isinstance(bag_info, dict):
        out.append("Bag-Info is not an object")
        bag_info = {}
    for label, spec in bag_info.items():
        if not isinstance(spec, dict):
            out.append(f"Bag-Info {label!r} is not an object")
            continue
        out += [f"Bag-Info {label!r}: unknown key {k!r}" for k in spec if k not in TAG_KEYS]
        for key in ("required", "repeatable"):
            if key in spec and not isinstance(spec[key], bool):
                out.append(f"Bag-Info {label!r}: {key} must be true or false")
        values = spec.get("values", [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            out.append(f"Bag-Info {label!r}: values must be a list of strings")
        if "description" in spec and not isinstance(spec["description"], str):
            out.append(f"Bag-Info {label!r}: description must be a string")
    for key in LISTS:
        if key in doc and (not isinstance(doc[key], list) or not all(isinstance(v, str) for v in doc[key])):
            out.append(f"{key} must be a list of strings")
    for key in BOOLS:
        if key in doc and not isinstance(doc[key], bool):
            out.append(f"{key} must be true or false")
    if "Serialization" in doc and doc["Serialization"] not in SERIALIZATION:
        out.append(f"Serialization must be one of {', '.join(SERIALIZATION)}")
    if out:
        return out  # the cross-checks below assume the types are right
    if not doc.get("Accept-BagIt-Version"):
        out.append("Accept-BagIt-Version must list at least one version")
    if doc.get("Serialization") in ("required", "optional") and not doc.get("Accept-Serialization"):
        out.append("Accept-Serialization must list at least one type when Serialization is required or optional")
    if doc.get("Fetch.txt-Required") and doc.get("Allow-Fetch.txt") is False:
        out.append("Fetch.txt-Required is true but Allow-Fetch.txt is false")
    for kind in ("Manifests", "Tag-Manifests"):
        allowed = doc.get(f"{kind}-Allowed")
        if allowed is not None:
            out += [f"{kind}-Required {a!r} is not in {kind}-Allowed" for a in doc.get(f"{kind}-Required", [])
                    if a not in allowed]
    for kind in ("Tag-Files", "Payload-Files"):
        allowed = doc.get(f"{kind}-Allowed")
        if allowed is not None:
            for p in doc.get(f"{kind}-Required", []):
                probe = p + "x" if p.endswith("/") else p  # a required directory: something inside it
                if not matches(allowed, probe):
                    out.append(f"{kind}-Required {p!r} is not covered by {kind}-Allowed")
    out += [f"Payload-Files-Required {p!r} is not under data/" for p in doc.get("Payload-Files-Required", [])
            if not Layout.is_payload(p)]
    return out


def builtin_text() -> str:
    return resources.files("archivist.profiles").joinpath(PROFILE_FILE).read_text("utf-8")


def load(path: Path | str | None = None) -> dict:
    """The profile at ``path``, or archivist's own; refuse one that is not a valid 1.4 profile."""
    where = str(path) if path is not None else f"built-in profile {PROFILE_FILE}"
    try:
        doc = json.loads(Path(path).read_text("utf-8") if path is not None else builtin_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError("VERIFY-PROFILE", f"cannot read the BagIt profile {where}: {exc}") from None
    found = document_problems(doc)
    if found:
        raise InputError("VERIFY-PROFILE", f"{where} is not a valid BagIt profile (1.4): " + "; ".join(found),
                         hint="see https://bagit-profiles.github.io/bagit-profiles-specification/")
    return doc


def identifier(doc: dict) -> str:
    return doc["BagIt-Profile-Info"]["BagIt-Profile-Identifier"]


def _manifest_algs(names: list[str], prefix: str) -> list[str]:
    return [n[len(prefix):-len(".txt")] for n in names]


def check(doc: dict, tree: Tree, view: BagView, report: Report) -> None:
    """Report every way the bag fails the profile ``doc``."""
    ident = identifier(doc)
    declared = view.info_values("BagIt-Profile-Identifier")
    if ident not in declared:
        found = ", ".join(declared) if declared else "nothing"
        report.add("PRO-001", BAG_INFO_TXT, f"BagIt-Profile-Identifier should be {ident}; found {found}")
    non_repeatable = {n.lower() for n in NON_REPEATABLE}
    for label, spec in doc.get("Bag-Info", {}).items():
        if label.lower() == "bagit-profile-identifier":
            continue  # always required; PRO-001 above
        values = view.info_values(label)
        if spec.get("required") and not values:
            report.add("PRO-002", BAG_INFO_TXT, f"required element {label} is missing")
        allowed = spec.get("values") or []
        for v in values:
            if allowed and v not in allowed:
                report.add("PRO-003", BAG_INFO_TXT, f"{label}: {v!r} is not one of {', '.join(allowed)}")
        if spec.get("repeatable", True) is False and len(values) > 1 and label.lower() not in non_repeatable:
            report.add("PRO-004", BAG_INFO_TXT, f"{label} appears {len(values)} times; the profile allows one")
    for kind, names, prefix, code in (("Manifests", view.manifest_files, "manifest-", "PRO-005"),
                                      ("Tag-Manifests", view.tag_manifest_files, "tagmanifest-", "PRO-006")):
        present = _manifest_algs(names, prefix)
        for alg in doc.get(f"{kind}-Required", []):
            if alg not in present:
                report.add(code, f"{prefix}{alg}.txt", f"the profile requires {prefix}{alg}.txt")
        allowed = doc.get(f"{kind}-Allowed")
        if allowed is not None:
            for alg in present:
                if alg not in allowed:
                    report.add(code, f"{prefix}{alg}.txt", f"{prefix}{alg}.txt is not allowed by the profile "
                                                           f"({', '.join(allowed)})")
    has_fetch = FETCH_TXT in tree.files
    if has_fetch and doc.get("Allow-Fetch.txt", True) is False:
        report.add("PRO-007", FETCH_TXT, "the profile does not allow fetch.txt")
    if not has_fetch and doc.get("Fetch.txt-Required", False):
        report.add("PRO-007", FETCH_TXT, "the profile requires fetch.txt")
    accepted = doc["Accept-BagIt-Version"]
    if view.version is not None and view.version not in accepted:
        report.add("PRO-008", BAGIT_TXT, f"BagIt {view.version} is not accepted by the profile ({', '.join(accepted)})")
    tags = tree.tags()
    for name in doc.get("Tag-Files-Required", []):
        if name not in tags:
            report.add("PRO-009", name, "the profile requires this tag file")
    allowed = doc.get("Tag-Files-Allowed")
    if allowed is not None:
        for name in sorted(tags):
            if not _is_bagit_file(name) and not matches(allowed, name):
                report.add("PRO-010", name, "tag file not allowed by the profile's Tag-Files-Allowed")
    payload = tree.payload()
    for name in doc.get("Payload-Files-Required", []):
        exists = (name.rstrip("/") in tree.dirs and any(p.startswith(name) for p in payload)) \
            if name.endswith("/") else name in payload
        if not exists:
            report.add("PRO-011", name, "the profile requires this payload file")
    allowed = doc.get("Payload-Files-Allowed")
    if allowed is not None:
        for name in sorted(payload):
            if not matches(allowed, name):
                report.add("PRO-012", name, "payload file outside the profile's Payload-Files-Allowed")
    if doc.get("Data-Empty", False) and (len(payload) > 1 or any(payload.values())):
        report.add("PRO-013", "data", f"the profile requires an empty payload; found {len(payload)} files")
    if doc.get("Serialization") == "required":
        report.add("PRO-014", None, "the profile requires a serialised bag; a directory was given")

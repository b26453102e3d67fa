"""Every rule ``archivist verify`` applies, with a stable code.

Codes never change meaning once released; a retired rule keeps its code
unused. ``docs/verify-rules.md`` is generated from this table
(``python -c "from archivist.verify.rules import markdown; print(markdown(), end='')" > docs/verify-rules.md``)
and a test keeps the two in step. Each rule names the modules that report it
(``module``), and a test checks that exactly those modules use its code.

Families: ``PKG`` package state, ``BAG`` RFC 8493, ``PRO`` BagIt profile,
``REC`` records and event log, ``CON`` consistency between records,
manifests and ``bag-info.txt``, ``OUT`` inference outputs (lineage and the
agreement of each frame's header, sidecars and credential with its run
record), ``DER`` derived elements (a run's outputs used by a later stage),
``C2PA`` Content Credentials and the package seal.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    title: str
    meaning: str
    trigger: str
    fix: str
    ref: str = ""
    module: str = ""  # the modules that report it, ", " between several; a test checks them against the source

    @property
    def modules(self) -> tuple[str, ...]:
        """The modules of ``archivist.verify`` that report this rule."""
        return tuple(m.strip() for m in self.module.split(",") if m.strip())


_RULES = [
    # -- package state ---------------------------------------------------------------
    Rule("PKG-001", ERROR, "A command is writing to the package",
         "Another archivist command holds the package's write lock, so the package may be half-way through a change "
         "and any result would describe a state that is about to disappear.",
         "`.archivist/lock` is held by a running process.",
         "Wait for the other command to finish, then verify again.",
         module="archivist.verify.state"),
    Rule("PKG-002", ERROR, "An interrupted command left unfinished work",
         "A command was killed before it finished. Its staged files or its journal are still in the package, "
         "and some files may already have been replaced.",
         "`.archivist/journal.json` or `.archivist/staging/` exists and no process holds the write lock.",
         "Run `archivist recover PKG`: it rolls the package back to the state before the interrupted command.",
         module="archivist.verify.state"),
    Rule("PKG-003", WARNING, "Stale working files",
         "`.archivist/` holds leftovers of a command that died before it staged anything (for example a lock file "
         "nobody holds), or frames of an inference run that was stopped before it committed them. The bag itself "
         "is not affected.",
         "`.archivist/` exists, no process holds the lock, and there is no journal or staging directory.",
         "Run `archivist recover PKG`, which removes them; for an unfinished inference run (`.archivist/runs/`), "
         "run the same `archivist infer` command again, which finishes it.",
         module="archivist.verify.state"),
    Rule("PKG-004", WARNING, "Abandoned training run",
         "A training run's record says `running`, but no archivist command holds the package: the run was killed "
         "or interrupted and nothing is training it. The package holds the run up to its last checkpoint, which "
         "is checked like any other file. `train` takes the lock only while it commits, so a run still training "
         "in another process between two checkpoints looks the same; `archivist info` shows the step reached.",
         "`status: running` in `data/records/training/<run>.json` and no process holds `.archivist/lock`.",
         "Run `archivist train PKG --resume RUN` to continue the run from its last checkpoint; the run stays "
         "usable as it is (`archivist export PKG --run RUN` exports its last checkpoint).",
         module="archivist.verify.runs"),
    Rule("PKG-005", ERROR, "Link in the working directory",
         "`.archivist/`, or something in it (the lock, the journal, staging, backups, inference run folders), is a "
         "symbolic link. archivist never writes through such a link, since a command's files would land wherever "
         "it points, outside the package; every write command refuses the package until it is removed.",
         "`.archivist` itself, or any entry under it, is a symbolic link.",
         "Remove the link (archivist never makes one, so nothing of the package is in it), then verify again.",
         module="archivist.verify.state"),
    # -- RFC 8493 ------------------------------------------------------------------------
    Rule("BAG-001", ERROR, "bagit.txt is malformed",
         "The bag declaration must be exactly two lines, `BagIt-Version: M.N` then `Tag-File-Character-Encoding: "
         "ENCODING`, in UTF-8 without a byte-order mark.",
         "A byte-order mark, a missing, extra, reordered or misspelt line, or bytes that are not UTF-8. "
         "Lines may end in LF, CRLF or CR.",
         "Rewrite `bagit.txt` as the two lines (for archivist packages `BagIt-Version: 1.0` and "
         "`Tag-File-Character-Encoding: UTF-8`) and update the tag manifests.", "RFC 8493 2.1.1",
         module="archivist.verify.bag"),
    Rule("BAG-002", WARNING, "BagIt version 0.97",
         "The bag declares BagIt 0.97, the last draft before RFC 8493. It is read with the 1.0 rules; tools "
         "such as bagit-python still write it.",
         "`BagIt-Version: 0.97` in `bagit.txt`.",
         "Nothing is needed to read it. Re-bag as 1.0 if the receiving archive requires it.", "RFC 8493 2.1.1",
         module="archivist.verify.bag"),
    Rule("BAG-003", ERROR, "Unsupported BagIt version",
         "The bag declares a BagIt version other than 1.0 or 0.97, whose rules archivist does not know.",
         "Any other `BagIt-Version` value.",
         "Re-bag with a tool that writes BagIt 1.0.", "RFC 8493 2.1.1",
         module="archivist.verify.bag"),
    Rule("BAG-004", ERROR, "Tag file is not UTF-8",
         "Tag files must be in the encoding `bagit.txt` declares; archivist reads UTF-8 only, so a tag file in "
         "another encoding, or with bytes that are not valid UTF-8, cannot be read reliably.",
         "`Tag-File-Character-Encoding` other than UTF-8, or invalid UTF-8 in `bag-info.txt` or a manifest.",
         "Re-encode the tag file as UTF-8, declare UTF-8 and update the tag manifests.", "RFC 8493 2.1.1",
         module="archivist.verify.bag"),
    Rule("BAG-005", ERROR, "No payload directory",
         "A bag must have a payload directory named `data`.",
         "`data` is missing or is not a directory.",
         "Restore `data/` from a copy of the package.", "RFC 8493 2.1.2",
         module="archivist.verify.bag"),
    Rule("BAG-006", ERROR, "No payload manifest",
         "A bag must have at least one payload manifest `manifest-<algorithm>.txt`; without one nothing can be "
         "checked.",
         "No `manifest-*.txt` at the top of the bag.",
         "Restore the manifests from a copy of the package; re-creating them from the files on disk would "
         "certify whatever damage is there.", "RFC 8493 2.1.3",
         module="archivist.verify.bag"),
    Rule("BAG-007", ERROR, "Payload file missing",
         "A file listed in a payload manifest is not in the bag.",
         "A manifest entry whose file does not exist. When a file whose name differs only in Unicode "
         "normalisation exists, the message names it (a copy between file systems renamed it).",
         "Restore the file from a copy of the package.", "RFC 8493 3",
         module="archivist.verify.bag"),
    Rule("BAG-008", ERROR, "Payload file in no manifest",
         "A file under `data/` is listed in no payload manifest, so nothing vouches for its content.",
         "An extra file under `data/`.",
         "Remove the stray file, or add it with an archivist command so that it is hashed and recorded.",
         "RFC 8493 3",
         module="archivist.verify.bag"),
    Rule("BAG-009", ERROR, "Payload file missing from a manifest",
         "Every payload file must be listed in every payload manifest; this file is listed in some but not all. "
         "bagit-python accepts this.",
         "A file listed in, for example, `manifest-sha256.txt` but not in `manifest-sha512.txt`.",
         "Restore the manifest from a copy of the package.", "RFC 8493 2.1.3",
         module="archivist.verify.bag"),
    Rule("BAG-010", ERROR, "Payload file content changed",
         "The file's digest differs from the manifest: the file was damaged or changed after it was added. "
         "With `--pixels`, for an output EXR whose decoded pixels still match its recorded pixel hash the "
         "message adds that it is a lossless re-encode: the file changed, the image did not (OUT-012).",
         "A digest computed from the file differs from the digest in a payload manifest.",
         "Restore the file from a copy whose digest matches the manifest.", "RFC 8493 3",
         module="archivist.verify.fixity, archivist.verify.outputs"),
    Rule("BAG-011", ERROR, "Manifest entry on the wrong side of data/",
         "Payload manifests may only list files under `data/`, and tag manifests only files outside it. "
         "bagit-python accepts payload manifest entries outside `data/`.",
         "A payload manifest entry such as `bag-info.txt`, or a tag manifest entry under `data/`.",
         "Remove the entry from the manifest.", "RFC 8493 2.1.3, 2.2.1",
         module="archivist.verify.bag"),
    Rule("BAG-012", ERROR, "Malformed manifest line",
         "A manifest line is not `digest path`, the digest has the wrong length for the algorithm, or a path is "
         "listed twice.",
         "A line that does not parse, a truncated digest, or a duplicate entry.",
         "Restore the manifest from a copy of the package.", "RFC 8493 2.1.3",
         module="archivist.verify.bag"),
    Rule("BAG-013", ERROR, "Path not percent-encoded",
         "In manifests `%`, CR and LF in file names must be written `%25`, `%0D` and `%0A`. A bare `%` makes "
         "the name ambiguous. bagit-python does not encode `%`.",
         "A `%` in a manifest path that does not start `%25`, `%0A` or `%0D`.",
         "Rewrite the entry with `%25` for each `%` in the name and update the tag manifests.",
         "RFC 8493 2.1.3",
         module="archivist.verify.bag"),
    Rule("BAG-014", ERROR, "Unknown manifest algorithm",
         "A manifest is named after an algorithm archivist cannot compute (known: md5, sha1, sha224, sha256, "
         "sha384, sha512), so its entries cannot be checked.",
         "A file such as `manifest-foo.txt` or `tagmanifest-crc32.txt`.",
         "Remove the manifest or replace it with one using a known algorithm.", "RFC 8493 2.4",
         module="archivist.verify.bag"),
    Rule("BAG-015", WARNING, "md5sum binary marker",
         "Manifest lines have the `*` that md5sum writes before binary file names. It is read as a marker, not "
         "as part of the name, but it is not BagIt syntax.",
         "Lines of the form `digest *data/...`.",
         "Rewrite the manifest without the `*` and update the tag manifests.", "RFC 8493 2.1.3",
         module="archivist.verify.bag"),
    Rule("BAG-016", ERROR, "Unsafe path in a manifest",
         "A manifest entry could point outside the bag (`..`, an absolute path, a drive letter, a backslash, a "
         "NUL or an empty component). It is reported and never opened.",
         "A hostile or broken manifest entry.",
         "Remove the entry. Treat the bag as untrusted until its origin is understood.",
         module="archivist.verify.bag"),
    Rule("BAG-017", ERROR, "Symbolic link",
         "A symbolic link in a bag can point anywhere, and its target is not part of the bag. Links are "
         "reported and never followed, and manifest entries through them are never opened.",
         "A symbolic link anywhere in the bag, or a manifest entry whose path passes through one.",
         "Replace the link with the file itself (and add it properly) or remove it.",
         module="archivist.verify.bag"),
    Rule("BAG-018", ERROR, "Names collide after Unicode normalisation",
         "Two names differ only in Unicode normalisation (NFC and NFD forms of the same text). Many file "
         "systems treat them as the same file, so which one is meant is ambiguous. Neither is opened.",
         "Two manifest entries, or two files, with the same NFC form.",
         "Rename one of the files and re-add it.",
         module="archivist.verify.bag"),
    Rule("BAG-019", WARNING, "Names differ only in case",
         "Two names differ only in letter case. On case-insensitive file systems (Windows, macOS by default) "
         "one would overwrite the other when the bag is copied.",
         "Two files or manifest entries that are equal ignoring case.",
         "Rename one of them if the bag must travel to such systems.",
         module="archivist.verify.bag"),
    Rule("BAG-020", WARNING, "Windows-reserved name",
         "A path component is a name Windows cannot create (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with any "
         "extension, or ending in a space or dot).",
         "For example `data/aux.txt`.",
         "Rename the file if the bag must be copied to Windows.",
         module="archivist.verify.bag"),
    Rule("BAG-021", ERROR, "Not a readable regular file",
         "An entry is a directory, FIFO, socket or device, or reading it failed. Special files are never "
         "opened (a FIFO would block the check).",
         "A special file in the bag, a manifest entry naming a directory, or an I/O error while hashing.",
         "Replace it with the regular file from a copy of the package; check the storage if reading failed.",
         module="archivist.verify.bag, archivist.verify.credentials, archivist.verify.fixity, archivist.verify.outputs"),
    Rule("BAG-022", ERROR, "Tag manifest omits a payload manifest",
         "Every tag manifest must list every payload manifest, so that a change to a payload manifest is "
         "detected. bagit-python accepts this.",
         "A tag manifest without a line for, for example, `manifest-sha512.txt`.",
         "Restore the tag manifest from a copy of the package.", "RFC 8493 2.2.1",
         module="archivist.verify.bag"),
    Rule("BAG-023", ERROR, "Tag file missing",
         "A file listed in a tag manifest is not in the bag.",
         "A tag manifest entry whose file does not exist.",
         "Restore the tag file from a copy of the package.", "RFC 8493 3",
         module="archivist.verify.bag"),
    Rule("BAG-024", ERROR, "Tag file content changed",
         "A tag file (bag-info.txt, a manifest, ...) differs from its digest in a tag manifest.",
         "A digest computed from the tag file differs from the tag manifest.",
         "Restore the tag file from a copy of the package.", "RFC 8493 3",
         module="archivist.verify.fixity"),
    Rule("BAG-025", WARNING, "Tag file not in a tag manifest",
         "Tag manifests should list every tag file other than themselves; this one is not covered, so a "
         "change to it would go unnoticed. The package seal `tagmanifest-sha256.c2pa` is exempt: it is a "
         "signature over the tag manifest, which therefore cannot list it.",
         "A tag file missing from a tag manifest.",
         "Add it to the tag manifests, or remove it.", "RFC 8493 2.2.1",
         module="archivist.verify.bag"),
    Rule("BAG-026", ERROR, "Malformed bag-info.txt line",
         "Every line of `bag-info.txt` is `Label: value` or an indented continuation of the line before.",
         "A line without a colon, or starting with one.",
         "Correct the line and update the tag manifests.", "RFC 8493 2.2.2",
         module="archivist.verify.bag"),
    Rule("BAG-027", ERROR, "Payload-Oxum is wrong",
         "`Payload-Oxum` (`octets.files`) does not match the payload on disk, or does not parse.",
         "Files added to or removed from `data/`, a truncated file, or a malformed value.",
         "Find the changed files (the other problems list them) and restore them.", "RFC 8493 2.2.2",
         module="archivist.verify.bag"),
    Rule("BAG-028", ERROR, "Non-repeatable bag-info element repeated",
         "`Bagging-Date`, `Bag-Size`, `Payload-Oxum`, `Bag-Group-Identifier` and `Bag-Count` may appear only "
         "once. bagit-python accepts a duplicate `Payload-Oxum`.",
         "One of these labels twice in `bag-info.txt`.",
         "Keep the correct line, remove the others and update the tag manifests.", "RFC 8493 2.2.2",
         module="archivist.verify.bag"),
    Rule("BAG-029", WARNING, "No Payload-Oxum",
         "`bag-info.txt` has no `Payload-Oxum`, so a quick completeness check is not possible. It is optional "
         "in RFC 8493 and required by the archivist profile.",
         "No `Payload-Oxum` line (or no `bag-info.txt`).",
         "Add `Payload-Oxum: <octets>.<files>` and update the tag manifests.", "RFC 8493 2.2.2",
         module="archivist.verify.bag"),
    Rule("BAG-030", WARNING, "fetch.txt lists files",
         "The bag may be incomplete (holey): `fetch.txt` lists files to download. archivist never downloads; "
         "listed files that are absent are reported as missing.",
         "A non-empty `fetch.txt`.",
         "Fetch the files with a BagIt tool, then verify again.", "RFC 8493 2.2.3",
         module="archivist.verify.bag"),
    # -- BagIt profile -------------------------------------------------------------------
    Rule("PRO-001", ERROR, "Bag does not declare the profile",
         "A bag that conforms to a BagIt profile must name it in `BagIt-Profile-Identifier`. The bag is an "
         "archivist package (or was checked with `--profile`) but does not declare that profile.",
         "`BagIt-Profile-Identifier` absent or naming another profile.",
         "Add `BagIt-Profile-Identifier: <profile identifier>` to `bag-info.txt` and update the tag manifests.",
         "BagIt Profiles 1.4",
         module="archivist.verify.profile"),
    Rule("PRO-002", ERROR, "Required bag-info element missing",
         "The profile's `Bag-Info` section requires an element that `bag-info.txt` lacks.",
         "For example no `External-Identifier`.",
         "Add the element and update the tag manifests.", "BagIt Profiles 1.4",
         module="archivist.verify.profile"),
    Rule("PRO-003", ERROR, "bag-info value not allowed",
         "The profile lists the values an element may take, and the bag's value is not one of them.",
         "For example `Archivist-Recovery-Type: colour`.",
         "Use one of the listed values.", "BagIt Profiles 1.4",
         module="archivist.verify.profile"),
    Rule("PRO-004", ERROR, "bag-info element repeated",
         "The profile marks the element `repeatable: false` and `bag-info.txt` has it more than once. "
         "(Elements RFC 8493 itself forbids repeating are reported as BAG-028.)",
         "For example two `External-Identifier` lines.",
         "Keep one line and update the tag manifests.", "BagIt Profiles 1.4",
         module="archivist.verify.profile"),
    Rule("PRO-005", ERROR, "Payload manifest algorithms do not match the profile",
         "A payload manifest algorithm the profile requires is missing, or one it does not allow is present.",
         "For an archivist package: no `manifest-sha512.txt` or `manifest-sha256.txt`, or an extra "
         "`manifest-md5.txt`.",
         "Restore the missing manifest from a copy; remove manifests the profile does not allow.",
         "BagIt Profiles 1.4",
         module="archivist.verify.profile"),
    Rule("PRO-006", ERROR, "Tag manifest algorithms do not match the profile",
         "A tag manifest algorithm the profile requires is missing, or one it does not allow is present.",
         "For an archivist package: no `tagmanifest-sha512.txt` or `tagmanifest-sha256.txt`.",
         "Restore the tag manifest from a copy; remove tag manifests the profile does not allow.",
         "BagIt Profiles 1.4",
         module="archivist.verify.profile"),
    Rule("PRO-007", ERROR, "fetch.txt not as the profile requires",
         "The profile forbids `fetch.txt` (`Allow-Fetch.txt: false`, as the archivist profile does: an "
         "archive copy must be complete) or requires one that is absent.",
         "A `fetch.txt` in an archivist package.",
         "Fetch the listed files and remove `fetch.txt` (updating the tag manifests).", "BagIt Profiles 1.4",
         module="archivist.verify.profile"),
    Rule("PRO-008", ERROR, "BagIt version not accepted by the profile",
         "The profile's `Accept-BagIt-Version` does not include the bag's version.",
         "An archivist package declaring BagIt 0.97.",
         "Re-bag with the accepted version.", "BagIt Profiles 1.4",
         module="archivist.verify.profile"),
    Rule("PRO-009", ERROR, "Required tag file missing",
         "The profile's `Tag-Files-Required` names a tag file the bag lacks.",
         "A required tag file is absent.",
         "Add the tag file and list it in the tag manifests.", "BagIt Profiles 1.4",
         module="archivist.verify.profile"),
    Rule("PRO-010", ERROR, "Tag file not allowed by the profile",
         "A tag file matches none of the profile's `Tag-Files-Allowed` patterns. The archivist profile allows "
         "only the BagIt files (`bagit.txt`, `bag-info.txt`, manifests and tag manifests) and the package "
         "seal `tagmanifest-sha256.c2pa`: everything else belongs in the payload, where records describe it.",
         "For example a `notes.txt` next to `bagit.txt`.",
         "Move the content into the payload with an archivist command, or remove the file.",
         "BagIt Profiles 1.4",
         module="archivist.verify.profile"),
    Rule("PRO-011", ERROR, "Required payload file missing",
         "The profile's `Payload-Files-Required` names a file or directory the payload lacks. The archivist "
         "profile requires the package record and the event log.",
         "No `data/records/package.json` or `data/records/events.jsonl`.",
         "Restore the file from a copy of the package.", "BagIt Profiles 1.4",
         module="archivist.verify.profile"),
    Rule("PRO-012", ERROR, "Payload file not allowed by the profile",
         "A payload file matches none of the profile's `Payload-Files-Allowed` patterns, so it is outside the "
         "package layout.",
         "For example `data/misc/file.bin` in an archivist package.",
         "Move the file to its place in the layout with an archivist command, or remove it.",
         "BagIt Profiles 1.4",
         module="archivist.verify.profile"),
    Rule("PRO-013", ERROR, "Payload must be empty",
         "The profile sets `Data-Empty: true`: the payload may hold no files or one empty file.",
         "Payload files in a bag checked against such a profile.",
         "Check that the right profile was given.", "BagIt Profiles 1.4",
         module="archivist.verify.profile"),
    Rule("PRO-014", ERROR, "Serialised bag required",
         "The profile sets `Serialization: required`, but a directory was given. archivist verifies "
         "unserialised (directory) bags only.",
         "A profile with `Serialization: required`.",
         "Check that the right profile was given.", "BagIt Profiles 1.4",
         module="archivist.verify.profile"),
    Rule("PRO-015", WARNING, "Declared profile not checked",
         "The bag declares a BagIt profile archivist does not have, so its rules were not checked (archivist "
         "never fetches profiles from the network).",
         "`BagIt-Profile-Identifier` naming another profile and no `--profile`.",
         "Download the profile and give it with `--profile FILE`.", "BagIt Profiles 1.4",
         module="archivist.verify"),
    # -- records -------------------------------------------------------------------------------
    Rule("REC-001", ERROR, "Record is not readable JSON",
         "A record under `data/records/` is not valid UTF-8 JSON, so nothing it says can be trusted or "
         "checked.",
         "A truncated or overwritten `*.json` record, or one larger than archivist will parse.",
         "Restore the record from a copy of the package.",
         module="archivist.verify.records"),
    Rule("REC-002", ERROR, "Record does not match its schema",
         "A record fails JSON Schema validation against the schema its `schema` label names (or the label "
         "names no known schema), or a record in a kind's folder (`data/records/<folder>/`) or at a kind's fixed "
         "path carries another kind's label (the kinds are registered in `archivist.package.kinds`).",
         "A missing or misspelt field, a wrong type, an unknown label, a record copied into another kind's folder.",
         "Restore the record from a copy; if it was written by a newer archivist, verify with that version.",
         module="archivist.verify, archivist.verify.records"),
    Rule("REC-003", ERROR, "Event log line damaged",
         "A line of `data/records/events.jsonl` is not JSON or not a valid event, or the log does not end with "
         "a newline (a truncated write).",
         "A damaged or hand-edited event log.",
         "Restore the event log from a copy of the package.",
         module="archivist.verify.records"),
    Rule("REC-004", ERROR, "Event log hash chain broken",
         "Each event carries the SHA-256 of the line before it. A break means an earlier event was changed, "
         "removed or reordered.",
         "`previous` of an event differs from the hash of the line before.",
         "Restore the event log from a copy; the break shows where history was altered.",
         module="archivist.verify.records"),
    # -- consistency -------------------------------------------------------------------------------
    Rule("CON-001", ERROR, "Record disagrees with the manifest",
         "A record names a file (a frame in an element record, or any `file_ref`: an object with a `path` "
         "under `data/` and a `sha256`) with a SHA-256 or size that differs from the package's SHA-256 "
         "manifest or the file on disk.",
         "A record or a manifest edited without the other.",
         "Find which of record and manifest is right by hashing a copy; restore the wrong one.",
         module="archivist.verify.consistency"),
    Rule("CON-002", ERROR, "Record names a file that is not in the package",
         "A record names a payload file that no payload manifest lists.",
         "A frame or `file_ref` whose path is in no manifest.",
         "Restore the missing file and manifest entries from a copy of the package.",
         module="archivist.verify.consistency"),
    Rule("CON-003", ERROR, "Payload file not described by any record",
         "Every payload file must be named by some record (records and the event log count as named). A file "
         "no record names has no provenance.",
         "A file listed in the manifests but in no record.",
         "Remove the file, or add it with the archivist command for its kind so that a record describes it.",
         module="archivist.verify.consistency"),
    Rule("CON-004", ERROR, "Element record does not match its place",
         "An element record's file name must be its `id`, and its frames must lie in its own directory "
         "`data/sources/<id>/` or `data/references/<id>/`.",
         "A renamed element record, or frames pointing into another element's directory.",
         "Restore the record from a copy of the package.",
         module="archivist.verify.consistency"),
    Rule("CON-005", ERROR, "Package record disagrees with bag-info.txt",
         "The package record's identifier, organisation and recovery type must equal `bag-info.txt`'s "
         "`External-Identifier`, `Source-Organization` and `Archivist-Recovery-Type`.",
         "One of the two edited without the other.",
         "Restore the wrong one from a copy of the package.",
         module="archivist.verify.consistency"),
    Rule("CON-006", WARNING, "Archive metadata is stale",
         "`data/metadata/` (metadata.csv, rights.csv, premis.xml, mets.xml) describes the package as it was when "
         "`archivist describe` ran; a command has changed the package since, so an archive ingesting it now "
         "would read an out-of-date description. The files are intact; they are just old.",
         "An event in the log after the describe event named by `data/records/metadata.json`.",
         "Run `archivist describe PKG` again, which rewrites the metadata for the package as it is.",
         module="archivist.verify.archive_metadata"),
    Rule("CON-007", ERROR, "Archive metadata record does not fit the package",
         "The metadata record must name the describe event that wrote it, at the place in the log it "
         "describes, and the package identifier and title its files state must be the package record's.",
         "`data/records/metadata.json` names an event not in the log or at another place, or another "
         "identifier or title.",
         "Run `archivist describe PKG` again; if the log itself was altered, restore the package from a copy.",
         module="archivist.verify.archive_metadata"),
    Rule("CON-008", ERROR, "Archive metadata disagrees with the records",
         "What `data/metadata/` states must be what the records say: the package's title and identifier in "
         "`metadata.csv`, and, while the metadata is current, each element's training-use grant in `rights.csv`, "
         "the number of events and every object's SHA-256 in `premis.xml`. The files' own hashes may agree with "
         "the manifests and the metadata record (they were re-hashed), yet their content not with the package.",
         "A metadata file edited, or written by another tool, and its hashes updated with it.",
         "Run `archivist describe PKG` again, which rewrites the files from the records.",
         module="archivist.verify.archive_metadata"),
    # -- inference outputs -----------------------------------------------------------------------------
    Rule("OUT-001", ERROR, "Inference run record does not match its place",
         "An inference run record (`data/records/inference/<run>.json`) has its file name as `id`, names this "
         "package's identifier (`package` and `provenance.package`) and keeps its outputs in "
         "`data/outputs/<run>/`. Otherwise it describes a run of another package, or claims another run's "
         "outputs.",
         "A run record and its outputs copied from another package; a run record copied or renamed to claim "
         "the outputs of another run; an edited identifier.",
         "Restore the run record and its outputs from a copy of this package.",
         module="archivist.verify.lineage"),
    Rule("OUT-002", ERROR, "Output's source frame is not in the package",
         "Every output names the source frame it was made from. That frame must be a frame of the run's source "
         "element with the same SHA-256 in the element record as in the run record; otherwise the output was "
         "made from a frame the package does not hold, or the frame was replaced after the run.",
         "A source frame replaced and its element record updated to match; a run record naming a frame of "
         "another element, or an element that is not in the package.",
         "Restore the source frame and its element record from a copy of the package. If the frame was "
         "replaced on purpose, run the inference again.",
         module="archivist.verify.lineage"),
    Rule("OUT-003", ERROR, "Model lineage broken",
         "The run record names the model card (`data/records/models/<id>.json`) and the ONNX file it ran. The "
         "card must be in the package, valid, and name the same model id and the same ONNX file with the same "
         "SHA-256; the run's `provenance.model` must say the same.",
         "A model swapped and its card or the run record edited to match; a model card removed or edited.",
         "Restore the model, its card and the run record from a copy of the package.",
         module="archivist.verify.lineage"),
    Rule("OUT-004", ERROR, "Dataset lineage broken",
         "The run record names the dataset record the model was trained on. It must be the one the model card "
         "names (`data/records/datasets/<id>.json`, with the same SHA-256), and it must be in the package and "
         "valid.",
         "A dataset record replaced or edited and the run record updated to match; a dataset record removed.",
         "Restore the dataset record, the model card and the run record from a copy of the package.",
         module="archivist.verify.lineage"),
    Rule("OUT-005", ERROR, "Complete run lacks frames",
         "A run marked `complete` holds an output for every planned frame, once each. Frames missing from it "
         "were removed after the run.",
         "Outputs removed from a complete run, and its record edited to match.",
         "Restore the outputs and the run record from a copy of the package.",
         module="archivist.verify.lineage"),
    Rule("OUT-006", WARNING, "Inference run not finished",
         "The run record says `running`: the run was interrupted (or is still running on another copy) and "
         "not every planned frame has an output yet. The frames it has are checked like any other.",
         "`archivist infer` killed before its last commit.",
         "Run the same `archivist infer` command again: it resumes the run.",
         module="archivist.verify.lineage"),
    Rule("OUT-007", ERROR, "EXR header disagrees with the run record",
         "Each output EXR carries the provenance keys `MLProcessing`, `RecoveryType`, `SourceElement`, "
         "`ReferenceSource`, `ModelCheckpoint`, `IPTCDigitalSourceType`, `ArchivistPackage`, `InferenceRun`, "
         "`ModelSHA256`, `SourceFrame`, `SourceFrameSHA256`, `FrameNumber`, `ProcessingDate` and "
         "`ArchivistVersion`, and ACES AP0 `chromaticities`. Each must say what the run record says about that "
         "frame.",
         "An EXR copied from another frame or run (the message says which frame it claims to be), a rewritten "
         "header, a header that cannot be read.",
         "Restore the frame from a copy of the package, or run the inference again.",
         module="archivist.verify.sidecars"),
    Rule("OUT-008", ERROR, "JSON sidecar disagrees with the run record",
         "The JSON sidecar (`<frame>.json`, schema `archivist/output-sidecar/1`) must be what archivist writes "
         "from the run record for its frame: frame number, run, package, the EXR's path, SHA-256 and size, the "
         "header keys, source frame, model, dataset, digital source type, colour conversion, backend and "
         "credential.",
         "A sidecar copied from another frame (the message names that frame), edited, or not valid JSON "
         "against its schema.",
         "Restore the sidecar from a copy of the package.",
         module="archivist.verify.sidecars"),
    Rule("OUT-009", ERROR, "Text sidecar disagrees with the run record",
         "The text sidecar (`<frame>.txt`) gives the JSON sidecar's facts to people. Each of its `Label: value` "
         "lines must say what the run record says; a sidecar written by this version of archivist must be "
         "exactly the text archivist writes.",
         "A text sidecar copied from another frame or edited.",
         "Restore the sidecar from a copy of the package.",
         module="archivist.verify.sidecars"),
    Rule("OUT-010", ERROR, "XMP sidecar disagrees with the run record",
         "The XMP sidecar (`<frame>.xmp`) must be a well-formed XMP packet whose "
         "`Iptc4xmpExt:DigitalSourceType`, Dublin Core fields and `archivist:` provenance keys (including "
         "`OutputSHA256`) say what the run record says; one written by this version of archivist must be "
         "exactly the packet archivist writes.",
         "An XMP sidecar copied from another frame, edited or damaged.",
         "Restore the sidecar from a copy of the package.",
         module="archivist.verify.sidecars"),
    Rule("OUT-011", ERROR, "Content Credential disagrees with the run record",
         "A frame's C2PA manifest must say what the run record says: the IPTC digital source type and software "
         "agent of its `c2pa.edited` action, its parameters (mode, model, model SHA-256, run, backend, "
         "recovery type, frame), the title, the source frame (`parentOf`) and the model and dataset record "
         "(`inputTo`) by package path, and the signing certificate the run record names. (The ingredients' "
         "SHA-256 are compared with the files themselves: C2PA-003.)",
         "A credential copied from another frame or run, or a frame re-signed with another identity.",
         "Restore the credential from a copy of the package, or run the inference again with the run's signer.",
         module="archivist.verify.credentials"),
    Rule("OUT-012", ERROR, "Output pixels differ from their recorded pixel hash",
         "With `--pixels`, verify decodes every output EXR whose run record has a pixel hash "
         "(`archivist-pixels/1`, docs/package-format.md 3.1: SHA-256 of the decoded pixels) and recomputes it. "
         "A different hash means the image changed, whatever the file's checksums say; a frame re-encoded "
         "losslessly (another EXR compression) keeps it, and its fixity finding (BAG-010) then says that the "
         "pixels match: a lossless re-encode. Also reported when the EXR cannot be decoded or the hash is "
         "recorded under a scheme this archivist does not know.",
         "A pixel changed and every checksum, sidecar and credential made to agree with the new file; a lossy "
         "re-encode (DWAA); a frame replaced by another image.",
         "Restore the frame from a copy of the package, or run the inference again.",
         module="archivist.verify.outputs"),
    # -- Content Credentials ----------------------------------------------------------------------------
    Rule("C2PA-001", ERROR, "Content Credential invalid",
         "A detached C2PA manifest (`<asset>.c2pa`) does not validate against its asset: the signature, the "
         "data hash that binds every byte of the asset, or the signing certificate failed (for example "
         "`assertion.dataHash.mismatch` for a changed frame, `claimSignature.mismatch` for a changed manifest, "
         "`signingCredential.expired` when the certificate has expired and the credential has no timestamp), "
         "or the manifest cannot be read at all, or it signs no file of the package (no run record names it and "
         "no file beside it has its name with an image extension). When the signed data hash is that of another "
         "output, the message names it. About a fifth of a `.c2pa` file's bytes (box headers, signature padding) are not "
         "covered by its signature; a change there is caught by the payload manifests (BAG-010) and the run "
         "record (CON-001).",
         "A changed byte in a frame or in its `.c2pa` file; a credential copied from another frame; the frame "
         "a credential signed removed.",
         "Restore the frame and its credential from a copy of the package. An expired, untimestamped "
         "credential cannot be repaired; sign the outputs again, with `--tsa-url`.",
         module="archivist.verify.credentials"),
    Rule("C2PA-002", WARNING, "Content Credential signer not trusted",
         "The credentials validate, but no trust anchor given with `--trust-anchor` vouches for their signer. "
         "This is the normal state for a test identity, or when no anchors are given. Reported once per signer "
         "and directory, with the number of credentials.",
         "Credentials signed by a certificate that does not chain to a `--trust-anchor`.",
         "If you trust the signer, give its CA certificate with `--trust-anchor FILE` (PEM).",
         module="archivist.verify.credentials"),
    Rule("C2PA-003", ERROR, "Ingredient differs from its file",
         "Each ingredient of a credential (the source frame, the ONNX model, the dataset record) carries the "
         "SHA-256 and package path of its file. The C2PA SDK does not check them, so verify recomputes them "
         "from the files as they are now. A difference means an ingredient was replaced or changed after "
         "signing. Reported once per ingredient file and difference, with the number of credentials that "
         "name it, so a replaced model is one finding, not one per frame.",
         "A replaced source frame or model, an edited dataset record, an ingredient path not in the package.",
         "Restore the ingredient from a copy of the package. If it was replaced on purpose, run the inference "
         "again.",
         module="archivist.verify.credentials"),
    Rule("C2PA-004", ERROR, "Output of a signed run has no credential",
         "The run was signed (its record has `signing`), so each of its frames has a credential; this one has "
         "none.",
         "A credential removed and the run record edited to match.",
         "Restore the credential and the run record from a copy of the package.",
         module="archivist.verify.lineage"),
    Rule("C2PA-005", ERROR, "Package seal invalid",
         "The package seal `tagmanifest-sha256.c2pa` does not validate against `tagmanifest-sha256.txt`, "
         "`tagmanifest-sha512.txt` and `bag-info.txt`: the package changed after it was sealed (every later "
         "command rewrites the tag manifests), the seal was damaged, or it seals another package.",
         "A command run after the seal was made; an edited manifest or tag manifest; a seal copied from another "
         "package.",
         "If the later change is legitimate, seal the package again; otherwise restore it from a copy.",
         module="archivist.verify.credentials"),
    Rule("C2PA-006", WARNING, "Package seal signer not trusted",
         "The seal validates, but no trust anchor given with `--trust-anchor` vouches for its signer.",
         "A seal signed by a certificate that does not chain to a `--trust-anchor`.",
         "If you trust the signer, give its CA certificate with `--trust-anchor FILE` (PEM).",
         module="archivist.verify.credentials"),
    Rule("C2PA-007", WARNING, "Package seal removed",
         "The event log records that a command removed the package seal (every commit does: the seal signed the "
         "tag manifests as they were), and the package has not been sealed since. The package may be perfectly "
         "valid, but nothing vouches for its records and log as a whole any more: anyone who can write the files "
         "can rewrite them (docs/credentials.md).",
         "No `tagmanifest-sha256.c2pa`, and an event in `data/records/events.jsonl` with `seal_removed`.",
         "If the changes since the seal are legitimate, run `archivist seal PKG` again.",
         module="archivist.verify.sealing"),
    Rule("C2PA-008", ERROR, "Required seal missing or not trusted",
         "`--require-seal` was given, and no trusted seal covers the package as it is: there is no seal, it does "
         "not validate, or no `--trust-anchor` vouches for its signer. Only a trusted seal shows that nobody "
         "rewrote records, the event log or QC verdicts and re-hashed the manifests after it was made.",
         "`verify --require-seal` of a package without a valid seal from a trusted signer.",
         "Seal the package (`archivist seal PKG`) once it is as it should be, and give the signer's CA with "
         "`--trust-anchor`; a package that changed since it was sealed must be sealed again by someone the "
         "auditor trusts.",
         module="archivist.verify.sealing"),
]

_RULES += [
    Rule("MOD-001", ERROR, "Model keeps data outside itself",
         "A tensor of an ONNX model is stored as external data: the model names another file (by a path "
         "relative to wherever it is opened) for its weights. Run from another folder it would take its weights "
         "from there, so its hash no longer says what it computes. `infer` and `reproduce` refuse it.",
         "An initializer, sparse initializer or constant whose `data_location` is `EXTERNAL` or that has "
         "`external_data` entries, in any graph or function of a `.onnx` file under `data/`.",
         "Export the model again (`archivist export` always writes one self-contained file).",
         module="archivist.verify.models"),
    Rule("MOD-002", ERROR, "Model uses non-standard operators",
         "An ONNX model uses operators from a domain other than the standard ones (`ai.onnx`, `ai.onnx.ml`, "
         "training), which only run with a custom-operator library from outside the package. `infer` and "
         "`reproduce` refuse it.",
         "An `opset_import` or node domain that is not standard and not a function the model defines itself.",
         "Export the model with standard ONNX operators only.",
         module="archivist.verify.models"),
    # -- derived elements ----------------------------------------------------------------------------
    Rule("DER-001", ERROR, "Derived element does not match its run",
         "A derived element (`data/records/derived/<id>.json`) names the complete inference run whose outputs it "
         "is, the run record by SHA-256 as it was when the element was derived, and the run's model and source "
         "element. The run must be in the package, complete and unchanged, and say the same.",
         "The run record removed, edited or replaced after the element was derived; a derived element copied "
         "from another package or edited to point at another run.",
         "Restore the run record and the derived element from a copy of the package, or derive the element "
         "again from the run (`archivist derive PKG --run RUN`).",
         module="archivist.verify.derived"),
    Rule("DER-002", ERROR, "Derived element's frames disagree with its run",
         "Each frame of a derived element is an output frame of its run: the same package path, SHA-256 and "
         "size the run record gives it, and the same parent (the frame the run made it from). Every output of "
         "the run is listed, once. Otherwise a later stage was fed frames the run did not make.",
         "A derived element's frame list edited (a frame swapped, added or left out), or a run's outputs "
         "replaced and the run record updated without deriving the element again.",
         "Restore the derived element and the run's outputs from a copy of the package; a later stage built "
         "on the changed element must be made again.",
         module="archivist.verify.derived"),
]

RULES: dict[str, Rule] = {r.code: r for r in _RULES}
FAMILIES = {
    "PKG": "Package state",
    "BAG": "BagIt (RFC 8493)",
    "PRO": "BagIt profile",
    "REC": "Records and event log",
    "CON": "Consistency",
    "OUT": "Inference outputs",
    "DER": "Derived elements",
    "MOD": "Models",
    "C2PA": "Content Credentials",
}


def markdown() -> str:
    """The text of ``docs/verify-rules.md``."""
    out = [
        "# Verify rules",
        "",
        "`archivist verify PKG` reports every problem it finds, each with a stable rule code. Errors make the "
        "package invalid (exit status 1); warnings are reported but the package is still valid (exit status 0). "
        "Exit status 2 means the command could not run: a usage error, a profile file that is not a valid "
        "BagIt profile, or a directory that is not a bag (no `bagit.txt`).",
        "",
        "Which checks run:",
        "",
        "- `PKG` and `BAG` rules run on every bag, including plain bags written by other BagIt tools.",
        "- `PRO` rules run when the bag declares the archivist profile (`BagIt-Profile-Identifier`), when it "
        "is an archivist package (it has `data/records/package.json`), or when `--profile FILE` is given.",
        "- `REC` and `CON` rules run on archivist packages.",
        "- `OUT` rules run on archivist packages with inference runs, `C2PA` rules on packages with `.c2pa` "
        "credentials or a package seal.",
        "- `MOD` rules run on every `.onnx` file under `data/`, read from its bytes: nothing it names is opened.",
        "- `DER` rules run on archivist packages with derived elements (an inference run's outputs used as "
        "the source or reference of a later stage).",
        "",
        "Each layer compares one pair of things, so one fault gives one report per layer that sees it: `BAG` "
        "compares the files on disk with the manifests, `CON` the records with the manifests, `REC` the "
        "records with their schemas, `PRO` the bag with its profile, `OUT` each inference run record with "
        "the records it depends on (lineage) and each output frame's EXR header, sidecars and credential "
        "with its run record, and `C2PA` each credential with its asset, its ingredients with their files, "
        "and the seal with the tag manifests. A tamperer who rewrites the manifests so that fixity passes is "
        "still caught by the later layers: a replaced source frame breaks the lineage and the credential's "
        "ingredient hash, a sidecar copied from another frame disagrees with the run record.",
        "",
        "Trust: credentials are validated with the C2PA SDK, never fetching anything from the network. "
        "`--trust-anchor FILE` (PEM, repeatable) names the certificate authorities to trust; a credential "
        "whose signer no anchor vouches for is a warning, an invalid one an error.",
        "",
        "Safety: `verify` walks the bag once without following links and opens only what that walk found to "
        "be a regular file, so a manifest entry with `..`, an absolute path or a path through a link is "
        "reported and never opened. It never writes to the package, so it runs on read-only storage. Each "
        "file is read once, all its digests computed from that read, in parallel across files; an output "
        "frame's files are read together, and its fixity, header, sidecars and credential are checked from "
        "that one read (the EXR header is a second, small read).",
        "",
        "Profiles: the archivist profile `profiles/archivist-restoration-v1.json` (identifier "
        "`urn:archivist:bagit-profile:restoration:1`) follows BagIt Profiles 1.4, including "
        "`Payload-Files-Required` and `Payload-Files-Allowed`. `--profile FILE` checks against another profile; "
        "the file must itself be a valid 1.4 profile. In `Tag-Files-Allowed` and `Payload-Files-Allowed` "
        "patterns, `*` matches any run of characters including `/` (the specification's \"zero or more "
        "characters\"), so `data/outputs/*` covers the whole subtree; `?` and `[...]` work as in glob(7). The "
        "BagIt files themselves (`bagit.txt`, `bag-info.txt`, `fetch.txt`, manifests, tag manifests) are "
        "governed by their own profile keys, not by `Tag-Files-Allowed`.",
        "",
        "This page is generated from `archivist/verify/rules.py`.",
        "",
    ]
    for fam, title in FAMILIES.items():
        out += [f"## {fam}: {title}", ""]
        for r in _RULES:
            if not r.code.startswith(fam + "-"):
                continue
            out += [f"### {r.code}: {r.title}", "", f"- **Severity:** {r.severity}"]
            if r.ref:
                out.append(f"- **Reference:** {r.ref}")
            out.append("- **Checked in:** " + ", ".join(f"`{m}`" for m in r.modules))
            out += [f"- **Meaning:** {r.meaning}", f"- **Triggered by:** {r.trigger}", f"- **Fix:** {r.fix}", ""]
    return "\n".join(out).rstrip("\n") + "\n"


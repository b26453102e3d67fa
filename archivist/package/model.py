"""The restoration package: create, open, add elements, read records.

This is the library behind ``archivist init``, ``add``, ``info`` and ``log``.
It reads and writes through ``Layout`` (where things are), ``records``
(what they must look like) and ``Transaction`` (how they change).
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from archivist import __version__
from archivist.errors import InputError, InterruptedTransactionError, PackageError, UnsafePathError
from archivist.package import events, frames, iptc, kinds, locking, records
from archivist.package.bagfiles import parse_bag_info, parse_manifest
from archivist.package.hashing import default_workers, hash_bytes, hash_file
from archivist.package.layout import BAG_INFO_TXT, BAGIT_TXT, PROFILE_IDENTIFIER, ROLES, Layout, manifest_name
from archivist.package.locking import check_work_dir, writer_active
from archivist.package.rights import TRAINING_USE
from archivist.package.safepath import check_element_id, read_inside
from archivist.package.transaction import MAX_MANIFEST_BYTES, MAX_TAG_FILE_BYTES, Transaction, recover, utcnow
from archivist.progress import start

if TYPE_CHECKING:
    from archivist.imaging import oiio

PACKAGE_LABEL = kinds.PACKAGE.label
MAX_RECORD_BYTES = 256 << 20  # as verify: past this a "record" is not parsed
MAX_PAYLOAD_READ = 16 << 30  # models and checkpoints read whole; far beyond any real one
ELEMENT_LABEL = kinds.ELEMENT.label
RECOVERY_TYPES = ("chroma", "spatial", "combined")


class Package:
    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.layout = Layout(self.root)
        self._manifests: dict[str, tuple] = {}

    # -- opening ----------------------------------------------------------------
    @classmethod
    def open(cls, root: Path | str) -> Package:
        pkg = cls(root)
        if not (pkg.root / BAGIT_TXT).is_file():
            raise PackageError("PACKAGE-NOT-A-BAG", f"{pkg.root} is not a package: it has no bagit.txt")
        return pkg

    def interrupted(self) -> bool:
        check_work_dir(self.root)  # a linked work dir is refused before anything looks inside it
        return (self.root / Layout.JOURNAL).exists() or (self.root / Layout.STAGING).exists()

    def transaction(self, command: str) -> Transaction:
        return Transaction(self.root, command)

    @classmethod
    def create(cls, root: Path | str, *, title: str, organization: str, identifier: str | None = None,
               recovery: str = "chroma", description: str | None = None) -> Package:
        if recovery not in RECOVERY_TYPES:
            raise InputError("INIT-RECOVERY", f"recovery type must be one of {', '.join(RECOVERY_TYPES)}")
        if not title.strip() or not organization.strip():
            raise InputError("INIT-FIELDS", "title and organization must not be empty")
        identifier = identifier or f"urn:uuid:{uuid.uuid4()}"
        now = utcnow()
        record = {
            "schema": PACKAGE_LABEL, "title": title, "identifier": identifier, "organization": organization,
            "recovery": recovery, "created": now, "archivist_version": __version__, "profile": PROFILE_IDENTIFIER,
        }
        if description:
            record["description"] = description
        try:
            records.check(record, PACKAGE_LABEL, where="package record")
        except records.RecordError as exc:
            raise InputError("INIT-FIELDS", exc.message) from None
        pkg = cls(root)
        bag_info = [
            ("Source-Organization", organization),
            ("External-Identifier", identifier),
            ("External-Description", description or f"{title}: ML {recovery} recovery restoration package"),
            ("BagIt-Profile-Identifier", PROFILE_IDENTIFIER),
            ("Archivist-Title", title),
            ("Archivist-Recovery-Type", recovery),
        ]
        with Transaction(pkg.root, "init", create=True) as txn:
            fix = txn.write_bytes(Layout.PACKAGE_RECORD, records.dumps(record, PACKAGE_LABEL))
            events.append(txn, events.new_event(
                "init", "creation", now, [{"path": Layout.PACKAGE_RECORD, "role": "created", "sha256": fix.sha256}],
                detail=f"package {identifier} created"))
            txn.commit(bag_info)
        return pkg

    # -- reading ------------------------------------------------------------------
    def read_record(self, rel: str, expected: str | None = None) -> dict:
        try:
            # Never through a link, never a FIFO or a directory, never more than a record can be.
            data = read_inside(self.root, rel, MAX_RECORD_BYTES)
        except FileNotFoundError:
            raise PackageError("PACKAGE-MISSING-RECORD", f"{rel} is missing from {self.root}") from None
        return records.loads(data, expected, where=rel)

    def record(self) -> dict:
        return self.read_record(Layout.PACKAGE_RECORD, PACKAGE_LABEL)

    def element_ids(self) -> list[str]:
        d = self.root / Layout.ELEMENT_RECORDS
        return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []

    def element(self, element: str) -> dict:
        """An element's record; a derived element (``archivist.package.derived``) when no element has the id."""
        rel = Layout.element_record(element)
        if not (self.root / rel).is_file():
            derived = Layout.record(kinds.DERIVED_ELEMENT, element)
            if (self.root / derived).is_file():
                return self.read_record(derived, kinds.DERIVED_ELEMENT.label)
        return self.read_record(rel, ELEMENT_LABEL)

    def derived_ids(self) -> list[str]:
        """Ids of the derived elements: inference runs' outputs used as elements of a later stage."""
        return self.record_ids(kinds.DERIVED_ELEMENT)

    def has_element(self, element: str) -> bool:
        """Whether ``element`` names an element or a derived element."""
        return element in self.element_ids() or element in self.derived_ids()

    def elements(self) -> list[dict]:
        return [self.element(e) for e in self.element_ids()]

    def events(self) -> list[dict]:
        path = self.layout.path(Layout.EVENT_LOG)
        found, problems = events.parse(read_inside(self.root, Layout.EVENT_LOG, MAX_RECORD_BYTES)
                                       if os.path.lexists(path) else b"")
        if problems:
            raise PackageError("PACKAGE-EVENT-LOG", f"the event log is damaged: {problems[0]}",
                               hint="run 'archivist verify' for the full list")
        return found

    def bag_info(self) -> dict[str, str]:
        pairs, _ = parse_bag_info(read_inside(self.root, BAG_INFO_TXT, MAX_TAG_FILE_BYTES).decode("utf-8", "replace"))
        return dict(pairs)

    def manifest(self, alg: str = "sha256") -> MappingProxyType:
        """path -> digest, read-only; parsed again only after a commit replaced the file."""
        path = self.root / manifest_name(alg)
        st = os.stat(path, follow_symlinks=False)
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._manifests.get(alg)
        if cached is None or cached[0] != key:
            text = read_inside(self.root, manifest_name(alg), MAX_MANIFEST_BYTES).decode("utf-8", "replace")
            cached = (key, MappingProxyType(parse_manifest(text).as_dict()))
            self._manifests[alg] = cached
        return cached[1]

    def _check_ref(self, ref: dict, actual: str, code: str, what: str) -> None:
        listed = self.manifest("sha256").get(ref["path"])
        if actual != ref["sha256"] or actual != listed:
            raise InputError(code, f"{what} {ref['path']} has been altered: its SHA-256 is {actual}, the record "
                             f"says {ref['sha256']} and the manifest {listed}",
                             hint="restore the file from a copy of the package; archivist will not use it as it is")

    def verified_bytes(self, ref: dict, code: str, what: str) -> bytes:
        """The bytes of the payload file a record names, refused unless they match the record and the manifest."""
        try:
            data = read_inside(self.root, ref["path"], MAX_PAYLOAD_READ)
        except FileNotFoundError:
            raise InputError(code, f"{what} {ref['path']} is missing from the package") from None
        self._check_ref(ref, hash_bytes(data).sha256, code, what)
        return data

    def verified_path(self, ref: dict, code: str, what: str) -> Path:
        """Like ``verified_bytes`` for files read by path (frames): hashed, checked, then returned."""
        path = self.layout.path(ref["path"])
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):  # a FIFO would block the read for ever
                raise UnsafePathError("PATH-NOT-FILE", f"{ref['path']} is not a regular file")
            actual = hash_file(path).sha256
        except FileNotFoundError:
            raise InputError(code, f"{what} {ref['path']} is missing from the package") from None
        self._check_ref(ref, actual, code, what)
        return path

    def record_ids(self, kind: kinds.Kind | str) -> list[str]:
        """Ids of the records of one kind (``data/records/<folder>/<id>.json``); ``ValueError`` for an unknown kind."""
        d = self.root / Layout.RECORDS / kinds.folder_of(kind)
        return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []

    def next_id(self, kind: kinds.Kind | str, prefix: str) -> str:
        """The first free ``<prefix>-NN`` among the records of one kind."""
        taken = set(self.record_ids(kind))
        n = 1
        while f"{prefix}-{n:02d}" in taken:
            n += 1
        return f"{prefix}-{n:02d}"

    def read_kind(self, kind: kinds.Kind | str, ident: str, label: str, code: str, what: str) -> dict:
        """One record of a kind, with an error that lists the ones there are."""
        rel = Layout.record(kind, ident)
        if not (self.root / rel).is_file():
            known = ", ".join(self.record_ids(kind)) or "none"
            raise InputError(code, f"no {what} {ident!r} in the package ({what}s: {known})")
        return self.read_record(rel, label)

    def element_rights(self, element: str) -> dict:
        """What an element's record says about its use for training, for the records that rely on it."""
        e = self.element(element)
        out = {"element": element, "role": e["role"], "description": e["description"],
               "training_use": e["rights"]["training_use"], "statement": e["rights"]["statement"]}
        for k in ("holder", "authorised_by"):
            if e["rights"].get(k):
                out[k] = e["rights"][k]
        return out

    def is_archivist(self) -> bool:
        return (self.root / Layout.PACKAGE_RECORD).is_file()

    def payload(self) -> dict:
        """Bytes and files of the payload, from bag-info.txt's ``Payload-Oxum`` (``None`` when it is missing).

        Each number has at most 30 digits (docs/package-format.md, Limits), as ``verify`` reads it: a
        longer one is no payload size, and ``int()`` of more than 4,300 digits raises.
        """
        octets, _, files = self.bag_info().get("Payload-Oxum", "").partition(".")
        if not (octets.isdigit() and files.isdigit()) or max(len(octets), len(files)) > 30 \
                or not (octets.isascii() and files.isascii()):
            return {"bytes": None, "files": None}
        return {"bytes": int(octets), "files": int(files)}

    def sealed(self) -> bool:
        """Whether the tag manifest carries a package seal (``archivist seal``, ``infer --sign``)."""
        return (self.root / Layout.PACKAGE_SEAL).is_file()

    def _records_of(self, kind: str) -> list[dict]:
        return [self.read_record(Layout.record(kind, i)) for i in self.record_ids(kind)]

    def runs(self) -> dict[str, list[dict]]:
        """Training and inference runs in brief: status, progress, and whether a running one is abandoned.

        A run is abandoned when its record says ``running`` and no live process can still be working on it:
        no command holds the package's write lock and, for an inference run, its working directory's lock.
        """
        writer = writer_active(self.root)
        training = []
        for r in self._records_of("training"):
            last = r["checkpoints"][-1] if r["checkpoints"] else None
            training.append({
                "id": r["id"], "status": r["status"], "mode": r["mode"], "step": r["step"],
                "total": r["settings"]["steps"], "checkpoint_step": last["step"] if last else 0,
                "last_checkpoint": last["path"] if last else None,
                "abandoned": r["status"] == "running" and writer is None,
            })
        inference = []
        for r in self._records_of("inference"):
            busy = writer is not None or locking.is_held(self.root / Layout.run_scratch(r["id"]) / "lock")
            inference.append({
                "id": r["id"], "status": r["status"], "model": r["model"]["id"], "element": r["source"]["element"],
                "done": len(r["frames"]), "total": len(r["planned_frames"]), "signed": bool(r.get("signing")),
                "abandoned": r["status"] == "running" and not busy,
            })
        return {"training": training, "inference": inference}

    def info(self) -> dict:
        bag_info = self.bag_info()
        out: dict = {"path": str(self.root), "bag_info": bag_info, "interrupted": self.interrupted(),
                     "payload": self.payload(), "sealed": self.sealed(), "writer": writer_active(self.root)}
        if not self.is_archivist():
            out["archivist"] = False
            return out
        out["archivist"] = True
        out["package"] = self.record()
        out["elements"] = [
            {
                "id": e["id"], "role": e["role"], "description": e["description"],
                "digital_source_type": e["digital_source_type"].rsplit("/", 1)[-1],
                "frames": len(e["frames"]),
                "first_frame": e["frames"][0]["number"], "last_frame": e["frames"][-1]["number"],
                "resolution": f"{e['scan']['width']}x{e['scan']['height']}",
                "channels": e["scan"]["channels"], "pixel_type": e["scan"]["pixel_type"],
                "colour_space": e["scan"].get("colour_space"),
                "training_use": e["rights"]["training_use"], "authorised_by": e["rights"].get("authorised_by"),
            }
            for e in self.elements()
        ]
        out["derived_elements"] = [
            {"id": d["id"], "role": d["role"], "description": d["description"], "run": d["derived_from"]["run"],
             "model": d["derived_from"]["model"]["id"], "frames": len(d["frames"])}
            for d in (self.element(i) for i in self.derived_ids())
        ]
        out["datasets"] = [
            {"id": d["id"], "source": d["source_element"], "reference": d["reference_element"],
             "pairs": len(d["pairs"]), "held_out": len(d["holdout"])}
            for d in self._records_of("datasets")
        ]
        runs = self.runs()
        out["training_runs"] = runs["training"]
        out["models"] = [
            {"id": m["id"], "run": m["run"]["id"], "step": m["checkpoint"]["step"], "path": m["model"]["path"]}
            for m in self._records_of("models")
        ]
        out["inference_runs"] = runs["inference"]
        out["qc"] = [
            {"id": q["id"], "run": q["inference"]["id"], "ml_beats_baseline": q["verdict"]["ml_beats_baseline"],
             "verdict": q["verdict"]["statement"],
             "sharpen_beats_baseline": (q.get("spatial") or {}).get("verdict", {}).get("ml_beats_baseline")}
            for q in self._records_of("qc")
        ]
        out["abandoned_runs"] = [r["id"] for r in runs["training"] + runs["inference"] if r["abandoned"]]
        out["events"] = len(self.events())
        return out

    # -- adding elements ----------------------------------------------------------------
    def add_element(self, *, role: str, element: str, paths: list[Path], description: str,
                    source_type: str | None = None, gauge: str | None = None, generation: str | None = None,
                    rights: str = "", rights_holder: str | None = None, training_use: str = "unknown",
                    authorised_by: str | None = None, scanner: str | None = None, colour_space: str | None = None,
                    frame_rate: str | None = None, notes: str | None = None, link: bool = False,
                    first_frame: int | None = None, progress: Callable | None = None, workers: int | None = None,
                    allow_duplicate: bool = False, hand_made: dict | None = None) -> dict:
        """Add one element's frames. Reads every frame before writing anything.

        ``hand_made`` (``{"artwork": {"title", "creator"?, "holding_institution"?, "rights"?}}``) declares a
        reference made by hand (painted frames, a grade made from artwork); it needs ``source_type``
        ``digitalCreation`` or ``humanEdits`` and is recorded in the element record.

        ``colour_space`` must be a name ``archivist.imaging.colourspaces.resolve`` knows; it is recorded as given.
        Left out, none is recorded and ``infer`` asks for it. Frames whose bytes are already in the package as
        another element's are refused (``ADD-DUPLICATE``) unless ``allow_duplicate``.
        """
        if role not in ROLES:
            raise InputError("ADD-ROLE", f"role must be one of {', '.join(ROLES)}")
        check_element_id(element)
        if training_use not in TRAINING_USE:
            raise InputError("ADD-RIGHTS", f"training use must be one of {', '.join(TRAINING_USE)}")
        if not description.strip():
            raise InputError("ADD-DESCRIPTION", "an element needs a description in the field's own words")
        if hand_made is not None:
            hand_made = check_hand_made(role, source_type, hand_made)
        inferred = source_type is None
        if source_type is None:
            source_type = iptc.infer_scan_type(description)
            if source_type is None:
                raise InputError("ADD-SOURCE-TYPE", f"cannot tell the IPTC digital source type from {description!r}",
                                 hint="give --source-type negativeFilm, positiveFilm, print or digitalCapture")
        source_uri = iptc.uri(source_type)
        if colour_space is not None:
            check_colour_space(colour_space, "ADD-COLOUR-SPACE")
        if self.interrupted():
            raise InterruptedTransactionError("PACKAGE-INTERRUPTED", f"an earlier command on {self.root} was interrupted",
                                              hint=f"run 'archivist recover {self.root}' first")
        if (self.root / Layout.element_record(element)).exists() or element in self.derived_ids():
            raise InputError("ADD-EXISTS", f"element {element!r} is already in the package")

        found = frames.collect(paths, first_frame)
        infos = self._probe_all(found, progress, workers)

        with self.transaction("add") as txn:
            if txn.exists(Layout.element_record(element)):
                raise InputError("ADD-EXISTS", f"element {element!r} is already in the package")
            jobs = [(Layout.frame(role, element, f.name), f.path) for f in found]
            fixities = txn.add_files(jobs, link=link, progress=progress, workers=workers)
            if not allow_duplicate:
                self._refuse_duplicates(element, [fx.sha256 for fx in fixities])
            info = infos[0]
            scan = {"width": info.width, "height": info.height, "channels": info.channels,
                    "channel_names": list(info.channel_names), "pixel_type": info.pixel_type,
                    "bit_depth": info.bit_depth, "file_format": info.file_format}
            for key, value in (("scanner", scanner), ("colour_space", colour_space), ("frame_rate", frame_rate)):
                if value:
                    scan[key] = value
            rights_rec = {"statement": rights, "training_use": training_use}
            if rights_holder:
                rights_rec["holder"] = rights_holder
            if authorised_by:
                rights_rec["authorised_by"] = authorised_by
            now = utcnow()
            record = {
                "schema": ELEMENT_LABEL, "id": element, "role": role, "description": description,
                "digital_source_type": source_uri, "digital_source_type_inferred": inferred,
                "rights": rights_rec, "scan": scan, "added": now, "linked": link,
                "frames": [{"number": f.number, "path": rel, "sha256": fx.sha256, "size": fx.size}
                           for f, (rel, _), fx in zip(found, jobs, fixities)],
            }
            for key, value in (("gauge", gauge), ("generation", generation), ("notes", notes)):
                if value:
                    record[key] = value
            if hand_made is not None:
                record["hand_made"] = hand_made
            try:
                data = records.dumps(record, ELEMENT_LABEL)
            except records.RecordError as exc:
                raise InputError("ADD-FIELDS", exc.message) from None
            rec_fix = txn.write_bytes(Layout.element_record(element), data)
            events.append(txn, events.new_event(
                "add", "ingestion", now,
                [{"path": Layout.element_record(element), "role": "created", "sha256": rec_fix.sha256},
                 {"path": Layout.element_dir(role, element), "role": "created"}],
                detail=f"{role} element {element}: {len(found)} frames, {description}"))
            txn.commit()
        return record

    # -- amending an element's description ------------------------------------------------
    def amend_element(self, element: str, **changes: str | None) -> dict:
        """Change an element's descriptive metadata; its frames, their hashes and the manifests stay as they are.

        Args:
            element: the element id.
            changes: new values for any of ``AMENDABLE`` (``None``: leave as it is; ``""``: remove an optional
                field). A training use of ``authorised`` needs ``authorised_by``, given or already recorded.

        Returns:
            ``{"element": record, "changes": [{"field", "from", "to"}, ...]}``; one event in the log says the same.
        """
        unknown = sorted(set(changes) - set(AMENDABLE))
        if unknown:
            raise InputError("AMEND-FIELDS", f"cannot amend {', '.join(unknown)}; amendable: {', '.join(AMENDABLE)}")
        given = {k: v for k, v in changes.items() if v is not None}
        if not given:
            raise InputError("AMEND-NOTHING", "nothing to amend", hint="give at least one of --"
                             + ", --".join(k.replace("_", "-") for k in AMENDABLE))
        if given.get("colour_space"):
            check_colour_space(given["colour_space"], "AMEND-COLOUR-SPACE")
        if "training_use" in given and given["training_use"] not in TRAINING_USE:
            raise InputError("AMEND-RIGHTS", f"training use must be one of {', '.join(TRAINING_USE)}")
        if "description" in given and not given["description"].strip():
            raise InputError("AMEND-DESCRIPTION", "an element needs a description in the field's own words")
        if given.get("source_type"):
            iptc.uri(given["source_type"])  # refuses retired and unknown terms
        if self.interrupted():
            raise InterruptedTransactionError("PACKAGE-INTERRUPTED", f"an earlier command on {self.root} was "
                                              "interrupted", hint=f"run 'archivist recover {self.root}' first")
        rel = Layout.element_record(element)
        with self.transaction("amend") as txn:
            if not txn.exists(rel):
                raise InputError("AMEND-ELEMENT", f"no element {element!r} in the package (elements: "
                                 f"{', '.join(self.element_ids()) or 'none'})")
            record = self.element(element)
            done = _apply_amendment(record, given)
            if not done:
                raise InputError("AMEND-NOTHING", f"element {element!r} already records these values")
            rights = record["rights"]
            if rights["training_use"] == "authorised" and ({"training_use", "authorised_by"} & set(given)):
                check_authorisation(rights["training_use"], rights.get("authorised_by"), "AMEND-AUTHORISED-BY")
            now = utcnow()
            record["amended"] = now
            try:
                data = records.dumps(record, ELEMENT_LABEL)
            except records.RecordError as exc:
                raise InputError("AMEND-FIELDS", exc.message) from None
            fix = txn.write_bytes(rel, data, replace=True)
            detail = "; ".join(f"{c['field']} {_shown(c['from'])} -> {_shown(c['to'])}" for c in done)
            events.append(txn, events.new_event(
                "amend", "metadata modification", now, [{"path": rel, "role": "modified", "sha256": fix.sha256}],
                detail=f"{record['role']} element {element}: {detail}"))
            txn.commit()
        return {"element": record, "changes": done}

    def _refuse_duplicates(self, element: str, digests: list[str]) -> None:
        """Refuse frames another element already holds byte for byte (the same scan added twice)."""
        mine = set(digests)
        for other in self.elements():
            same = sum(1 for f in other["frames"] if f["sha256"] in mine)
            if same:
                raise InputError("ADD-DUPLICATE", f"{same} of the {len(digests)} frames are already in the package "
                                 f"as frames of element {other['id']!r} ({other['description']}); nothing was added",
                                 hint=f"to change {other['id']}'s description or rights, use 'archivist amend "
                                      f"{self.root} --element {other['id']}'; to add the same frames again as "
                                      f"{element!r}, give --allow-duplicate")

    def _probe_all(self, found: list[frames.FrameFile], progress: Callable | None,
                   workers: int | None) -> list[oiio.FrameInfo]:
        from archivist.imaging import oiio  # loaded when frames are read, not by every command (30 MB)

        bar = start(progress, total=len(found), desc="reading frames", unit="frame")
        errors: list[str] = []

        def one(f: frames.FrameFile) -> Any:  # the frame's FrameInfo, or its InputError
            try:
                return oiio.probe(f.path)
            except InputError as exc:
                return exc
            finally:
                bar.update(1)

        with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
            infos = list(pool.map(one, found))
        bar.close()
        errors = [str(i.message) for i in infos if isinstance(i, InputError)]
        if errors:
            raise InputError("ADD-FRAME-CORRUPT", f"{len(errors)} of {len(found)} frames cannot be read; nothing was added:\n  "
                             + "\n  ".join(errors[:20]) + ("\n  ..." if len(errors) > 20 else ""))
        first = infos[0]
        odd = [f"{f.name} ({i.width}x{i.height}, {i.channels} ch {i.pixel_type})"
               for f, i in zip(found, infos) if i.shape_key() != first.shape_key()]
        if odd:
            raise InputError("ADD-INCONSISTENT",
                             f"frames differ from {found[0].name} ({first.width}x{first.height}, {first.channels} ch "
                             f"{first.pixel_type}); an element's frames must agree. Nothing was added. Differing:\n  "
                             + "\n  ".join(odd[:20]))
        return infos


# amend option -> where it lives in the element record
AMENDABLE = {
    "description": ("description",), "source_type": ("digital_source_type",), "gauge": ("gauge",),
    "generation": ("generation",), "notes": ("notes",), "rights": ("rights", "statement"),
    "rights_holder": ("rights", "holder"), "training_use": ("rights", "training_use"),
    "authorised_by": ("rights", "authorised_by"), "scanner": ("scan", "scanner"),
    "colour_space": ("scan", "colour_space"), "frame_rate": ("scan", "frame_rate"),
}
# Fields a record must keep; the rest are removed when amended to "".
_REQUIRED = {"description", "source_type", "rights", "training_use"}


def _shown(value: object) -> str:
    return "(none)" if value is None else repr(value)


def _apply_amendment(record: dict, given: dict[str, str]) -> list[dict]:
    done = []
    for field, value in given.items():
        *parents, key = AMENDABLE[field]
        holder = record
        for p in parents:
            holder = holder[p]
        if field == "source_type":
            value = iptc.uri(value)
        old = holder.get(key)
        if value == "" and field not in _REQUIRED:
            if old is None:
                continue
            del holder[key]
            done.append({"field": field, "from": old, "to": None})
        elif value != old:
            holder[key] = value
            done.append({"field": field, "from": old, "to": value})
            if field == "source_type":
                record["digital_source_type_inferred"] = False
    rights = record["rights"]
    if "training_use" in given and rights["training_use"] != "authorised" and "authorised_by" not in given \
            and rights.get("authorised_by"):
        # An authoriser describes an authorisation that no longer stands.
        done.append({"field": "authorised_by", "from": rights.pop("authorised_by"), "to": None})
    return done


def check_colour_space(name: str, code: str) -> str:
    """The config colour space for ``name``, or ``InputError(code)`` listing every accepted name."""
    from archivist.imaging import colourspaces  # OpenColorIO only when a colour space is given

    return colourspaces.resolve(name, code=code)


HAND_MADE_TYPES = ("digitalCreation", "humanEdits")
ARTWORK_FIELDS = ("title", "creator", "holding_institution", "rights")


def check_hand_made(role: str, source_type: str | None, hand_made: dict) -> dict:
    """The ``hand_made`` entry of a reference element's record, or ``InputError("ADD-HAND-MADE")``.

    >>> check_hand_made("reference", "humanEdits", {"artwork": {"title": " Poster ", "creator": ""}})
    {'source_type': 'humanEdits', 'artwork': {'title': 'Poster'}}
    """
    if role != "reference":
        raise InputError("ADD-HAND-MADE", "only a reference element can be hand-made; a source is a scan of the film")
    bare = (source_type or "").rsplit("/", 1)[-1]
    if bare not in HAND_MADE_TYPES:
        raise InputError("ADD-HAND-MADE", "a hand-made reference needs --source-type digitalCreation (painted or drawn) "
                         "or humanEdits (graded or retouched by a person)" + (f", not {source_type!r}" if source_type else ""))
    art = {k: str(v).strip() for k, v in (hand_made.get("artwork") or {}).items() if v is not None and str(v).strip()}
    unknown = sorted(set(art) - set(ARTWORK_FIELDS))
    if unknown:
        raise InputError("ADD-HAND-MADE", f"unknown artwork field(s) {', '.join(unknown)}")
    if not art.get("title"):
        raise InputError("ADD-HAND-MADE", "a hand-made reference names the artwork it was made from",
                         hint="give --artwork-title (and --artwork-creator, --artwork-institution, --artwork-rights)")
    return {"source_type": bare, "artwork": art}


def check_authorisation(training_use: str, authorised_by: str | None, code: str) -> None:
    """An authorisation to train names who gave it."""
    if training_use == "authorised" and not (authorised_by or "").strip():
        raise InputError(code, "a training use of 'authorised' must say who authorised it",
                         hint="give --authorised-by, e.g. --authorised-by 'Filmoteca, rights department'")


def recover_package(root: Path | str) -> dict:
    """Roll back an interrupted command (see ``transaction``)."""
    root = Path(root)
    if not (root / BAGIT_TXT).is_file() and not (root / Layout.JOURNAL).exists():
        raise PackageError("PACKAGE-NOT-A-BAG", f"{root} is not a package")
    return recover(root)

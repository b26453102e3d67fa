"""The one place that knows where things live inside a package.

Nothing else in archivist joins package paths by hand: it asks a
``Layout`` for the relative path of a thing, and ``Layout.path`` turns
that into a filesystem path after the safety checks in ``safepath``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import cast

from archivist.errors import ArchivistError
from archivist.package import kinds
from archivist.package.kinds import Kind
from archivist.package.safepath import check_element_id, check_file_name, resolve_inside

BAGIT_TXT = "bagit.txt"
BAG_INFO_TXT = "bag-info.txt"
PAYLOAD_DIR = "data"
ALGORITHMS = ("sha512", "sha256")  # sha512 first: RFC 8493's default

ROLES = {"source": "sources", "reference": "references"}

# Directories reserved for later stages; created on demand, documented in
# docs/package-format.md.
RESERVED_DIRS = (
    "data/sources",
    "data/references",
    "data/records",
    "data/dataset",
    "data/training",
    "data/models",
    "data/outputs",
    "data/credentials",
    "data/qc",
    "data/metadata",
)

# Working state of a command in progress; absent from a finished package.
WORK_DIR = ".archivist"


CREDENTIAL_SUFFIX = ".c2pa"


def credential_name(name: str) -> str:
    """The detached C2PA manifest beside an asset: its name with ``.c2pa`` (the c2pa-rs convention).

    >>> credential_name("data/outputs/run1/shot.1001.exr")
    'data/outputs/run1/shot.1001.c2pa'
    """
    return str(PurePosixPath(name).with_suffix(CREDENTIAL_SUFFIX))


def manifest_name(alg: str) -> str:
    return f"manifest-{alg}.txt"


def tagmanifest_name(alg: str) -> str:
    return f"tagmanifest-{alg}.txt"


@dataclass(frozen=True)
class Layout:
    root: Path

    # -- tag files -------------------------------------------------------
    @staticmethod
    def tag_files() -> list[str]:
        """Tag files covered by the tag manifests, in the order written."""
        return [BAGIT_TXT, BAG_INFO_TXT] + [manifest_name(a) for a in ALGORITHMS]

    # The package seal: a detached C2PA manifest over tagmanifest-sha256.txt.
    # A tag file that no manifest lists, since it signs them (docs/credentials.md).
    PACKAGE_SEAL = "tagmanifest-sha256.c2pa"

    # -- records ----------------------------------------------------------
    RECORDS = "data/records"
    # kinds with one record (or log) per package always have a path
    PACKAGE_RECORD = cast(str, kinds.PACKAGE.path)
    EVENT_LOG = cast(str, kinds.EVENT.path)

    @staticmethod
    def element_record(element: str) -> str:
        return f"data/records/elements/{check_element_id(element)}.json"

    ELEMENT_RECORDS = "data/records/elements"

    @staticmethod
    def record(kind: Kind | str, ident: str) -> str:
        """Records of later stages: ``data/records/<folder>/<id>.json``.

        ``kind`` is a ``kinds.Kind`` or its records folder (``"inference"``);
        any other raises ``ValueError``.

        >>> Layout.record(kinds.INFERENCE_RUN, "infer-01")
        'data/records/inference/infer-01.json'
        """
        return f"data/records/{kinds.folder_of(kind)}/{check_element_id(ident)}.json"

    # -- frames ------------------------------------------------------------
    @staticmethod
    def element_dir(role: str, element: str) -> str:
        return f"data/{ROLES[role]}/{check_element_id(element)}"

    @classmethod
    def frame(cls, role: str, element: str, name: str) -> str:
        return f"{cls.element_dir(role, element)}/{check_file_name(name)}"

    # -- stage directories -------------------------------------------------
    @staticmethod
    def stage_dir(stage: str, ident: str) -> str:
        """``data/<stage>/<id>`` for dataset, training, models, outputs, qc, credentials."""
        if f"data/{stage}" not in RESERVED_DIRS:
            raise ValueError(f"unknown stage directory {stage!r}")
        return f"data/{stage}/{check_element_id(ident)}"

    # -- dataset files ---------------------------------------------------------
    @classmethod
    def aligned_reference(cls, dataset: str, element: str, number: int) -> str:
        """The materialised reference for one source frame: ``aligned/<ref>.<source number>.exr``."""
        return f"{cls.stage_dir('dataset', dataset)}/aligned/{check_element_id(element)}.{int(number):04d}.exr"

    @classmethod
    def dataset_mask(cls, dataset: str, element: str, number: int) -> str:
        """The region mask of one training pair: ``masks/<source>.<source number>.png``."""
        return f"{cls.stage_dir('dataset', dataset)}/masks/{check_element_id(element)}.{int(number):04d}.png"

    @classmethod
    def dataset_preview(cls, dataset: str, element: str, number: int) -> str:
        """A PNG contact sheet of one aligned pair: ``previews/<source>.<source number>.png``."""
        return f"{cls.stage_dir('dataset', dataset)}/previews/{check_element_id(element)}.{int(number):04d}.png"

    # -- training and models ------------------------------------------------------
    @classmethod
    def checkpoint(cls, run: str, step: int) -> str:
        """A training checkpoint: ``data/training/<run>/checkpoints/step-0000100.safetensors``."""
        return f"{cls.stage_dir('training', run)}/checkpoints/step-{int(step):07d}.safetensors"

    @classmethod
    def loss_log(cls, run: str) -> str:
        """Per-step loss, JSON lines: ``data/training/<run>/loss.jsonl``."""
        return f"{cls.stage_dir('training', run)}/loss.jsonl"

    @classmethod
    def contact_sheet(cls, run: str, step: int) -> str:
        """Input | ground truth | prediction at one step: ``data/training/<run>/contact/step-0000100.png``."""
        return f"{cls.stage_dir('training', run)}/contact/step-{int(step):07d}.png"

    @classmethod
    def onnx_model(cls, model: str) -> str:
        """An exported model: ``data/models/<id>/model.onnx``."""
        return f"{cls.stage_dir('models', model)}/model.onnx"

    @classmethod
    def model_training_record(cls, model: str) -> str:
        """The training-run record as it was at export: ``data/models/<id>/training-run.json``."""
        return f"{cls.stage_dir('models', model)}/training-run.json"

    # -- inference outputs ------------------------------------------------------
    @classmethod
    def output_file(cls, run: str, name: str) -> str:
        """A file of an inference run (frame, sidecar, credential): ``data/outputs/<run>/<name>``."""
        return f"{cls.stage_dir('outputs', run)}/{check_file_name(name)}"

    # -- quality control ---------------------------------------------------------
    @classmethod
    def qc_file(cls, qc: str, name: str) -> str:
        """A file of a QC run (LUT, comparison strip, plot): ``data/qc/<id>/<name>``."""
        return f"{cls.stage_dir('qc', qc)}/{check_file_name(name)}"

    # -- archive metadata --------------------------------------------------------
    # Files directly in data/metadata/ (format 2), where Archivematica reads a bag's
    # metadata.csv, rights.csv and premis.xml; named by the metadata record.
    METADATA = "data/metadata"
    METADATA_RECORD = "data/records/metadata.json"

    @staticmethod
    def run_scratch(run: str) -> str:
        """Where an inference run's finished-but-uncommitted frames wait: ``.archivist/runs/<run>``."""
        return f"{WORK_DIR}/runs/{check_element_id(run)}"

    @staticmethod
    def train_scratch(run: str) -> str:
        """Where a training run made on a Ray worker waits for the driver to commit it: ``.archivist/train/<run>``."""
        return f"{WORK_DIR}/train/{check_element_id(run)}"

    # -- working state ------------------------------------------------------
    LOCK = f"{WORK_DIR}/lock"
    JOURNAL = f"{WORK_DIR}/journal.json"
    STAGING = f"{WORK_DIR}/staging"
    BACKUP = f"{WORK_DIR}/backup"

    # -- resolution -----------------------------------------------------------
    def path(self, rel: str) -> Path:
        """Filesystem path for a package-relative path, refusing escapes."""
        return resolve_inside(self.root, rel)

    # -- classification ----------------------------------------------------------
    @staticmethod
    def is_payload(rel: str) -> bool:
        """Whether a package path lies in the payload (``data/``) rather than beside it.

        >>> Layout.is_payload("data/records/package.json"), Layout.is_payload("bag-info.txt")
        (True, False)
        """
        return rel.startswith(PAYLOAD_DIR + "/")

    @staticmethod
    def classify(rel: str) -> Place:
        """What the file at package path ``rel`` is, which record describes it, and whose it is.

        Never raises: a path archivist does not write is classified ``"payload"``,
        ``"tag"`` or ``"work"`` with no record.

        >>> p = Layout.classify("data/outputs/infer-01/shot.1001.exr")
        >>> p.what, p.ident, p.record
        ('output-frame', 'infer-01', 'data/records/inference/infer-01.json')
        >>> Layout.classify("data/records/models/m-01.json").kind.label
        'archivist/model-card/1'
        >>> Layout.classify("data/sources/print16/f.0001.exr").record
        'data/records/elements/print16.json'
        """
        return _classify(rel)

PROFILE_IDENTIFIER = "urn:archivist:bagit-profile:restoration:1"
PROFILE_FILE = "archivist-restoration-v1.json"


@dataclass(frozen=True)
class Place:
    """What a package path is (``Layout.classify``).

    Args:
        path: the package path.
        area: ``"tag"`` (beside the payload), ``"work"`` (``.archivist/``), or the
            payload folder it lies in: ``"records"``, ``"sources"``, ``"outputs"``, ...,
            ``"payload"`` for a file directly in ``data/`` or in a folder archivist does not use.
        what: ``"record"``, ``"event-log"``, ``"frame"`` (of an element), ``"output-frame"``,
            ``"sidecar"``, ``"credential"``, ``"checkpoint"``, ``"loss-log"``, ``"contact-sheet"``,
            ``"model"``, ``"aligned-reference"``, ``"preview"``, ``"mask"`` (a training pair's region), ``"seal"``,
            ``"tag"`` or ``"file"``.
        kind: the record kind when the file is a record (or an output's JSON sidecar).
        ident: the element, dataset, run, model or QC id the file belongs to.
        record: the package path of the record that describes the file (a record describes itself).
        rest: for a file of an element or a stage folder, its path below the id's folder
            (``"checkpoints/step-0000100.safetensors"``); it has no ``/`` when the file lies directly in it.
    """

    path: str
    area: str
    what: str
    kind: Kind | None = None
    ident: str | None = None
    record: str | None = None
    rest: str | None = None

    def directly_in(self, area: str, ident: str) -> bool:
        """Whether the file lies directly in the folder of ``ident`` in ``data/<area>/``.

        >>> Layout.classify("data/sources/print16/f.0001.exr").directly_in("sources", "print16")
        True
        >>> Layout.classify("data/outputs/infer-01/old/f.1001.exr").directly_in("outputs", "infer-01")
        False
        """
        return self.area == area and self.ident == ident and self.rest is not None and "/" not in self.rest


_STAGE_FILES = {  # (stage, first path part below the id, suffix) -> what
    ("outputs", None, ".exr"): "output-frame",
    ("outputs", None, ".json"): "sidecar",
    ("outputs", None, ".txt"): "sidecar",
    ("outputs", None, ".xmp"): "sidecar",
    ("training", "checkpoints", ".safetensors"): "checkpoint",
    ("training", None, ".jsonl"): "loss-log",
    ("training", "contact", ".png"): "contact-sheet",
    ("models", None, ".onnx"): "model",
    ("models", None, ".json"): "record",  # the training-run record as it was at export
    ("dataset", "aligned", ".exr"): "aligned-reference",
    ("dataset", "previews", ".png"): "preview",
    ("dataset", "masks", ".png"): "mask",
}


def _safe_id(text: str) -> str | None:
    try:
        return check_element_id(text)
    except ArchivistError:
        return None


def _classify(rel: str) -> Place:
    parts = rel.split("/")
    suffix = PurePosixPath(rel).suffix
    if parts[0] == WORK_DIR:
        return Place(rel, "work", "file")
    if parts[0] != PAYLOAD_DIR or len(parts) < 2:
        return Place(rel, "tag", "seal" if rel == Layout.PACKAGE_SEAL else "tag")
    area = parts[1] if f"{PAYLOAD_DIR}/{parts[1]}" in RESERVED_DIRS and len(parts) > 2 else "payload"
    if area == "records":
        fixed = kinds.by_path(rel)
        if fixed is not None:
            return Place(rel, area, "event-log" if fixed is kinds.EVENT else "record", fixed, None, rel)
        if suffix != ".json":
            return Place(rel, area, "credential" if suffix == CREDENTIAL_SUFFIX else "file")
        # A misnamed or misplaced record in a kind's folder is still judged as that kind.
        kind = kinds.by_folder(parts[2]) if len(parts) >= 4 else None
        ident = _safe_id(parts[3][:-len(".json")]) if kind and len(parts) == 4 else None
        return Place(rel, area, "record", kind, ident, rel)
    if suffix == CREDENTIAL_SUFFIX:
        what = "credential"
    else:
        what = "file"
    if area in ROLES.values():
        element = _safe_id(parts[2]) if len(parts) == 4 else None
        if element is None:
            return Place(rel, area, what)
        return Place(rel, area, "frame" if what == "file" else what, None, element, Layout.element_record(element),
                     parts[3])
    kind = kinds.by_stage(area)
    ident = _safe_id(parts[2]) if kind and len(parts) > 3 else None
    if ident is None or kind is None:
        return Place(rel, area, what)
    below = parts[3] if len(parts) > 4 else None
    what = _STAGE_FILES.get((area, below, suffix), what) if len(parts) <= 5 else what
    record_kind = None
    if what == "record":
        record_kind = kinds.TRAINING_RUN
    elif what == "sidecar" and suffix == ".json":
        record_kind = kinds.OUTPUT_SIDECAR
    return Place(rel, area, what, record_kind, ident, Layout.record(kind, ident), "/".join(parts[3:]))

"""The one place that knows where things live inside a package.

Nothing else in archivist joins package paths by hand: it asks a
``Layout`` for the relative path of a thing, and ``Layout.path`` turns
that into a filesystem path after the safety checks in ``safepath``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    PACKAGE_RECORD = "data/records/package.json"
    EVENT_LOG = "data/records/events.jsonl"

    @staticmethod
    def element_record(element: str) -> str:
        return f"data/records/elements/{check_element_id(element)}.json"

    ELEMENT_RECORDS = "data/records/elements"

    @staticmethod
    def record(kind: str, ident: str) -> str:
        """Records of later stages: ``data/records/<kind>/<id>.json``."""
        return f"data/records/{check_element_id(kind)}/{check_element_id(ident)}.json"

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

    # -- working state ------------------------------------------------------
    LOCK = f"{WORK_DIR}/lock"
    JOURNAL = f"{WORK_DIR}/journal.json"
    STAGING = f"{WORK_DIR}/staging"
    BACKUP = f"{WORK_DIR}/backup"

    # -- resolution -----------------------------------------------------------
    def path(self, rel: str) -> Path:
        """Filesystem path for a package-relative path, refusing escapes."""
        return resolve_inside(self.root, rel)

PROFILE_IDENTIFIER = "urn:archivist:bagit-profile:restoration:1"
PROFILE_FILE = "archivist-restoration-v1.json"

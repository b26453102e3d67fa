"""Every kind of record a package holds: its schema label, schema file and place.

A record carries the versioned label of its kind, ``archivist/<type>/<n>``,
which names its schema ``schemas/<type>-<n>.schema.json``. Writers, readers,
``verify`` and the report take labels and places from here, so a new
kind or a new version is added in one line.

>>> INFERENCE_RUN.label, INFERENCE_RUN.schema_file
('archivist/inference-run/1', 'inference-run-1.schema.json')
>>> by_label("archivist/model-card/1").folder
'models'
>>> by_folder("datasets") is DATASET
True
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One kind of record.

    Args:
        type: the ``<type>`` of the label, e.g. ``"inference-run"``.
        version: the label's version.
        folder: the folder under ``data/records/`` holding one ``<id>.json`` per
            record, or None for a kind stored at a fixed path or beside what it describes.
        path: the package path of a kind with one record (or one log) per package.
        describes: the stage folder (``data/<describes>/<id>/``) whose files
            the record of the same id describes, when it has one.
        what: the kind in a sentence (``"inference run"``).
    """

    type: str
    version: int
    folder: str | None
    path: str | None
    describes: str | None
    what: str

    @property
    def label(self) -> str:
        return f"archivist/{self.type}/{self.version}"

    @property
    def schema_file(self) -> str:
        return f"{self.type}-{self.version}.schema.json"


PACKAGE = Kind("package", 1, None, "data/records/package.json", None, "package record")
ELEMENT = Kind("element", 1, "elements", None, None, "element")  # describes data/sources/<id>, data/references/<id>
EVENT = Kind("event", 1, None, "data/records/events.jsonl", None, "event")  # one event per line
DATASET = Kind("dataset", 1, "datasets", None, "dataset", "dataset")
TRAINING_RUN = Kind("training-run", 1, "training", None, "training", "training run")
MODEL_CARD = Kind("model-card", 1, "models", None, "models", "model card")
INFERENCE_RUN = Kind("inference-run", 1, "inference", None, "outputs", "inference run")
QC = Kind("qc", 1, "qc", None, "qc", "QC run")
OUTPUT_SIDECAR = Kind("output-sidecar", 1, None, None, None, "output sidecar")  # data/outputs/<run>/<name>.json
METADATA = Kind("metadata", 1, None, "data/records/metadata.json", None, "archive metadata record")
# An inference run's outputs as an element of a later stage; its frames lie in data/outputs/<run>/.
DERIVED_ELEMENT = Kind("derived-element", 1, "derived", None, None, "derived element")
SHOT = Kind("shot", 1, "shots", None, None, "shot")  # a range of one source element's frames
SCENE = Kind("scene", 1, "scenes", None, None, "scene")  # a named group of shots

ALL: tuple[Kind, ...] = (PACKAGE, ELEMENT, EVENT, DATASET, TRAINING_RUN, MODEL_CARD, INFERENCE_RUN, QC,
                         OUTPUT_SIDECAR, METADATA, SHOT, SCENE, DERIVED_ELEMENT)
_BY_LABEL = {k.label: k for k in ALL}
_BY_FOLDER = {k.folder: k for k in ALL if k.folder}
_BY_STAGE = {k.describes: k for k in ALL if k.describes}
_BY_PATH = {k.path: k for k in ALL if k.path}


def by_label(label: str) -> Kind | None:
    """The kind a schema label names, or None for a label archivist does not write."""
    return _BY_LABEL.get(label)


def by_folder(folder: str) -> Kind | None:
    """The kind whose records lie in ``data/records/<folder>/``, or None."""
    return _BY_FOLDER.get(folder)


def by_path(path: str) -> Kind | None:
    """The kind stored at a fixed package path (the package record, the event log), or None."""
    return _BY_PATH.get(path)


def by_stage(stage: str) -> Kind | None:
    """The kind whose record describes ``data/<stage>/<id>/``, or None.

    >>> by_stage("outputs").what
    'inference run'
    """
    return _BY_STAGE.get(stage)


def folders() -> tuple[str, ...]:
    """The folders under ``data/records/`` that hold records of one kind each."""
    return tuple(_BY_FOLDER)


def of(kind: Kind | str) -> Kind:
    """A kind given as itself or by its records folder; ``ValueError`` for any other.

    >>> of("inference") is INFERENCE_RUN
    True
    >>> of("outputs")
    Traceback (most recent call last):
    ...
    ValueError: unknown record kind 'outputs' (kinds: elements, datasets, training, models, inference, qc, shots, scenes, derived)
    """
    if isinstance(kind, Kind):
        return kind
    found = _BY_FOLDER.get(kind)
    if found is None:
        raise ValueError(f"unknown record kind {kind!r} (kinds: {', '.join(_BY_FOLDER)})")
    return found


def folder_of(kind: Kind | str) -> str:
    """The folder under ``data/records/`` of a kind with one record per id; ``ValueError`` for any other.

    >>> folder_of(MODEL_CARD), folder_of("qc")
    ('models', 'qc')
    >>> folder_of(PACKAGE)
    Traceback (most recent call last):
    ...
    ValueError: package record is stored at data/records/package.json, not in a records folder
    """
    found = of(kind)
    if found.folder is None:
        raise ValueError(f"{found.what} is stored at {found.path or 'a path of its own'}, not in a records folder")
    return found.folder

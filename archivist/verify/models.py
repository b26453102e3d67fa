"""ONNX models: self-contained, standard operators only (MOD rules).

Each ``.onnx`` payload file is parsed from its bytes (never from a path,
so no external data is resolved) and its tensors and operator domains are
inspected; nothing is run. ``read`` loads the bytes into ``view.blobs``
before fixity, so each model is read from disk once.
"""

from __future__ import annotations

from pathlib import Path

from archivist.package.layout import Layout
from archivist.verify.bag import BagView
from archivist.verify.inventory import Tree, read_small
from archivist.verify.report import Report

MAX_MODEL_BYTES = 2 << 30  # protobuf's own limit on one message


def _paths(tree: Tree) -> list[str]:
    return sorted(p for p, size in tree.files.items()
                  if Layout.is_payload(p) and p.endswith(".onnx") and size < MAX_MODEL_BYTES)


def read(root: Path, tree: Tree, view: BagView) -> None:
    """Read every model's bytes into ``view.blobs`` (fixity then hashes those bytes)."""
    for path in _paths(tree):
        if path not in view.blobs:
            try:
                view.blobs[path] = read_small(root, path)
            except OSError:  # fixity reports an unreadable file
                pass


def check(view: BagView, tree: Tree, report: Report) -> None:
    """Report models with external data (MOD-001) or non-standard operator domains (MOD-002)."""
    paths = [p for p in _paths(tree) if p in view.blobs]
    if not paths:
        return
    import onnx

    from archivist.inference import modelcheck

    for path in paths:
        try:
            model = onnx.load_from_string(view.blobs[path])
        except Exception:  # an unreadable model is reported by fixity and the records
            continue
        external, domains = modelcheck.problems(model)
        if external:
            more = f" (and {len(external) - 1} more)" if len(external) > 1 else ""
            report.add("MOD-001", path, external[0] + more)
        if domains:
            report.add("MOD-002", path, "operators from non-standard domains " + ", ".join(repr(d) for d in domains))

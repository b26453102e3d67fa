"""ONNX models: self-contained, standard operators only (MOD rules).

Each ``.onnx`` payload file is parsed from its bytes (never from a path,
so no external data is resolved) and its tensors and operator domains are
inspected; nothing is run.
"""

from __future__ import annotations

from pathlib import Path

from archivist.package.layout import Layout
from archivist.verify.inventory import Tree, read_small
from archivist.verify.report import Report

MAX_MODEL_BYTES = 2 << 30  # protobuf's own limit on one message


def check(root: Path, tree: Tree, report: Report) -> None:
    paths = sorted(p for p, size in tree.files.items()
                   if Layout.is_payload(p) and p.endswith(".onnx") and size < MAX_MODEL_BYTES)
    if not paths:
        return
    import onnx

    from archivist.inference import modelcheck

    for path in paths:
        try:
            model = onnx.load_from_string(read_small(root, path))
        except Exception:  # an unreadable model is reported by fixity and the records
            continue
        external, domains = modelcheck.problems(model)
        if external:
            more = f" (and {len(external) - 1} more)" if len(external) > 1 else ""
            report.add("MOD-001", path, external[0] + more)
        if domains:
            report.add("MOD-002", path, "operators from non-standard domains " + ", ".join(repr(d) for d in domains))

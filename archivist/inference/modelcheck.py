"""Is an ONNX model self-contained? Checked on the parsed proto, before anything opens a file.

A tensor stored as external data names a file by a relative path, which
``onnx.checker`` and onnxruntime resolve against the current directory
when the model is given as bytes: a model whose own hash matches the
package could run with weights from anywhere. Operators from a domain other
than the standard ones need a custom-op library from outside the package.
Both are refused; ``verify`` reports them (MOD-001, MOD-002).
"""

from __future__ import annotations

import onnx

from archivist.errors import InputError

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training"})
MAX_PROBLEMS = 20


def _tensors(attr: onnx.AttributeProto):
    if attr.HasField("t"):
        yield attr.t
    yield from attr.tensors
    for sparse in ([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []) + list(attr.sparse_tensors):
        yield sparse.values
        yield sparse.indices


def _external(t: onnx.TensorProto) -> bool:
    return t.data_location == onnx.TensorProto.EXTERNAL or len(t.external_data) > 0


def _location(t: onnx.TensorProto) -> str:
    for entry in t.external_data:
        if entry.key == "location":
            return entry.value[:200]
    return "(no location)"


def problems(model: onnx.ModelProto) -> tuple[list[str], list[str]]:
    """(external data, non-standard domains): readable descriptions, empty when the model is self-contained."""
    external: list[str] = []
    domains: set[str] = {o.domain for o in model.opset_import if o.domain not in STANDARD_DOMAINS}
    local = {f.domain for f in model.functions}  # functions the model defines itself
    graphs = [model.graph]
    node_lists = [list(f.node) for f in model.functions]

    def tensor(t: onnx.TensorProto, where: str) -> None:
        if _external(t) and len(external) < MAX_PROBLEMS:
            external.append(f"{where} {t.name!r} is stored in external file {_location(t)!r}")

    while graphs or node_lists:
        if graphs:
            g = graphs.pop()
            for t in g.initializer:
                tensor(t, "initializer")
            for s in g.sparse_initializer:
                tensor(s.values, "sparse initializer")
                tensor(s.indices, "sparse initializer")
            nodes = list(g.node)
        else:
            nodes = node_lists.pop()
        for node in nodes:
            if node.domain not in STANDARD_DOMAINS and node.domain not in local:
                domains.add(node.domain)
            for attr in node.attribute:
                for t in _tensors(attr):
                    tensor(t, f"constant of node {node.name or node.op_type!r}")
                if attr.HasField("g"):
                    graphs.append(attr.g)
                graphs.extend(attr.graphs)
    return external, sorted(d for d in domains - local)


def refuse_unless_self_contained(model: onnx.ModelProto, where: str) -> None:
    """Raise ``INFER-MODEL-EXTERNAL`` or ``INFER-MODEL-DOMAIN`` for a model that is not self-contained."""
    external, domains = problems(model)
    if external:
        raise InputError("INFER-MODEL-EXTERNAL", f"{where} keeps tensors outside itself: {external[0]}"
                         + (f" (and {len(external) - 1} more)" if len(external) > 1 else ""),
                         hint="a packaged model must hold its weights; export it again with 'archivist export'")
    if domains:
        raise InputError("INFER-MODEL-DOMAIN", f"{where} uses operators from non-standard domains "
                         f"{', '.join(repr(d) for d in domains)}, which need code from outside the package",
                         hint="export the model with standard ONNX operators only")

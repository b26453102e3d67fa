"""Fixtures of the DER rules: the signed inference package with its run's outputs derived as an element."""

from __future__ import annotations

from archivist.package import Package, derived, kinds
from archivist.package.layout import Layout
from support.verify_outputs import RUN, _anchored, cover_up, edit_json

ELEMENT = f"{RUN}-derived"
RECORD = Layout.record(kinds.DERIVED_ELEMENT, ELEMENT)


def derived_package(bags):
    """A copy of the signed package whose run's outputs are derived element ``infer-01-derived`` (a real ``derive``)."""
    root, kw = _anchored(bags)
    derived.derive(Package.open(root), RUN)
    return root, kw


def der_001_derived_element_names_another_model(bags):
    root, kw = derived_package(bags)
    edit_json(root, RECORD, lambda r: r["derived_from"]["model"].update(id="chroma-99-s9"))
    cover_up(root, [RECORD])
    return root, kw


def der_002_derived_frame_is_another_output(bags):
    root, kw = derived_package(bags)

    def swap(rec):
        first, second = rec["frames"][0], rec["frames"][1]
        first.update(path=second["path"], sha256=second["sha256"], size=second["size"])

    edit_json(root, RECORD, swap)
    cover_up(root, [RECORD])
    return root, kw


FIXTURES = {
    name.split("_", 2)[0].upper() + "-" + name.split("_", 2)[1]: fn
    for name, fn in list(globals().items())
    if callable(fn) and name.startswith("der_")
}

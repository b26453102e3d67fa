"""``archivist report``: one self-contained HTML page about a package.

``gather`` reads the package (never writing to it) and ``html`` renders a
page with every image embedded as a data URI and a Content-Security-Policy
that forbids the browser any request. The page is written outside the
package: a file inside it would be a payload file no manifest lists.
"""

from __future__ import annotations

import os
from pathlib import Path

from archivist.errors import InputError


def default_output(root: Path | str) -> Path:
    """``<package>.report.html`` beside the package."""
    root = Path(root).resolve()
    return root.parent / f"{root.name}.report.html"


def build(root: Path | str, *, trust_anchor: bytes | None = None, shot: str | None = None,
          scene: str | None = None) -> tuple[str, dict]:
    """The report's HTML and the data it shows (the per-shot table limited to ``shot`` or ``scene``)."""
    from archivist.report import gather, html

    data = gather.gather(root, trust_anchor=trust_anchor, shot=shot, scope_scene=scene)
    return html.render(data), data


def write_report(root: Path | str, out: Path | str | None = None, *, trust_anchor: Path | bytes | None = None,
                 shot: str | None = None, scene: str | None = None) -> Path:
    """Write the report for the package at ``root`` to ``out`` (default: beside the package)."""
    root = Path(root)
    out = Path(out) if out is not None else default_output(root)
    real_root, real_out = Path(os.path.realpath(root)), Path(os.path.realpath(out))
    if real_out == real_root or real_root in real_out.parents:
        raise InputError("REPORT-PLACE", f"{out} is inside the package; the report must be written outside it",
                         hint="a file inside the package would be listed in no manifest and fail verify")
    if real_out.is_dir():
        raise InputError("REPORT-PLACE", f"{out} is a directory; give a file name such as report.html")
    if isinstance(trust_anchor, (str, Path)):
        try:
            trust_anchor = Path(trust_anchor).read_bytes()
        except OSError as exc:
            raise InputError("REPORT-TRUST-ANCHOR", f"cannot read the trust anchor {trust_anchor}: {exc}") from None
    page, _ = build(root, trust_anchor=trust_anchor, shot=shot, scene=scene)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.write_text(page, "utf-8")
    os.replace(tmp, out)
    return out

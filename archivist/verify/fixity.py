"""Fixity: every listed file read once, all its digests from that one read.

A file listed in several manifests (sha512 and sha256, say) is hashed
once for all of them. Files run in a thread pool (``hashing.map_files``;
hashlib releases the GIL), each read in fixed-size chunks, so memory is
flat in the number and size of files. Tag files and records were already
read into memory by the earlier steps and are hashed from those bytes.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from archivist.hashing import hash_bytes, hash_file, map_files
from archivist.progress import start
from archivist.verify.bag import BagView
from archivist.verify.inventory import Tree
from archivist.verify.report import Report


def _expected(view: BagView, tree: Tree) -> dict[str, dict[str, str]]:
    """{path: {algorithm: digest}} for every safe, present entry of every manifest."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for group in (view.payload, view.tags):
        for alg, entries in group.items():
            for path, digest in entries.items():
                if path in tree.files:
                    out[path][alg] = digest
    return out


def _compare(report: Report, path: str, want: dict[str, str], got: dict[str, str]) -> None:
    bad = sorted(a for a, d in want.items() if got[a] != d)
    if not bad:
        return
    tag = not path.startswith("data/")
    names = ", ".join(f"{'tag' if tag else ''}manifest-{a}.txt" for a in bad)
    report.add("BAG-024" if tag else "BAG-010", path, f"content differs from {names} "
               f"({bad[0]} is {got[bad[0]][:16]}..., manifest says {want[bad[0]][:16]}...)")


def check(root: Path, tree: Tree, view: BagView, report: Report, *, progress=None, workers: int | None = None) -> None:
    expected = _expected(view, tree)
    jobs = []
    for path in sorted(expected):
        algs = tuple(sorted(expected[path]))
        if path in view.blobs:
            data = view.blobs[path]
            _compare(report, path, expected[path], hash_bytes(data, algorithms=algs).digests)
            report.files += 1
            report.bytes += len(data)
        else:
            jobs.append((path, algs))

    def one(path: str, algs: tuple[str, ...], progress=None):
        return hash_file(root / path, progress, algorithms=algs)

    bar = start(progress, total=sum(tree.files[p] for p, _ in jobs), desc="checking fixity")
    try:
        for (path, _), result in map_files(one, jobs, workers=workers, progress=bar.update):
            if isinstance(result, BaseException):
                report.add("BAG-021", path, f"cannot be read: {result}")
                continue
            _compare(report, path, expected[path], result.digests)
            report.files += 1
            report.bytes += result.size
    finally:
        bar.close()

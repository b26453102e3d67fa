"""Fixity: every listed file read once, all its digests from that one read.

A file listed in several manifests (sha512 and sha256, say) is hashed
once for all of them. Files run in a thread pool (``hashing.map_files``;
hashlib releases the GIL), each read in fixed-size chunks, so memory is
flat in the number and size of files. Tag files and records were already
read into memory by the earlier steps and are hashed from those bytes.
The files of inference outputs are left to ``outputs``, which reads each
of them once for its fixity and its provenance checks together (``skip``).

``check`` returns the SHA-256 of every file it hashed, so that later
checks compare recorded hashes with the files as they are, not with the
manifests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from archivist.package.hashing import Fixity, hash_bytes, hash_file, map_files
from archivist.package.layout import Layout
from archivist.progress import start
from archivist.verify.bag import BagView
from archivist.verify.findings import Findings
from archivist.verify.inventory import Tree
from archivist.verify.report import Report


def expected(view: BagView, tree: Tree) -> dict[str, dict[str, str]]:
    """{path: {algorithm: digest}} for every safe, present entry of every manifest."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for group in (view.payload, view.tags):
        for alg, entries in group.items():
            # The files on disk, not the entries: a manifest may list millions that are not there.
            for path in tree.files:
                if path in entries:
                    out[path][alg] = entries[path]
    return out


def compare(report: Report | Findings, path: str, want: dict[str, str], got: dict[str, str]) -> None:
    """Report ``path`` when a digest it has now (``got``) differs from its manifests (``want``)."""
    bad = sorted(a for a, d in want.items() if got[a] != d)
    if not bad:
        return
    tag = not Layout.is_payload(path)
    names = ", ".join(f"{'tag' if tag else ''}manifest-{a}.txt" for a in bad)
    report.add("BAG-024" if tag else "BAG-010", path, f"content differs from {names} "
               f"({bad[0]} is {got[bad[0]][:16]}..., manifest says {want[bad[0]][:16]}...)")


def check(root: Path, tree: Tree, view: BagView, report: Report, *, progress: Callable | None = None,
          workers: int | None = None,
          skip: frozenset[str] | set[str] = frozenset(), hasher: Callable | None = None) -> dict[str, str]:
    """Hash every listed file but those in ``skip``; return {path: sha256 of the file as it is}.

    ``hasher(jobs, progress)``, when given, hashes the ``(path, algorithms)`` jobs elsewhere (on a Ray
    cluster: ``archivist.cluster.hash_files``) and yields ``(job, Fixity or OSError)`` in job order, as
    ``map_files`` does here, so the report is the same.
    """
    want = expected(view, tree)
    actual: dict[str, str | None] = {}
    jobs = []
    for path in sorted(want):
        if path in skip:
            continue
        algs = tuple(sorted(want[path]))
        if path in view.hashed:  # a big manifest, hashed as it was parsed
            names, hashers = view.hashed[path]
            digests = {a: h.hexdigest() for a, h in zip(names, hashers, strict=True) if a in algs}
            compare(report, path, want[path], digests)
            actual[path] = digests.get("sha256")
            report.files += 1
            report.bytes += tree.files[path]
        elif path in view.blobs:
            data = view.blobs[path]
            digests = hash_bytes(data, algorithms=algs).digests
            compare(report, path, want[path], digests)
            actual[path] = digests.get("sha256")
            report.files += 1
            report.bytes += len(data)
        else:
            jobs.append((path, algs))

    def one(path: str, algs: tuple[str, ...], progress: Callable | None = None) -> Fixity:
        return hash_file(root / path, progress, algorithms=algs)

    bar = start(progress, total=sum(tree.files[p] for p, _ in jobs), desc="checking fixity")
    try:
        results = hasher(jobs, bar.update) if hasher is not None else \
            map_files(one, jobs, workers=workers, progress=bar.update)
        for (path, _), result in results:
            if isinstance(result, BaseException):
                report.add("BAG-021", path, f"cannot be read: {result}")
                continue
            compare(report, path, want[path], result.digests)
            actual[path] = result.digests.get("sha256")
            report.files += 1
            report.bytes += result.size
    finally:
        bar.close()
    return {p: d for p, d in actual.items() if d is not None}

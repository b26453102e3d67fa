"""Manifest entries held compactly: each path once, digests as bytes in one array per algorithm.

A hostile manifest may list millions of files. Holding each entry as a
Python object (a record, a hex string, a dict slot per manifest) cost
about 1.5 KB a line; here a path is stored once for all the manifests of
its side (payload or tag), as a key of one dict whose value is its row,
and each algorithm's digests are binary, ``digest_size`` bytes a row, in
one ``bytearray``. ``Entries`` reads as the ``{path: hex digest}`` mapping
the checks used before, so they need not know.
"""

from __future__ import annotations

from collections.abc import Iterator, KeysView, Mapping


class PathTable:
    """The paths of one side's manifests, each stored once, in the order first listed."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self._next = 0

    def row(self, path: str) -> int:
        """The row of ``path``, added if new."""
        row = self.rows.get(path)
        if row is None:
            row = self.rows[path] = self._next
            self._next += 1
        return row

    def paths(self) -> KeysView[str]:
        return self.rows.keys()

    def __len__(self) -> int:
        return len(self.rows)


class Entries(Mapping[str, str]):
    """One manifest's entries: ``{path: lower-case hex digest}`` over a shared ``PathTable``."""

    def __init__(self, table: PathTable, size: int) -> None:
        self.table = table
        self.size = size  # bytes per digest
        self._digests = bytearray()
        self._present = bytearray()  # one byte per row: 1 when this manifest lists the path
        self._count = 0

    def _row(self, path: str) -> int | None:
        row = self.table.rows.get(path)
        if row is None or row >= len(self._present) or not self._present[row]:
            return None
        return row

    def digest(self, path: str) -> bytes | None:
        row = self._row(path)
        return None if row is None else bytes(self._digests[row * self.size:(row + 1) * self.size])

    def put(self, path: str, digest: bytes) -> None:
        """Record ``path`` with its binary ``digest`` (``size`` bytes); the caller refuses repeats."""
        row = self.table.row(path)
        if row >= len(self._present):
            grow = row + 1 - len(self._present)
            self._present.extend(bytes(grow))
            self._digests.extend(bytes(grow * self.size))
        if not self._present[row]:
            self._count += 1
        self._present[row] = 1
        self._digests[row * self.size:(row + 1) * self.size] = digest

    def discard(self, path: str) -> None:
        row = self._row(path)
        if row is not None:
            self._present[row] = 0
            self._count -= 1

    def __getitem__(self, path: str) -> str:
        digest = self.digest(path)
        if digest is None:
            raise KeyError(path)
        return digest.hex()

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self._row(path) is not None

    def __iter__(self) -> Iterator[str]:
        present, n = self._present, len(self._present)
        for path, row in self.table.rows.items():
            if row < n and present[row]:
                yield path

    def __len__(self) -> int:
        return self._count

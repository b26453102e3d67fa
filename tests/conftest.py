"""Shared fixtures: tiny real frames and packages built with the real CLI library.

Plain helpers live in the ``support`` package beside this file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.common import write_shot

from archivist.package import Package


@pytest.fixture
def shot(tmp_path) -> Path:
    folder = tmp_path / "scan"
    write_shot(folder)
    return folder


@pytest.fixture
def package(tmp_path, shot) -> Package:
    """A package with one source and one reference element."""
    ref = tmp_path / "dvd"
    write_shot(ref, ext="png", stem="dvd", start=1)
    pkg = Package.create(tmp_path / "pkg", title="Test film", organization="Test Archive", recovery="chroma")
    pkg.add_element(role="source", element="print16", paths=[shot], description="16mm positive print",
                    training_use="authorised", rights="Archive-owned", gauge="16mm")
    pkg.add_element(role="reference", element="dvd", paths=[ref], description="PAL DVD 2003",
                    training_use="authorised", rights="Licensed for restoration")
    return pkg

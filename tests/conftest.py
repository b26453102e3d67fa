"""Shared fixtures: tiny real frames and packages built with the real CLI library.

Plain helpers live in the ``support`` package beside this file.
"""

from __future__ import annotations

import os
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


# Under pytest-xdist (make test: -n 2 --dist loadfile --no-loadscope-reorder) each file runs on one worker,
# handed out in collection order. The files that build the most (a whole demo, several trained and exported
# models) go first, so the two workers end together instead of one finishing a long file alone. The first
# two are the builders of what other files share (support.shared), on different workers.
FIRST = ("test_demo.py", "test_shots.py", "test_combined.py", "test_qc_uniform.py", "test_export.py", "test_archive.py",
         "test_friction.py", "test_ray.py", "test_train.py", "test_models.py", "test_infer.py", "test_hardening.py",
         "test_verify_outputs.py", "test_infer_resume.py")


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a plain run keeps pytest's order
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))  # stable: files keep their own order

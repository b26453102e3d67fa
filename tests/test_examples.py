"""The example material behind ``make demo``, the demo's commands, and the set-up docs."""

from __future__ import annotations

import doctest
import importlib.util
import json
import re
import shlex

import numpy as np
import pytest
from support.common import REPO, run_cli

from archivist.imaging import colour, oiio

EXAMPLES = REPO / "examples" / "make_example_frames.py"


def _load_examples():
    spec = importlib.util.spec_from_file_location("make_example_frames", EXAMPLES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ex = _load_examples()


def test_doctests():
    result = doctest.testmod(ex)
    assert result.attempted > 0 and result.failed == 0


def test_frames_are_a_faded_scan_and_a_smaller_reference(tmp_path):
    written = ex.make_example(tmp_path, frames=3, size=(48, 64))
    assert [p.name for p in written["print16"]] == ["shot.1001.exr", "shot.1002.exr", "shot.1003.exr"]
    assert [p.name for p in written["dvd"]] == ["dvd.1001.png", "dvd.1002.png", "dvd.1003.png"]

    src = oiio.probe(written["print16"][0])
    assert (src.width, src.height, src.channels, src.pixel_type, src.file_format) == (64, 48, 3, "half", "openexr")
    ref = oiio.probe(written["dvd"][0])
    assert (ref.width, ref.height, ref.channels, ref.pixel_type, ref.file_format) == (32, 24, 3, "uint8", "png")

    # A pan: consecutive frames differ.
    first, last = (oiio.read(p) for p in (written["print16"][0], written["print16"][-1]))
    assert np.abs(first - last).mean() > 0.01

    # Faded: the scan carries much less chroma than the reference, with a magenta cast (Cb, Cr > 0).
    scan_ycc = colour.rgb_to_ycbcr(np.clip(first, 0, None) ** (1 / 2.2))
    ref_ycc = colour.rgb_to_ycbcr(oiio.read(written["dvd"][0]))
    assert scan_ycc[..., 1:].std() < 0.6 * ref_ycc[..., 1:].std()
    assert scan_ycc[..., 1].mean() > 0 and scan_ycc[..., 2].mean() > 0


def test_same_options_give_the_same_bytes(tmp_path):
    a = ex.make_example(tmp_path / "a", frames=2, size=(32, 40), seed=7)
    b = ex.make_example(tmp_path / "b", frames=2, size=(32, 40), seed=7)
    c = ex.make_example(tmp_path / "c", frames=2, size=(32, 40), seed=8)
    for element in a:
        for pa, pb in zip(a[element], b[element]):
            assert pa.read_bytes() == pb.read_bytes()
    assert a["print16"][0].read_bytes() != c["print16"][0].read_bytes()  # the grain follows the seed


def test_bad_options_are_refused(tmp_path, capsys):
    assert ex.main([str(tmp_path / "out"), "--width", "5000"]) == 2
    assert "larger than the photograph" in capsys.readouterr().err
    with pytest.raises(ValueError):
        ex.make_example(tmp_path / "none", frames=0)


def _make_demo_commands() -> list[list[str]]:
    """The ``archivist`` commands of the Makefile's demo target, variables expanded."""
    text = (REPO / "Makefile").read_text()
    variables = dict(re.findall(r"^([A-Z_]+)\s*:?=\s*(.*)$", text, re.M))
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", text, re.M).group(1)
    commands = []
    for line in recipe.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line.startswith("$(ARCHIVIST)"):
            line = re.sub(r"\$\(([A-Z_]+)\)", lambda m: variables.get(m.group(1), m.group(0)), line)
            commands.append(shlex.split(line)[1:])
    return commands


def test_make_demo_runs_the_whole_restoration():
    assert _make_demo_commands() == [["demo", "demo-output"]]


def test_step_by_step_commands_run_on_the_example_material(tmp_path):
    """README's first commands, through the real CLI, on small example frames."""
    frames = tmp_path / "frames"
    ex.make_example(frames, frames=3, size=(48, 64))
    pkg = tmp_path / "package"
    for args in (
        ["init", pkg, "--title", "Example", "--organization", "Example Film Archive"],
        ["add", pkg, "--role", "source", "--element", "print16", "--description", "16mm positive print",
         "--training-use", "authorised", "--authorised-by", "Example Film Archive", "--colour-space", "Rec.709",
         frames / "print16"],
        ["add", pkg, "--role", "reference", "--element", "dvd", "--description", "PAL DVD 2003",
         "--training-use", "authorised", "--authorised-by", "Example Film Archive", "--colour-space", "Rec.709",
         frames / "dvd"],
        ["verify", pkg],
    ):
        proc = run_cli(*args, cwd=tmp_path)
        assert proc.returncode == 0, f"archivist {args}:\n{proc.stdout}\n{proc.stderr}"
    info = json.loads(run_cli("info", pkg, "--json", cwd=tmp_path, check=True).stdout)
    assert {e["id"]: e["digital_source_type"] for e in info["elements"]} == {
        "print16": "positiveFilm", "dvd": "digitalCapture"}
    assert {e["id"]: e["frames"] for e in info["elements"]} == {"print16": 3, "dvd": 3}


def test_readme_ci_and_makefile_agree():
    """README's set-up commands are the Makefile's targets, and .ci/run calls README's test command."""
    readme = (REPO / "README.md").read_text()
    setup = re.search(r"## Set-up\n(.*?)\n## ", readme, re.S).group(1)
    block = re.search(r"```sh\n(.*?)```", setup, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]

    ci = (REPO / ".ci" / "run").read_text()
    assert ci.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in ci
    ci_lines = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert ci_lines[-1] == "make test"

    makefile = (REPO / "Makefile").read_text()
    for target in ("demo", "test", "bench"):
        assert re.search(rf"^{target}: \$\(STAMP\)$", makefile, re.M), target
    assert "pip install --quiet torch==2.13.0" in makefile
    assert makefile.index("torch==2.13.0") < makefile.index("-e '.[test]'")
    # README writes out the test command make test runs.
    pytest_line = re.search(r"^\t\$\(PY\) -m (pytest .*)$", makefile, re.M).group(1)
    assert f"`python -m {pytest_line}`" in readme


def test_readme_lists_every_command():
    """A command the CLI has and README does not mention is a documentation bug."""
    proc = run_cli("--help", check=True)
    listed = re.search(r"Commands:\n(.*)", proc.stdout, re.S).group(1)
    names = re.findall(r"^  (\S+)  ", listed, re.M)  # wrapped help lines are indented deeper
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("| Command |"):]
    missing = [n for n in names if not re.search(rf"^\| `{re.escape(n)}[ `]", table, re.M)]
    assert not missing, f"README.md does not describe: {missing}"

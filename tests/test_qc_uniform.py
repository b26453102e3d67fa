"""A uniform fade, the case a 3D LUT handles well: the QC must show the baseline's strength, whatever the verdict."""

from __future__ import annotations

import json

import pytest
from support.common import run_cli


@pytest.fixture(scope="module")
def uniform(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("uniform") / "demo"
    proc = run_cli("demo", out, "--quick", "--uniform-fade", "--no-report", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["config"]["fade"]["uniform"] is True and summary["verify_ok"] is True
    return json.loads((out / "package" / "data" / "records" / "qc" / f"{summary['qc_id']}.json").read_text())


def test_lut_baseline_recovers_most_of_a_uniform_fade(uniform):
    gt = uniform["summary"]["ground_truth"]
    src, base = gt["source"]["ciede2000"]["mean"], gt["baseline"]["ciede2000"]["mean"]
    assert base < 0.3 * src  # one colour transform undoes an even fade
    assert gt["baseline"]["ciede2000_chroma"]["mean"] < 0.3 * gt["source"]["ciede2000_chroma"]["mean"]
    assert gt["baseline"]["luma_unchanged"] is (not uniform["tone"])  # the scan's luma unless the model corrects it
    assert uniform["baseline"]["fit"]["converged"] is True


def test_uniform_fade_verdict_is_what_the_numbers_say(uniform):
    v = uniform["verdict"]
    gt = uniform["summary"]["ground_truth"]
    assert v["ml"] == pytest.approx(gt["ml"]["ciede2000"]["mean"])
    assert v["baseline"] == pytest.approx(gt["baseline"]["ciede2000"]["mean"])
    assert v["ml_beats_baseline"] == (v["ml"] < v["baseline"])
    closer = "the ML result is closer" if v["ml_beats_baseline"] else "the LUT baseline is at least as close"
    assert closer in v["statement"]
    assert f"{v['ml']:.2f} against {v['baseline']:.2f}" in v["statement"]

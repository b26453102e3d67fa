"""3D LUTs: the lattice-regression fit recovers known LUTs, .cube files read back and agree with OpenColorIO."""

from __future__ import annotations

import numpy as np
import PyOpenColorIO as ocio
import pytest

from archivist.errors import InputError
from archivist.qc import lut

DMIN, DMAX = (0.05, 0.0, 0.1), (0.85, 0.9, 0.95)


def known_lut(size: int = 9) -> lut.Lut3D:
    """A smooth, non-separable colour transform: a channel-mixing matrix, a power curve and an offset."""
    x = lut.identity(size, DMIN, DMAX)
    mix = np.array([[0.85, 0.12, 0.03], [0.06, 0.80, 0.14], [0.02, 0.18, 0.80]])
    return lut.Lut3D(np.clip(x @ mix.T, 0, None) ** 1.15 * 0.9 + 0.04, DMIN, DMAX, "known")


def ocio_apply(path, x: np.ndarray, interpolation) -> np.ndarray:
    proc = ocio.Config.CreateRaw().getProcessor(ocio.FileTransform(src=str(path), interpolation=interpolation))
    out = np.ascontiguousarray(x, np.float32).copy()
    proc.getDefaultCPUProcessor().applyRGB(out)
    return out


def test_fit_recovers_a_known_lut_from_its_samples():
    truth = known_lut(9)
    rng = np.random.default_rng(1)
    x = rng.uniform(DMIN, DMAX, (60000, 3))
    y = truth.apply(x).astype(np.float64)  # the samples a LUT of this size can represent exactly
    fitted, report = lut.fit(x, y, size=9, smoothness=1e-4, domain_min=DMIN, domain_max=DMAX)
    assert report.converged and report.nodes_supported == 9 ** 3
    assert np.abs(fitted.table - truth.table).max() < 2e-3
    probe = rng.uniform(DMIN, DMAX, (5000, 3))
    assert np.abs(fitted.apply(probe) - truth.apply(probe)).max() < 2e-3


def test_fit_of_a_33_point_lut_on_film_like_samples_matches_the_transform_where_the_data_is():
    # Film colours cluster near the neutral axis; most nodes see no sample.
    rng = np.random.default_rng(2)
    t = rng.random((80000, 1))
    x = np.clip(0.1 + 0.75 * t + rng.normal(0, 0.05, (80000, 3)), 0.06, 0.9)
    truth = known_lut(17)
    fitted, report = lut.fit(x, truth.apply(x), size=33, domain_min=DMIN, domain_max=DMAX)
    assert report.converged and report.nodes_supported < 33 ** 3 // 2
    probe = np.clip(0.1 + 0.75 * rng.random((4000, 1)) + rng.normal(0, 0.05, (4000, 3)), 0.06, 0.9)
    err = np.abs(fitted.apply(probe) - truth.apply(probe))
    assert err.mean() < 1e-3 and err.max() < 0.02


def test_smoothness_fills_unsupported_nodes_with_the_global_matrix():
    rng = np.random.default_rng(3)
    x = rng.uniform(0.4, 0.6, (5000, 3))  # only the middle of the cube
    y = 0.8 * x + 0.05
    fitted, _ = lut.fit(x, y, size=9, domain_min=(0, 0, 0), domain_max=(1, 1, 1))
    # An affine map is in the curvature term's null space: it extends to the far corners.
    assert np.allclose(fitted.table, 0.8 * lut.identity(9) + 0.05, atol=1e-4)


def test_interpolations_agree_on_an_affine_lattice_and_clamp_outside_the_domain():
    table = lut.Lut3D(0.5 * lut.identity(5) + 0.25)
    x = np.random.default_rng(4).random((200, 3))
    for interp in lut.INTERPOLATIONS:
        assert np.allclose(table.apply(x, interp), 0.5 * x + 0.25, atol=1e-6)
    assert np.allclose(table.apply(np.array([[-1.0, 2.0, 0.5]])), [[0.25, 0.75, 0.5]])


def test_cube_file_is_red_fastest_with_domain_and_title(tmp_path):
    data = lut.dumps_cube(lut.Lut3D(lut.identity(2), (0, 0, 0), (1, 1, 1), 'Base "grade"', ["applies in ACEScct"]))
    lines = data.decode().splitlines()
    assert lines[:5] == ["# applies in ACEScct", "TITLE \"Base 'grade'\"", "LUT_3D_SIZE 2",
                         "DOMAIN_MIN 0.000000 0.000000 0.000000", "DOMAIN_MAX 1.000000 1.000000 1.000000"]
    assert lines[5:7] == ["0.000000 0.000000 0.000000", "1.000000 0.000000 0.000000"]  # red varies fastest
    assert lines[-1] == "1.000000 1.000000 1.000000" and data.endswith(b"\n")


def test_cube_round_trip_and_opencolorio_reads_it_identically(tmp_path):
    original = known_lut(7)
    path = tmp_path / "grade.cube"
    path.write_bytes(lut.dumps_cube(original))
    back = lut.loads_cube(path.read_bytes())
    assert back.size == 7 and back.domain_min == pytest.approx(DMIN) and back.domain_max == pytest.approx(DMAX)
    assert np.abs(back.table - original.table).max() <= 5e-7
    x = np.random.default_rng(5).uniform(DMIN, DMAX, (3000, 3)).astype(np.float32)
    for interp, name in ((ocio.INTERP_LINEAR, "trilinear"), (ocio.INTERP_TETRAHEDRAL, "tetrahedral")):
        assert np.abs(ocio_apply(path, x, interp) - back.apply(x, name)).max() < 2e-6


@pytest.mark.parametrize("text,needle", [
    (b"LUT_3D_SIZE 2\n0 0 0\n", "expected 8"),
    (b"0 0 0\nLUT_3D_SIZE 2\n", "before LUT_3D_SIZE"),
    (b"LUT_1D_SIZE 4\n", "1D LUT"),
    (b"LUT_3D_SIZE 999\n", "LUT_3D_SIZE"),
    (b"LUT_3D_SIZE 2\nDOMAIN_MIN 1 1 1\nDOMAIN_MAX 0 0 0\n" + b"0 0 0\n" * 8, "DOMAIN_MAX must exceed"),
    (b"LUT_3D_SIZE 2\nBOGUS 1\n", "unknown keyword"),
    (b"\xff\xfe", "not UTF-8"),
    (b"TITLE \"x\"\n", "no LUT_3D_SIZE"),
])
def test_malformed_cube_files_are_refused_with_a_reason(text, needle):
    with pytest.raises(InputError) as info:
        lut.loads_cube(text, where="bad.cube")
    assert info.value.code == "LUT-CUBE" and needle in info.value.message


def test_resolve_input_range_is_read_as_the_domain():
    text = b"LUT_3D_SIZE 2\nLUT_3D_INPUT_RANGE 0.0 4.0\n" + b"".join(
        f"{r} {g} {b}\n".encode() for b in (0, 4) for g in (0, 4) for r in (0, 4))
    table = lut.loads_cube(text)
    assert table.domain_max == (4.0, 4.0, 4.0)
    assert np.allclose(table.apply(np.array([[1.0, 2.0, 3.0]])), [[1.0, 2.0, 3.0]])


def test_fit_refuses_bad_samples():
    with pytest.raises(InputError, match="LUT-SAMPLES"):
        lut.fit(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(InputError, match="LUT-SAMPLES"):
        lut.fit(np.array([[np.nan, 0, 0]]), np.zeros((1, 3)))
    with pytest.raises(InputError, match="LUT-SIZE"):
        lut.fit(np.zeros((4, 3)), np.zeros((4, 3)), size=1)

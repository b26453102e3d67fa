"""Image quality metrics for chroma recovery, as small pure functions.

Colour assumptions (stated in every QC record):

* frames hold R'G'B' with Rec.709/sRGB primaries and a D65 white;
* ``encoding="srgb"``: values are encoded with the sRGB transfer function
  (IEC 61966-2-1), as a Rec.709 export for chroma recovery usually is;
  ``encoding="linear-rec709"``: values are scene-linear;
* CIELAB uses the D65 white of the CIE 1931 2 degree observer; the
  conversion is scikit-image's ``rgb2lab`` (sRGB) or ``xyz2lab`` after its
  Rec.709 RGB-to-XYZ matrix (linear);
* luma, Cb and Cr are computed from the frame values with the dataset's
  coefficients (Rec.709 by default, ``archivist.imaging.colour``); Cb and Cr span
  1.0, so PSNR uses a peak-to-peak of 1.0.

The QC converts frames from their recorded colour space to linear Rec.709
with OpenColorIO first and then uses ``encoding="linear-rec709"``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage import color as skcolor
from skimage.color.colorconv import xyz_from_rgb

from archivist.imaging import colour

ENCODINGS = ("srgb", "linear-rec709")
LUMA_TOLERANCE = 2e-3  # about half-float rounding of R, G, B summed, plus margin
GRAIN_SIGMA = 1.5  # pixels; the high-pass keeps structure finer than this blur
HIST_MAX = 100.0  # Delta E histograms cover 0..100 in 0.01 steps (pooled percentiles)
HIST_BINS = 10000
KR, KB = colour.REC709["kr"], colour.REC709["kb"]


def to_lab(rgb: np.ndarray, encoding: str = "srgb") -> np.ndarray:
    """CIELAB (D65, 2 degree) of R'G'B' frame values.

    >>> white = to_lab(np.array([[[1.0, 1.0, 1.0]]]))[0, 0]
    >>> round(float(white[0]), 3), bool(abs(white[1:]).max() < 0.01)
    (100.0, True)
    >>> round(float(to_lab(np.array([[[0.5, 0.5, 0.5]]]))[0, 0, 0]), 2)
    53.39
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    if encoding == "srgb":
        return skcolor.rgb2lab(rgb, illuminant="D65", observer="2")
    if encoding == "linear-rec709":
        xyz = rgb @ xyz_from_rgb.T
        return skcolor.xyz2lab(xyz, illuminant="D65", observer="2")
    raise ValueError(f"encoding must be one of {ENCODINGS}")


def delta_e_2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference per pixel (kL = kC = kH = 1), via scikit-image.

    Sharma, Wu and Dalal (2005), test pair 1:

    >>> round(float(delta_e_2000(np.array([50.0, 2.6772, -79.7751]), np.array([50.0, 0.0, -82.7485]))), 4)
    2.0425
    """
    return skcolor.deltaE_ciede2000(lab1, lab2, kL=1, kC=1, kH=1)


def lightness_part(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """The lightness term of CIEDE2000, |dL'| / S_L, with S_L from the mean lightness.

    >>> round(float(lightness_part(np.array([50.0, 0, 0]), np.array([60.0, 0, 0]))), 4)
    9.4706
    """
    l1, l2 = np.asarray(lab1)[..., 0], np.asarray(lab2)[..., 0]
    lbar = (l1 + l2) / 2.0
    sl = 1.0 + 0.015 * (lbar - 50.0) ** 2 / np.sqrt(20.0 + (lbar - 50.0) ** 2)
    return np.abs(l2 - l1) / sl


def delta_e_parts(lab1: np.ndarray, lab2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(total, lightness part, chromatic part) of CIEDE2000 per pixel, from CIELAB.

    The chromatic part gathers the chroma, hue and rotation terms:
    ``total**2 == lightness**2 + chromatic**2``.

    >>> t, l, c = delta_e_parts(np.array([50.0, 2.6772, -79.7751]), np.array([50.0, 0.0, -82.7485]))
    >>> round(float(l), 4), round(float(c), 4)
    (0.0, 2.0425)
    """
    total = delta_e_2000(lab1, lab2)
    light = lightness_part(lab1, lab2)
    chroma = np.sqrt(np.maximum(total ** 2 - light ** 2, 0.0))
    return total, light, chroma


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB; ``inf`` when identical.

    >>> psnr(np.zeros(4), np.array([0.1, 0.1, 0.1, 0.1]))
    20.0
    """
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else round(10.0 * math.log10(peak * peak / mse), 10)


def psnr_chroma(candidate: np.ndarray, truth: np.ndarray, kr: float = KR, kb: float = KB) -> tuple[float, float]:
    """PSNR of Cb and of Cr (peak-to-peak 1.0).

    Adding 0.1 to B moves Cb by 0.1 (1 - kb) / (2 (1 - kb)) = 0.05, so the
    PSNR is 10 log10(1 / 0.05^2):

    >>> a = np.full((2, 2, 3), 0.5); b = a.copy(); b[..., 2] += 0.1
    >>> round(psnr_chroma(a, b)[0], 4), psnr_chroma(a, b)[1] > psnr_chroma(a, b)[0]
    (26.0206, True)
    """
    c = colour.rgb_to_ycbcr(np.asarray(candidate, np.float64), kr, kb)
    t = colour.rgb_to_ycbcr(np.asarray(truth, np.float64), kr, kb)
    return psnr(c[..., 1], t[..., 1]), psnr(c[..., 2], t[..., 2])


def luma_change(candidate: np.ndarray, source: np.ndarray, kr: float = KR, kb: float = KB) -> tuple[float, float]:
    """(max, mean) absolute difference of Rec.709 luma Y' between two frames.

    >>> [round(v, 6) for v in luma_change(np.full((1, 2, 3), 0.5), np.array([[[0.5, 0.5, 0.5], [0.6, 0.5, 0.5]]]))]
    [0.02126, 0.01063]
    """
    d = np.abs(colour.luma(np.asarray(candidate, np.float64), kr, kb) - colour.luma(np.asarray(source, np.float64), kr, kb))
    return float(d.max()), float(d.mean())


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness M on 0-255 values.

    M = sqrt(sd(rg)^2 + sd(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2),
    rg = R - G, yb = (R + G) / 2 - B (Proc. SPIE 5007, 2003).

    >>> colourfulness(np.full((2, 2, 3), 0.5))
    0.0
    >>> round(colourfulness(np.array([[[1.0, 0.0, 0.0]]])), 4)  # rg = 255, yb = 127.5
    85.5296
    """
    x = np.asarray(rgb, np.float64) * 255.0
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def high_pass_rms(x: np.ndarray, sigma: float = GRAIN_SIGMA) -> float:
    """RMS of ``x`` minus its Gaussian blur, per channel, pooled: grain and fine texture."""
    x = np.asarray(x, np.float64)
    if x.ndim == 2:
        x = x[..., None]
    hp = np.stack([x[..., c] - gaussian_filter(x[..., c], sigma, mode="reflect") for c in range(x.shape[-1])], -1)
    return float(np.sqrt(np.mean(hp ** 2)))


def grain_ratio(candidate: np.ndarray, source: np.ndarray, sigma: float = GRAIN_SIGMA) -> float:
    """High-pass RMS of the candidate over that of the source (1.0: texture kept).

    High-pass filtering is linear, so doubling the texture doubles the ratio:

    >>> rng = np.random.default_rng(1)
    >>> src = rng.random((16, 16, 3))
    >>> round(grain_ratio(0.4 + 2 * src, src), 6)
    2.0
    """
    ref = high_pass_rms(source, sigma)
    return math.nan if ref <= 1e-12 else high_pass_rms(candidate, sigma) / ref  # no texture to compare with


def chroma_grain_ratio(candidate: np.ndarray, source: np.ndarray, sigma: float = GRAIN_SIGMA,
                       kr: float = KR, kb: float = KB) -> float:
    """``grain_ratio`` on Cb and Cr only: how much of the dye-layer grain survives."""
    c = colour.rgb_to_ycbcr(np.asarray(candidate, np.float64), kr, kb)[..., 1:]
    s = colour.rgb_to_ycbcr(np.asarray(source, np.float64), kr, kb)[..., 1:]
    return grain_ratio(c, s, sigma)


def luma_grain_ratio(candidate: np.ndarray, source: np.ndarray, sigma: float = GRAIN_SIGMA,
                     kr: float = KR, kb: float = KB) -> float:
    """``grain_ratio`` on luma Y' only: how much of the scan's luma grain survives.

    A grey offset leaves the luma texture as it was:

    >>> rng = np.random.default_rng(2)
    >>> src = rng.random((16, 16, 3))
    >>> round(luma_grain_ratio(src + 0.1, src), 6)
    1.0
    """
    return grain_ratio(colour.luma(np.asarray(candidate, np.float64), kr, kb),
                       colour.luma(np.asarray(source, np.float64), kr, kb), sigma)


def histogram(values: np.ndarray) -> np.ndarray:
    """Counts of Delta E values in fixed bins (0..100 by 0.01; larger values fall in the last bin)."""
    idx = np.clip((np.asarray(values).ravel() * (HIST_BINS / HIST_MAX)).astype(np.int64), 0, HIST_BINS - 1)
    return np.bincount(idx, minlength=HIST_BINS)


def histogram_percentile(counts: np.ndarray, q: float) -> float:
    """The ``q`` percentile (0-100) from ``histogram`` counts, to the bin's upper edge.

    >>> round(histogram_percentile(histogram(np.array([0.5, 1.5, 2.5, 3.5])), 50), 2)
    1.51
    """
    total = counts.sum()
    if total == 0:
        return math.nan
    k = int(np.searchsorted(np.cumsum(counts), math.ceil(q / 100.0 * total)))
    return (k + 1) * HIST_MAX / HIST_BINS


def frame_metrics(candidate: np.ndarray, truth: np.ndarray, source: np.ndarray, lab_candidate: np.ndarray,
                  lab_truth: np.ndarray, *, kr: float = KR, kb: float = KB,
                  luma_tolerance: float = LUMA_TOLERANCE) -> tuple[dict, dict[str, np.ndarray]]:
    """Every metric for one candidate frame, and the Delta E histograms for pooling across frames.

    ``truth`` is what the candidate should be; ``source`` is the frame the
    candidate was made from (for the luma and grain checks); the CIELAB
    images come from ``to_lab`` (after whatever decoding the frames need).
    """
    total, light, chroma = delta_e_parts(lab_candidate, lab_truth)
    cb, cr = psnr_chroma(candidate, truth, kr, kb)
    lmax, lmean = luma_change(candidate, source, kr, kb)
    m_truth = colourfulness(truth)
    m_cand = colourfulness(candidate)
    out = {
        "ciede2000": _summary(total), "ciede2000_lightness": _summary(light), "ciede2000_chroma": _summary(chroma),
        "psnr_cb": cb, "psnr_cr": cr,
        "luma_max_change": lmax, "luma_mean_change": lmean, "luma_unchanged": lmax <= luma_tolerance,
        "colourfulness": m_cand, "colourfulness_truth": m_truth,
        "colourfulness_ratio": m_cand / m_truth if m_truth else math.nan,
        "grain_ratio": grain_ratio(candidate, source),
        "chroma_grain_ratio": chroma_grain_ratio(candidate, source, kr=kr, kb=kb),
    }
    hists = {"ciede2000": histogram(total), "ciede2000_lightness": histogram(light), "ciede2000_chroma": histogram(chroma)}
    return out, hists


def _summary(values: np.ndarray) -> dict:
    v = np.asarray(values, np.float64).ravel()
    return {"mean": float(v.mean()), "p95": float(np.percentile(v, 95)), "max": float(v.max())}


def pool(per_frame: list[dict], hists: list[dict[str, np.ndarray]]) -> dict:
    """Combine frame metrics (all frames the same size): means of means, pooled percentiles."""
    if not per_frame:
        return {}
    out: dict = {}
    for key in ("ciede2000", "ciede2000_lightness", "ciede2000_chroma"):
        counts = sum(h[key] for h in hists)
        out[key] = {"mean": float(np.mean([f[key]["mean"] for f in per_frame])),
                    "p95": histogram_percentile(counts, 95),
                    "max": float(max(f[key]["max"] for f in per_frame))}
    for key in ("psnr_cb", "psnr_cr"):  # from the mean squared error over all frames
        mse = float(np.mean([0.0 if math.isinf(f[key]) else 10.0 ** (-f[key] / 10.0) for f in per_frame]))
        out[key] = math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)
    for key in ("colourfulness", "colourfulness_truth", "colourfulness_ratio", "grain_ratio", "chroma_grain_ratio",
                "luma_mean_change"):
        out[key] = float(np.mean([f[key] for f in per_frame]))
    out["luma_max_change"] = float(max(f["luma_max_change"] for f in per_frame))
    out["luma_unchanged"] = all(f["luma_unchanged"] for f in per_frame)
    return out

"""Registering a reference frame onto a source frame with a similarity transform.

Conventions
-----------
* Continuous pixel coordinates: pixel (i, j) covers [i, i+1) x [j, j+1), its
  centre is (i + 0.5, j + 0.5), x to the right and y down (OpenImageIO, Nuke).
* A transform maps coordinates of the reference, *after* resolution matching
  (the reference stretched onto the source's pixel grid), to source
  coordinates: ``x_src = A @ x_ref + t`` with ``A = s R(theta)``. Positive
  ``theta`` turns the picture clockwise as displayed, because y points down.

How ``estimate`` works
----------------------
Both frames are reduced to luma, so that the colour difference between a
faded print and a DVD does not matter, and band-passed (difference of
Gaussians) with zero mean and unit variance, so that slow tone differences
(fading, vignetting, a different transfer curve) do not either.

1. Coarse translation by phase correlation on a small level of a pyramid.
2. Gauss-Newton refinement, coarse to fine, of the four similarity
   parameters together with a gain and an offset (so a contrast difference
   is modelled, not fought), with Huber weights so dust, dirt and burnt-in
   text do not pull the fit.
3. If that does not reach a good correlation, a second start from a
   log-polar phase correlation (which sees larger rotations and scale
   changes) is refined the same way, and the better of the two is kept.

The residual recorded for a pair is ``residual_score``: one minus the
zero-normalised cross-correlation of band-passed luma, a number from 0
(identical structure) through 1 (unrelated) to 2 (inverted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from archivist.imaging import colour

RESIDUAL_METRIC = ("1 - ZNCC of tone-matched, band-passed luma (difference of Gaussians, sigma s and 8 s source "
                   "pixels, s = max(1, reference upsampling factor); computed on floor(s) x floor(s) block means) "
                   "over the crop, after alignment, before the median")
MAX_SIZE = 1024           # estimation works on frames no longer than this (a DVD holds less detail)
MIN_LEVEL = 32            # smallest pyramid level side
SCALE_RANGE = (0.5, 2.0)  # beyond these, the content does not match the frame
MAX_ROTATION = 30.0       # degrees
MIN_OVERLAP = 0.25        # fraction of the source the reference must cover during estimation
GOOD_ENOUGH = 0.15        # 1 - ZNCC at the estimation grid below which a second start is not tried


class AlignmentError(ValueError):
    """The reference cannot be registered onto the source."""


# -- the transform ----------------------------------------------------------------

@dataclass(frozen=True)
class Transform:
    """An affine map reference -> source, 2x3 (a similarity when estimated)."""

    matrix: tuple[tuple[float, float, float], tuple[float, float, float]]

    @classmethod
    def identity(cls) -> Transform:
        return cls(((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)))

    @classmethod
    def from_array(cls, m) -> Transform:
        m = np.asarray(m, dtype=np.float64)
        if m.shape != (2, 3) or not np.all(np.isfinite(m)):
            raise ValueError("a transform matrix must be 2x3 finite numbers [[a, b, tx], [c, d, ty]]")
        if abs(np.linalg.det(m[:, :2])) < 1e-9:
            raise ValueError("the transform matrix is singular")
        return cls(tuple(tuple(float(v) for v in row) for row in m))

    @classmethod
    def similarity(cls, scale: float, rotation_deg: float, translation) -> Transform:
        """``x_src = scale * R(rotation) @ x_ref + translation`` (about the origin, the frame's top-left corner).

        >>> Transform.similarity(2.0, 90.0, (1.0, 0.0)).apply([[1.0, 0.0]]).round(6).tolist()
        [[1.0, 2.0]]
        """
        r = math.radians(rotation_deg)
        c, s = scale * math.cos(r), scale * math.sin(r)
        tx, ty = (float(v) for v in translation)
        return cls.from_array([[c, -s, tx], [s, c, ty]])

    @property
    def array(self) -> np.ndarray:
        return np.array(self.matrix, dtype=np.float64)

    @property
    def linear(self) -> np.ndarray:
        return self.array[:, :2]

    @property
    def translation(self) -> tuple[float, float]:
        return (self.matrix[0][2], self.matrix[1][2])

    @property
    def scale(self) -> float:
        """Geometric mean scale, sqrt(|det A|).

        >>> round(Transform.similarity(1.02, 1.0, (0, 0)).scale, 9)
        1.02
        """
        return float(math.sqrt(abs(np.linalg.det(self.linear))))

    @property
    def rotation_deg(self) -> float:
        """Rotation angle of the nearest rotation (exact for a similarity).

        >>> round(Transform.similarity(0.9, -2.5, (3, 4)).rotation_deg, 9)
        -2.5
        """
        a = self.linear
        return float(math.degrees(math.atan2(a[1, 0] - a[0, 1], a[0, 0] + a[1, 1])))

    def rounded(self) -> Transform:
        """Matrix rounded to 1e-9 (linear part) and 1e-6 px (translation): what is recorded is what is used.

        >>> Transform.from_array([[1.00000000012, 0, 0.1234567891], [0, 1, 0]]).rounded().matrix[0]
        (1.0, 0.0, 0.123457)
        """
        m = self.array
        return Transform.from_array(np.hstack([np.round(m[:, :2], 9), np.round(m[:, 2:], 6)]) + 0.0)

    def is_similarity(self, tol: float = 1e-6) -> bool:
        a = self.linear
        return abs(a[0, 0] - a[1, 1]) <= tol and abs(a[0, 1] + a[1, 0]) <= tol

    def inverse(self) -> Transform:
        """
        >>> t = Transform.similarity(1.1, 3.0, (5.0, -2.0))
        >>> bool(np.allclose(t.inverse().apply(t.apply([[7.0, 9.0]])), [[7.0, 9.0]]))
        True
        """
        a = np.linalg.inv(self.linear)
        t = -a @ np.array(self.translation)
        return Transform.from_array(np.hstack([a, t[:, None]]))

    def compose(self, first: Transform) -> Transform:
        """``self`` after ``first``."""
        m = np.vstack([self.array, [0, 0, 1]]) @ np.vstack([first.array, [0, 0, 1]])
        return Transform.from_array(m[:2])

    def apply(self, points) -> np.ndarray:
        """Map (N, 2) points (x, y)."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return p @ self.linear.T + np.array(self.translation)

    def as_record(self) -> dict:
        return {"matrix": [list(r) for r in self.matrix], "scale": self.scale, "rotation_deg": self.rotation_deg,
                "translation": list(self.translation)}


def stretch(reference_size, source_size) -> Transform:
    """Resolution matching as a transform: the reference frame onto the source frame, edge to edge.

    >>> stretch((720, 576), (2048, 1556)).apply([[720.0, 576.0]]).tolist()
    [[2048.0, 1556.0]]
    """
    (wr, hr), (ws, hs) = reference_size, source_size
    return Transform.from_array([[ws / wr, 0.0, 0.0], [0.0, hs / hr, 0.0]])


# -- image helpers ----------------------------------------------------------------------

def luma(rgb: np.ndarray) -> np.ndarray:
    """Rec.709 luma of the first three channels; alignment only needs structure, not exact colour."""
    return colour.luma(rgb[..., :3]).astype(np.float32)


def bandpass(img: np.ndarray, sigma: float) -> np.ndarray:
    """Difference of Gaussians (sigma, 8 sigma), zero mean and unit variance where possible.

    >>> out = bandpass(np.random.default_rng(0).random((32, 32)), 1.0)
    >>> round(float(out.mean()), 6), round(float(out.std()), 3)
    (0.0, 1.0)
    """
    img = img.astype(np.float64)
    d = ndimage.gaussian_filter(img, sigma, mode="nearest") - ndimage.gaussian_filter(img, 8 * sigma, mode="nearest")
    d -= d.mean()
    sd = d.std()
    return d / sd if sd > 1e-12 else d


def zncc(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Zero-normalised cross-correlation of two equally shaped arrays (0 when either is flat).

    >>> x = np.arange(10.0)
    >>> zncc(x, 3 * x + 1), zncc(x, -x)
    (1.0, -1.0)
    """
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    w = np.ones_like(a) if weights is None else np.asarray(weights, np.float64).ravel()
    sw = w.sum()
    if sw <= 0:
        return 0.0
    a = a - (w * a).sum() / sw
    b = b - (w * b).sum() / sw
    den = math.sqrt(float((w * a * a).sum()) * float((w * b * b).sum()))
    return float(round((w * a * b).sum() / den, 12)) if den > 1e-18 else 0.0


def match_tone(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Map ``image`` through the monotone tone curve that gives it ``reference``'s histogram.

    A faded print and a DVD, or a scene-linear scan and a display-referred
    reference, show the same picture through different tone curves; matching
    histograms undoes most of that, so correlation sees structure only.

    >>> x = np.linspace(0, 1, 100).reshape(10, 10)
    >>> bool(np.allclose(match_tone(x ** 2.2, x), x, atol=0.02))
    True
    """
    from skimage.exposure import match_histograms

    return match_histograms(np.asarray(image, np.float64), np.asarray(reference, np.float64))


def residual_score(source_luma: np.ndarray, aligned_luma: np.ndarray, *, sigma: float = 1.0) -> float:
    """``1 - ZNCC`` of tone-matched, band-passed luma: 0 for the same structure, about 1 for unrelated pictures.

    ``sigma`` should be the reference's upsampling factor (at least 1), so
    detail the reference never had does not count against it.

    >>> rng = np.random.default_rng(1)
    >>> img = ndimage.gaussian_filter(rng.random((64, 64)), 1.5)
    >>> residual_score(img, 0.5 * img + 0.2) < 1e-9
    True
    >>> residual_score(img, ndimage.gaussian_filter(rng.random((64, 64)), 1.5)) > 0.8
    True
    """
    # Nothing finer than sigma is compared, so block means of that size lose nothing and save most of the work.
    f = max(1, int(sigma))
    if f > 1 and min(source_luma.shape) >= 8 * f:
        source_luma, aligned_luma, sigma = _block_mean(source_luma, f), _block_mean(aligned_luma, f), sigma / f
    return 1.0 - zncc(bandpass(match_tone(source_luma, aligned_luma), sigma), bandpass(aligned_luma, sigma))


def _block_mean(img: np.ndarray, f: int) -> np.ndarray:
    """Means of f x f blocks (a partial last row or column of blocks is dropped).

    >>> _block_mean(np.arange(16.0).reshape(4, 4), 2).tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    h, w = (img.shape[0] // f) * f, (img.shape[1] // f) * f
    return img[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3))


def _down2(img: np.ndarray) -> np.ndarray:
    """Halve by 2x2 means: level pixel (i, j) covers exactly the finer pixels 2i..2i+1, 2j..2j+1."""
    h, w = (img.shape[0] // 2) * 2, (img.shape[1] // 2) * 2
    x = img[:h, :w]
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


def _pyramid(img: np.ndarray) -> list[np.ndarray]:
    levels = [img]
    while min(levels[-1].shape) // 2 >= MIN_LEVEL:
        levels.append(_down2(levels[-1]))
    return levels


# -- estimation ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    transform: Transform      # reference (on the source grid) -> source
    score: float              # 1 - ZNCC on the estimation grid
    start: str                # which start won: "phase" or "log-polar"


def _params_to_g(p: np.ndarray, c: np.ndarray) -> Transform:
    """G: source -> reference, ``[[1+a, -b], [b, 1+a]] (x - c) + c + t``."""
    a, b, tx, ty = p
    m = np.array([[1 + a, -b], [b, 1 + a]])
    t = c - m @ c + np.array([tx, ty])
    return Transform.from_array(np.hstack([m, t[:, None]]))


def _g_to_params(g: Transform, c: np.ndarray) -> np.ndarray:
    m = g.linear
    a, b = m[0, 0] - 1.0, m[1, 0]
    t = np.array(g.translation) - c + m @ c
    return np.array([a, b, t[0], t[1]])


def _phase_shift(fixed: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """(dx, dy) with ``fixed(x) ~ moving(x - d)``, by windowed phase correlation."""
    from skimage.registration import phase_cross_correlation

    win = np.outer(np.hanning(fixed.shape[0]), np.hanning(fixed.shape[1]))
    shift, _, _ = phase_cross_correlation(fixed * win, moving * win, upsample_factor=4, normalization="phase")
    return np.array([shift[1], shift[0]], dtype=np.float64)


def _logpolar(fixed: np.ndarray, moving: np.ndarray) -> tuple[float, float]:
    """Rotation (degrees) and scale of ``fixed`` relative to ``moving`` from their Fourier magnitudes."""
    from scipy.fft import fft2, fftshift
    from skimage.registration import phase_cross_correlation
    from skimage.transform import warp_polar

    n = min(fixed.shape)
    f, m = fixed[:n, :n], moving[:n, :n]
    win = np.outer(np.hanning(n), np.hanning(n))
    ff = np.abs(fftshift(fft2(f * win)))
    mf = np.abs(fftshift(fft2(m * win)))
    radius = n // 4
    shape = (360, 4 * radius)
    pf = warp_polar(ff, radius=radius, output_shape=shape, scaling="log", order=1)[:180]
    pm = warp_polar(mf, radius=radius, output_shape=shape, scaling="log", order=1)[:180]
    shift, _, _ = phase_cross_correlation(pf, pm, upsample_factor=10, normalization=None)
    angle = 360.0 / shape[0] * shift[0]
    klog = shape[1] / math.log(radius)
    # The spectrum of a picture scaled up by s shrinks by s.
    scale = math.exp(-shift[1] / klog)
    return float(angle), float(scale)


def _refine(src_levels, ref_levels, ref_grads, p: np.ndarray, c: np.ndarray, *, max_iter: int = 40) -> np.ndarray:
    """Gauss-Newton on (a, b, tx, ty, gain, offset), coarse to fine, with Huber weights."""
    gain, offset = 1.0, 0.0
    p = p.astype(np.float64).copy()
    for level in range(len(src_levels) - 1, -1, -1):
        s_img, r_img = src_levels[level], ref_levels[level]
        gy_img, gx_img = ref_grads[level]
        f = float(2 ** level)
        h, w = s_img.shape
        ii, jj = np.mgrid[2:h - 2, 2:w - 2]
        xs, ys = (jj.ravel() + 0.5) * f, (ii.ravel() + 0.5) * f
        sv = s_img[2:h - 2, 2:w - 2].ravel()
        dx, dy = xs - c[0], ys - c[1]
        radius = float(np.hypot(dx, dy).max())
        hr, wr = r_img.shape
        for _ in range(max_iter):
            a, b, tx, ty = p
            # G(x) written out: a (N, 2) @ (2, 2) product is needlessly slow in numpy.
            iu = ((1 + a) * dx - b * dy + c[0] + tx) / f - 0.5
            iv = (b * dx + (1 + a) * dy + c[1] + ty) / f - 0.5
            ok = (iu >= 1) & (iu <= wr - 2) & (iv >= 1) & (iv <= hr - 2)
            if ok.mean() < MIN_OVERLAP:
                raise AlignmentError("the frames hardly overlap at the estimated position")
            coords = np.stack([iv[ok], iu[ok]])
            rv = ndimage.map_coordinates(r_img, coords, order=1, mode="nearest")
            gx = ndimage.map_coordinates(gx_img, coords, order=1, mode="nearest") / f
            gy = ndimage.map_coordinates(gy_img, coords, order=1, mode="nearest") / f
            r = gain * rv + offset - sv[ok]
            sigma = 1.4826 * float(np.median(np.abs(r))) + 1e-9
            k = 1.345 * sigma
            wts = np.where(np.abs(r) <= k, 1.0, k / np.maximum(np.abs(r), 1e-12))
            ddx, ddy = dx[ok], dy[ok]
            jac = np.stack([gain * (gx * ddx + gy * ddy), gain * (gy * ddx - gx * ddy), gain * gx, gain * gy,
                            rv, np.ones_like(rv)], axis=1)
            wj = jac * wts[:, None]
            hess = jac.T @ wj
            scale = np.sqrt(np.diag(hess)) + 1e-12  # equilibrate before solving: columns differ by 1e3
            step = np.linalg.solve(hess / np.outer(scale, scale), -(wj.T @ r) / scale) / scale
            p[:4] += step[:4]
            gain += step[4]
            offset += step[5]
            if not np.all(np.isfinite(p)) or not (0.05 < gain < 20):
                raise AlignmentError("the refinement diverged")
            # How far the update moves the farthest pixel, in this level's pixels.
            if ((abs(step[0]) + abs(step[1])) * radius + abs(step[2]) + abs(step[3])) / f < 1e-3:
                break
    return p


def _score(src: np.ndarray, ref: np.ndarray, g: Transform) -> float:
    h, w = src.shape
    ii, jj = np.mgrid[0:h, 0:w]
    u = g.apply(np.stack([jj.ravel() + 0.5, ii.ravel() + 0.5], axis=1))
    iu, iv = u[:, 0] - 0.5, u[:, 1] - 0.5
    ok = (iu >= 0) & (iu <= ref.shape[1] - 1) & (iv >= 0) & (iv <= ref.shape[0] - 1)
    if ok.mean() < MIN_OVERLAP:
        return 2.0
    rv = ndimage.map_coordinates(ref, np.stack([iv[ok], iu[ok]]), order=1)
    return 1.0 - zncc(src.ravel()[ok], rv)


def _check_plausible(t: Transform) -> None:
    if not (SCALE_RANGE[0] <= t.scale <= SCALE_RANGE[1]) or abs(t.rotation_deg) > MAX_ROTATION:
        raise AlignmentError(f"the best fit (scale {t.scale:.3f}, rotation {t.rotation_deg:.1f} degrees) is not a "
                             "plausible registration of the same picture")


def estimate(source_luma: np.ndarray, reference_luma: np.ndarray, *, sigma: float = 1.0) -> Estimate:
    """Similarity transform taking ``reference_luma`` onto ``source_luma`` (same grid and shape).

    ``sigma`` is the band-pass scale in pixels of this grid. Raises
    ``AlignmentError`` when no plausible registration is found.
    """
    if source_luma.shape != reference_luma.shape:
        raise ValueError("estimate() needs both frames on the same grid")
    src_levels = [bandpass(x, max(1.0, sigma / 2 ** i)) for i, x in enumerate(_pyramid(source_luma))]
    ref_levels = [bandpass(x, max(1.0, sigma / 2 ** i)) for i, x in enumerate(_pyramid(reference_luma))]
    grads = [tuple(np.gradient(x)) for x in ref_levels]
    h, w = source_luma.shape
    c = np.array([w / 2.0, h / 2.0])

    # Start 1: translation only, from the smallest level that still has room for it.
    lv = next((i for i, x in enumerate(src_levels) if max(x.shape) <= 256), len(src_levels) - 1)
    d = _phase_shift(src_levels[lv], ref_levels[lv]) * (2 ** lv)
    candidates = [("phase", np.array([0.0, 0.0, -d[0], -d[1]]))]
    best: Estimate | None = None
    failures = []
    for attempt in range(2):
        if attempt == 1:
            if best is not None and best.score <= GOOD_ENOUGH:
                break
            try:
                angle, scale = _logpolar(src_levels[lv], ref_levels[lv])
            except Exception as exc:  # noqa: BLE001 - a failed second start is not fatal
                failures.append(f"log-polar start: {exc}")
                break
            # G (source -> reference) undoes the reference -> source rotation and scale.
            inv = Transform.similarity(1.0 / scale, -angle, (0.0, 0.0))
            p0 = _g_to_params(Transform.from_array(np.hstack([inv.linear, (c - inv.linear @ c)[:, None]])), c)
            shrunk = _warp_level(ref_levels[lv], _params_to_g(p0, c), 2 ** lv)
            d = _phase_shift(src_levels[lv], shrunk) * (2 ** lv)
            p0 = _g_to_params(_params_to_g(p0, c).compose(Transform.from_array([[1, 0, -d[0]], [0, 1, -d[1]]])), c)
            candidates.append(("log-polar", p0))
        name, p0 = candidates[-1]
        try:
            p = _refine(src_levels, ref_levels, grads, p0, c)
            t = _params_to_g(p, c).inverse()
            _check_plausible(t)
        except (AlignmentError, np.linalg.LinAlgError, ValueError) as exc:
            failures.append(f"{name} start: {exc}")
            continue
        score = _score(src_levels[0], ref_levels[0], t.inverse())
        if best is None or score < best.score:
            best = Estimate(t, score, name)
    if best is None:
        raise AlignmentError("no registration found (" + "; ".join(failures) + ")")
    return best


def _warp_level(img: np.ndarray, g: Transform, f: float) -> np.ndarray:
    """Sample a pyramid level ``img`` (pixels of ``f`` grid units) at G(x) for each of its own pixels."""
    h, w = img.shape
    ii, jj = np.mgrid[0:h, 0:w]
    u = g.apply(np.stack([(jj.ravel() + 0.5) * f, (ii.ravel() + 0.5) * f], axis=1))
    out = ndimage.map_coordinates(img, np.stack([u[:, 1] / f - 0.5, u[:, 0] / f - 0.5]), order=1, mode="constant")
    return out.reshape(h, w)


def register(source: np.ndarray, reference: np.ndarray, *, filter: str = "triangle", max_size: int = MAX_SIZE) -> Estimate:
    """Estimate the transform for full frames (H, W, C) of any sizes.

    The reference is stretched onto the source grid (resolution matching)
    and both are reduced to at most ``max_size`` pixels on the long side with
    one uniform factor, so the similarity found there is exact at full size.
    The source's tone is matched to the reference's first. ``filter`` only
    builds this estimation grid (a cheap one is enough: both are band-passed).
    The returned transform is in source pixels.
    """
    from archivist.imaging import oiio

    hs, ws = source.shape[:2]
    hr, wr = reference.shape[:2]
    k = min(1.0, max_size / max(ws, hs))
    grid = (0, 0, math.ceil(ws * k), math.ceil(hs * k))
    to_grid = Transform.from_array([[k, 0.0, 0.0], [0.0, k, 0.0]])
    src = luma(source)
    if k < 1.0:
        src = oiio.warp(src[..., None], to_grid.array, window=grid, filter=filter)[..., 0]
    ref = oiio.warp(luma(reference)[..., None], to_grid.compose(stretch((wr, hr), (ws, hs))).array,
                       window=grid, filter=filter)[..., 0]
    upsampling = max(1.0, ws / wr, hs / hr)
    est = estimate(match_tone(src, ref), ref, sigma=max(1.0, upsampling * k))
    # Back to source pixels: T = K^-1 T_grid K, which keeps A and divides t by k.
    t = to_grid.inverse().compose(est.transform).compose(to_grid).rounded()
    return Estimate(t, est.score, est.start)

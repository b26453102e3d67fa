"""The spatial stage's baseline: a plain resize and unsharp mask, fitted on the training pairs.

A spatial model (detail and grain from a better element) has to do better
than what any finishing tool does in one step: resample the source onto the
ground truth's pixel grid (Lanczos) and sharpen it with an unsharp mask.
The mask's radius and amount are chosen on the training pairs (the
combination with the lowest luma error against the ground truth), never on
the held-out frames it is judged on, so the baseline is the best plain
sharpening for the material, not a straw man.

Each candidate (the source as scanned, the baseline, the model) is measured
on the held-out frames against the ground truth (and the true original when
known):

* ``psnr_luma``: PSNR of luma Y' (peak 1.0), the verdict's measure;
* ``detail_ratio``: high-pass RMS of the candidate's luma over the ground
  truth's (structure finer than ``metrics.GRAIN_SIGMA``; 1.0 is the truth's
  detail, below is softer, above is over-sharpened);
* ``grain_ratio``: the same at the grain scale (``GRAIN_FINE`` px), where
  sharpening amplifies the source's own grain instead of recovering detail.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from archivist.imaging import colour, oiio
from archivist.qc import metrics

GRAIN_FINE = 0.6  # px: the scale of film grain in a scan
SIGMAS = (0.5, 0.8, 1.2, 1.8, 2.5)
AMOUNTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
CANDIDATES = ("source", "baseline", "ml")


@dataclass(frozen=True)
class UnsharpMask:
    sigma: float
    amount: float

    def as_record(self) -> dict:
        return asdict(self)


def resize_to(rgb: np.ndarray, shape: tuple[int, int], filter: str = "lanczos3") -> np.ndarray:
    """The source on the ground truth's pixel grid (unchanged when it is already there).

    Args:
        rgb: (H, W, 3) source.
        shape: (height, width) of the ground truth.
    """
    if rgb.shape[:2] == tuple(shape):
        return np.asarray(rgb, np.float32)
    return oiio.resize(rgb, shape[1], shape[0], filter=filter)


def unsharp(rgb: np.ndarray, mask: UnsharpMask) -> np.ndarray:
    """``rgb + amount * (rgb - blur(rgb, sigma))`` per channel.

    Args:
        rgb: (H, W, 3) float.
        mask: radius (Gaussian sigma, px) and amount.

    Returns:
        (H, W, 3) float32.

    >>> flat = np.full((8, 8, 3), 0.5, np.float32)
    >>> bool(np.allclose(unsharp(flat, UnsharpMask(1.0, 2.0)), flat))
    True
    """
    x = np.asarray(rgb, np.float32)
    if mask.amount == 0:
        return x.copy()
    blur = gaussian_filter(x, sigma=(mask.sigma, mask.sigma, 0), mode="reflect")
    return (x + mask.amount * (x - blur)).astype(np.float32)


def _luma_mse(a: np.ndarray, b: np.ndarray, kr: float, kb: float) -> float:
    return float(np.mean((colour.luma(np.asarray(a, np.float64), kr, kb)
                          - colour.luma(np.asarray(b, np.float64), kr, kb)) ** 2))


def fit(sources: list[np.ndarray], truths: list[np.ndarray], kr: float, kb: float) -> tuple[UnsharpMask, float]:
    """The unsharp mask (of ``SIGMAS`` x ``AMOUNTS``) with the lowest luma MSE over the training pairs."""
    resized = [resize_to(s, t.shape[:2]) for s, t in zip(sources, truths)]
    best, best_err = UnsharpMask(SIGMAS[0], 0.0), math.inf
    for sigma in SIGMAS:
        for amount in AMOUNTS:
            m = UnsharpMask(sigma, amount)
            err = float(np.mean([_luma_mse(unsharp(s, m), t, kr, kb) for s, t in zip(resized, truths)]))
            if err < best_err - 1e-15:
                best, best_err = m, err
    return best, best_err


def baseline(source: np.ndarray, shape: tuple[int, int], mask: UnsharpMask) -> np.ndarray:
    """The baseline's version of one source frame on the ground truth's grid."""
    return unsharp(resize_to(source, shape), mask)


def measure(candidate: np.ndarray, truth: np.ndarray, kr: float, kb: float) -> dict:
    """PSNR of luma, detail ratio and grain ratio of one candidate against one basis."""
    y_c = colour.luma(np.asarray(candidate, np.float64), kr, kb)
    y_t = colour.luma(np.asarray(truth, np.float64), kr, kb)
    return {"psnr_luma": metrics.psnr(y_c, y_t), "mse_luma": float(np.mean((y_c - y_t) ** 2)),
            "detail_ratio": metrics.grain_ratio(y_c, y_t), "grain_ratio": metrics.grain_ratio(y_c, y_t, GRAIN_FINE)}


def _pool(rows: list[dict]) -> dict:
    mse = float(np.mean([r["mse_luma"] for r in rows]))
    return {"psnr_luma": math.inf if mse == 0 else round(10.0 * math.log10(1.0 / mse), 10), "mse_luma": mse,
            "detail_ratio": float(np.nanmean([r["detail_ratio"] for r in rows])),
            "grain_ratio": float(np.nanmean([r["grain_ratio"] for r in rows]))}


def judge(pairs: list, held: list, kr: float, kb: float) -> dict:
    """Fit the baseline on ``pairs`` and judge ``held`` (``qc.inputs`` Pair and HeldOut items).

    Returns:
        The ``spatial`` section of the QC record: the baseline, per-frame and pooled measures per basis,
        and the verdict (the model beats the baseline when its pooled luma PSNR against the ground truth is
        higher).
    """
    mask, train_err = fit([p.source for p in pairs], [p.truth for p in pairs], kr, kb)
    frames, rows = [], {}
    for item in held:
        shape = item.truth.shape[:2]
        cands = {"source": resize_to(item.source, shape), "baseline": baseline(item.source, shape, mask),
                 "ml": item.ml}
        bases = {"ground_truth": item.truth}
        if item.original is not None:
            bases["original"] = item.original
        entry: dict = {"number": item.number}
        for basis, truth in bases.items():
            entry[basis] = {name: measure(img, truth, kr, kb) for name, img in cands.items()}
            for name in cands:
                rows.setdefault(basis, {}).setdefault(name, []).append(entry[basis][name])
        frames.append(entry)
    summary = {basis: {name: _pool(r) for name, r in by.items()} for basis, by in rows.items()}
    verdicts = {}
    for basis, s in summary.items():
        ml, base = s["ml"]["psnr_luma"], s["baseline"]["psnr_luma"]
        beats = bool(ml > base)
        verdicts[basis] = {
            "ml_beats_baseline": beats, "psnr_luma_gain_db": round(ml - base, 4) if math.isfinite(ml - base) else None,
            "statement": (f"on {len(held)} held-out frame(s), against the {basis.replace('_', ' ')}, the model's luma "
                          f"PSNR is {ml:.2f} dB and the resize-and-sharpen baseline's {base:.2f} dB: the model is "
                          f"{'better' if beats else 'not better'}; detail ratio {s['ml']['detail_ratio']:.2f} "
                          f"(baseline {s['baseline']['detail_ratio']:.2f}), grain ratio {s['ml']['grain_ratio']:.2f} "
                          f"(baseline {s['baseline']['grain_ratio']:.2f}); 1.0 is the {basis.replace('_', ' ')}'s")}
    return {
        "baseline": {"method": "Lanczos resize onto the ground truth's pixel grid (none when the grids agree), "
                               "then an unsharp mask whose radius and amount give the lowest luma error on the "
                               "training pairs",
                     "resize": "lanczos3", "unsharp_mask": mask.as_record(),
                     "searched": {"sigmas": list(SIGMAS), "amounts": list(AMOUNTS)},
                     "training_mse_luma": train_err},
        "measures": {"psnr_luma": "PSNR of luma Y' (peak 1.0)",
                     "detail_ratio": f"high-pass RMS of luma (sigma {metrics.GRAIN_SIGMA} px) over the basis's",
                     "grain_ratio": f"high-pass RMS of luma at the grain scale (sigma {GRAIN_FINE} px) over the basis's"},
        "frames": frames, "summary": summary, "verdict": verdicts["ground_truth"],
        **({"verdict_original": verdicts["original"]} if "original" in verdicts else {}),
    }

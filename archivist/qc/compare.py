"""The comparison itself: the LUT baseline, the metrics of every candidate, and the verdict.

Pure functions on arrays, so each step can be checked on its own. The
candidates are the source as it is, the LUT baseline and the ML output;
each is measured against the ground truth the training used and, when it
is known, against the true original.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from archivist.imaging import colour
from archivist.qc import logspace, lut, metrics

CANDIDATES = ("source", "baseline", "baseline_rgb", "ml")
MEMORISING_RISE = 0.02  # held-out loss this much above its best at the end: the model is memorising
JND = 1.0  # about the smallest CIEDE2000 difference a viewer notices side by side


@dataclass(frozen=True)
class BaselineSettings:
    """How the MatchGrade-style baseline is fitted and applied."""

    size: int = 33
    smoothness: float = 0.05
    anchor: float = 1e-4
    interpolation: str = "trilinear"
    max_samples: int = 400_000
    keep_source_luma: bool = True  # chroma mode: the baseline keeps the scan's luma, as the model does
    seed: int = 0

    def as_record(self) -> dict:
        return asdict(self)


def _samples(images: list[np.ndarray], count: int, seed: int) -> np.ndarray:
    flat = np.concatenate([np.asarray(i, np.float32).reshape(-1, 3) for i in images])
    if len(flat) <= count:
        return np.arange(len(flat))
    return np.sort(np.random.default_rng(seed).choice(len(flat), count, replace=False))


def fit_baseline(sources: list[np.ndarray], truths: list[np.ndarray], space: str,
                 settings: BaselineSettings) -> tuple[lut.Lut3D, lut.FitReport]:
    """Fit source -> ground truth in ACEScct over the training pairs' pixels."""
    idx = _samples(sources, settings.max_samples, settings.seed)
    x = logspace.to_log(np.concatenate([s.reshape(-1, 3) for s in sources])[idx], space)
    y = logspace.to_log(np.concatenate([t.reshape(-1, 3) for t in truths])[idx], space)
    lo, hi = lut.expand_domain(x.min(0).astype(np.float64), x.max(0).astype(np.float64))
    return lut.fit(x, y, size=settings.size, smoothness=settings.smoothness, anchor=settings.anchor,
                   domain_min=lo, domain_max=hi, interpolation=settings.interpolation)


def apply_baseline(table: lut.Lut3D, source: np.ndarray, space: str, settings: BaselineSettings,
                   kr: float, kb: float) -> np.ndarray:
    """The baseline's version of a source frame (float32, the source's colour space)."""
    out = logspace.from_log(table.apply(logspace.to_log(source, space), settings.interpolation), space)
    if settings.keep_source_luma:
        ycc = colour.rgb_to_ycbcr(out.astype(np.float64), kr, kb)
        ycc[..., 0] = colour.luma(np.asarray(source, np.float64), kr, kb)
        out = colour.ycbcr_to_rgb(ycc, kr, kb)
    return np.asarray(out, np.float32)


def lab(rgb: np.ndarray, space: str) -> np.ndarray:
    """CIELAB of frame values in ``space`` (OpenColorIO to linear Rec.709, then scikit-image)."""
    return metrics.to_lab(logspace.to_linear_rec709(rgb, space), "linear-rec709")


@dataclass
class FrameResult:
    number: int
    metrics: dict  # basis -> candidate -> metrics dict
    hists: dict  # basis -> candidate -> histograms
    delta_e: dict  # candidate -> per-pixel CIEDE2000 against the ground truth (for pictures)


def measure_frame(number: int, candidates: dict[str, np.ndarray], bases: dict[str, np.ndarray], source: np.ndarray,
                  space: str, kr: float, kb: float) -> FrameResult:
    """Every candidate against every basis (``ground_truth``, and ``original`` when known)."""
    labs = {name: lab(img, space) for name, img in candidates.items()}
    res = FrameResult(number, {}, {}, {})
    for basis, truth in bases.items():
        lab_truth = lab(truth, space)
        res.metrics[basis], res.hists[basis] = {}, {}
        for name, img in candidates.items():
            m, h = metrics.frame_metrics(img, truth, source, labs[name], lab_truth, kr=kr, kb=kb)
            res.metrics[basis][name], res.hists[basis][name] = m, h
            if basis == "ground_truth":
                res.delta_e[name] = metrics.delta_e_2000(labs[name], lab_truth).astype(np.float32)
    return res


def summarise(results: list[FrameResult]) -> dict:
    """Pooled metrics: basis -> candidate -> metrics over all held-out frames."""
    out: dict = {}
    for basis in results[0].metrics:
        out[basis] = {name: metrics.pool([r.metrics[basis][name] for r in results], [r.hists[basis][name] for r in results])
                      for name in results[0].metrics[basis]}
    return out


def verdict(results: list[FrameResult], summary: dict, basis: str = "ground_truth",
            training_check: dict | None = None) -> dict:
    """Whether the ML output beats the baseline on ``basis``, by how much, and where it does not.

    The measure is the mean CIEDE2000 over the held-out frames; a frame
    counts against the ML output when its mean is not lower than the
    baseline's. When the candidates include the plain full-RGB LUT
    (``baseline_rgb``), the verdict says how the ML result compares with
    it too. ``training_check`` (from ``memorising``) adds a warning when
    the held-out loss rose at the end of training. Nothing here is tuned:
    the numbers decide.
    """
    pooled = summary[basis]
    ml, base, src = (pooled[c]["ciede2000"]["mean"] for c in ("ml", "baseline", "source"))
    worse = [r.number for r in results
             if not r.metrics[basis]["ml"]["ciede2000"]["mean"] < r.metrics[basis]["baseline"]["ciede2000"]["mean"]]
    better = [r.number for r in results if r.number not in worse]
    beats = ml < base
    gain = base - ml
    pct = 100.0 * gain / base if base > 0 else 0.0
    out = {
        "basis": basis, "measure": "mean CIEDE2000 over the held-out frames (lower is closer)",
        "ml": ml, "baseline": base, "source": src,
        "ml_p95": pooled["ml"]["ciede2000"]["p95"], "baseline_p95": pooled["baseline"]["ciede2000"]["p95"],
        "ml_beats_baseline": bool(beats), "improvement": gain, "improvement_percent": pct,
        "noticeable": bool(abs(gain) >= JND), "jnd": JND,
        "frames": len(results), "frames_ml_better": better, "frames_ml_not_better": worse,
    }
    if "baseline_rgb" in pooled:
        rgb = pooled["baseline_rgb"]["ciede2000"]
        out.update({"baseline_rgb": rgb["mean"], "baseline_rgb_p95": rgb["p95"],
                    "ml_beats_baseline_rgb": bool(ml < rgb["mean"])})
    if training_check is not None:
        out["memorising"] = bool(training_check.get("memorising"))
    out["statement"] = statement(out, training_check)
    return out


def _frames_text(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"frame {numbers[0]}"
    return "frames " + ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"


def statement(v: dict, training_check: dict | None = None) -> str:
    """The verdict in words, from its numbers only.

    >>> statement({"basis": "ground_truth", "ml": 2.0, "baseline": 4.0, "source": 9.0, "ml_beats_baseline": True,
    ...            "improvement": 2.0, "improvement_percent": 50.0, "noticeable": True, "frames": 3,
    ...            "frames_ml_not_better": [1012], "jnd": 1.0})  # doctest: +NORMALIZE_WHITESPACE
    'On 3 held-out frames the ML result is closer to the ground truth than the LUT baseline: mean CIEDE2000 2.00
     against 4.00, 2.00 lower (50%); the source as scanned is at 9.00. It is not better on frame 1012.'
    """
    basis = "the ground truth" if v["basis"] == "ground_truth" else "the true original"
    n = v["frames"]
    head = f"On {n} held-out frame{'s' if n != 1 else ''} "
    nums = f"mean CIEDE2000 {v['ml']:.2f} against {v['baseline']:.2f}"
    if v["ml_beats_baseline"]:
        text = (head + f"the ML result is closer to {basis} than the LUT baseline: {nums}, "
                f"{v['improvement']:.2f} lower ({v['improvement_percent']:.0f}%)")
    else:
        text = (head + f"the LUT baseline is at least as close to {basis} as the ML result: {nums}, "
                f"{-v['improvement']:.2f} {'higher' if v['improvement'] < 0 else 'apart'} for the ML result")
    text += f"; the source as scanned is at {v['source']:.2f}."
    if not v["noticeable"]:
        text += f" The difference is below {v['jnd']:g} CIEDE2000, about the least a viewer notices."
    worse = v["frames_ml_not_better"]
    if worse and len(worse) < n:
        text += f" It is not better on {_frames_text(worse)}."
    elif worse and v["ml_beats_baseline"]:
        text += " It is not better on any single frame."
    elif not worse:
        text += " It is better on every frame." if v["ml_beats_baseline"] else ""
    if "baseline_rgb" in v:
        rgb, ml = v["baseline_rgb"], v["ml"]
        rel = f"{100.0 * (rgb - ml) / rgb:.0f}% lower" if ml < rgb else f"{100.0 * (ml - rgb) / rgb:.0f}% higher" \
            if rgb > 0 else "apart"
        text += (f" Against the plain full-R'G'B' LUT (scan to reference, luma included) the ML result is "
                 f"{'closer' if v['ml_beats_baseline_rgb'] else 'not closer'}: {ml:.2f} against {rgb:.2f} ({rel}).")
    if training_check and training_check.get("memorising"):
        text += " " + training_check["statement"]
    return text


def memorising(holdout: list[tuple[int, float]], rise: float = MEMORISING_RISE, model_step: int | None = None) -> dict:
    """Whether the held-out loss rose at the end of training (the model memorising its pairs).

    ``holdout`` is the training run's held-out L1 per logged step. The
    run counts as memorising when the last value is more than ``rise``
    (relative) above the best one logged before it. ``model_step``: the
    checkpoint the judged model was exported from; one from before the
    end is said to be so.

    >>> memorising([(100, 0.05), (200, 0.04), (300, 0.045)])["memorising"]
    True
    >>> memorising([(100, 0.05), (200, 0.04), (300, 0.0401)])["memorising"]
    False
    >>> memorising([])["memorising"]
    False
    >>> "the checkpoint of step 200" in memorising([(100, 0.05), (200, 0.04), (300, 0.045)], model_step=200)["statement"]
    True
    """
    if len(holdout) < 2:
        return {"memorising": False, "points": len(holdout),
                "statement": "too few held-out losses were logged to tell whether the model memorised its pairs"}
    step_best, best = min(holdout[:-1], key=lambda p: p[1])
    step_last, last = holdout[-1]
    up = (last - best) / best if best > 0 else 0.0
    out = {"memorising": bool(up > rise), "points": len(holdout), "best": best, "best_step": int(step_best),
           "last": last, "last_step": int(step_last), "rise_percent": 100.0 * up}
    if out["memorising"]:
        out["statement"] = (f"Warning: the held-out loss rose at the end of training, from {best:.5f} at step "
                            f"{step_best} to {last:.5f} at step {step_last} ({100.0 * up:.0f}% higher): the model "
                            "is memorising its training pairs; train fewer steps or on more pairs.")
        if model_step is not None and model_step < step_last:
            out["statement"] += (f" The model judged here is the checkpoint of step {model_step}, from before the "
                                 "end of training.")
    else:
        out["statement"] = (f"The held-out loss did not rise at the end of training ({last:.5f} at step {step_last}, "
                            f"best {best:.5f} at step {step_best}).")
    return out


def finite(value):
    """The value with every NaN or infinity replaced by None (JSON has neither).

    >>> finite({"a": [1.0, float("inf")], "b": float("nan")})
    {'a': [1.0, None], 'b': None}
    """
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value

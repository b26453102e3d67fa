"""How long a training run will take, measured from its first steps.

The first step of a session pays for allocation and warm-up, so the rate is
timed over the steps after it (up to ``MEASURE_STEPS``), and the rest of the
session is projected from that rate. The quick preset's time on the same
machine is projected from the same rate, scaled by the work of a step
(pixels per batch times the model's multiply-accumulates per pixel).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from archivist.training import models, presets

MEASURE_STEPS = 20  # steps timed after the first, at most
QUICK_HINT_RATIO = 1.5  # name the quick preset when the run takes this much longer than it


def duration(seconds: float) -> str:
    """A rounded, readable duration.

    >>> duration(42), duration(400), duration(50400)
    ('42 s', '7 min', '14 h')
    """
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 10 else f"{round(hours)} h"


def quick_seconds(rec: dict, steps_per_second: float, crop: int | None = None) -> float:
    """The quick preset's projected time on this machine, from the rate of ``rec``'s steps.

    Args:
        rec: the run record (its mode, model and settings).
        steps_per_second: the rate measured for ``rec``'s steps.
        crop: the shortest side of the training frames, which clamps the quick preset's patch too.
    """
    s, arch = rec["settings"], rec["architecture"]
    q = presets.PRESETS["quick"]
    steps = q.steps_for(rec["mode"])
    here = presets.step_cost(arch["size"], s["batch"], s["patch_effective"], arch["macs_per_pixel"])
    quick_macs = models.complexity(rec["mode"], q.size, rec["tone"])["macs_per_pixel"]
    there = presets.step_cost(q.size, q.batch, min(q.patch, crop or q.patch), quick_macs)
    return steps / (steps_per_second * here / there)


class Estimator:
    """Times the first steps of a session and reports once.

    Args:
        rec: the run record; the estimate goes into its last session.
        start_step: the step the session starts after.
        end_step: the step it ends at.
        notify: called with the one-line estimate (the command prints it to stderr).
        crop: the shortest side of the training frames (clamps the quick preset's patch).
    """

    def __init__(self, rec: dict, start_step: int, end_step: int, notify: Callable[[str], None] | None = None,
                 crop: int | None = None):
        self.rec, self.end, self.notify, self.crop = rec, end_step, notify, crop
        left = end_step - start_step
        self.first = start_step + 1
        self.last = self.first + min(MEASURE_STEPS, max(1, left // 4)) if left >= 2 else None
        self.t_first = 0.0
        self.done = self.last is None

    def _clock(self) -> float:
        if self.rec["settings"]["device"] == "cuda":
            import torch

            torch.cuda.synchronize()  # time the work, not its launch
        return time.perf_counter()

    def tick(self, step: int) -> None:
        """Call after each step has finished."""
        if self.done:
            return
        if step == self.first:
            self.t_first = self._clock()
        elif step == self.last:
            self.done = True
            rate = (self.last - self.first) / max(self._clock() - self.t_first, 1e-9)
            self.report(step, rate)

    def report(self, step: int, rate: float) -> dict:
        rec, s = self.rec, self.rec["settings"]
        left = (self.end - step) / rate
        est = {"steps_per_second": round(rate, 4), "seconds_left": round(left, 1), "at_step": step,
               "measured_steps": [self.first, self.last], "quick_preset_seconds": round(quick_seconds(rec, rate, self.crop), 1)}
        rec["sessions"][-1]["estimate"] = est
        where = "GPU" if s["device"] == "cuda" else "CPU"
        text = (f"estimate: about {duration(left)} on this {where} for the remaining {self.end - step:,} steps "
                f"({rate:.2f} steps/s)")
        name = (s.get("preset") or {}).get("name")
        if name != "quick" and left > QUICK_HINT_RATIO * est["quick_preset_seconds"]:
            quick = est["quick_preset_seconds"]
            text += (f"; --preset quick takes about {duration(quick)}" if quick else
                     "; --preset quick takes no steps (the model fitted in closed form, in seconds)")
        if self.notify:
            self.notify(text)
        return est

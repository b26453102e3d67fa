"""Named training presets: the one table of ``--preset quick|standard|full``.

- ``quick``: a small model. In chroma mode, no gradient steps: the model is
  its stages fitted to the pairs in closed form (the lattice, the frame
  field, the grain filter), in seconds on a CPU. Measured against the true
  original, 300 fine-tuning steps on top of that fit did not help on the
  quality benchmark (lr 5e-5: goal met on 7 of 8 cases against 8 of 8 for
  the fit alone; lr 5e-4: 6 of 8) nor on the demo (2.85 and 2.58 against
  2.56 for the fit), while the loss against the reference fell: the steps
  learn the reference's own look (docs/qc.md). ``--steps`` (or ``--resume``
  with ``--steps``) still trains on from the fit. In spatial mode, which
  has no fitted start, 300 steps of 256 px patches at lr 5e-5. The default
  on CPU, and what ``archivist demo`` trains.
- ``standard``: a medium model, 10,000 steps of 384 px patches; about an
  hour or two on a small CPU, minutes on a GPU.
- ``full``: the chroma recovery guide's settings (a medium model, batch 3,
  512 px patches, checkpoints every 10,000 of 40,000 steps; the guide plans
  40,000 to 80,000). For a GPU, and the default there.

Explicit settings win over a preset's; the run record names the preset and
which of its values were overridden.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

NAMES = ("quick", "standard", "full")


@dataclass(frozen=True)
class Preset:
    """The settings a preset fixes; every other training setting keeps its own default."""

    size: str
    steps: int  # spatial mode's steps, and chroma mode's unless ``chroma_steps`` says otherwise
    batch: int
    patch: int
    lr: float
    checkpoint_every: int
    contact_every: int
    chroma_steps: int | None = None  # chroma mode's steps, where they differ (0: the fitted start alone)

    def steps_for(self, mode: str) -> int:
        """The preset's steps in ``mode``.

        >>> PRESETS["quick"].steps_for("chroma"), PRESETS["quick"].steps_for("spatial")
        (0, 300)
        """
        return self.chroma_steps if mode == "chroma" and self.chroma_steps is not None else self.steps


PRESETS: dict[str, Preset] = {
    "quick": Preset(size="small", steps=300, batch=3, patch=256, lr=5e-5, checkpoint_every=100, contact_every=100,
                    chroma_steps=0),
    "standard": Preset(size="medium", steps=10000, batch=3, patch=384, lr=1e-3, checkpoint_every=2500,
                       contact_every=1000),
    "full": Preset(size="medium", steps=40000, batch=3, patch=512, lr=1e-3, checkpoint_every=10000,
                   contact_every=1000),
}

FIELDS = tuple(f.name for f in fields(Preset) if f.name != "chroma_steps")  # the TrainSettings a preset fixes


def default_for(device: str) -> str:
    """The preset a run gets when none is named: ``full`` on a GPU, ``quick`` on CPU.

    >>> default_for("cpu"), default_for("cuda")
    ('quick', 'full')
    """
    return "full" if device == "cuda" else "quick"


def get(name: str) -> Preset:
    """The preset called ``name``; an unknown name is refused with the known ones."""
    from archivist.errors import InputError

    if name not in PRESETS:
        raise InputError("TRAIN-PRESET", f"preset must be one of {', '.join(NAMES)}, not {name!r}")
    return PRESETS[name]


def apply(settings, name: str, explicit: dict):
    """``settings`` with the preset's values, then the ``explicit`` ones on top.

    Args:
        settings: a ``TrainSettings`` holding everything the preset does not fix.
        name: the preset.
        explicit: settings given by the user (field name -> value); these win.

    Returns:
        The resolved ``TrainSettings``, its ``preset`` naming the preset and
        its ``preset_overrides`` the preset fields the user changed.

    >>> from archivist.training.run import TrainSettings
    >>> s = apply(TrainSettings(), "quick", {"steps": 50})
    >>> s.size, s.steps, s.patch, s.preset, s.preset_overrides
    ('small', 50, 256, 'quick', ('steps',))
    >>> apply(TrainSettings(mode="spatial"), "quick", {}).steps
    300
    """
    preset = values_of(name, settings.mode)
    values = {**preset, **explicit}
    overrides = tuple(k for k in FIELDS if k in explicit and explicit[k] != preset[k])
    return replace(settings, **values, preset=name, preset_overrides=overrides)


def values_of(name: str, mode: str) -> dict:
    """The ``TrainSettings`` values preset ``name`` fixes in ``mode`` (field name -> value)."""
    p = get(name)
    return {**{k: getattr(p, k) for k in FIELDS}, "steps": p.steps_for(mode)}


def step_cost(size: str, batch: int, patch: int, macs_per_pixel: float | None = None) -> float:
    """Relative work of one training step: pixels per batch times the model's MACs per pixel."""
    if macs_per_pixel is None:
        from archivist.training import models

        macs_per_pixel = models.complexity("chroma", size, False)["macs_per_pixel"]
    return batch * patch * patch * macs_per_pixel

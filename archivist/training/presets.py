"""Named training presets: the one table of ``--preset quick|standard|full``.

- ``quick``: a small model, 300 steps of 256 px patches at lr 5e-5; minutes
  on two CPU cores. The default on CPU, and what ``archivist demo`` trains.
  The chroma model starts from stages fitted to the pairs in closed form
  (the lattice, the frame field, the grain filter), which carry this
  preset; its steps only fine-tune, with a checkpoint every 100 steps for
  the held-out loss to choose from (step 0, the fitted start, included).
  At lr 5e-4 the quality benchmark's goal was met on 6 of 8 cases with that
  choice (5e-5: 7), and 3,000 steps at lr 2e-3 drifted towards the
  reference's own errors (docs/qc.md).
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
    steps: int
    batch: int
    patch: int
    lr: float
    checkpoint_every: int
    contact_every: int


PRESETS: dict[str, Preset] = {
    "quick": Preset(size="small", steps=300, batch=3, patch=256, lr=5e-5, checkpoint_every=100, contact_every=100),
    "standard": Preset(size="medium", steps=10000, batch=3, patch=384, lr=1e-3, checkpoint_every=2500,
                       contact_every=1000),
    "full": Preset(size="medium", steps=40000, batch=3, patch=512, lr=1e-3, checkpoint_every=10000,
                   contact_every=1000),
}

FIELDS = tuple(f.name for f in fields(Preset))


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
    """
    values = {k: getattr(get(name), k) for k in FIELDS}
    values.update(explicit)
    overrides = tuple(k for k in FIELDS if k in explicit and explicit[k] != getattr(get(name), k))
    return replace(settings, **values, preset=name, preset_overrides=overrides)


def step_cost(size: str, batch: int, patch: int, macs_per_pixel: float | None = None) -> float:
    """Relative work of one training step: pixels per batch times the model's MACs per pixel."""
    if macs_per_pixel is None:
        from archivist.training import models

        macs_per_pixel = models.complexity("chroma", size, False)["macs_per_pixel"]
    return batch * patch * patch * macs_per_pixel

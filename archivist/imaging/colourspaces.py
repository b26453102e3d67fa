"""The colour space names archivist accepts, and what they mean in OpenColorIO.

One table serves every command that takes a colour space: ``add`` and
``amend`` check the name an element records, ``infer`` and ``qc`` resolve
it to a colour space of OpenColorIO's built-in ACES studio config, pinned
by its full versioned name so that a newer OpenColorIO cannot silently
change the transform an archived run used.

The names restorers use map to config colour spaces as follows; any
colour space name or alias of the config is accepted too.

=======================================  ==============================
recorded as                              OpenColorIO colour space
=======================================  ==============================
scene-linear Rec.709, linear Rec.709     ``Linear Rec.709 (sRGB)``
Rec.709, BT.709, BT.1886, video          ``Gamma 2.4 Rec.709 - Texture``
sRGB                                     ``sRGB - Texture``
ACEScg / ACEScct / ACEScc / ACES2065-1   the same name
linear Rec.2020, linear P3-D65           ``Linear Rec.2020``, ``Linear P3-D65``
=======================================  ==============================
"""

from __future__ import annotations

import re
from functools import lru_cache

from archivist.errors import InputError

CONFIG = "ocio://studio-config-v2.1.0_aces-v1.3_ocio-v2.3"

# The names restorers write, in the spelling the error messages show.
ALIASES = {
    "Rec.709": "Gamma 2.4 Rec.709 - Texture",
    "Rec709": "Gamma 2.4 Rec.709 - Texture",
    "Rec 709": "Gamma 2.4 Rec.709 - Texture",
    "BT.709": "Gamma 2.4 Rec.709 - Texture",
    "BT709": "Gamma 2.4 Rec.709 - Texture",
    "BT.1886": "Gamma 2.4 Rec.709 - Texture",
    "video": "Gamma 2.4 Rec.709 - Texture",
    "sRGB": "sRGB - Texture",
    "scene-linear Rec.709": "Linear Rec.709 (sRGB)",
    "scene linear Rec.709": "Linear Rec.709 (sRGB)",
    "linear Rec.709": "Linear Rec.709 (sRGB)",
    "linear Rec709": "Linear Rec.709 (sRGB)",
    "linear sRGB": "Linear Rec.709 (sRGB)",
    "linear Rec.2020": "Linear Rec.2020",
    "linear P3-D65": "Linear P3-D65",
    "ACES": "ACES2065-1",
}


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


_LOOKUP = {_normalise(k): v for k, v in ALIASES.items()}


@lru_cache(maxsize=1)
def config():
    """OpenColorIO's ACES studio config (``CONFIG``), loaded once."""
    import PyOpenColorIO as ocio

    return ocio.Config.CreateFromFile(CONFIG)


def accepted_names() -> list[str]:
    """Every name ``resolve`` accepts, as shown to users: the restorers' names, then the config's colour spaces.

    The config's own aliases (``lin_ap1``, ``ACES - ACEScg``, ...) are accepted too but not listed.

    >>> names = accepted_names()
    >>> names[:3]
    ['Rec.709', 'Rec709', 'Rec 709']
    >>> "ACEScct" in names and "sRGB" in names
    True
    """
    return [*ALIASES, *(cs.getName() for cs in config().getColorSpaces())]


def resolve(name: str, *, code: str = "COLOUR-SPACE-UNKNOWN") -> str:
    """The config colour space for a recorded colour space name.

    Args:
        name: a name from ``accepted_names()`` or any alias of the config; case and spacing do not matter.
        code: the error code to raise with, so that each command keeps its own.

    Raises:
        InputError: the name is empty or unknown; the message lists every accepted name.

    >>> resolve("scene-linear Rec.709")
    'Linear Rec.709 (sRGB)'
    >>> resolve("rec.709")
    'Gamma 2.4 Rec.709 - Texture'
    >>> resolve("lin_ap1")
    'ACEScg'
    >>> try:
    ...     resolve("Kodak-ish", code="ADD-COLOUR-SPACE")
    ... except InputError as exc:
    ...     print(exc.code, "Rec.709" in exc.hint)
    ADD-COLOUR-SPACE True
    """
    hint = "give --colour-space with one of: " + ", ".join(accepted_names())
    if not name or not name.strip():
        raise InputError(code, "no colour space given", hint=hint)
    cs = config().getColorSpace(_LOOKUP.get(_normalise(name), name.strip()))
    if cs is None:
        raise InputError(code, f"colour space {name!r} is not known to {CONFIG}", hint=hint)
    return cs.getName()

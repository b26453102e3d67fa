"""The training-rights policy: which elements a model may be trained on.

Each element records a training use (``rights.training_use``):

* ``authorised``: it may be used (the record names who authorised it);
* ``unknown``: it may be used, with a warning wherever it is used, since
  nobody has recorded an authorisation;
* ``not-authorised``: it is refused, by ``dataset`` and by ``train``.

Building a dataset, training and the ``train`` command's summary all ask
this module, so the policy is written once.
"""

from __future__ import annotations

from collections.abc import Iterable

from archivist.errors import InputError

AUTHORISED, NOT_AUTHORISED, UNKNOWN = "authorised", "not-authorised", "unknown"
TRAINING_USE = (AUTHORISED, NOT_AUTHORISED, UNKNOWN)


def refused(rights: Iterable[dict]) -> list[str]:
    """The elements a model may not be trained on.

    Args:
        rights: ``{"element", "training_use", ...}`` summaries (``Package.element_rights``).

    Returns:
        Their element ids, in the order given.

    >>> refused([{"element": "a", "training_use": "authorised"}, {"element": "b", "training_use": "not-authorised"}])
    ['b']
    """
    return [r["element"] for r in rights if r["training_use"] == NOT_AUTHORISED]


def warning(role: str, element: str, training_use: str) -> str | None:
    """What to say when an element without a recorded authorisation is used for training (None when authorised).

    >>> warning("source", "print16", "unknown")
    "the source element 'print16' has no recorded authorisation for training (training use unknown)"
    >>> warning("reference", "dvd", "authorised") is None
    True
    """
    if training_use == AUTHORISED:
        return None
    return f"the {role} element {element!r} has no recorded authorisation for training (training use {training_use})"


def check(rights: Iterable[dict], code: str, doing: str) -> list[str]:
    """Refuse elements recorded as not authorised; the warnings for the ones used without an authorisation.

    Args:
        rights: ``{"element", "role", "training_use"}`` summaries.
        code: the ``InputError`` code of the refusal (``DATASET-RIGHTS``, ``TRAIN-RIGHTS``).
        doing: what is refused, for the message (``"nothing was trained"``).

    Returns:
        One warning per element used without a recorded authorisation.

    >>> check([{"element": "p", "role": "source", "training_use": "unknown"}], "TRAIN-RIGHTS", "nothing was trained")
    ["the source element 'p' has no recorded authorisation for training (training use unknown)"]
    >>> check([{"element": "p", "role": "source", "training_use": "not-authorised"}], "TRAIN-RIGHTS", "nothing was trained")
    Traceback (most recent call last):
    ...
    archivist.errors.InputError: TRAIN-RIGHTS: element(s) p are recorded as not authorised for training; nothing was trained
      hint: only the rights holder can change that; record their authorisation on the element when they give it
    """
    rights = list(rights)
    no = refused(rights)
    if no:
        raise InputError(code, f"element(s) {', '.join(no)} are recorded as not authorised for training; {doing}",
                         hint="only the rights holder can change that; record their authorisation on the element "
                              "when they give it")
    return [w for r in rights if (w := warning(r["role"], r["element"], r["training_use"]))]

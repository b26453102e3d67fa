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


# -- the CAWG training and data mining assertion -----------------------------------------------------
TRAINING_MINING = "cawg.training-mining"  # CAWG Training and Data Mining Assertion 1.1
LEGACY_TRAINING_MINING = "c2pa.training-mining"  # C2PA 1.x; readers still look for it
TRAINING_ENTRIES = ("cawg.ai_training", "cawg.ai_generative_training", "cawg.data_mining")


def training_mining(rights: Iterable[dict]) -> dict:
    """The ``cawg.training-mining`` assertion data for a file made from elements with these rights.

    The most restrictive element decides, for AI training, generative AI
    training and data mining alike: one ``not-authorised`` element makes
    every entry ``notAllowed``; otherwise every entry is ``constrained``
    (CAWG: permission not unconditionally granted; ask the rights holder),
    since what a package records is an authorisation to train a restoration
    model on the work, not a licence to anyone to train on its copies.

    Args:
        rights: ``{"element", "training_use", ...}`` summaries (``Package.element_rights``).

    Returns:
        ``{"entries": {label: {"use", "constraint_info"?}}}``, the assertion's data.

    >>> training_mining([{"element": "p", "training_use": "not-authorised"}])["entries"]["cawg.ai_training"]
    {'use': 'notAllowed'}
    >>> training_mining([{"element": "p", "training_use": "unknown"}])["entries"]["cawg.data_mining"]["use"]
    'constrained'
    """
    rights = list(rights)
    no = refused(rights)
    if no:
        entry: dict = {"use": "notAllowed"}
    else:
        unknown = [r["element"] for r in rights if r["training_use"] != AUTHORISED]
        if unknown:
            why = f"no authorisation for training is recorded for element(s) {', '.join(unknown)}"
        else:
            who = sorted({r["authorised_by"] for r in rights if r.get("authorised_by")})
            why = ("training a restoration model on element(s) " + ", ".join(r["element"] for r in rights)
                   + " was authorised" + (f" by {', '.join(who)}" if who else "") + "; no other use is granted")
        entry = {"use": "constrained", "constraint_info": f"{why}; ask the rights holder"}
    return {"entries": {label: dict(entry) for label in TRAINING_ENTRIES}}


def training_use_of(assertions: Iterable[dict]) -> str | None:
    """What a file's own Content Credentials say about AI training: ``allowed``, ``notAllowed``, ``constrained``.

    Reads ``cawg.training-mining`` and the older ``c2pa.training-mining``
    (whose entry is ``c2pa.ai_training``); None when neither says.

    >>> training_use_of([{"label": "c2pa.training-mining",
    ...                   "data": {"entries": {"c2pa.ai_training": {"use": "notAllowed"}}}}])
    'notAllowed'
    """
    found = []
    for a in assertions:
        label = a.get("label") if isinstance(a, dict) else None
        if label not in (TRAINING_MINING, LEGACY_TRAINING_MINING):
            continue
        entries = (a.get("data") or {}).get("entries") or {}
        prefix = label.split(".", 1)[0]
        for key in (f"{prefix}.ai_training", f"{prefix}.ai_generative_training"):
            use = (entries.get(key) or {}).get("use") if isinstance(entries, dict) else None
            if isinstance(use, str):
                found.append(use)
    for use in ("notAllowed", "constrained", "allowed"):  # the most restrictive wins
        if use in found:
            return use
    return None

"""Which IPTC digital source type an inferred frame carries, and why.

The policy is a documented rule with an override, not a constant:

* chroma recovery that keeps the scan's luma (the model passes Y' through
  untouched and only makes new Cb/Cr) gives a composite of the captured
  image and trained-model output: ``compositeWithTrainedAlgorithmicMedia``;
* chroma recovery that also changes the luma (a "tone" model), spatial
  recovery and combined recovery make every pixel with the model:
  ``trainedAlgorithmicMedia``;
* a stage of a chain (combined recovery run as a spatial model, then a
  chroma model over the spatial model's outputs) whose input is itself a
  trained model's output: ``trainedAlgorithmicMedia`` whatever the stage
  keeps, since the luma a chroma stage keeps was made by the spatial model.

An override replaces the rule's choice (the run record says so and keeps
the rule's own answer beside it). Retired or unknown terms are refused by
``archivist.package.iptc.uri``.
"""

from __future__ import annotations

from dataclasses import dataclass

from archivist.package import iptc

COMPOSITE = "compositeWithTrainedAlgorithmicMedia"
TRAINED = "trainedAlgorithmicMedia"

MODES = ("chroma", "spatial", "combined")


@dataclass(frozen=True)
class SourceTypeDecision:
    term: str
    uri: str
    rule: str  # the policy's reason, in words
    overridden: bool
    policy_term: str  # what the rule alone would have chosen

    def as_record(self) -> dict:
        return {"term": self.term, "uri": self.uri, "rule": self.rule, "overridden": self.overridden,
                "policy_term": self.policy_term}


def policy_term(mode: str, luma_preserved: bool, upstream: tuple[str, ...] = ()) -> tuple[str, str]:
    """The rule's term and reason for a recovery ``mode``.

    >>> policy_term("chroma", True)[0]
    'compositeWithTrainedAlgorithmicMedia'
    >>> policy_term("chroma", False)[0]
    'trainedAlgorithmicMedia'
    >>> policy_term("spatial", False)[0]
    'trainedAlgorithmicMedia'
    >>> policy_term("chroma", True, upstream=("spatial",))
    ('trainedAlgorithmicMedia', 'chroma recovery over the output of a spatial model: the luma it keeps was made by a trained model')
    """
    if mode not in MODES:
        raise ValueError(f"recovery mode must be one of {', '.join(MODES)}, not {mode!r}")
    if upstream:
        kept = "the luma it keeps" if mode == "chroma" and luma_preserved else "its input"
        return TRAINED, (f"{mode} recovery over the output of a {' then '.join(upstream)} model: {kept} was made "
                         "by a trained model")
    if mode == "chroma" and luma_preserved:
        return COMPOSITE, "chroma recovery keeps the scan's luma and adds model-made chroma"
    if mode == "chroma":
        return TRAINED, "chroma recovery whose model also changes the luma"
    return TRAINED, f"{mode} recovery makes every pixel with the trained model"


def decide(mode: str, luma_preserved: bool, override: str | None = None,
           upstream: tuple[str, ...] = ()) -> SourceTypeDecision:
    """Apply the policy, then the override if one is given.

    ``upstream`` lists the modes of the models whose outputs the run reads, first stage first (a chain).

    >>> decide("chroma", True).uri.rsplit("/", 1)[-1]
    'compositeWithTrainedAlgorithmicMedia'
    >>> d = decide("chroma", True, override="trainedAlgorithmicMedia")
    >>> d.term, d.overridden, d.policy_term
    ('trainedAlgorithmicMedia', True, 'compositeWithTrainedAlgorithmicMedia')
    >>> decide("chroma", True, override="softwareImage")
    Traceback (most recent call last):
    ...
    archivist.errors.InputError: IPTC-RETIRED: 'softwareImage' is a retired IPTC digital source type
    """
    term, rule = policy_term(mode, luma_preserved, tuple(upstream))
    if override is None:
        return SourceTypeDecision(term, iptc.uri(term), rule, False, term)
    uri = iptc.uri(override)
    chosen = uri[len(iptc.PREFIX):]
    return SourceTypeDecision(chosen, uri, f"override given by the operator (policy: {rule})", chosen != term, term)

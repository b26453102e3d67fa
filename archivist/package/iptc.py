"""IPTC digital source type terms.

Only active terms are written; retired ones (``minorHumanEdits``,
``softwareImage``, ``digitalArt``) are refused wherever a term is given.
"""

from __future__ import annotations

import re

from archivist.errors import InputError

PREFIX = "http://cv.iptc.org/newscodes/digitalsourcetype/"

ACTIVE = (
    "digitalCapture", "negativeFilm", "positiveFilm", "print", "humanEdits", "algorithmicallyEnhanced",
    "digitalCreation", "dataDrivenMedia", "trainedAlgorithmicMedia", "algorithmicMedia", "composite",
    "compositeCapture", "compositeSynthetic", "compositeWithTrainedAlgorithmicMedia", "screenCapture",
    "virtualRecording", "computationalCapture",
)
RETIRED = ("minorHumanEdits", "softwareImage", "digitalArt")

# Scans only: what an element's description most likely means. Order matters
# ("positive print" is film, not a photographic print).
_SCAN_HINTS = (
    (r"\bnegative\b|\binterneg|\bneg\b", "negativeFilm"),
    (r"\bpositive\b|\binterpos|\b(8|9\.5|16|17\.5|28|35|65|70)\s?mm\b.*\bprint\b|\bprint\b.*\b(8|16|35|70)\s?mm\b|\breversal\b", "positiveFilm"),
    (r"\bdvd\b|\bblu-?ray\b|\btelecine\b|\bvideo\b|\bdcp\b|\bbetacam\b|\bdigital\b|\bhdcam\b", "digitalCapture"),
    (r"\bpainting\b|\bphotograph\b|\bphoto print\b", "print"),
)


def uri(term: str) -> str:
    """Full URI for a term given bare or as a URI; refuses retired and unknown terms.

    >>> uri("positiveFilm")
    'http://cv.iptc.org/newscodes/digitalsourcetype/positiveFilm'
    >>> uri("softwareImage")
    Traceback (most recent call last):
    ...
    archivist.errors.InputError: IPTC-RETIRED: 'softwareImage' is a retired IPTC digital source type
    """
    bare = term[len(PREFIX):] if term.startswith(PREFIX) else term
    if bare in RETIRED:
        raise InputError("IPTC-RETIRED", f"{bare!r} is a retired IPTC digital source type")
    if bare not in ACTIVE:
        raise InputError("IPTC-UNKNOWN", f"{term!r} is not an IPTC digital source type",
                         hint="one of: " + ", ".join(ACTIVE))
    return PREFIX + bare


def infer_scan_type(description: str) -> str | None:
    """Guess the source type of a scanned element from its description.

    >>> infer_scan_type("16mm positive print")
    'positiveFilm'
    >>> infer_scan_type("35mm internegative")
    'negativeFilm'
    >>> infer_scan_type("PAL DVD 2003")
    'digitalCapture'
    >>> infer_scan_type("nitrate fragment") is None
    True
    """
    text = description.lower()
    for pattern, term in _SCAN_HINTS:
        if re.search(pattern, text):
            return term
    return None

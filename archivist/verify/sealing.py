"""Whether the package is sealed now, whether the log says a seal was removed, and ``--require-seal``.

A seal signs the tag manifests, so it covers the package only as it was
when it was made; every later commit removes it and its event says so
(``seal_removed``). Without a seal, records and the log can be rewritten
by anyone who can write the files (docs/credentials.md), so an auditor who
needs more than fixity requires a trusted seal (C2PA-008).
"""

from __future__ import annotations

from archivist.package import events
from archivist.package.layout import Layout
from archivist.verify.bag import BagView
from archivist.verify.inventory import Tree
from archivist.verify.report import Report
from archivist.verify.rules import ERROR, WARNING

SEAL = Layout.PACKAGE_SEAL


def _last_removal(view: BagView) -> dict | None:
    data = view.blobs.get(Layout.EVENT_LOG)
    if not data:
        return None
    found = None
    for event in events.parse(data)[0]:
        if isinstance(event, dict) and isinstance(event.get("seal_removed"), dict):
            found = event
    return found


def state(tree: Tree, report: Report) -> str:
    """absent, invalid, untrusted or trusted: what the seal checks found."""
    if SEAL not in tree.files:
        return "absent"
    # The seal checks have run: an error at the seal means it does not validate or cannot be read, and the
    # only warning there is an untrusted signer.
    found = {p.severity for p in report.problems if p.path == SEAL}
    if ERROR in found:
        return "invalid"
    return "untrusted" if WARNING in found else "trusted"


def check(tree: Tree, view: BagView, report: Report, *, require: bool) -> None:
    report.seal = state(tree, report)
    if report.seal == "absent":
        removal = _last_removal(view)
        if removal is not None:
            report.add("C2PA-007", SEAL, f"the package is not sealed: the event log records that "
                       f"'{str(removal.get('command'))[:80]}' at {str(removal.get('time'))[:40]} removed the seal "
                       "that signed the package before it; seal it again ('archivist seal') if its changes are "
                       "to be vouched for")
    if require and report.seal != "trusted":
        why = {"absent": "the package has no seal",
               "invalid": "the seal does not validate against the package as it is",
               "untrusted": "no trust anchor given with --trust-anchor vouches for the seal's signer"}[report.seal]
        report.add("C2PA-008", SEAL, f"--require-seal: {why}; without a trusted seal records and the event log "
                                     "prove nothing beyond fixity")

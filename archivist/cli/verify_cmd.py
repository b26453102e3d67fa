"""verify: the auditor's command."""

from __future__ import annotations

from pathlib import Path

import click

from archivist.cli.output import emit, json_option, package_argument, progress_for
from archivist.errors import EXIT_CHECK_FAILED
from archivist.units import count_text, size_text
from archivist.verify import verify as verify_package


def _print(d: dict) -> None:
    c = d["counts"]
    state = "valid" if d["ok"] else "INVALID"
    kind = "archivist package" if d["archivist"] else "bag"
    outputs = [count_text(c[k], noun) for k, noun in (("outputs", "output frame"), ("credentials", "credential"))
               if c.get(k)]
    click.echo(f"{d['path']}: {state} {kind} ({count_text(c['errors'], 'error')}, {count_text(c['warnings'], 'warning')}; "
               f"{count_text(c['files'], 'file')}, {size_text(c['bytes'])} checked"
               + (f"; {', '.join(outputs)}" if outputs else "")
               + (f"; profile {d['profile']}" if d["profile"] else "")
               + (f"; seal {d['seal']}" if d.get("seal") else "") + ")")
    for severity, heading in (("error", "errors"), ("warning", "warnings")):
        found = [p for p in d["problems"] if p["severity"] == severity]
        if not found:
            continue
        click.echo(f"{heading}:")
        for p in found:
            where = f"{p['path']}: " if p["path"] else ""
            click.echo(f"  {p['code']}  {where}{p['message']}")
    for code, n in d.get("unlisted", {}).items():
        click.echo(f"  {code}  and {n} more of this rule, counted but not listed")
    if d["problems"]:
        click.echo("rule codes are explained in docs/verify-rules.md")


@click.command()
@package_argument()
@click.option("--profile", "profile_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Check against this BagIt profile (JSON, BagIt Profiles 1.4) instead of the one the bag declares.")
@click.option("--trust-anchor", "trust_anchors", multiple=True,
              type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Trust Content Credentials whose signer chains to this CA certificate (PEM; repeatable). "
                   "Without one, every signer is reported as untrusted (a warning).")
@click.option("--require-seal", is_flag=True,
              help="Fail (C2PA-008) unless a seal from a signer a --trust-anchor vouches for covers the package as it "
                   "is: what an auditor needs to rely on the records and the event log, not only on fixity.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Spread the fixity hashing over a Ray cluster: the one at ADDRESS, or without one a cluster on "
                   "this machine for this command. The bag must be at the same path on every node.")
@click.option("--pixels", is_flag=True,
              help="Also decode every output EXR that has a recorded pixel hash and compare it (OUT-012): the image, "
                   "not only the file. A lossless re-encode keeps the pixel hash.")
@json_option
def verify(pkg, profile_path, trust_anchors, require_seal, ray_address, pixels, as_json):
    """Check PKG: BagIt structure and fixity, profile, records, consistency, and the lineage, sidecars and
    Content Credentials of inference outputs.

    Reports every problem with its rule code. Exit status 0 when valid (warnings allowed), 1 when invalid,
    2 when PKG is not a bag or the options are wrong. Never writes to PKG.
    """
    from archivist.verify.credentials import load_anchors

    report = verify_package(pkg, profile_path=profile_path, progress=progress_for(as_json),
                            trust_anchors_pem=load_anchors(trust_anchors), require_seal=require_seal, ray=ray_address,
                            pixels=pixels)
    emit(as_json, report.to_dict(), _print)
    if not report.ok:
        click.get_current_context().exit(EXIT_CHECK_FAILED)


COMMANDS = [verify]

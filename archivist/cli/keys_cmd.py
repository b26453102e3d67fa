"""keys init, keys check; and the signing options other commands share."""

from __future__ import annotations

from pathlib import Path

import click

from archivist.cli.output import emit, json_option, package_argument
from archivist.credentials import keys as keymod
from archivist.credentials.sign import preflight, sign_tag_manifest
from archivist.credentials.signer import ENV_ALG, ENV_CERT, ENV_KEY, ENV_TSA, resolve_signer


def signing_options(func):
    """--sign-cert, --sign-key, --sign-alg, --tsa-url (falling back to the environment)."""
    for option in reversed((
        click.option("--sign-cert", type=click.Path(path_type=Path, dir_okay=False),
                     help=f"PEM certificate chain, signing certificate first [env {ENV_CERT}]."),
        click.option("--sign-key", type=click.Path(path_type=Path, dir_okay=False),
                     help=f"PEM private key of the signing certificate [env {ENV_KEY}]."),
        click.option("--sign-alg", type=click.Choice(keymod.ALGORITHMS),
                     help=f"Signing algorithm (default: from the key) [env {ENV_ALG}]."),
        click.option("--tsa-url", help="RFC 3161 timestamp authority; without one, credentials become invalid "
                     f"when the certificate expires [env {ENV_TSA}]."),
    )):
        func = option(func)
    return func


def signer_from_options(sign_cert, sign_key, sign_alg, tsa_url):
    """The signer named by ``signing_options`` (command line first, then environment)."""
    return resolve_signer(sign_cert, sign_key, sign_alg, tsa_url)


@click.group()
def keys() -> None:
    """Signing identities for Content Credentials."""


@keys.command("init")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--name", default="archivist test signer", show_default=True, help="Common name of the signer.")
@click.option("--days", type=int, default=365, show_default=True, help="Validity of the certificates.")
@click.option("--algorithm", type=click.Choice(keymod.INIT_ALGORITHMS), default="es256", show_default=True)
@click.option("--eku", type=click.Choice(keymod.INIT_EKUS), default="emailProtection", show_default=True,
              help="Extended key usage of the signing certificate.")
@json_option
def init(directory, name, days, algorithm, eku, as_json):
    """Create a local TEST certificate authority and signing certificate in DIRECTORY.

    For trying archivist only: the identity is labelled as a test identity and
    credentials signed with it are untrusted anywhere the test CA is not given
    as a trust anchor. DIRECTORY must not be inside a package.
    """
    ident = keymod.init_test_identity(directory, name=name, days=days, alg=algorithm, eku=eku)

    def human(_):
        click.echo(f"created a TEST signing identity in {ident.directory} ({algorithm}, valid until "
                   f"{ident.info.not_after})")
        click.echo(f"  trust anchor  {ident.ca}")
        click.echo(f"  --sign-cert   {ident.chain}")
        click.echo(f"  --sign-key    {ident.key}  (private, mode 0600)")
        click.echo("not for production: see README.txt there")

    emit(as_json, {"ok": True, "identity": ident.to_dict()}, human)


@keys.command("check")
@signing_options
@json_option
def check(sign_cert, sign_key, sign_alg, tsa_url, as_json):
    """Check a signing identity: certificate rules, key match, a test signature (and timestamp)."""
    with signer_from_options(sign_cert, sign_key, sign_alg, tsa_url) as signer:
        probe = preflight(signer)
        data = {"ok": True, "signer": signer.describe(), "warnings": signer.warnings, "preflight": probe}

    def human(d):
        s = d["signer"]
        c = s["certificate"]
        click.echo(f"signer ok: {s['algorithm']}, {c['subject']}")
        click.echo(f"  issued by     {c['issuer']}")
        click.echo(f"  valid         {c['not_before']} to {c['not_after']}")
        click.echo(f"  timestamp     {s['timestamp']['authority'] or 'none'}")
        if s["test_identity"]:
            click.echo("  TEST identity: not for production")
        if not s["timestamp"]["used"]:
            click.echo(f"  warning: {s['timestamp']['consequence']}")
        for w in d["warnings"]:
            click.echo(f"  warning: {w}")

    emit(as_json, data, human)


@click.command()
@package_argument()
@signing_options
@json_option
def seal(pkg, sign_cert, sign_key, sign_alg, tsa_url, as_json):
    """Sign PKG's tag manifest, so the package as a whole carries a signature.

    The seal (tagmanifest-sha256.c2pa) covers one state of the package: the
    next command that changes the package removes it, and it is made again
    with this command.
    """
    with signer_from_options(sign_cert, sign_key, sign_alg, tsa_url) as signer:
        signed = sign_tag_manifest(signer, pkg)
        data = {"ok": True, "seal": str(signed.path), "tagmanifest_sha256": signed.asset_sha256,
                "signer": signer.describe()}
    emit(as_json, data, lambda d: click.echo(f"sealed {pkg}: {d['seal']}"))


COMMANDS = [keys, seal]

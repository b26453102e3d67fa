"""archivist seal: sign the tag manifest; the next change drops the seal; sealing again restores it."""

from __future__ import annotations

import json

from support.common import run_cli, write_shot

from archivist.credentials import keys


def test_seal_verify_change_reseal(package, tmp_path):
    ident = keys.init_test_identity(tmp_path / "keys", name="seal test")
    sign = ("--sign-cert", ident.chain, "--sign-key", ident.key)
    run_cli("seal", package.root, *sign, check=True)
    seal = package.root / "tagmanifest-sha256.c2pa"
    assert seal.is_file()
    report = json.loads(run_cli("verify", package.root, "--trust-anchor", ident.ca, "--json", check=True).stdout)
    assert report["ok"] and not any(p["code"].startswith("C2PA") for p in report["problems"])

    write_shot(tmp_path / "neg", n=2, stem="neg", image="coffee")  # other frames: the same ones are refused
    package.add_element(role="source", element="neg35", paths=[tmp_path / "neg"], description="35mm internegative")
    assert not seal.exists()  # it signed a state that no longer exists
    assert run_cli("verify", package.root).returncode == 0

    run_cli("seal", package.root, *sign, check=True)
    assert run_cli("verify", package.root, "--trust-anchor", ident.ca).returncode == 0
    seal.write_bytes(seal.read_bytes()[:-40] + bytes(40))
    damaged = json.loads(run_cli("verify", package.root, "--json").stdout)
    assert not damaged["ok"] and "C2PA-005" in {p["code"] for p in damaged["problems"]}

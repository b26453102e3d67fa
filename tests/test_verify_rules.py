"""One fixture per verify rule: each raises exactly its rule, and every rule is documented."""

from __future__ import annotations

import ast
import importlib
import json
import re

import pytest
from support.common import REPO, write_shot
from support.hostile import FIXTURES as HOSTILE_FIXTURES
from support.verify import FIXTURES as BAG_FIXTURES
from support.verify import Bags, build_template
from support.verify_derived import FIXTURES as DERIVED_FIXTURES
from support.verify_outputs import FIXTURES as OUTPUT_FIXTURES
from support.verify_outputs import copy_signed, signed_package

from archivist.package.layout import PROFILE_FILE, PROFILE_IDENTIFIER
from archivist.verify import RULES, verify
from archivist.verify import profile as profile_mod
from archivist.verify.rules import markdown

FIXTURES = {**BAG_FIXTURES, **OUTPUT_FIXTURES, **HOSTILE_FIXTURES, **DERIVED_FIXTURES}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_template(tmp_path_factory.mktemp("template"), write_shot)


@pytest.fixture
def bags(tmp_path, template, tmp_path_factory):
    b = Bags(tmp_path, template, signed=lambda: signed_package(tmp_path_factory))
    yield b
    b.close()


def test_template_package_is_clean(bags):
    report = verify(bags.package())
    assert report.ok and report.problems == [] and report.archivist


def test_signed_inference_package_is_clean(bags):
    """The template of the OUT and C2PA fixtures, sealed, with its signer's CA as trust anchor."""
    signed = bags.signed()
    report = verify(copy_signed(signed, bags._dest("signed"), seal=True), trust_anchors_pem=signed.ca)
    assert report.ok and report.problems == [] and report.archivist
    assert report.outputs == report.credentials == 4


def test_plain_bag_is_clean(bags):
    report = verify(bags.plain())
    assert report.ok and report.problems == [] and not report.archivist and report.profile is None


@pytest.mark.parametrize("code", sorted(FIXTURES))
def test_fixture_raises_exactly_its_rule(bags, code):
    root, kwargs = FIXTURES[code](bags)
    report = verify(root, **kwargs)
    assert report.codes() == {code}, [p.to_dict() for p in report.problems]
    assert report.ok == (RULES[code].severity == "warning")


def test_every_rule_has_a_fixture_and_every_fixture_a_rule():
    assert set(FIXTURES) == set(RULES)


def test_docs_are_generated_from_the_registry():
    text = (REPO / "docs" / "verify-rules.md").read_text("utf-8")
    assert text == markdown(), "regenerate docs/verify-rules.md from archivist.verify.rules.markdown()"
    for code, _rule in RULES.items():
        section = re.search(rf"^### {code}: .*?(?=^### |\Z)", text, re.S | re.M)
        assert section, code
        for word in ("Severity", "Meaning", "Triggered by", "Fix"):
            assert f"**{word}:**" in section.group(0)


def test_each_rule_names_exactly_the_modules_that_report_it():
    """``module`` lists the verify modules whose source holds the code, so moving a check moves the name too."""
    used: dict[str, set[str]] = {}
    verify_dir = REPO / "archivist" / "verify"
    for path in sorted(verify_dir.rglob("*.py")):
        if path.name == "rules.py":
            continue
        name = ".".join(("archivist", *path.relative_to(REPO / "archivist").with_suffix("").parts))
        name = name.removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in RULES:
                used.setdefault(node.value, set()).add(name)
    wrong = {code: (rule.module, sorted(used.get(code, ()))) for code, rule in RULES.items()
             if not rule.modules or set(rule.modules) != used.get(code, set())}
    assert wrong == {}, "set Rule.module to the modules that report each code"
    for module in {m for rule in RULES.values() for m in rule.modules}:
        importlib.import_module(module)


def test_rule_codes_are_well_formed():
    for code, rule in RULES.items():
        assert re.fullmatch(r"(PKG|BAG|PRO|REC|CON|OUT|DER|MOD|C2PA)-[0-9]{3}", code) and rule.code == code
        assert rule.severity in ("error", "warning")


# -- the profile itself -------------------------------------------------------------------------

def test_builtin_profile_is_a_valid_1_4_profile_with_our_identifier():
    doc = profile_mod.load()
    info = doc["BagIt-Profile-Info"]
    assert info["BagIt-Profile-Identifier"] == PROFILE_IDENTIFIER
    assert info["BagIt-Profile-Version"] == "1.4.0"
    assert doc["Manifests-Required"] == ["sha512", "sha256"]
    assert doc["Allow-Fetch.txt"] is False and doc["Accept-BagIt-Version"] == ["1.0"]
    assert {"data/records/package.json", "data/records/events.jsonl"} <= set(doc["Payload-Files-Required"])
    assert doc["Bag-Info"]["Archivist-Recovery-Type"]["values"] == ["chroma", "spatial", "combined"]
    # the file in the repository is the one shipped as package data
    assert json.loads((REPO / "profiles" / PROFILE_FILE).read_text()) == doc


@pytest.mark.parametrize("damage, expect", [
    (lambda d: d.pop("Accept-BagIt-Version"), "Accept-BagIt-Version"),
    (lambda d: d["BagIt-Profile-Info"].pop("BagIt-Profile-Identifier"), "BagIt-Profile-Identifier"),
    (lambda d: d.update({"Manifests-Allowed": ["sha512"]}), "'sha256' is not in Manifests-Allowed"),
    (lambda d: d.update({"Payload-Files-Required": ["data/extra.bin"], "Payload-Files-Allowed": ["data/sources/*"]}),
     "not covered by Payload-Files-Allowed"),
    (lambda d: d.update({"Allow-Fetch.txt": "no"}), "Allow-Fetch.txt must be true or false"),
    (lambda d: d.update({"Serialisation": "optional"}), "unknown key 'Serialisation'"),
    (lambda d: d["Bag-Info"]["Source-Organization"].update({"required": "yes"}), "required must be true or false"),
    (lambda d: d.update({"Fetch.txt-Required": True}), "Fetch.txt-Required is true but Allow-Fetch.txt is false"),
])
def test_profile_document_problems_are_found(damage, expect):
    doc = json.loads(profile_mod.builtin_text())
    assert profile_mod.document_problems(doc) == []
    damage(doc)
    found = profile_mod.document_problems(doc)
    assert any(expect in p for p in found), found


def test_an_invalid_profile_file_is_a_usage_error(bags, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"BagIt-Profile-Info": {}}))
    with pytest.raises(Exception) as exc:
        verify(bags.package(), profile_path=bad)
    assert getattr(exc.value, "code", None) == "VERIFY-PROFILE" and exc.value.exit_code == 2
    (tmp_path / "notjson.json").write_text("{")
    with pytest.raises(Exception) as exc:
        verify(bags.package(), profile_path=tmp_path / "notjson.json")
    assert exc.value.code == "VERIFY-PROFILE"


@pytest.mark.parametrize("name", ["bag", "profile", "report", "consistency", "outputs", "sidecars", "lineage"])
def test_doctests(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"archivist.verify.{name}"))
    assert result.attempted > 0 and result.failed == 0

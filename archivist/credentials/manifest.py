"""C2PA manifest definitions, as plain dictionaries.

Pure functions: nothing here touches the SDK or the filesystem, so every
rule about what a credential says can be read and tested on its own.

An output frame's manifest says (C2PA 2.x, actions v2):

* ``c2pa.opened`` on the source frame, an ingredient with relationship
  ``parentOf``;
* ``c2pa.edited`` with the IPTC ``digitalSourceType``, the
  ``softwareAgent`` and the run's ``parameters``;
* further ingredients with relationship ``inputTo`` (the ONNX model, the
  dataset manifest).

The SDK does not hash ingredients, so every ingredient carries its SHA-256
(and package path) in its ``metadata``; the signature covers them and
``validate.check_ingredients`` recomputes them.

Labels and instance IDs are derived from the content instead of being
random, so the same inputs give the same manifest definition. The signed
bytes still differ between runs: c2pa-rs salts every assertion reference
and ECDSA/RSA-PSS signatures are randomised.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import PurePosixPath

from archivist import __version__
from archivist.errors import InputError
from archivist.package import iptc
from archivist.package.layout import CREDENTIAL_SUFFIX
from archivist.package.safepath import check_relpath

EXR = "image/x-exr"
ONNX = "application/onnx"
JSON = "application/json"
TEXT = "text/plain"

MIME_TYPES = {
    ".exr": EXR, ".png": "image/png", ".tif": "image/tiff", ".tiff": "image/tiff", ".dpx": "image/x-dpx",
    ".onnx": ONNX, ".json": JSON, ".txt": TEXT,
}

SIDECAR_SUFFIX = CREDENTIAL_SUFFIX
PARENT = "parentOf"
INPUT_RELATIONSHIPS = ("inputTo", "componentOf")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_RESERVED_PARAMETERS = ("ingredientIds", "ingredients")


def mime_type(name: str) -> str:
    """MIME type archivist records for a file name.

    >>> mime_type("shot.1001.exr")
    'image/x-exr'
    >>> mime_type("model.ONNX")
    'application/onnx'
    """
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in MIME_TYPES:
        raise InputError("CREDENTIAL-FORMAT", f"no MIME type known for {name!r}",
                         hint="pass the format explicitly")
    return MIME_TYPES[suffix]


def derived_uuid(*parts: str) -> str:
    """A UUID (version 4 layout, as c2pa-rs requires) derived from ``parts``.

    >>> derived_uuid("a", "b") == derived_uuid("a", "b")
    True
    >>> derived_uuid("a", "b")[14]
    '4'
    """
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def check_sha256(value, what: str) -> str:
    """
    >>> check_sha256("ab" * 32, "model")[:4]
    'abab'
    >>> check_sha256("AB", "model")
    Traceback (most recent call last):
    ...
    archivist.errors.InputError: CREDENTIAL-SHA256: model: sha256 must be 64 lowercase hex digits, not 'AB'
    """
    if not isinstance(value, str) or not _SHA256.match(value):
        raise InputError("CREDENTIAL-SHA256", f"{what}: sha256 must be 64 lowercase hex digits, not {value!r}")
    return value


def ingredient(*, title: str, format: str, sha256: str, relationship: str, path: str | None = None,
               label: str) -> dict:
    """One ingredient of a manifest definition.

    >>> ing = ingredient(title="m.onnx", format="application/onnx", sha256="0" * 64,
    ...                  relationship="inputTo", path="data/models/m/m.onnx", label="model")
    >>> ing["metadata"]["sha256"] == "0" * 64, ing["relationship"]
    (True, 'inputTo')
    """
    if not isinstance(title, str) or not title.strip():
        raise InputError("CREDENTIAL-INGREDIENT", f"ingredient {label!r} needs a title")
    if not isinstance(format, str) or "/" not in format:
        raise InputError("CREDENTIAL-INGREDIENT", f"ingredient {title!r}: format must be a MIME type, not {format!r}")
    if relationship != PARENT and relationship not in INPUT_RELATIONSHIPS:
        raise InputError("CREDENTIAL-INGREDIENT", f"ingredient {title!r}: relationship must be one of "
                         f"{', '.join(INPUT_RELATIONSHIPS)}, not {relationship!r}",
                         hint="the source frame is the one parentOf ingredient")
    metadata = {"sha256": check_sha256(sha256, f"ingredient {title!r}")}
    if path is not None:
        metadata["path"] = str(check_relpath(path))
    return {
        "title": title, "format": format, "relationship": relationship, "label": label,
        "instance_id": f"xmp.iid:{derived_uuid('ingredient', sha256)}",
        "metadata": metadata,
    }


def software_agent(agent: dict | None = None) -> dict:
    """``{"name", "version"}``, archivist itself by default."""
    agent = agent or {"name": "archivist", "version": __version__}
    if not isinstance(agent, dict) or not all(isinstance(agent.get(k), str) and agent[k] for k in ("name", "version")):
        raise InputError("CREDENTIAL-AGENT", f"software agent must be {{'name': str, 'version': str}}, not {agent!r}")
    return {"name": agent["name"], "version": agent["version"]}


def _check_parameters(parameters: dict) -> dict:
    if not isinstance(parameters, dict):
        raise InputError("CREDENTIAL-PARAMETERS", "parameters must be a JSON object")
    clash = [k for k in parameters if k in _RESERVED_PARAMETERS]
    if clash:
        raise InputError("CREDENTIAL-PARAMETERS", f"parameter {clash[0]!r} is reserved by C2PA")
    try:
        return json.loads(_canonical(parameters))
    except (TypeError, ValueError) as exc:
        raise InputError("CREDENTIAL-PARAMETERS", f"parameters must be JSON values ({exc})") from None


def frame_definition(*, title: str, asset_format: str, source: dict, inputs: list[dict],
                     digital_source_type: str, agent: dict | None, parameters: dict,
                     training_mining: dict | None = None) -> dict:
    """The manifest definition for one output frame.

    ``source`` and each of ``inputs`` are ``{"title", "format", "sha256",
    "path"}`` (``inputs`` may add ``"relationship"``, default ``inputTo``).
    ``training_mining`` is the data of a ``cawg.training-mining`` assertion
    (``archivist.package.rights.training_mining``), added when given.
    """
    agent = software_agent(agent)
    parent = ingredient(title=source["title"], format=source["format"], sha256=source["sha256"],
                        relationship=PARENT, path=source.get("path"), label="source")
    others = []
    for i, spec in enumerate(inputs):
        if spec.get("relationship", "inputTo") == PARENT:
            raise InputError("CREDENTIAL-INGREDIENT", f"ingredient {spec.get('title')!r}: only the source frame is parentOf")
        others.append(ingredient(title=spec.get("title"), format=spec.get("format"), sha256=spec.get("sha256"),
                                 relationship=spec.get("relationship", "inputTo"), path=spec.get("path"),
                                 label=f"input{i}"))
    actions = [
        {"action": "c2pa.opened", "parameters": {"ingredientIds": ["source"]}},
        {"action": "c2pa.edited", "digitalSourceType": iptc.uri(digital_source_type), "softwareAgent": agent,
         "parameters": {**_check_parameters(parameters), "ingredientIds": [o["label"] for o in others]}},
    ]
    if not others:
        del actions[1]["parameters"]["ingredientIds"]
    assertions = [{"label": "c2pa.actions.v2", "data": {"actions": actions}}]
    if training_mining is not None:
        if not isinstance(training_mining, dict) or not isinstance(training_mining.get("entries"), dict):
            raise InputError("CREDENTIAL-PARAMETERS", "the training-mining assertion needs an 'entries' object")
        assertions.append({"label": "cawg.training-mining", "data": json.loads(_canonical(training_mining))})
    return {
        "claim_generator_info": [agent],
        "title": title,
        "format": asset_format,
        "ingredients": [parent, *others],
        "assertions": assertions,
    }


# The tag manifest is a checksum list computed by software, not captured
# or drawn: IPTC's "pure algorithmic media".
TAG_MANIFEST_SOURCE_TYPE = "algorithmicMedia"


def tag_manifest_definition(*, title: str, package_identifier: str,
                            bag_facts: dict, agent: dict | None = None) -> dict:
    """The manifest definition that seals a package's ``tagmanifest-sha256.txt``.

    ``bag_facts`` (e.g. the SHA-512 of ``tagmanifest-sha512.txt`` and the
    Payload-Oxum) are signed with it, so the second tag manifest is covered too.
    """
    agent = software_agent(agent)
    if not isinstance(package_identifier, str) or not package_identifier:
        raise InputError("CREDENTIAL-PACKAGE", "the package identifier is missing")
    parameters = _check_parameters({"package": package_identifier, **bag_facts})
    return {
        "claim_generator_info": [agent],
        "title": title,
        "format": TEXT,
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": iptc.uri(TAG_MANIFEST_SOURCE_TYPE),
             "softwareAgent": agent, "parameters": parameters},
        ]}}],
    }


def with_identity(definition: dict, asset_sha256: str, signer_sha256: str) -> dict:
    """A copy of ``definition`` with a label and instance ID derived from its content.

    The label depends on the asset, on everything the manifest says and on
    the signing certificate, so two different claims never share one.

    >>> d = with_identity({"title": "t"}, "0" * 64, "1" * 64)
    >>> d["label"] == with_identity({"title": "t"}, "0" * 64, "1" * 64)["label"], d["label"][:9]
    (True, 'urn:c2pa:')
    """
    check_sha256(asset_sha256, definition.get("title", "asset"))
    body = {k: v for k, v in definition.items() if k not in ("label", "instance_id")}
    out = dict(body)
    out["label"] = f"urn:c2pa:{derived_uuid('manifest', asset_sha256, signer_sha256, _canonical(body))}"
    out["instance_id"] = f"xmp.iid:{derived_uuid('asset', asset_sha256)}"
    return out

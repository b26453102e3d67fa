"""JSON records, validated against ``schemas/`` when written and when read.

Every record carries a versioned label, ``"schema": "archivist/<type>/<n>"``,
and that label names the schema file ``schemas/<type>-<n>.schema.json``
(JSON Schema 2020-12). Records are serialised canonically (sorted keys,
UTF-8, two-space indent, trailing newline) so that the same content always
has the same bytes and the same hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any, NoReturn

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from archivist.errors import ArchivistError

_LABEL = re.compile(r"^archivist/([a-z][a-z0-9-]*)/([0-9]+)$")


class RecordError(ArchivistError):
    """A record that does not match its schema."""


# Bounds no real package comes near; past them a JSON text is refused, not parsed
# (docs/package-format.md, "Limits").
MAX_JSON_DEPTH = 64
MAX_JSON_INT_DIGITS = 40


class UnsafeJSONError(json.JSONDecodeError):
    """JSON that parses but is refused: too deep, an over-long integer, a repeated key, NaN.

    A ``JSONDecodeError`` so that every reader's existing handling of bad JSON applies.
    """

    def __init__(self, msg: str):
        super().__init__(msg, "", 0)

    def __str__(self) -> str:
        return self.msg


def _pairs(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set = set()
        for key, _ in pairs:
            if key in seen:
                raise UnsafeJSONError(f"key {key[:80]!r} appears twice in one object")
            seen.add(key)
    return out


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise UnsafeJSONError(f"an integer of {len(text)} digits (at most {MAX_JSON_INT_DIGITS})")
    return int(text)


def _constant(name: str) -> NoReturn:
    raise UnsafeJSONError(f"{name} is not JSON")


def parse_json(data: bytes | str, *, allow_nan: bool = False) -> Any:
    """Parse JSON from a package, within bounds; every refusal is a ``JSONDecodeError``.

    Raises ``UnicodeDecodeError`` for bytes that are not UTF-8, as ``json.loads`` would.
    """
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_int=_int,
                           parse_constant=float if allow_nan else _constant)
    except RecursionError:
        raise UnsafeJSONError(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise UnsafeJSONError(f"nested more than {MAX_JSON_DEPTH} levels deep")
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return value


@cache
def _schema_texts() -> dict[str, dict]:
    out = {}
    for entry in resources.files("archivist.schemas").iterdir():
        if entry.name.endswith(".schema.json"):
            out[entry.name] = json.loads(entry.read_text("utf-8"))
    return out


@cache
def _registry() -> Registry:
    resources_ = [(s["$id"], Resource.from_contents(s)) for s in _schema_texts().values()]
    return Registry().with_resources(resources_)


def schema_file(label: str) -> str:
    m = _LABEL.match(label or "")
    if not m:
        raise RecordError("RECORD-LABEL", f"schema label {label!r} is not of the form archivist/<type>/<version>")
    return f"{m.group(1)}-{m.group(2)}.schema.json"


class _Cycle(Exception):
    pass


def inline_refs(schema: dict, registry: Registry) -> dict:
    """``schema`` with every ``$ref`` replaced by what it points at (beside other keywords: in an ``allOf``).

    The same judgement, and the same messages at the same paths, without looking a reference up for
    each value: a record with 50,000 frame entries validates in less than half the time.
    A schema that refers to itself (directly or not) is refused with ``ValueError``.

    >>> inline_refs({"$id": "urn:x", "$defs": {"n": {"type": "integer"}}, "items": {"$ref": "#/$defs/n"}},
    ...             Registry())["items"]
    {'type': 'integer'}
    """
    def walk(node: Any, resolver: Any, seen: tuple) -> Any:  # a referencing Resolver
        if isinstance(node, list):
            return [walk(x, resolver, seen) for x in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for k, v in node.items():
            if k in ("const", "enum", "default", "examples"):
                out[k] = v  # values, not schemas
            elif k in ("properties", "patternProperties", "$defs", "dependentSchemas"):
                out[k] = {name: walk(sub, resolver, seen) for name, sub in v.items()}
            elif k != "$ref":
                out[k] = walk(v, resolver, seen)
        if "$ref" not in node:
            return out
        found = resolver.lookup(node["$ref"])
        if any(found.contents is s for s in seen):
            raise _Cycle(node["$ref"])
        target = walk(found.contents, found.resolver, (*seen, found.contents))
        target = {k: v for k, v in target.items() if k not in ("$id", "$schema", "$defs")}
        if not out:
            return target
        out["allOf"] = [*out.get("allOf", []), target]
        return out

    resource = DRAFT202012.create_resource(schema)
    uri = resource.id() or ""
    try:
        return walk(schema, registry.with_resource(uri, resource).resolver(uri), (schema,))
    except _Cycle as exc:
        raise ValueError(f"the schema refers to itself through {exc}") from None


@cache
def validator(label: str) -> Draft202012Validator:
    name = schema_file(label)
    schema = _schema_texts().get(name)
    if schema is None:
        raise RecordError("RECORD-LABEL", f"no schema {name} for label {label!r}")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(inline_refs(schema, _registry()), registry=_registry())


def _plain(value: Any, depth: int = 0) -> bool:
    """Only what JSON parsing makes (dict with str keys, list, str, int, float, bool, None): safe to key by its text."""
    if value is None or isinstance(value, (str, int, float)):  # bool is an int
        return True
    if depth > 200:
        return False
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False  # a tuple, say, is no JSON array to the validator, though it prints as one


_SEEN: dict[tuple[str, bytes], tuple[str, ...]] = {}  # (label, digest of the record's text) -> its problems
_SEEN_MAX = 512


def problems(record: Any, expected: str | None = None) -> list[str]:
    """Every way ``record`` fails its schema, as readable strings (empty when valid).

    A record validated before (the same label and the same JSON text) is
    not validated again: verify, info and report each check the same
    records, and schema validation is most of their time.
    """
    if not isinstance(record, dict):
        return ["record is not a JSON object"]
    label = record.get("schema")
    if expected and label != expected:
        return [f"schema label is {label!r}, expected {expected!r}"]
    try:
        v = validator(label)
    except RecordError as exc:
        return [exc.message]
    key = None
    if _plain(record):
        text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
        key = (str(label), hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
        if key in _SEEN:
            return list(_SEEN[key])
    out = []
    for err in sorted(v.iter_errors(record), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        out.append(f"{where}: {err.message}")
    if key is not None:
        if len(_SEEN) >= _SEEN_MAX:
            _SEEN.pop(next(iter(_SEEN)))  # the oldest
        _SEEN[key] = tuple(out)
    return out


def check(record: dict, expected: str | None = None, *, where: str = "record") -> dict:
    found = problems(record, expected)
    if found:
        raise RecordError("RECORD-SCHEMA", f"{where} does not match its schema: " + "; ".join(found[:5]))
    return record


def dumps(record: dict, expected: str | None = None) -> bytes:
    """Validate and serialise a record canonically."""
    check(record, expected)
    return b"".join(iter_bytes(record))


_PER_ITEM = {"type", "items", "description", "$comment"}  # an array schema of these judges each item alone
PIECE = 1 << 20  # characters per piece of ``iter_bytes``
_ENCODER = json.JSONEncoder(indent=2, sort_keys=True, ensure_ascii=False)  # the canonical form


def check_grown(record: dict, expected: str, key: str, new: list) -> dict:
    """Validate a record whose array ``record[key]`` was valid when last validated and has gained (or had
    replaced) only the items ``new`` since.

    The rest of the record is validated in full, the array only in its new items: a record that
    grows by batches (an inference run's frames) then costs each item's validation once, not once
    per write. That equals validating the whole record only where the array's schema judges each
    item alone (``type`` and ``items``); any other array schema is validated in full, as is the
    whole record when a problem is found (so that its path names the item's real index).

    Args:
        record: the whole record, as it will be written.
        expected: its schema label.
        key: a top-level array property of the record.
        new: the items of ``record[key]`` not validated before.

    Raises:
        RecordError: ``RECORD-SCHEMA``, as ``check`` does.
    """
    prop = validator(expected).schema.get("properties", {}).get(key)
    if (isinstance(record.get(key), list) and isinstance(prop, dict) and prop.get("type") == "array"
            and set(prop) <= _PER_ITEM and not problems({**record, key: list(new)}, expected)):
        return record
    return check(record, expected)


def iter_bytes(record: dict) -> Iterator[bytes]:
    r"""The canonical bytes of ``record`` (those ``dumps`` returns, here unvalidated) in pieces of about
    ``PIECE`` characters: a record of 50,000 frame entries is some 60 MB, several times that as one string.

    >>> b"".join(iter_bytes({"b": [1], "a": "é"})).decode()
    '{\n  "a": "é",\n  "b": [\n    1\n  ]\n}\n'
    """
    piece: list[str] = []
    size = 0
    for chunk in _ENCODER.iterencode(record):
        piece.append(chunk)
        size += len(chunk)
        if size >= PIECE:
            yield "".join(piece).encode("utf-8")
            piece, size = [], 0
    piece.append("\n")
    yield "".join(piece).encode("utf-8")


def dumps_line(record: dict, expected: str | None = None) -> bytes:
    """Validate and serialise a record as one JSON Lines line."""
    check(record, expected)
    return (json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def loads(data: bytes, expected: str | None = None, *, where: str = "record") -> dict:
    try:
        record = parse_json(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError("RECORD-JSON", f"{where} is not valid UTF-8 JSON: {exc}") from exc
    return check(record, expected, where=where)

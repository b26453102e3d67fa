"""One-pass dual digests agree with hashlib and bagit-python."""

from __future__ import annotations

import hashlib
import os

from archivist.package.bagfiles import decode_path, encode_path, format_manifest, parse_bag_info, parse_manifest
from archivist.package.hashing import copy_and_hash, hash_bytes, hash_file, map_files


def test_hash_file_matches_hashlib_across_chunk_boundaries(tmp_path):
    data = os.urandom((1 << 20) * 2 + 12345)
    p = tmp_path / "f"
    p.write_bytes(data)
    fx = hash_file(p)
    assert fx.size == len(data)
    assert fx.digests == {"sha512": hashlib.sha512(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()}
    assert hash_bytes(data) == fx


def test_copy_and_hash_reads_once_and_copies_exactly(tmp_path):
    data = os.urandom(300_000)
    src, dst = tmp_path / "a", tmp_path / "b"
    src.write_bytes(data)
    seen = []
    fx = copy_and_hash(src, dst, seen.append)
    assert dst.read_bytes() == data and sum(seen) == len(data)
    assert fx.sha256 == hashlib.sha256(data).hexdigest()


def test_map_files_reports_errors_without_stopping(tmp_path):
    good = tmp_path / "g"
    good.write_bytes(b"abc")
    results = dict(map_files(hash_file, [(good,), (tmp_path / "missing",)], workers=2))
    assert results[(good,)].sha256 == hashlib.sha256(b"abc").hexdigest()
    assert isinstance(results[(tmp_path / "missing",)], FileNotFoundError)


def test_manifest_round_trip_with_encoded_names():
    entries = {"data/a%b": "ab" * 32, "data/line\nbreak": "cd" * 32, "data/cr\rx": "ef" * 32}
    parsed = parse_manifest(format_manifest(entries))
    assert parsed.as_dict() == entries and not parsed.malformed
    assert all(e.encoding_ok for e in parsed.entries)
    assert decode_path(encode_path("x%0Ay")) == ("x%0Ay", True)


def test_manifest_parser_flags_what_rfc_8493_forbids():
    text = "aa *data/star\nnot a line\nbb data/100%.exr\n"
    parsed = parse_manifest(text)
    assert parsed.malformed == [(2, "not a line")]
    star, bare = parsed.entries
    assert star.binary_marker and star.path == "data/star"
    assert not bare.encoding_ok


def test_bag_info_folds_continuation_lines():
    pairs, bad = parse_bag_info("External-Description: a long\n  description\nSource-Organization: X\noops\n")
    assert pairs == [("External-Description", "a long description"), ("Source-Organization", "X")]
    assert bad == [(4, "oops")]

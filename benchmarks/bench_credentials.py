"""What do Content Credentials cost per frame?

Writes real-sized frames (2048x1556 RGB half-float OpenEXR, PIZ and
uncompressed) with ``archivist.imaging.oiio``, makes a test identity, then times
per frame:

* SHA-256 of the frame alone (the floor: the SDK must read every byte);
* ``sign_frame`` (detached manifest, data-hash binding) with the hash given
  and without it (archivist hashes, then the SDK hashes again);
* ``validate_manifest`` (SDK validation plus archivist's own re-hash);
* the size of each ``.c2pa`` file;

for ES256, PS256 and Ed25519. Median of ``--repeat`` runs, page cache warm.

Usage::

    python benchmarks/bench_credentials.py
    python benchmarks/bench_credentials.py --frames 8 --repeat 5 --json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from archivist.credentials import keys, sign_frame, signer_from_files, validate_manifest
from archivist.imaging import oiio

W, H = 2048, 1556


def _frames(folder: Path, n: int, compression: str) -> list[Path]:
    rng = np.random.default_rng(0)
    base = rng.random((H, W, 3), dtype=np.float32)
    out = []
    for i in range(n):
        p = folder / f"{compression}.{1001 + i}.exr"
        oiio.write(p, np.roll(base, i * 7, axis=1), pixel_type="half", compression=compression)
        out.append(p)
    return out


def _time(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for compression in ("piz", "none"):
            frames = _frames(tmp, args.frames, compression)
            for f in frames:
                f.read_bytes()  # warm the page cache
            for alg in keys.INIT_ALGORITHMS:
                ident = keys.init_test_identity(tmp / f"id-{compression}-{alg}", alg=alg)
                anchors = ident.ca.read_bytes()
                with signer_from_files(ident.chain, ident.key) as signer:
                    def one(frame: Path, digest: str | None) -> Path:
                        out = frame.with_suffix(f".{alg}.c2pa")  # noqa: B023 (called within the iteration)
                        sign_frame(signer, frame, source_frame=("data/sources/s/" + frame.name, "0" * 64, frame.name),
                                   ingredients=[{"title": "model.onnx", "format": "application/onnx",
                                                 "sha256": "1" * 64, "path": "data/models/m/model.onnx"}],
                                   digital_source_type="compositeWithTrainedAlgorithmicMedia", software_agent=None,
                                   parameters={"mode": "chroma", "model": "m", "run": "r"}, out_manifest_path=out,
                                   asset_sha256=digest, overwrite=True)
                        return out

                    hash_s = statistics.median(_time(lambda f=f: hashlib.sha256(f.read_bytes()).digest(), args.repeat)
                                               for f in frames)
                    digests = {f: hashlib.sha256(f.read_bytes()).hexdigest() for f in frames}
                    sign_s = statistics.median(_time(lambda f=f: one(f, None), args.repeat) for f in frames)
                    sign_given_s = statistics.median(_time(lambda f=f: one(f, digests[f]), args.repeat) for f in frames)  # noqa: B023 (called within the iteration)
                    manifests = [one(f, None) for f in frames]
                    check_s = statistics.median(_time(lambda f=f, m=m: validate_manifest(
                        f, m, trust_anchors_pem=anchors), args.repeat) for f, m in zip(frames, manifests))  # noqa: B023 (called within the iteration)
                    assert all(validate_manifest(f, m, trust_anchors_pem=anchors).status == "valid"
                               for f, m in zip(frames, manifests))
                    rows.append({
                        "compression": compression, "algorithm": alg,
                        "frame_mb": round(statistics.mean(f.stat().st_size for f in frames) / 1e6, 1),
                        "sha256_s": round(hash_s, 4), "sign_s": round(sign_s, 4),
                        "sign_hash_given_s": round(sign_given_s, 4), "validate_s": round(check_s, 4),
                        "c2pa_bytes": int(statistics.mean(m.stat().st_size for m in manifests)),
                    })
    meta = {"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
            "frame": f"{W}x{H} RGB half", "frames": args.frames, "repeat": args.repeat}
    if args.json:
        print(json.dumps({"meta": meta, "rows": rows}, indent=2))
        return
    print(f"{meta['frame']}, {args.frames} frames, median of {args.repeat}")
    print(f"{'comp':<5} {'alg':<8} {'MB':>5} {'sha256':>8} {'sign':>8} {'sign*':>8} {'validate':>9} {'.c2pa':>7}")
    for r in rows:
        print(f"{r['compression']:<5} {r['algorithm']:<8} {r['frame_mb']:>5} {r['sha256_s']:>8} {r['sign_s']:>8} "
              f"{r['sign_hash_given_s']:>8} {r['validate_s']:>9} {r['c2pa_bytes']:>7}")
    print("sign* = sign_frame with the frame's SHA-256 already known (as inference has it), hashing excluded")


if __name__ == "__main__":
    main()

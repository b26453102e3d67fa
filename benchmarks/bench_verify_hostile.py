"""Memory and time of ``archivist verify`` on a bag whose manifests list a million files that do not exist.

Writes a plain BagIt 1.0 bag with one real payload file and N bogus lines
in each of ``manifest-sha256.txt`` and ``manifest-sha512.txt`` (tag
manifests correct, so the damage is only the missing files), then runs
``archivist verify --json`` in a fresh process and reports its peak RSS per
manifest line, its time, and that it ended with exit 1, JSON output and the
right counts (BAG-007 listed up to the report's cap, the rest counted). The
baseline, measured first in the same way, is the same bag without the bogus
lines: what the process costs before any manifest line.

Usage::

    python benchmarks/bench_verify_hostile.py                  # 1,000,000 lines
    python benchmarks/bench_verify_hostile.py --lines 200000 --dir /scratch/hostile
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build(root: Path, lines: int) -> None:
    (root / "data").mkdir(parents=True)
    payload = b"one real file\n"
    (root / "data" / "a.txt").write_bytes(payload)
    (root / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    (root / "bag-info.txt").write_text(f"Payload-Oxum: {len(payload)}.1\n")
    for alg in ("sha256", "sha512"):
        digest = hashlib.new(alg)
        with open(root / f"manifest-{alg}.txt", "w") as f:
            f.write(f"{hashlib.new(alg, payload).hexdigest()}  data/a.txt\n")
            for i in range(lines):
                d = digest.copy()
                d.update(i.to_bytes(8, "little"))
                f.write(f"{d.hexdigest()}  data/missing/reel-{i // 10000:03d}/frame.{i:07d}.exr\n")
    for alg in ("sha256", "sha512"):
        out = [f"{hashlib.new(alg, (root / n).read_bytes()).hexdigest()}  {n}\n"
               for n in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt")]
        (root / f"tagmanifest-{alg}.txt").write_text("".join(out))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path)
    args = ap.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="archivist-hostile-"))
    root, empty = work / "bag", work / "baseline"
    if not root.exists():
        build(root, args.lines)
    if not empty.exists():
        build(empty, 0)
    # Baseline first: RUSAGE_CHILDREN keeps the largest child's peak, so the order matters.
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "archivist", "verify", str(empty), "--json"], capture_output=True)
    base_seconds = time.perf_counter() - t0
    base_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "archivist", "verify", str(root), "--json"], capture_output=True,
                          text=True)
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    doc = json.loads(proc.stdout)
    result = {"lines": args.lines, "exit": proc.returncode, "traceback": "Traceback" in proc.stderr,
              "errors": doc["counts"]["errors"], "listed": len(doc["problems"]), "unlisted": doc.get("unlisted"),
              "seconds": round(seconds, 1), "peak_rss_mb": round(peak_kb / 1024, 1),
              "kb_per_line": round(peak_kb / max(args.lines, 1), 3),
              "baseline": {"seconds": round(base_seconds, 1), "peak_rss_mb": round(base_kb / 1024, 1)},
              "peak_vs_baseline": round(peak_kb / base_kb, 1),
              "kb_per_line_above_baseline": round((peak_kb - base_kb) / max(args.lines, 1), 3),
              "kb_per_manifest_line": round(peak_kb / max(2 * args.lines, 1), 3)}  # two manifests list each file
    print(json.dumps(result, indent=2))
    return 0 if proc.returncode == 1 and not result["traceback"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""The long fuzz run: mutated copies of a small real signed package through verify, info, report and recover.

Builds the signed package of the test suite (dataset, a short training run,
ONNX export, a signed inference run, the seal) once, then runs seeded cases
of ``tests/support/fuzz.py`` and prints the counts: exit statuses per
command, tracebacks, output that is not JSON, and cases that changed
anything in the canary folder outside the package. Failing cases are
written to ``failures.json`` in the work directory with their seeds, so
each can be replayed with ``--first SEED --cases 1``.

Usage::

    python benchmarks/fuzz_verify.py                    # 10,000 cases
    python benchmarks/fuzz_verify.py --cases 500 --dir /scratch/fuzz
    python benchmarks/fuzz_verify.py --minutes 30       # as many cases as fit

A ``--dir`` that holds the package of an earlier run is reused (delete its
``base`` folder to rebuild after the package format changes).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


class _Temp:
    """Just enough of pytest's tmp_path_factory for the test helpers."""

    def __init__(self, root: Path):
        self.root, self.n = root, 0

    def mktemp(self, name: str) -> Path:
        while True:
            self.n += 1
            path = self.root / f"{name}{self.n}"
            if not path.exists():
                path.mkdir(parents=True)
                return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--first", type=int, default=0, help="seed of the first case")
    ap.add_argument("--minutes", type=float, help="stop starting new cases after this long")
    ap.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    args = ap.parse_args()

    from support.fuzz import Tally, run_case
    from support.verify_outputs import copy_signed, signed_package

    work = args.dir or Path(tempfile.mkdtemp(prefix="archivist-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    base = work / "base"
    if not base.exists():  # a work directory of an earlier run keeps its package: the build takes minutes
        signed = signed_package(_Temp(work / "build"))
        copy_signed(signed, base, seal=True)
        print(f"signed package built in {time.perf_counter() - t0:.0f} s; fuzzing", flush=True)
    else:
        print(f"reusing the signed package in {base}; fuzzing", flush=True)
    tally = Tally()
    start = time.perf_counter()
    for seed in range(args.first, args.first + args.cases):
        if args.minutes and time.perf_counter() - start > args.minutes * 60:
            break
        seen = tally.failures
        run_case(base, work / "cases", seed, tally)
        if tally.failures > seen:
            last = (tally.tracebacks + tally.bad_json + tally.bad_exit + tally.outside_changed)[-1]
            print(f"FAILED seed {seed}: {json.dumps(last)[:2000]}", flush=True)
        if tally.cases % 100 == 0:
            print(f"{tally.cases} cases, {tally.failures} failures, {time.perf_counter() - start:.0f} s", flush=True)
    summary = tally.summary()
    summary["seconds"] = round(time.perf_counter() - start, 1)
    (work / "failures.json").write_text(json.dumps(
        {"tracebacks": tally.tracebacks, "bad_json": tally.bad_json, "bad_exit": tally.bad_exit,
         "outside_changed": tally.outside_changed}, indent=1))
    print(json.dumps(summary, indent=2))
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())

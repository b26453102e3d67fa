"""Kills at random moments: add, dataset, train, infer (signed) and seal, SIGKILLed N times each.

For every command the script first times one uninterrupted run on a fresh
copy of a small real package, then, N times, starts the command on a fresh
copy, kills it (SIGKILL, the whole process group) after a random delay
between 0 and that time, and restores the package the way a user would:

1. ``verify``; if it reports an interrupted command (PKG-002), ``recover``;
2. if the package is still invalid, or the command left unfinished work
   that re-running finishes (an inference run, a training run), the same
   command again (``train --resume RUN`` for training);
3. ``verify`` must now pass (warnings allowed).

Nothing committed before the kill may be lost: the event log as it was is
a prefix of the log after, and every payload file outside
``data/records/`` keeps its bytes. Prints the counts per command and
outcome (killed before any change, recovered, finished by re-running,
failed) and exits 1 if any case failed.

Usage::

    python benchmarks/kill_commands.py                 # 20 kills per command
    python benchmarks/kill_commands.py --kills 5 --commands add,seal --dir /scratch/kills
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))


def cli(*args, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archivist", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def verify(root: Path) -> dict:
    return json.loads(cli("verify", root, "--json").stdout)


def state(root: Path) -> dict:
    """What a kill must not lose: the event log's bytes and the payload outside the records."""
    log = (root / "data/records/events.jsonl").read_bytes()
    files = {}
    for p in sorted((root / "data").rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_file() and not rel.startswith("data/records/"):
            files[rel] = p.read_bytes()
    return {"log": log, "files": files}


def kept(before: dict, after_root: Path) -> list[str]:
    after = state(after_root)
    lost = [] if after["log"].startswith(before["log"]) else ["the event log lost or changed committed events"]
    lost += [f"{rel} lost or changed" for rel, data in before["files"].items() if after["files"].get(rel) != data]
    return lost


class Bases:
    """The package each command starts from, built once with the library, and each command's arguments."""

    def __init__(self, work: Path):
        from support.common import write_shot
        from support.dataset import add_pair_elements, write_pair_elements
        from support.infer import build_model_package

        from archivist import credentials, dataset
        from archivist.inference import runner
        from archivist.package import Package

        self.work = work
        keys = work / "keys"
        credentials.init_test_identity(keys)
        self.cert, self.key = keys / "chain.pem", keys / "key.pem"
        write_shot(work / "frames-ref", ext="png", stem="tc", start=1, n=8)

        pairs = work / "pairs"
        pkg = Package.create(pairs, title="Film", organization="Archive", recovery="chroma")
        src, ref = write_pair_elements(work / "pair-frames", n=6, size=(64, 96), reference_size=(32, 48))
        add_pair_elements(pkg, src, ref)
        with_dataset = work / "with-dataset"
        shutil.copytree(pairs, with_dataset)
        dataset.build(Package.open(with_dataset), source="print16", reference="dvd", frames=[1001, 1006])
        model = build_model_package(work / "model")
        signed = work / "signed"
        shutil.copytree(model.root, signed)
        runner.infer(signed, runner.InferOptions(sign=True, cert=self.cert, key=self.key, seal=False))
        self.bases = {"add": pairs, "dataset": pairs, "train": with_dataset, "infer": model.root, "seal": signed}

    def args(self, command: str, root: Path) -> list:
        return {
            "add": ["add", root, "--role", "reference", "--element", "telecine", "--description",
                    "PAL telecine 1998", "--training-use", "authorised", "--authorised-by", "Archive rights desk",
                    self.work / "frames-ref"],
            "dataset": ["dataset", root, "--source", "print16", "--reference", "dvd", "--auto", "4"],
            "train": ["train", root, "--mode", "chroma", "--size", "small", "--steps", "12", "--patch", "32",
                      "--batch", "2", "--checkpoint-every", "3", "--contact-every", "0", "--threads", "1",
                      "--device", "cpu", "--run", "chroma-k"],
            "infer": ["infer", root, "--sign", "--cert", self.cert, "--key", self.key, "--commit-every", "1",
                      "--run", "infer-k"],
            "seal": ["seal", root, "--sign-cert", self.cert, "--sign-key", self.key],
        }[command]

    def rerun(self, command: str, root: Path) -> list:
        if command == "train":
            return ["train", root, "--resume", "chroma-k", "--threads", "1", "--device", "cpu"]
        return self.args(command, root)


def one_kill(bases: Bases, command: str, delay: float, case: Path) -> tuple[str, list[str]]:
    root = case / "pkg"
    shutil.copytree(bases.bases[command], root)
    before = state(root)
    proc = subprocess.Popen([sys.executable, "-m", "archivist", *map(str, bases.args(command, root))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(delay)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    outcome = "finished before the kill" if proc.returncode == 0 else "killed"
    doc = verify(root)
    codes = {p["code"] for p in doc["problems"]}
    if "PKG-002" in codes:
        rec = cli("recover", root, "--json")
        if rec.returncode != 0:
            return "failed", [f"recover exited {rec.returncode}: {rec.stderr[-500:]}"]
        outcome = "recovered"
        doc = verify(root)
    unfinished = {p["code"] for p in doc["problems"]} & {"PKG-003", "PKG-004", "OUT-006"}
    if not doc["ok"] or unfinished:
        again = cli(*bases.rerun(command, root))
        if again.returncode != 0:
            return "failed", [f"re-running {command} exited {again.returncode}: {again.stderr[-800:]}"]
        outcome = "finished by re-running"
        doc = verify(root)
    problems = [] if doc["ok"] else [f"{p['code']} {p['path']}: {p['message']}" for p in doc["problems"]
                                      if p["severity"] == "error"]
    problems += kept(before, root)
    return ("failed" if problems else outcome), problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20, help="kills per command")
    ap.add_argument("--commands", default="add,dataset,train,infer,seal")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path)
    args = ap.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="archivist-kills-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    bases = Bases(work / "bases")
    counts: Counter = Counter()
    failures = []
    for command in args.commands.split(","):
        case = work / f"{command}-timing"
        shutil.copytree(bases.bases[command], case / "pkg")
        t0 = time.perf_counter()
        timed = cli(*bases.args(command, case / "pkg"))
        duration = time.perf_counter() - t0
        if timed.returncode != 0:
            print(f"{command}: the uninterrupted run failed: {timed.stderr[-800:]}", flush=True)
            return 1
        print(f"{command}: {duration:.1f} s uninterrupted", flush=True)
        for i in range(args.kills):
            delay = rng.uniform(0, duration)
            outcome, problems = one_kill(bases, command, delay, work / f"{command}-{i}")
            counts[(command, outcome)] += 1
            if problems:
                failures.append({"command": command, "kill": i, "delay": round(delay, 3), "problems": problems})
                print(f"FAILED {command} kill {i} at {delay:.2f} s: {problems[:3]}", flush=True)
            else:
                shutil.rmtree(work / f"{command}-{i}", ignore_errors=True)
    summary = {f"{c}: {o}": n for (c, o), n in sorted(counts.items())}
    print(json.dumps({"counts": summary, "failures": len(failures)}, indent=2))
    (work / "failures.json").write_text(json.dumps(failures, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Mutation fuzzing of a real package: every command ends with 0, 1 or 2, JSON that parses, no traceback,
and nothing outside the package changed.

A case copies a small real package, applies one to three seeded random
mutations (byte flips, truncations, insertions, a file swapped for a
symbolic link, FIFO or directory, a structural edit of a JSON record, bogus
manifest lines, a crafted journal), optionally re-hashes what the attacker
changed, and runs ``verify``, ``info``, ``report`` and ``recover`` on it
in-process through the real command line. A canary folder outside the
package, which the links point into, is compared byte for byte before and
after. Used by ``tests/test_hardening.py`` (a fast slice) and
``benchmarks/fuzz_verify.py`` (the long run).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import signal
import stat
import sys
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

COMMANDS = ("verify", "info", "report", "recover")
EXITS = {0, 1, 2}


# -- the canary ------------------------------------------------------------------------------------
def make_canary(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secret.txt").write_bytes(b"outside the package\n")
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "big.bin").write_bytes(bytes(range(256)) * 4)
    (folder / "manifest-sha256.txt").write_bytes(b"not the package's\n")
    return folder


def tree_state(root: Path) -> dict[str, object]:
    """Every entry under ``root`` without following links: bytes, link targets, kinds and modes."""
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", st.st_mode, hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[rel] = ("other", st.st_mode)
    return out


# -- mutations ---------------------------------------------------------------------------------------
def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _json_files(root: Path) -> list[Path]:
    return [p for p in _files(root) if p.suffix in (".json", ".jsonl")]


def _flip(rng, p: Path) -> str:
    data = bytearray(p.read_bytes())
    if not data:
        return f"flip {p.name} (empty)"
    i = rng.randrange(len(data))
    data[i] ^= 1 << rng.randrange(8)
    p.write_bytes(bytes(data))
    return f"flip a bit of {p.name} at {i}"


def _truncate(rng, p: Path) -> str:
    data = p.read_bytes()
    n = rng.randrange(len(data) + 1)
    p.write_bytes(data[:n])
    return f"truncate {p.name} to {n}"


def _insert(rng, p: Path) -> str:
    data = p.read_bytes()
    i = rng.randrange(len(data) + 1)
    junk = rng.choice([b"\x00", b"\n", b"\r\n", b"%", b"\xff\xfe", b"{", b"]", b"9" * 5000,
                       bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))])
    p.write_bytes(data[:i] + junk + data[i:])
    return f"insert {len(junk)} bytes into {p.name} at {i}"


def _swap(rng, p: Path, canary: Path) -> str:
    kind = rng.choice(["link-file", "link-dir", "link-dangling", "link-self", "fifo", "dir"])
    p.unlink()
    if kind == "link-file":
        os.symlink(canary / "secret.txt", p)
    elif kind == "link-dir":
        os.symlink(canary / "sub", p)
    elif kind == "link-dangling":
        os.symlink(canary / "nothing-here", p)
    elif kind == "link-self":
        os.symlink(p.name, p)
    elif kind == "fifo":
        os.mkfifo(p)
    else:
        p.mkdir()
        (p / "inner.txt").write_bytes(b"x")
    return f"swap {p.name} for a {kind}"


def _link_dir(rng, root: Path, canary: Path) -> str:
    dirs = sorted(d for d in root.rglob("*") if d.is_dir() and not d.is_symlink()) or [root]
    d = rng.choice(dirs)
    target = rng.choice([canary, canary / "sub"])
    name = rng.choice(["link", "data", ".archivist", "runs"])
    dest = d / name
    if dest.exists() or dest.is_symlink():
        shutil.rmtree(dest) if dest.is_dir() and not dest.is_symlink() else dest.unlink()
    os.symlink(target, dest)
    return f"link {dest.relative_to(root)} -> {target.name}"


def _hostile_value(rng):
    return rng.choice([
        "DEEP", "HUGE", None, True, -1, 1e308, "", "../../outside", "/etc/passwd", "\x00", [], {}, "x" * 10000,
        {"path": "../secret.txt", "sha256": "0" * 64}, [[[[[]]]]],
    ])


def _edit_json(rng, p: Path) -> str:
    text = p.read_bytes()
    if p.suffix == ".jsonl":
        lines = text.splitlines(keepends=True)
        choice = rng.randrange(4)
        if choice == 0 and lines:
            del lines[rng.randrange(len(lines))]
        elif choice == 1:
            lines.append(b"[" * 100_000 + b"\n")
        elif choice == 2 and lines:
            lines.insert(rng.randrange(len(lines)), rng.choice(lines))
        else:
            lines.append(b'{"a": 1, "a": 2, "n": ' + b"9" * 5000 + b"}\n")
        p.write_bytes(b"".join(lines))
        return f"edit lines of {p.name}"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # an earlier mutation of this case may have nested it deep
        return _insert(rng, p)
    path, node = [], value
    while isinstance(node, (dict, list)) and node and rng.random() < 0.7:
        key = rng.choice(sorted(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append(key)
        parent, node = node, node[key]
    new = _hostile_value(rng)
    if not path:
        value = new if new not in ("DEEP", "HUGE") else value
    else:
        action = rng.randrange(3)
        if action == 0 and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = new
    data = json.dumps(value, indent=2, sort_keys=True).encode()
    data = data.replace(b'"DEEP"', b"[" * 50_000 + b"]" * 50_000).replace(b'"HUGE"', b"9" * 5000)
    if rng.random() < 0.2:
        data = data.replace(b'{\n  "', b'{\n  "schema": "archivist/other/1",\n  "', 1)  # a repeated key
    p.write_bytes(data)
    return f"edit {p.name} at {'/'.join(map(str, path)) or '(root)'}"


def _manifest_lines(rng, root: Path) -> str:
    names = sorted(p.name for p in root.glob("*manifest-*.txt")) or ["manifest-sha256.txt"]
    name = rng.choice(names)
    n = 64 if "256" in name else 128
    lines = []
    for _ in range(rng.randrange(1, 50)):
        path = rng.choice(["data/../secret.txt", "/etc/passwd", "data/a%zz", "data/%0A", "data/x\\y", "data/",
                           "bagit.txt", "data/nope.exr", "data/" + "d/" * 300 + "f", "data/\x00", ".archivist/lock",
                           "data/records/package.json"])
        digest = rng.choice(["0" * n, "0" * (n - 1), "z" * n, "9" * 5000])
        lines.append(f"{digest}  {path}\n")
    with open(root / name, "a", encoding="utf-8", errors="surrogateescape") as f:
        f.writelines(lines)
    return f"append {len(lines)} lines to {name}"


def _journal(rng, root: Path, canary: Path) -> str:
    work = root / ".archivist"
    if work.is_symlink() or (work.exists() and not work.is_dir()):
        return "journal (work dir unusable)"
    work.mkdir(exist_ok=True)
    rels = ["data/link/secret.txt", "../outside/secret.txt", "/etc/passwd", "bagit.txt", "data/records/package.json",
            ".archivist/lock", "data", 5, None]
    journal = {"command": "add", "pid": 1, "started": "2026-01-01T00:00:00Z",
               "state": rng.choice(["applying", "committed", "other", 7]),
               "new": [rng.choice(rels) for _ in range(rng.randrange(3))],
               "replaced": [rng.choice(rels) for _ in range(rng.randrange(3))],
               "new_dirs": [rng.choice(rels) for _ in range(rng.randrange(2))]}
    for key in list(journal):
        if rng.random() < 0.1:
            del journal[key]
    data = json.dumps(journal).encode()
    if rng.random() < 0.2:
        data = rng.choice([b"[" * 100_000, b"\xff", b"{}", data[: len(data) // 2]])
    (work / "journal.json").write_bytes(data)
    if rng.random() < 0.5 and (root / "data").is_dir() and not os.path.lexists(root / "data" / "link"):
        os.symlink(canary, root / "data" / "link")
    return "crafted journal"


def mutate(rng: random.Random, root: Path, canary: Path) -> list[str]:
    done = []
    for _ in range(rng.randint(1, 3)):
        files = _files(root)
        op = rng.choice(["flip", "truncate", "insert", "swap", "json", "json", "manifest", "journal", "linkdir"])
        if op in ("flip", "truncate", "insert", "swap") and files:
            p = rng.choice(files)
            done.append({"flip": _flip, "truncate": _truncate, "insert": _insert}[op](rng, p) if op != "swap"
                        else _swap(rng, p, canary))
        elif op == "json" and _json_files(root):
            done.append(_edit_json(rng, rng.choice(_json_files(root))))
        elif op == "manifest":
            done.append(_manifest_lines(rng, root))
        elif op == "journal":
            done.append(_journal(rng, root, canary))
        elif op == "linkdir":
            done.append(_link_dir(rng, root, canary))
    if rng.random() < 0.5:
        done.append(_cover_up(root))
    return done


def _cover_up(root: Path) -> str:
    """The attacker re-hashes: payload manifests from the files on disk, then the tag manifests."""
    for alg in ("sha256", "sha512"):
        lines = []
        for p in sorted((root / "data").rglob("*")) if (root / "data").is_dir() and not (root / "data").is_symlink() \
                else []:
            if p.is_file() and not p.is_symlink():
                lines.append(f"{hashlib.new(alg, p.read_bytes()).hexdigest()}  {p.relative_to(root)}\n")
        target = root / f"manifest-{alg}.txt"
        if os.path.lexists(target) and not (target.is_file() and not target.is_symlink()):
            continue  # a link, folder or FIFO swapped in: writing to a FIFO would wait for a reader
        target.write_text("".join(lines), "utf-8", errors="surrogateescape")
    for alg in ("sha256", "sha512"):
        target = root / f"tagmanifest-{alg}.txt"
        if os.path.lexists(target) and not (target.is_file() and not target.is_symlink()):
            continue
        out = []
        for name in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"):
            p = root / name
            if p.is_file() and not p.is_symlink():
                out.append(f"{hashlib.new(alg, p.read_bytes()).hexdigest()}  {name}\n")
        target.write_text("".join(out), "utf-8")
    return "cover up"


# -- running a command in-process ---------------------------------------------------------------------
@dataclass
class Outcome:
    command: str
    exit: int | None
    stdout: str
    stderr: str
    traceback: str | None = None


def run_command(args: list[str], *, cwd: Path, timeout: int = 60) -> Outcome:
    """The real command line (``archivist.cli``), in this process, stdout and stderr captured."""
    from archivist.cli import cli
    from archivist.cli.output import run_guarded

    out, err = io.StringIO(), io.StringIO()
    argv, here = sys.argv, os.getcwd()
    sys.argv = ["archivist", *args]
    code, tb = None, None

    def hang(signum, frame):
        raise TimeoutError(f"{args[0]} ran for more than {timeout} s (blocked on a FIFO?)")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(timeout)
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            run_guarded(cli)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except BaseException:  # what a user would see as a traceback (or a hang)
        tb = traceback.format_exc()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        sys.argv = argv
        os.chdir(here)
    return Outcome(args[0], code, out.getvalue(), err.getvalue(), tb)


@dataclass
class Tally:
    cases: int = 0
    exits: Counter = field(default_factory=Counter)
    tracebacks: list = field(default_factory=list)
    bad_json: list = field(default_factory=list)
    bad_exit: list = field(default_factory=list)
    outside_changed: list = field(default_factory=list)

    @property
    def failures(self) -> int:
        return len(self.tracebacks) + len(self.bad_json) + len(self.bad_exit) + len(self.outside_changed)

    def summary(self) -> dict:
        return {"cases": self.cases, "exits": {f"{c} {e}": n for (c, e), n in sorted(self.exits.items(), key=str)},
                "tracebacks": len(self.tracebacks), "bad_json": len(self.bad_json), "bad_exit": len(self.bad_exit),
                "outside_changed": len(self.outside_changed)}


def run_case(base: Path, work: Path, seed: int, tally: Tally, commands=COMMANDS) -> None:
    rng = random.Random(seed)
    case = work / f"case-{seed}"
    if case.exists():
        shutil.rmtree(case)
    canary = make_canary(case / "outside")
    root = case / "pkg"
    shutil.copytree(base, root, symlinks=True)
    what = mutate(rng, root, canary)
    before = tree_state(canary)
    for command in commands:
        args = [command, str(root), "--json"]
        if command == "report":
            args += ["--output", str(case / "report.html")]
        result = run_command(args, cwd=case / "outside" / "sub")
        tally.exits[(command, result.exit)] += 1
        where = {"seed": seed, "command": command, "mutations": what}
        if result.traceback or "Traceback" in result.stderr:
            tally.tracebacks.append({**where, "traceback": (result.traceback or result.stderr)[-3000:]})
            continue
        if result.exit not in EXITS:
            tally.bad_exit.append({**where, "exit": result.exit, "stderr": result.stderr[-500:]})
        try:
            json.loads(result.stdout)
        except ValueError:
            tally.bad_json.append({**where, "stdout": result.stdout[-500:], "stderr": result.stderr[-500:]})
    if tree_state(canary) != before:
        tally.outside_changed.append({"seed": seed, "mutations": what})
    tally.cases += 1
    shutil.rmtree(case, ignore_errors=True)

"""The error catalogue: every code the source raises is in it, every code in it is raised, and the docs match.

The codes are found by parsing the source, not by searching its text: a code
is the first argument (or ``code=``) of a call of ``ArchivistError`` or a
subclass defined anywhere in ``archivist/``. When that argument is a
parameter of the enclosing function (a helper such as
``Package.verified_bytes(ref, code, what)``), the codes are taken from the
calls of that helper, through as many helpers as there are.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from support.common import REPO

from archivist import error_codes
from archivist.error_codes import CODES, EXIT_STATUSES, FAMILIES, RENAMED, family, markdown
from archivist.errors import EXIT_USAGE
from archivist.verify.rules import FAMILIES as RULE_FAMILIES
from archivist.verify.rules import RULES

CODE = re.compile(r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+")


@dataclass(frozen=True)
class Site:
    code: str
    where: str  # "archivist.qc.run:12": module and line
    cls: str  # the error class raised


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def _error_classes(trees: list[ast.Module]) -> dict[str, int]:
    """``ArchivistError`` and every subclass in the source, each with its exit status."""
    exits = {"ArchivistError": EXIT_USAGE}
    classes = [n for t in trees for n in ast.walk(t) if isinstance(n, ast.ClassDef)]
    changed = True
    while changed:
        changed = False
        for c in classes:
            parents = [exits[b] for b in map(_name, c.bases) if b in exits]
            if c.name in exits or not parents:
                continue
            own = [s.value.value for s in c.body if isinstance(s, ast.Assign) and isinstance(s.value, ast.Constant)
                   and any(isinstance(t, ast.Name) and t.id == "exit_code" for t in s.targets)]
            exits[c.name] = own[0] if own else parents[0]
            changed = True
    return exits


class _Module(ast.NodeVisitor):
    """One module's calls (each with the classes and functions around it) and the names it imports."""

    def __init__(self, name: str, package: bool, tree: ast.Module):
        self.name, self.stack, self.calls, self.imports = name, [], [], {}
        base = name if package else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    self.imports[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                parts = base.split(".")
                origin = ".".join(parts[:len(parts) - node.level + 1] if node.level else [])
                origin = ".".join(p for p in (origin, node.module or "") if p)
                for a in node.names:
                    self.imports[a.asname or a.name] = f"{origin}.{a.name}"
        self.visit(tree)

    def _scope(self, node):
        self.stack.append(node)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    def visit_Call(self, node):
        self.calls.append((self, node, list(self.stack)))
        self.generic_visit(node)


def _params(fn) -> tuple[list[str], list[str], dict[str, ast.expr]]:
    a = fn.args
    pos = [p.arg for p in a.posonlyargs + a.args]
    defaults = dict(zip(pos[len(pos) - len(a.defaults):], a.defaults))
    defaults.update({p.arg: d for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None})
    return pos, [p.arg for p in a.kwonlyargs], defaults


def scan(root: Path) -> tuple[set[Site], list[str], dict[str, int]]:
    """The codes the package under ``root`` raises, what could not be resolved, and the error classes."""
    trees = {p: ast.parse(p.read_text("utf-8"), str(p)) for p in sorted(root.rglob("*.py"))}
    exits = _error_classes(list(trees.values()))
    modules: dict[str, _Module] = {}
    for path, tree in trees.items():
        parts = path.relative_to(root.parent).with_suffix("").parts
        package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if package else parts)] = _Module(
            ".".join(parts[:-1] if package else parts), package, tree)

    def canonical(dotted: str) -> str:
        """Follow re-exports (``from archivist.package.model import Package`` in ``__init__``) to the definition."""
        for _ in range(10):
            mod, _, attr = dotted.rpartition(".")
            target = modules[mod].imports.get(attr) if mod in modules else None
            if target is None or target == dotted:
                return dotted
            dotted = target
        return dotted

    def callee(module: _Module, func: ast.expr) -> str | None:
        """The dotted name a call's function refers to, where imports tell (``None`` for methods of objects)."""
        if isinstance(func, ast.Name):
            local = module.imports.get(func.id)
            return canonical(local) if local else f"{module.name}.{func.id}"
        if isinstance(func, ast.Attribute):
            inner = callee(module, func.value)
            return canonical(f"{inner}.{func.attr}") if inner else None
        return None

    calls = [c for m in modules.values() for c in m.calls]
    sites: set[Site] = set()
    unresolved: list[str] = []
    forwarded: set[tuple] = set()

    def resolve(expr, module, stack, line, cls, direct):
        where = f"{module.name}:{line}"
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            if CODE.fullmatch(expr.value):
                sites.add(Site(expr.value, where, cls))
            elif direct:
                unresolved.append(f"{where}: {expr.value!r} is not a code")
            return
        if isinstance(expr, ast.Constant) and expr.value is None and not direct:
            return  # an optional code left out
        if isinstance(expr, ast.IfExp):
            resolve(expr.body, module, stack, line, cls, direct)
            resolve(expr.orelse, module, stack, line, cls, direct)
            return
        if isinstance(expr, ast.BoolOp):  # code or "DEFAULT"
            for value in expr.values:
                resolve(value, module, stack, line, cls, direct=False)
            return
        if isinstance(expr, ast.Attribute) and expr.attr == "code":
            return  # passes on the code of another error, which is raised (and found) where it was made
        if isinstance(expr, ast.Name):
            for depth in range(len(stack) - 1, -1, -1):
                fn = stack[depth]
                if isinstance(fn, ast.ClassDef):
                    continue
                pos, kwonly, defaults = _params(fn)
                if expr.id in pos or expr.id in kwonly:
                    forward(fn, stack[:depth], module, expr.id, pos, defaults, cls)
                    return
                values = [n.value for n in ast.walk(fn) if isinstance(n, ast.Assign)
                          and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets)]
                if values:
                    for value in values:
                        resolve(value, module, stack, line, cls, direct)
                    return
        unresolved.append(f"{where}: {ast.unparse(expr) if expr is not None else 'no code'}")

    def forward(fn, outer, module, name, pos, defaults, cls):
        """The code is a parameter of ``fn``: resolve it at every call of ``fn``."""
        if (module.name, fn.lineno, name) in forwarded:
            return
        forwarded.add((module.name, fn.lineno, name))
        method = bool(outer) and isinstance(outer[-1], ast.ClassDef)
        nested = any(not isinstance(o, ast.ClassDef) for o in outer)
        index = pos.index(name) if name in pos else None
        if name in defaults:  # the code a caller gets who leaves it out
            resolve(defaults[name], module, outer, fn.lineno, cls, direct=True)
        for cmod, call, cstack in calls:
            f = call.func
            if method:  # the object's type is unknown: any call of a method of that name
                if not (isinstance(f, ast.Attribute) and f.attr == fn.name):
                    continue
                i = None if index is None else index - 1  # self is not in call.args
            elif nested:
                if not (cmod is module and isinstance(f, ast.Name) and f.id == fn.name):
                    continue
                i = index
            else:
                if callee(cmod, f) != f"{module.name}.{fn.name}":
                    continue
                i = index
            arg = next((k.value for k in call.keywords if k.arg == name), None)
            if arg is None and i is not None and 0 <= i < len(call.args):
                arg = call.args[i]
            arg = defaults.get(name) if arg is None else arg
            if arg is not None:
                resolve(arg, cmod, cstack, call.lineno, cls, direct=False)

    for module, call, stack in calls:
        cls = _name(call.func)
        if cls in exits:
            arg = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "code"), None)
            resolve(arg, module, stack, call.lineno, cls, direct=True)
    return sites, unresolved, exits


SITES, UNRESOLVED, EXITS = scan(REPO / "archivist")
RAISED = {s.code for s in SITES}


def test_every_code_is_found_in_the_source():
    assert UNRESOLVED == [], "codes the scan cannot follow; pass the code as a string literal or a parameter"
    assert len(RAISED) > 150


def test_every_raised_code_is_catalogued():
    missing = {s.code: s.where for s in sorted(SITES, key=lambda s: s.where) if s.code not in CODES}
    assert missing == {}, "add these codes to archivist/error_codes.py"


def test_every_catalogued_code_is_raised():
    assert sorted(set(CODES) - RAISED) == [], "retired codes stay out of the catalogue's live list"


def test_codes_are_well_formed_and_in_a_family_of_their_own():
    assert not set(FAMILIES) & set(RULE_FAMILIES)
    for code, entry in CODES.items():
        assert entry.code == code and CODE.fullmatch(code), code
        assert family(code) in FAMILIES, code
        assert code not in RULES
        assert code.split("-")[0] not in RULE_FAMILIES, f"{code} reads like a verify rule"
        assert entry.meaning and entry.trigger and entry.fix, code
    assert len(CODES) == len(error_codes._CODES), "a code is listed twice"


def test_renamed_codes_are_gone():
    assert not set(RENAMED) & RAISED and set(RENAMED.values()) <= set(CODES)
    old = re.compile("|".join(re.escape(c) for c in RENAMED if not c.startswith("REC-")) + r"(?![A-Z0-9-])")
    for path in [*(REPO / "archivist").rglob("*.py"), *(REPO / "docs").glob("*.md"), REPO / "README.md"]:
        if path.name not in ("error_codes.py", "errors.md"):
            assert not old.search(path.read_text("utf-8")), f"{path} still names a renamed code"


def test_exit_status_of_each_code_is_that_of_the_class_raising_it():
    for site in SITES:
        if site.code in CODES:  # an uncatalogued code fails the test above
            assert CODES[site.code].exit == EXITS[site.cls], site


def test_docs_are_generated_from_the_catalogue():
    text = (REPO / "docs" / "errors.md").read_text("utf-8")
    assert text == markdown(), "regenerate docs/errors.md from archivist.error_codes.markdown()"
    for code in CODES:
        section = re.search(rf"^### {code}: .*?(?=^##|\Z)", text, re.S | re.M)
        assert section and "**Triggered by:**" in section.group(0) and "**Fix:**" in section.group(0), code


def test_readme_exit_codes_match_the_catalogue():
    readme = (REPO / "README.md").read_text("utf-8")
    table = re.search(r"^### Exit codes\n(.*?)(?=^#)", readme, re.S | re.M)
    assert table, "README.md has no exit-code table"
    listed = {int(m) for m in re.findall(r"^\| (\d+) \|", table.group(1), re.M)}
    assert listed == {s.status for s in EXIT_STATUSES}
    assert "docs/errors.md" in readme


# -- the scan itself, on made-up source --------------------------------------------------------

def test_the_scan_follows_helpers_methods_and_branches(tmp_path):
    pkg = tmp_path / "archivist"
    pkg.mkdir()
    (pkg / "errors.py").write_text("class ArchivistError(Exception):\n    pass\n"
                                   "class Stop(ArchivistError):\n    exit_code = 130\n")
    (pkg / "a.py").write_text(textwrap.dedent('''
        from archivist.errors import ArchivistError, Stop

        def _fail(what, code="A-DEFAULT"):
            raise ArchivistError(code, what)

        def outer(x, code):
            _fail(x, code)

        class Thing:
            def check(self, ref, code, what):
                raise Stop(code, what)

        def use(t, flag, name):
            _fail("x")
            _fail("y", code="A-KEYWORD")
            outer(1, "A-TWO-DEEP")
            t.check({}, "A-METHOD", "w")
            raise ArchivistError("A-YES" if flag else "A-NO", "m")

        def bad(name):
            raise ArchivistError(name.upper(), "m")

        def reraise(exc):
            raise ArchivistError(exc.code, "again")
    '''))
    sites, unresolved, exits = scan(pkg)
    assert {s.code for s in sites} == {"A-DEFAULT", "A-KEYWORD", "A-TWO-DEEP", "A-METHOD", "A-YES", "A-NO"}
    assert exits == {"ArchivistError": 2, "Stop": 130}
    assert {s.cls for s in sites if s.code == "A-METHOD"} == {"Stop"}
    assert len(unresolved) == 1 and "name.upper()" in unresolved[0]

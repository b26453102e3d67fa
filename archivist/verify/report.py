"""What ``verify`` found: every problem, each with a rule code."""

from __future__ import annotations

from dataclasses import dataclass, field

from archivist.verify.rules import ERROR, RULES, WARNING

MAX_LISTED = 1000  # problems listed per rule; more are counted in ``unlisted``


def printable(text: str) -> str:
    """File names that are not UTF-8 reach Python as surrogates; show them escaped.

    >>> printable("data/caf\\udce9.exr")
    'data/caf\\\\xe9.exr'
    """
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class Problem:
    code: str
    severity: str
    path: str | None
    message: str

    def to_dict(self) -> dict:
        return {"code": self.code, "severity": self.severity, "path": self.path, "message": self.message,
                "title": RULES[self.code].title}


@dataclass
class Report:
    root: str
    problems: list[Problem] = field(default_factory=list)
    archivist: bool = False
    profile: str | None = None  # identifier of the profile checked, if any
    files: int = 0  # files whose digests were computed
    bytes: int = 0
    outputs: int = 0  # inference output frames checked against their run records
    credentials: int = 0  # C2PA credentials validated
    seal: str | None = None  # the package seal: absent, invalid, untrusted or trusted
    listed: dict[str, int] = field(default_factory=dict)  # problems listed, per rule
    unlisted: dict[str, int] = field(default_factory=dict)  # past MAX_LISTED: counted, not kept

    def add(self, code: str, path: str | None, message: str) -> None:
        rule = RULES[code]  # an unregistered code is a bug, not a finding
        if self.full(code):
            # Hostile input (a million bogus manifest lines) must not cost a million problems' memory.
            self.unlisted[code] = self.unlisted.get(code, 0) + 1
            return
        self._keep(Problem(code, rule.severity, None if path is None else printable(path), printable(message)))

    def full(self, code: str) -> bool:
        """True when problems of ``code`` are only counted from now on (a caller may skip phrasing them)."""
        return self.listed.get(code, 0) >= MAX_LISTED

    def _keep(self, problem: Problem) -> None:
        if self.full(problem.code):
            self.unlisted[problem.code] = self.unlisted.get(problem.code, 0) + 1
            return
        self.listed[problem.code] = self.listed.get(problem.code, 0) + 1
        self.problems.append(problem)

    def merge(self, other: Report) -> None:
        """Add what ``other`` found after what this report holds, as if each had been added here in turn."""
        for problem in other.problems:
            self._keep(problem)
        for code, n in other.unlisted.items():
            self.unlisted[code] = self.unlisted.get(code, 0) + n

    def _unlisted(self, severity: str) -> int:
        return sum(n for code, n in self.unlisted.items() if RULES[code].severity == severity)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def codes(self) -> set[str]:
        return {p.code for p in self.problems}

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "path": self.root,
            "archivist": self.archivist,
            "profile": self.profile,
            "counts": {"errors": len(self.errors) + self._unlisted(ERROR),
                       "warnings": len(self.warnings) + self._unlisted(WARNING), "files": self.files,
                       "bytes": self.bytes, "outputs": self.outputs, "credentials": self.credentials},
            "problems": [p.to_dict() for p in self.problems],
            "unlisted": dict(sorted(self.unlisted.items())),
            "seal": self.seal,
        }

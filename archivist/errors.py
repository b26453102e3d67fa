"""Errors with stable codes and exit statuses.

Every failure a person can cause (bad input, a busy package, a damaged
package) is an ``ArchivistError`` with a code that stays the same across
releases, so scripts can match on it.
"""

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C


class ArchivistError(Exception):
    """A failure explained to the user; the package is left as it was."""

    exit_code = EXIT_USAGE

    def __init__(self, code: str, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict:
        out = {"code": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class InputError(ArchivistError):
    """The command's input (frames, options, files) cannot be used."""


class PackageError(ArchivistError):
    """The package cannot be opened or written as asked."""


class LockedError(PackageError):
    """Another writer holds the package."""


class InterruptedTransactionError(PackageError):
    """An earlier command was killed; ``archivist recover`` must run first."""


class UnsafePathError(ArchivistError):
    """A path would escape the package or collide with another."""

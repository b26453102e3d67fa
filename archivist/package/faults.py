"""Fault injection for the crash-consistency tests: the one place a command may be told to die.

A test sets ``ARCHIVIST_FAULT_INJECT=<point>``; the command that reaches
``fault(<point>)`` kills itself with SIGKILL there, as a power cut would,
so the tests can check that every interruption leaves a package that
``recover`` or a re-run brings back. Unset, ``fault`` does nothing.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "ARCHIVIST_FAULT_INJECT"


def fault(point: str) -> None:
    """Die here, at once and without clean-up, if ``ARCHIVIST_FAULT_INJECT`` names ``point``.

    >>> fault("a-point-no-test-names")  # returns: the variable does not name it
    """
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


FAULT_WORKER_ENV = "ARCHIVIST_FAULT_WORKER"


def scope_to_worker(worker: str) -> None:
    """Keep ``ARCHIVIST_FAULT_INJECT`` only in the worker ``ARCHIVIST_FAULT_WORKER`` names, when it names one.

    A run on Ray sends the same environment to every worker, and to the one that replaces a dead worker;
    this lets a test kill exactly one worker process and see its frames made again by another.

    >>> os.environ.pop(FAULT_WORKER_ENV, None); scope_to_worker("w1")  # unset: nothing changes
    """
    wanted = os.environ.get(FAULT_WORKER_ENV)
    if wanted is not None and wanted != worker:
        os.environ.pop(FAULT_ENV, None)

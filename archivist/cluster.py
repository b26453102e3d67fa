"""Ray, the distributed engine ``infer``, ``verify`` and ``train`` can spread their work over.

``--ray`` without an address starts a Ray cluster on this machine for the
one command (or joins the one ``RAY_ADDRESS`` names, as Ray itself does) and
stops it afterwards; ``--ray ADDRESS`` joins a running cluster (``auto``,
``HOST:PORT``) and leaves it running. A process that has already called
``ray.init`` (a test, a notebook) is used as it is.

What every use assumes, and checks where it can:

- a shared filesystem: each worker reads the package at the same path as
  the driver (the command refuses to start a worker that cannot);
- the same archivist and library versions everywhere (``infer`` compares
  them before it writes anything);
- a trusted cluster: Ray moves its arguments and results with pickle
  between the driver and the workers, so every machine in the cluster is
  trusted as the driver is. Only plain data (numbers, strings, lists and
  dicts) crosses here; files are never unpickled.

Ray is imported here only, and only when ``--ray`` is given, so that
``verify`` without it still never imports more than it needs.
"""

from __future__ import annotations

import os
import platform
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archivist.errors import InputError

LOCAL = "local"  # the --ray flag given without an address
HASH_BATCH_BYTES = 64 * 1024 * 1024  # files hashed per Ray task: large enough to hide a task's overhead
HASH_BATCH_FILES = 256


def _ray() -> Any:
    import ray

    return ray


@contextmanager
def connect(address: str | None) -> Iterator[dict]:
    """Join (or start) a Ray cluster for one command; yield its facts for the record.

    Args:
        address: ``None`` or ``"local"``: a cluster on this machine for this command, or the one
            ``RAY_ADDRESS`` names; anything else is handed to ``ray.init(address=...)``.

    Returns:
        A context manager yielding ``{"address", "ray_version", "nodes", "started_here"}``.
    """
    ray = _ray()
    owned = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "configure_logging": False, "log_to_driver": False}
        local = address in (None, "", LOCAL)
        if local and not os.environ.get("RAY_ADDRESS"):
            kwargs["_node_ip_address"] = "127.0.0.1"
        try:
            ray.init(address=None if local else address, **kwargs)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
            where = "a local Ray cluster" if local else f"the Ray cluster at {address}"
            raise InputError("RAY-CONNECT", f"cannot start or join {where}: {type(exc).__name__}: {exc}",
                             hint="check the address ('ray status' on the head node), or leave ADDRESS out to "
                                  "run a cluster on this machine") from None
        owned = True
    try:
        yield facts()
    finally:
        if owned:
            ray.shutdown()


def facts() -> dict:
    """The connected cluster: its GCS address, Ray's version and its live nodes."""
    ray = _ray()
    ctx = ray.get_runtime_context()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return {"address": ctx.gcs_address, "ray_version": ray.__version__, "nodes": len(nodes)}


def resources() -> dict[str, float]:
    return dict(_ray().cluster_resources())


def worker_facts() -> dict:
    """Where the calling Ray worker runs: node id and host name."""
    ray = _ray()
    return {"node_id": ray.get_runtime_context().get_node_id(), "hostname": platform.node(), "pid": os.getpid()}


def actor_died(exc: BaseException) -> bool:
    """Whether ``exc`` says a Ray worker process (actor) is gone, rather than that its task failed."""
    ray = _ray()
    return isinstance(exc, ray.exceptions.RayActorError | ray.exceptions.WorkerCrashedError)


# -- fixity over the cluster -------------------------------------------------------------------------
def _hash_batch(root: str, batch: list[tuple[str, tuple[str, ...]]]) -> list[dict]:
    from archivist.package.hashing import hash_file

    out = []
    for path, algs in batch:
        try:
            fx = hash_file(Path(root) / path, algorithms=algs)
            out.append({"digests": dict(fx.digests), "size": fx.size})
        except OSError as exc:
            out.append({"error": f"[Errno {exc.errno}] {exc.strerror or exc}" if exc.errno else str(exc)})
    return out


def _batches(jobs: list[tuple[str, tuple[str, ...]]], size_of: Callable[[str], int]) -> list[list]:
    batches: list[list] = []
    current: list = []
    nbytes = 0
    for job in jobs:
        current.append(job)
        nbytes += size_of(job[0])
        if nbytes >= HASH_BATCH_BYTES or len(current) >= HASH_BATCH_FILES:
            batches.append(current)
            current, nbytes = [], 0
    if current:
        batches.append(current)
    return batches


def hash_files(root: Path, jobs: Iterable[tuple[str, tuple[str, ...]]], size_of: Callable[[str], int], *,
               in_flight: int | None = None,
               progress: Callable[[int], None] | None = None) -> Iterator[tuple[tuple, Any]]:
    """Hash package files on the cluster's workers; yield ``(job, Fixity or OSError)`` in submission order.

    Args:
        root: the package root, at the same path on every worker.
        jobs: ``(package-relative path, algorithms)`` pairs.
        size_of: the size in bytes of a listed path (to cut the work into batches of similar size).
        in_flight: batches submitted ahead of the one being collected (default: twice the cluster's CPUs),
            so memory stays flat in the number of files.
        progress: called with the bytes of each file hashed.
    """
    from archivist.package.hashing import Fixity

    ray = _ray()
    remote = ray.remote(num_cpus=1, max_retries=2)(_hash_batch)
    batches = deque(_batches(list(jobs), size_of))
    depth = in_flight or max(2, 2 * int(resources().get("CPU", 1)))
    pending: deque = deque()
    root_s = str(root)
    while batches or pending:
        while batches and len(pending) < depth:
            b = batches.popleft()
            pending.append((b, remote.remote(root_s, b)))
        batch, ref = pending.popleft()
        for job, got in zip(batch, ray.get(ref)):
            if "error" in got:
                yield job, OSError(got["error"])
                continue
            if progress:
                progress(got["size"])
            yield job, Fixity(got["size"], got["digests"])

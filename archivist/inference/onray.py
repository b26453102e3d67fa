"""``archivist infer --ray``: the frames of a run as tasks on Ray actors.

Each actor holds one model session (``num_gpus=1`` for the CUDA backends)
and runs ``task.run_frame`` for the frames it is given: it reads the
archived model and the source frames from the package on the shared
filesystem, each checked against its recorded SHA-256, and writes the
frame, its sidecars and (when signing) its credential into the run's
scratch directory, ``.archivist/runs/<run>``, the marker last. Nothing else
is written by a worker.

The driver is the package's only writer: it holds the run's scratch lock
and takes results into the bag in batches as they arrive, in any order,
through the same ``Committer`` a local run uses, which re-hashes every
file against what the worker reported. A worker that dies has its frames
in flight given to the others (their leftovers in the scratch directory
discarded first) and is replaced; a killed driver leaves a run that the
same command resumes, locally or on Ray, as a local run does.

Before anything is written every worker reports its archivist and library
versions, its backend's fingerprint and its instruction-set level; one
that differs from the driver's is refused (``RAY-VERSIONS``), because the
run record promises that its frames are the ones the recorded versions
make.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path

from archivist import cluster
from archivist.errors import ArchivistError, InputError, PackageError
from archivist.inference import backends, task
from archivist.package.faults import fault, scope_to_worker

MACHINE_KEYS = ("torch", "level")  # the instruction-set facts that change an output's bits
START_TIMEOUT = 600.0  # seconds for a worker to start and answer (a runtime_env may be installed first)


def _error(exc: ArchivistError) -> dict:
    return {"error": {"code": exc.code, "message": exc.message, "hint": exc.hint,
                      "package": isinstance(exc, PackageError)}}


def _raise(err: dict, where: str) -> None:
    cls = PackageError if err.get("package") else InputError
    raise cls(err["code"], f"{err['message']} (on worker {where})", hint=err.get("hint"))


class FrameWorker:
    """One Ray actor: one model session, frames in, finished files in the scratch directory out."""

    def __init__(self, root: str, model_ref: dict, backend: str, threads: int | None, worker: str):
        scope_to_worker(worker)
        self.worker = worker
        self.root = Path(root)
        self.failure: dict | None = None
        self.engine = None
        self.spec: task.RunSpec | None = None
        self.signer = None
        try:
            from archivist.package import Package

            if not self.root.is_dir():
                raise InputError("RAY-WORKER", f"the package {root} is not on this machine's filesystem",
                                 hint="infer --ray needs the package on a filesystem every node shares, at the "
                                      "same path")
            data = Package.open(self.root).verified_bytes(model_ref, "INFER-MODEL-ALTERED", "model")
            self.engine = backends.create(backend, data, threads=threads)
        except ArchivistError as exc:
            self.failure = _error(exc)

    def probe(self) -> dict:
        """What must equal the driver's, and where this worker runs."""
        from archivist import machine
        from archivist.inference import runner

        out = {"worker": self.worker, **cluster.worker_facts()}
        if self.failure:
            return {**out, **self.failure}
        facts = machine.cpu_facts()
        return {**out, "versions": runner.versions(), "backend": backends.fingerprint(self.engine.info),
                "machine": {k: facts.get(k) for k in MACHINE_KEYS}}

    def prepare(self, rec: dict, scratch: str, signing: dict | None) -> dict:
        from archivist.inference import runner

        try:
            self.spec = runner.spec_from_record(self.root, rec, Path(scratch), sign=signing is not None)
            if signing is not None:
                from archivist.credentials import resolve_signer

                self.signer = resolve_signer(Path(signing["cert"]), Path(signing["key"]), signing.get("alg"),
                                             signing.get("tsa_url"))
        except ArchivistError as exc:
            return _error(exc)
        return {}

    def run(self, job: dict) -> dict:
        """Make one frame; its files' names and hashes, or the error that stopped it."""
        fj = task.FrameJob(int(job["number"]), job["source_path"], job["source_sha256"])
        try:
            result = task.run_frame(self.spec, fj, self.engine, self.signer)
        except ArchivistError as exc:
            return _error(exc)
        fault(f"infer-ray-worker-stored-{fj.number}")
        return {"number": result.number, "files": result.files, "timings": result.timings, "worker": self.worker}


class Pool:
    """The driver's side: starts the actors, checks them, feeds them frames and collects what they made."""

    def __init__(self, root: Path, model_ref: dict, backend: str, threads: int | None, *, workers: int | None,
                 expected: dict, runtime_env: dict | None = None, in_flight: int = 2):
        self.ray = cluster._ray()
        self.root, self.model_ref, self.backend, self.threads = str(root), model_ref, backend, threads
        self.expected = expected
        self.runtime_env = runtime_env
        self.in_flight = max(1, in_flight)
        self.gpu = backend.endswith("cuda")
        res = cluster.resources()
        if self.gpu and res.get("GPU", 0) < 1:
            raise InputError("RAY-WORKER", f"backend {backend} needs a GPU per worker and the Ray cluster has none",
                             hint="add GPU nodes to the cluster, or use --backend ort-cpu")
        self.size = workers or max(1, int(res.get("GPU" if self.gpu else "CPU", 1)))
        self.replacements = 2 * self.size  # worker deaths tolerated in one session before giving up
        self.counter = 0
        self.actors: dict[str, object] = {}
        self.seen: list[dict] = []  # every worker that started, for the record
        self.lost: list[str] = []
        self.rec_light: dict | None = None
        self.scratch: str | None = None
        self.signing: dict | None = None
        self.actor_class = self.ray.remote(FrameWorker)

    # -- starting -----------------------------------------------------------------------------
    def _new_actor(self):
        self.counter += 1
        name = f"w{self.counter}"
        opts: dict = {"num_cpus": 1, "max_restarts": 0, "max_concurrency": 1}
        if self.gpu:
            opts["num_gpus"] = 1
        if self.runtime_env:
            opts["runtime_env"] = self.runtime_env
        actor = self.actor_class.options(**opts).remote(self.root, self.model_ref, self.backend,
                                                                    self.threads, name)
        return name, actor

    def _check(self, probes: list[tuple[str, object, dict]]) -> None:
        bad = []
        for name, _actor, p in probes:
            if "error" in p:
                e = p["error"]
                raise InputError("RAY-WORKER", f"worker {name} on {p.get('hostname')} cannot start: {e['code']}: "
                                 f"{e['message']}; nothing was written", hint=e.get("hint"))
            for key in ("versions", "backend", "machine"):
                want, got = self.expected[key], p[key]
                if want != got:
                    diffs = [f"{k}: {got.get(k)!r} (driver {want.get(k)!r})" for k in sorted(set(want) | set(got))
                             if want.get(k) != got.get(k)] if isinstance(want, dict) else [f"{got!r}"]
                    bad.append(f"worker {name} on {p.get('hostname')}, {key}: " + ", ".join(diffs))
        if bad:
            raise InputError("RAY-VERSIONS", "the cluster's workers do not run what the driver runs, so their frames "
                             "could differ from the run record's promise; nothing was written:\n  "
                             + "\n  ".join(bad[:20]),
                             hint="install the same archivist, Python libraries and backend on every node")

    def _start(self, n: int) -> list[tuple[str, object]]:
        made = [self._new_actor() for _ in range(n)]
        try:
            # A worker the cluster cannot place (no free GPU, say) would otherwise be waited for for ever.
            probes = self.ray.get([a.probe.remote() for _, a in made], timeout=START_TIMEOUT)
        except Exception as exc:
            self._kill([a for _, a in made])
            raise InputError("RAY-WORKER", f"a Ray worker did not start: {type(exc).__name__}: {exc}; nothing was "
                             "written") from None
        try:
            self._check([(name, a, p) for (name, a), p in zip(made, probes)])
        except BaseException:
            self._kill([a for _, a in made])
            raise
        for (name, _), p in zip(made, probes):
            self.seen.append({"worker": name, "node_id": p["node_id"], "hostname": p["hostname"]})
        return made

    def start(self) -> None:
        """Start the workers and refuse the cluster unless every one matches the driver (before any write)."""
        for name, actor in self._start(self.size):
            self.actors[name] = actor

    def prepare(self, rec: dict, scratch: Path, signing: dict | None) -> None:
        self.rec_light = {k: v for k, v in rec.items() if k not in ("frames", "sessions", "planned_frames")}
        self.scratch, self.signing = str(scratch), signing
        self._prepare(list(self.actors.items()))

    def _prepare(self, actors: list[tuple[str, object]]) -> None:
        for (name, _), out in zip(actors, self.ray.get([a.prepare.remote(self.rec_light, self.scratch, self.signing)
                                                         for _, a in actors])):
            if "error" in out:
                _raise(out["error"], name)

    def describe(self, facts: dict) -> dict:
        return {**facts, "workers": list(self.seen), "workers_lost": list(self.lost)}

    # -- running ------------------------------------------------------------------------------
    def run(self, spec: task.RunSpec, jobs: list[task.FrameJob]) -> Iterator[task.FrameResult]:
        """Yield each frame's result as a worker finishes it, in any order."""
        queue = deque(jobs)
        flying: dict = {}  # object ref -> (worker name, job)
        load = dict.fromkeys(self.actors, 0)

        def feed(name: str) -> None:
            while queue and load[name] < self.in_flight:
                job = queue.popleft()
                ref = self.actors[name].run.remote({"number": job.number, "source_path": job.source_path,
                                                    "source_sha256": job.source_sha256})
                flying[ref] = (name, job)
                load[name] += 1

        for name in list(self.actors):
            feed(name)
        while flying:
            ready, _ = self.ray.wait(list(flying), num_returns=1)
            ref = ready[0]
            name, job = flying.pop(ref)
            try:
                out = self.ray.get(ref)
            except Exception as exc:
                if not cluster.actor_died(exc):
                    raise
                self._lose(name, spec, queue, flying, job)
                del load[name]
                for new, _ in self._replace():
                    load[new] = 0
                if not self.actors:
                    raise InputError("RAY-WORKER", "every Ray worker of the run died; the frames finished before "
                                     "are kept", hint="run the same command again to resume") from None
                for n in list(self.actors):
                    feed(n)
                continue
            load[name] -= 1
            if "error" in out:
                _raise(out["error"], name)
            fault(f"infer-ray-received-{out['number']}")
            yield task.FrameResult(out["number"], out["files"], out["timings"])
            feed(name)

    def _lose(self, name: str, spec: task.RunSpec, queue: deque, flying: dict, job: task.FrameJob) -> None:
        """A worker died: its frames in flight go back to the queue, their leftovers removed first."""
        self.lost.append(name)
        self.actors.pop(name, None)
        back = [job] + [j for r, (n, j) in list(flying.items()) if n == name]
        for r in [r for r, (n, _) in flying.items() if n == name]:
            flying.pop(r)
        for j in back:
            task.discard(spec, j.number)  # the dead process cannot write any more
        queue.extendleft(reversed(back))

    def _replace(self) -> list[tuple[str, object]]:
        if self.replacements <= 0:
            return []
        self.replacements -= 1
        made = self._start(1)
        self._prepare(made)
        for name, actor in made:
            self.actors[name] = actor
        return made

    def _kill(self, actors: list) -> None:
        for a in actors:
            try:
                self.ray.kill(a)
            except Exception:  # already gone
                pass

    def close(self) -> None:
        self._kill(list(self.actors.values()))
        self.actors = {}

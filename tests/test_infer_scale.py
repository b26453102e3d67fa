"""What keeps a feature-length infer run linear: commit batches that grow with the record, and the pipeline's sizing."""

from __future__ import annotations

from archivist.inference import pipeline, runner


def _committer(committed: int, pending: int) -> runner.Committer:
    c = runner.Committer(None, None, {"frames": [{"number": n} for n in range(committed)]}, {})
    c.pending = list(range(pending))
    return c


def test_batches_grow_with_the_committed_frames():
    assert _committer(0, 8).due(8, 120.0)
    assert not _committer(0, 7).due(8, 120.0)
    # 8,000 frames committed: a batch holds at least 1,000, whatever --commit-every says ...
    assert not _committer(8000, 999).due(8, 120.0)
    assert _committer(8000, 1000).due(8, 120.0)
    # ... and after the commit interval too
    late = _committer(8000, 999)
    late.last -= 1000
    assert not late.due(8, 120.0)
    late.pending.append(0)
    assert late.due(8, 120.0)


def test_a_whole_run_writes_the_record_a_bounded_number_of_times():
    committed, written, commits = 0, 0, 0
    while committed < 130_000:
        c = _committer(committed, 0)
        while not c.due(8, float("inf")):
            c.pending.append(0)
        committed += len(c.pending)
        written += committed
        commits += 1
    assert commits < 100 and written < (runner.RECORD_GROWTH + 2) * committed


def test_the_pipeline_uses_the_hosts_cores_within_its_memory():
    frame = 2048 * 1556 * 3 * 4
    assert pipeline.plan(frame, cores=2, available=16 << 30) == pipeline.Plan(1, 2, 2, 2)
    big = pipeline.plan(frame, cores=16, available=64 << 30)
    assert big.write_workers == 15 and big.write_behind >= big.write_workers
    small = pipeline.plan(frame, cores=16, available=200 << 20)
    held = small.read_ahead * pipeline.FRAMES_HELD_READING + small.write_behind * pipeline.FRAMES_HELD_WRITING
    assert small.read_ahead == small.write_behind == 1 or held * frame <= (200 << 20) * pipeline.MEMORY_SHARE
    assert pipeline.plan(frame, queue_depth=1, cores=2, available=16 << 30) == pipeline.Plan(1, 1, 1, 1)

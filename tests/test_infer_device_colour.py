"""infer with its colour conversions on the model's device: the same frames as the host path, within the recorded
tolerance, recorded as such, reproducible; refused with a named error where it cannot be done."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from support.infer import model_package_copy, package_files  # noqa: E402

from archivist.errors import InputError  # noqa: E402
from archivist.imaging import oiio  # noqa: E402
from archivist.inference import backends, reproduce, runner  # noqa: E402
from archivist.package import Package  # noqa: E402
from archivist.package.layout import Layout  # noqa: E402


def _run(root, **kw) -> tuple[dict, list[np.ndarray]]:
    result = runner.infer(root, runner.InferOptions(frames="1001-1002", threads=1, **kw))
    rec = Package.open(root).read_record(Layout.record("inference", result["run"]), runner.LABEL)
    # The path taken, from the stages timed: the device path times its conversions under their own names.
    assert ("device_colour" in result["timings"]) == bool(rec["settings"]["colour"].get("on_device"))
    return rec, [oiio.read(root / f["output"]["path"]) for f in rec["frames"]]


def _agree(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    for x, y in zip(a, b, strict=True):
        result = backends.compare(x, y, runner.DEFAULT_TOLERANCE)
        assert result["passed"], result


def test_device_conversion_on_cpu_tensors_matches_the_host_path_and_reproduces(tmp_path_factory, tmp_path):
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    host, host_frames = _run(root, backend="torch-cpu")
    assert "on_device" not in host["settings"]["colour"]  # torch on the CPU converts on the host by default
    dev, dev_frames = _run(root, backend="torch-cpu", colour_on_device=True)
    assert dev["settings"]["colour"]["on_device"] is True and dev["settings_digest"] != host["settings_digest"]
    _agree(dev_frames, host_frames)
    # The recorded pixel hash is the decoded file's, and the same backend reproduces the run bit for bit.
    from archivist.imaging.pixels import pixel_hash

    for f in dev["frames"]:
        assert f["output"]["pixels"]["sha256"] == pixel_hash(root / f["output"]["path"])
    same = reproduce.reproduce(root, run=dev["id"], threads=1)
    assert same["ok"] and same["expectation"] == "bit-identical", same
    other = reproduce.reproduce(root, run=dev["id"], backend="ort-cpu")  # converts on the host instead
    assert other["ok"] and other["expectation"] == "within tolerance", other


def test_asking_for_it_where_it_cannot_be_done_is_refused_and_writes_nothing(tmp_path_factory, tmp_path):
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    before = package_files(root)
    with pytest.raises(InputError) as exc:
        runner.infer(root, runner.InferOptions(frames="1001", backend="ort-cpu", colour_on_device=True))
    assert exc.value.code == "INFER-COLOUR-DEVICE" and "host arrays" in exc.value.message
    with pytest.raises(InputError) as exc:
        runner.infer(root, runner.InferOptions(frames="1001", backend="torch-cpu", colour_on_device=True,
                                               colour_space="ACEScc"))
    assert exc.value.code == "INFER-COLOUR-DEVICE" and "ACEScc" in exc.value.message
    assert package_files(root) == before


@pytest.mark.gpu
@pytest.mark.skipif(not backends.cuda_available(), reason="needs a CUDA device")
def test_torch_cuda_converts_on_the_gpu_within_the_tolerance_of_the_cpu_run(tmp_path_factory, tmp_path):
    root = model_package_copy(tmp_path_factory, tmp_path / "pkg")
    cpu, cpu_frames = _run(root, backend="ort-cpu")
    gpu, gpu_frames = _run(root, backend="torch-cuda")
    assert gpu["settings"]["colour"]["on_device"] is True and "on_device" not in cpu["settings"]["colour"]
    _agree(gpu_frames, cpu_frames)
    same = reproduce.reproduce(root, run=gpu["id"])
    assert same["ok"] and same["expectation"] == "bit-identical", same

"""Backends: the PyTorch interpreter of the archived ONNX graph against onnxruntime CPU, selection, parity."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from support.infer import conv_stack_model, unet_model, ycc_image

from archivist.errors import InputError
from archivist.inference import backends, onnx_torch

cuda = pytest.mark.skipif(not backends.cuda_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def unet() -> bytes:
    return unet_model(seed=1)


def test_the_interpreter_covers_every_operator_of_a_unet_graph(unet):
    ops = {n.op_type for n in onnx.load_from_string(unet).graph.node}
    assert {"Conv", "ConvTranspose", "Resize", "Concat", "Slice"} <= ops
    assert ops <= set(onnx_torch.supported_ops())


@pytest.mark.parametrize("shape", [(1, 3, 64, 96), (2, 3, 48, 80), (1, 3, 52, 68)])
def test_torch_cpu_backend_matches_onnxruntime(unet, shape):
    ort = backends.create("ort-cpu", unet, threads=1)
    tch = backends.create("torch-cpu", unet, threads=1)
    x = np.stack([ycc_image(shape[2], shape[3])] * shape[0])
    want, got = ort(x), tch(x)
    assert got.shape == want.shape == shape
    assert np.array_equal(got[:, 0], x[:, 0])  # the luma passes through untouched
    result = backends.compare(got, want, backends.PARITY_TOLERANCE)
    assert result["passed"], result
    assert result["max_abs_diff"] < 1e-5


def test_parity_record_names_the_reference_and_the_tile(unet):
    ort = backends.create("ort-cpu", unet)
    tch = backends.create("torch-cpu", unet)
    x = ycc_image(64, 64)[None]
    rec = backends.parity(tch, ort, x, where={"x": 0, "y": 0, "width": 64, "height": 64, "frame": 1001})
    assert rec["reference"] == "ort-cpu" and rec["passed"] is True
    assert rec["tile"]["frame"] == 1001 and rec["shape"] == [1, 3, 64, 64]
    assert tch.info["engine"]["name"] == "torch" and "archived ONNX graph" in tch.info["settings"]["executes"]


def test_a_backend_that_disagrees_fails_parity():
    ort = backends.create("ort-cpu", conv_stack_model(seed=0))
    other = backends.create("ort-cpu", conv_stack_model(seed=1))  # another model: must not pass
    rec = backends.parity(other, ort, ycc_image(32, 32)[None])
    assert rec["passed"] is False and rec["mismatched"] > 0


def test_unsupported_operators_are_refused_before_running():
    node = helper.make_node("Det", ["x"], ["y"])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    with pytest.raises(InputError) as exc:
        onnx_torch.OnnxTorch(helper.make_model(g))
    assert exc.value.code == "INFER-TORCH-OP" and "Det" in exc.value.message


def test_interpreter_handles_padding_pooling_and_shape_operators():
    # Asymmetric pads, reflect padding, average pooling and a Reshape driven by Shape, against onnxruntime.
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((3, 3, 3, 3)).astype(np.float32), "w")
    pads = numpy_helper.from_array(np.array([0, 0, 1, 2, 0, 0, 1, 2], np.int64), "pads")
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["p"], mode="reflect"),
        helper.make_node("Conv", ["p", "w"], ["c"], pads=[0, 1, 1, 0], kernel_shape=[3, 3]),
        helper.make_node("AveragePool", ["c"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Slice", ["a", "zero", "s_hw", "axes"], ["y"]),
    ]
    zero = numpy_helper.from_array(np.array([0, 0], np.int64), "zero")
    axes = numpy_helper.from_array(np.array([2, 3], np.int64), "axes")
    nodes.insert(4, helper.make_node("Slice", ["s", "two", "four"], ["s_hw"]))
    two = numpy_helper.from_array(np.array([2], np.int64), "two")
    four = numpy_helper.from_array(np.array([4], np.int64), "four")
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, pads, zero, axes, two, four])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    data = model.SerializeToString()
    x = ycc_image(20, 24)[None]
    want = backends.create("ort-cpu", data)(x)
    got = backends.create("torch-cpu", data)(x)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-5


def test_choose():
    assert backends.choose("auto", "cpu") == "ort-cpu"
    assert backends.choose("torch-cpu", "auto") == "torch-cpu"
    with pytest.raises(InputError) as exc:
        backends.choose("torch-cpu", "cuda")
    assert exc.value.code == "INFER-BACKEND"
    if not backends.cuda_available():
        with pytest.raises(InputError) as exc:
            backends.choose("torch-cuda", "auto")
        assert exc.value.code == "INFER-DEVICE"
        with pytest.raises(InputError):
            backends.choose("auto", "cuda")
        assert backends.choose("auto", "auto") == "ort-cpu"
    if not backends.ort_gpu_providers():
        with pytest.raises(InputError) as exc:
            backends.choose("ort-cuda", "auto")
        assert "onnxruntime-gpu" in exc.value.hint


def test_compare_counts_mismatches_per_million_as_bioimage_io_does():
    e = np.ones(1_000_000, np.float32)
    a = e.copy()
    a[:50] += 0.01
    tol = {"absolute_tolerance": 1e-4, "relative_tolerance": 1e-3, "mismatched_elements_per_million": 100}
    r = backends.compare(a, e, tol)
    assert r["mismatched"] == 50 and r["passed"]
    a[:200] += 0.01
    assert not backends.compare(a, e, tol)["passed"]
    nan = e.copy()
    nan[0] = np.nan
    assert backends.compare(nan, e, {**tol, "mismatched_elements_per_million": 0})["mismatched"] == 1


@cuda
def test_torch_cuda_backend_matches_onnxruntime_cpu(unet):
    ort = backends.create("ort-cpu", unet)
    gpu = backends.create("torch-cuda", unet)
    x = ycc_image(64, 96)[None]
    rec = backends.parity(gpu, ort, x)
    assert rec["passed"], rec
    assert gpu.info["settings"]["tf32"] is False


@pytest.mark.parametrize("mode", ["reflect", "edge"])
def test_a_pad_of_the_width_alone_runs_as_onnxruntime_runs_it(mode):
    # A separable blur pads one spatial axis at a time; torch's reflect/replicate want both spatial pairs.
    pads = numpy_helper.from_array(np.array([0, 0, 0, 3, 0, 0, 0, 3], np.int64), "pads")
    g = helper.make_graph([helper.make_node("Pad", ["x", "pads"], ["y"], mode=mode)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [pads])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    data = model.SerializeToString()
    x = ycc_image(10, 12)[None]
    want = backends.create("ort-cpu", data)(x)
    got = backends.create("torch-cpu", data)(x)
    assert got.shape == want.shape == (1, 3, 10, 18)
    assert np.array_equal(got, want)


def test_onnxruntime_memory_settings_change_no_bit_and_are_left_out_of_the_fingerprint(unet):
    import onnxruntime as ort

    inputs = [ycc_image(64, 96, seed=1)[None], ycc_image(48, 80, seed=2)[None]]
    outputs = {}
    for arena in (False, True):
        for pattern in (False, True):
            opts = ort.SessionOptions()
            opts.enable_cpu_mem_arena, opts.enable_mem_pattern, opts.intra_op_num_threads = arena, pattern, 1
            session = ort.InferenceSession(unet, sess_options=opts, providers=["CPUExecutionProvider"])
            name = session.get_inputs()[0].name
            outputs[arena, pattern] = [session.run(None, {name: x})[0].view(np.uint32) for x in inputs * 2]
    first = outputs[False, True]
    assert all(all(np.array_equal(a, b) for a, b in zip(out, first)) for out in outputs.values())
    # So a run recorded with the arena off promises the same bits as one with it on.
    info = backends.create("ort-cpu", unet, threads=1).info
    assert info["settings"]["enable_cpu_mem_arena"] and not info["settings"]["enable_mem_pattern"]
    older = {**info, "settings": {k: v for k, v in info["settings"].items() if k != "enable_mem_pattern"}}
    older["settings"]["enable_cpu_mem_arena"] = False
    assert backends.fingerprint(older) == backends.fingerprint(info)

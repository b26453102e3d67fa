"""Helpers for the inference tests: tiny real ONNX models built with onnx.helper or exported from torch."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _serialise(graph) -> bytes:
    """An opset-20 model around ``graph``, checked as the archived models are."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()

def conv_stack_model(channels: int = 3, layers: int = 2, seed: int = 0) -> bytes:
    """A real ONNX model: ``layers`` 3x3 convolutions with LeakyReLU, (N, C, H, W) -> (N, C, H, W).

    Receptive-field radius: ``layers`` pixels. Weights are random but fixed by ``seed``.
    """
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    prev = "x"
    for i in range(layers):
        w = (rng.standard_normal((channels, channels, 3, 3)) * 0.3).astype(np.float32)
        b = (rng.standard_normal(channels) * 0.05).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1],
                                      kernel_shape=[3, 3]))
        out = "y" if i == layers - 1 else f"a{i}"
        nodes.append(helper.make_node("LeakyRelu", [f"c{i}"], [out], alpha=0.1))
        prev = out
    dims = ["n", channels, "h", "w"]
    graph = helper.make_graph(nodes, "conv_stack", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)], inits)
    return _serialise(graph)


def unet_model(seed: int = 0) -> bytes:
    """A small U-Net-shaped ONNX graph with the operators torch's exporter emits for archivist's models
    (strided and transposed convolutions, pooling, a size-driven bilinear Resize, Shape/Slice, Concat and
    element-wise arithmetic), random weights so every operator matters. Luma passes through; chroma changes."""
    rng = np.random.default_rng(seed)
    inits = []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def weight(name, shape, scale=0.3):
        return const(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    n = helper.make_node
    nodes = [
        n("Conv", ["ycc", weight("w_stem", (8, 3, 4, 4)), weight("b_stem", (8,), 0.05)], ["stem"],
          kernel_shape=[4, 4], strides=[4, 4]),
        n("LeakyRelu", ["stem"], ["a"], alpha=0.1),
        n("Conv", ["a", weight("w_down", (16, 8, 3, 3)), weight("b_down", (16,), 0.05)], ["down"],
          kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        n("LeakyRelu", ["down"], ["b"], alpha=0.1),
        n("MaxPool", ["b"], ["c"], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1]),
        n("ConvTranspose", ["c", weight("w_up", (16, 8, 2, 2)), weight("b_up", (8,), 0.05)], ["up"],
          kernel_shape=[2, 2], strides=[2, 2]),
        n("Shape", ["a"], ["a_hw"], start=2, end=4),
        n("Slice", ["up", const("zeros", np.array([0, 0], np.int64)), "a_hw", const("axes", np.array([2, 3], np.int64))],
          ["u"]),
        n("AveragePool", ["a"], ["pooled"], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1]),
        n("Concat", ["u", "pooled"], ["cat"], axis=1),
        n("Conv", ["cat", weight("w_mix", (8, 16, 3, 3)), weight("b_mix", (8,), 0.05)], ["mix"],
          kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("Tanh", ["mix"], ["m"]),
        n("Conv", ["m", weight("w_head", (2, 8, 1, 1)), weight("b_head", (2,), 0.05)], ["head"], kernel_shape=[1, 1]),
        n("Shape", ["ycc"], ["nc"], start=0, end=2),
        n("Shape", ["ycc"], ["hw"], start=2, end=4),
        n("Slice", ["nc", const("zero1", np.array([0], np.int64)), const("one1", np.array([1], np.int64))], ["nn"]),
        n("Concat", ["nn", const("two1", np.array([2], np.int64)), "hw"], ["size"], axis=0),
        n("Resize", ["head", "", "", "size"], ["field"], mode="linear", coordinate_transformation_mode="half_pixel"),
        n("Slice", ["ycc", const("c0", np.array([0], np.int64)), const("c1", np.array([1], np.int64)),
                    const("ax1", np.array([1], np.int64))], ["y"]),
        n("Slice", ["ycc", "c1", const("c3", np.array([3], np.int64)), "ax1"], ["cbcr"]),
        n("Sigmoid", ["field"], ["gate"]),
        n("Mul", ["cbcr", "gate"], ["g1"]),
        n("Mul", ["g1", const("two", np.array(2.0, np.float32))], ["g2"]),
        n("Abs", ["field"], ["absf"]),
        n("Add", ["absf", const("onef", np.array(1.0, np.float32))], ["den"]),
        n("Div", ["field", "den"], ["soft"]),
        n("Sub", ["g2", "soft"], ["chroma"]),
        n("Concat", ["y", "chroma"], ["restored"], axis=1),
    ]
    dims = ["batch", 3, "height", "width"]
    graph = helper.make_graph(nodes, "unet", [helper.make_tensor_value_info("ycc", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("restored", TensorProto.FLOAT, dims)], inits)
    return _serialise(graph)


def ycc_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A real photograph as model input, (3, H, W) Y'CbCr float32."""
    from archivist.imaging import colour
    from support.common import photo

    img = photo("astronaut")[100:100 + h, 150:150 + w]
    assert img.shape[:2] == (h, w)
    return np.ascontiguousarray(colour.rgb_to_ycbcr(img).astype(np.float32).transpose(2, 0, 1))


# -- a package with a real model, made by the real pipeline ------------------------------------------------
def build_model_package(root, *, frames: int = 4, size=(64, 96), steps: int = 6, mode: str = "chroma"):
    """A package with a faded 16mm scan, a DVD reference, a dataset, a short training run and its ONNX export.

    Everything goes through archivist's own library calls (``dataset.build``, ``training.train``,
    ``export.export``), so the model the tests run is exactly what a user's package holds.
    """
    from archivist import dataset
    from archivist.package import Package
    from archivist.training import export
    from archivist.training import run as training
    from support.dataset import add_pair_elements, write_pair_elements

    src, ref = write_pair_elements(root.parent / f"{root.name}-frames", n=frames, size=size,
                                   reference_size=(size[0] // 2, size[1] // 2))
    pkg = Package.create(root, title="Test film", organization="Test Archive", recovery="chroma")
    add_pair_elements(pkg, src, ref)
    dataset.build(pkg, source="print16", reference="dvd", frames=[1001, 1001 + frames - 1],
                  **({"median_size": 0} if mode == "spatial" else {}))  # spatial learns the detail a median removes
    training.train(pkg, training.TrainSettings(mode=mode, size="small", steps=steps, patch=32, batch=2,
                                               checkpoint_every=steps, contact_every=0, threads=1, device="cpu"))
    export.export(pkg, checkpoint=steps)  # the trained weights, whatever the held-out frames chose
    return pkg


def package_files(root) -> dict[str, bytes]:
    """Every file of a package (hidden working files included), by relative path."""
    from pathlib import Path

    root = Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


_BUILT: dict = {}


def model_package_copy(tmp_path_factory, dest):
    """A fresh copy of one model package built once per test run (the real pipeline takes a while)."""
    import shutil

    from support.shared import built_once

    if "root" not in _BUILT:
        folder, _ = built_once(tmp_path_factory, "shared-model-package",
                               lambda work: str(build_model_package(work / "pkg").root))
        _BUILT["root"] = folder / "pkg"
    shutil.copytree(_BUILT["root"], dest, symlinks=True)
    return dest

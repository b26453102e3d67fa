"""Hostile material built for real: ONNX models with external data or custom domains, and their verify fixtures."""

from __future__ import annotations

import os

import onnx
from helpers_infer import conv_stack_model
from onnx import external_data_helper, helper


def external_data_model(location: str = "big.bin") -> tuple[bytes, bytes]:
    """A real model whose first weight lives in ``location``; returns (model bytes, that file's bytes)."""
    model = onnx.load_from_string(conv_stack_model())
    w = model.graph.initializer[0]
    raw = onnx.numpy_helper.to_array(w).tobytes()
    external_data_helper.set_external_data(w, location=location, offset=0, length=len(raw))
    w.data_location = onnx.TensorProto.EXTERNAL
    w.ClearField("raw_data")
    return model.SerializeToString(), raw


def custom_domain_model() -> bytes:
    """A real model with one node of a domain that needs a custom-op library."""
    model = onnx.load_from_string(conv_stack_model())
    model.graph.node.append(helper.make_node("Mystery", ["y"], ["z"], domain="com.example.ops"))
    model.graph.output[0].name = "z"
    model.opset_import.append(helper.make_opsetid("com.example.ops", 1))
    return model.SerializeToString()


# -- verify fixtures (tests/test_verify_rules.py) ---------------------------------------------------
def pkg_005_link_in_working_directory(bags):
    root = bags.package()
    outside = bags._dest("outside")
    outside.mkdir()
    (root / ".archivist").mkdir()
    os.symlink(outside, root / ".archivist" / "runs")
    return root, {}


def mod_001_model_with_external_data(bags):
    data, _ = external_data_model()
    return bags.plain({"model/model.onnx": data}), {}


def mod_002_model_with_custom_domain(bags):
    return bags.plain({"model/model.onnx": custom_domain_model()}), {}


FIXTURES = {
    "PKG-005": pkg_005_link_in_working_directory,
    "MOD-001": mod_001_model_with_external_data,
    "MOD-002": mod_002_model_with_custom_domain,
}

__all__ = ["FIXTURES", "custom_domain_model", "external_data_model"]

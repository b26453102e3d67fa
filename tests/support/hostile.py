"""Hostile material built for real: ONNX models with external data or custom domains, and their verify fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import onnx
from onnx import external_data_helper, helper

from support.infer import conv_stack_model


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


def c2pa_007_seal_removed_by_a_later_command(bags):
    from support.verify_outputs import copy_signed

    signed = bags.signed()
    root = copy_signed(signed, bags._dest("signed"), seal=True)
    # A later command changes the sealed package; its commit removes the seal and its event says so.
    _add_telecine(root)
    return root, {"trust_anchors_pem": signed.ca}


def _add_telecine(root: Path) -> None:
    from archivist.package.model import Package
    from support.common import write_shot

    frames = root.parent / f"{root.name}-ref"
    write_shot(frames, ext="png", stem="tc", start=1, n=1)
    Package.open(root).add_element(role="reference", element="telecine", paths=[frames],
                                   description="PAL telecine 1998", training_use="authorised")


def c2pa_008_seal_required(bags):
    return bags.package(), {"require_seal": True}


FIXTURES = {
    "PKG-005": pkg_005_link_in_working_directory,
    "MOD-001": mod_001_model_with_external_data,
    "MOD-002": mod_002_model_with_custom_domain,
    "C2PA-007": c2pa_007_seal_removed_by_a_later_command,
    "C2PA-008": c2pa_008_seal_required,
}

__all__ = ["FIXTURES", "custom_domain_model", "external_data_model"]

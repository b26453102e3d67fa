"""Inference through the package, with provenance on every output.

* ``archived``: the archived ONNX model, hash-checked and ``onnx.checker``-checked;
* ``backends``: onnxruntime CPU, onnxruntime CUDA/TensorRT, PyTorch running the
  ONNX graph (``onnx_torch``), and the parity check against onnxruntime CPU;
* ``tiling``: overlapping tiles with seamless blending;
* ``frames``: ``--frames`` ranges and ``--sample``;
* ``task``: one frame as a pure function that writes its results atomically;
* ``pipeline``: reading, inference and writing of successive frames at once;
* ``provenance``, ``xmp``: EXR header keys and JSON, text and XMP sidecars;
* ``policy``: the IPTC digital source type policy;
* ``aces``: the conversion to ACES 2065-1 with OpenColorIO's built-in config;
* ``runner``: ``archivist infer``, written into the package in batches, resumable;
* ``reproduce``: ``archivist reproduce``.

Nothing heavy is imported here, so ``archivist --help`` stays fast.
"""

# piz, the default, is lossless and read by every OpenEXR tool; htj2k256 (OpenEXR 3.4 and later) is
# lossless too, smaller and faster to encode and decode, but older readers cannot open it; dwaa is lossy.
COMPRESSIONS = ("piz", "dwaa", "htj2k256")
DEFAULT_COMMIT_EVERY = 8

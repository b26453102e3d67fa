"""inference.heap: large native blocks stay out of glibc's heap once the mmap threshold is fixed."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support.infer import conv_stack_model

from archivist.inference import heap

# Frees an mmapped 4 MiB block (which raises glibc's dynamic threshold above it), then asks for a
# 243 KB block, the size of one of onnxruntime's leaked tensors, and says whether it came from the heap.
PROBE = r"""
import ctypes, sys
from archivist.inference import heap
if sys.argv[1] == "fixed":
    assert heap.fix_mmap_threshold()
elif sys.argv[1] != "dynamic":  # a model: build the onnxruntime backend, as infer does
    from archivist.inference import backends
    backends.create("ort-cpu", open(sys.argv[1], "rb").read(), threads=1)
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(4 << 20))
p = libc.malloc(242944)
for line in open("/proc/self/maps"):
    if line.rstrip().endswith("[heap]"):
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        print("heap" if lo <= p < hi else "mapped")
        break
else:
    print("mapped")
"""

glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or not heap.is_glibc(),
                           reason="glibc's malloc only")


def _where(mode: str) -> str:
    return subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                          check=True).stdout.strip()


@glibc
def test_a_fixed_threshold_keeps_a_tensor_sized_block_out_of_the_heap():
    # Without it, glibc's dynamic threshold puts the block in the heap, where freed aligned blocks
    # of that size were measured piling up in a long run.
    assert _where("dynamic") == "heap"
    assert _where("fixed") == "mapped"


@glibc
def test_the_onnxruntime_backend_fixes_it(tmp_path):
    model = tmp_path / "model.onnx"
    model.write_bytes(conv_stack_model())
    assert _where(str(model)) == "mapped"

"""A small interpreter that runs an ONNX graph's operators with PyTorch.

The PyTorch backend executes the archived ONNX file itself: the weights are
the file's initializers and the computation is the file's graph, node by
node, so what runs on a GPU is the archived model and not a re-built Python
class that might have drifted from it. It covers the operator set that
archivist's exported models use (convolutions, pooling, resampling, the
element-wise arithmetic and shape operators the exporter emits) and more
of the common image-model operators; a graph with any other operator is
refused when the interpreter is built, before a frame is touched.

Shape arithmetic (``Shape``, ``Slice`` indices, ``Reshape`` targets) stays
in small int64 CPU tensors; image tensors live on the chosen device.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

from archivist.errors import InputError

_OPS: dict[str, Callable] = {}


def op(*names):
    def register(fn):
        for n in names:
            _OPS[n] = fn
        return fn
    return register


def supported_ops() -> list[str]:
    return sorted(_OPS)


def _ints(t) -> list[int]:
    return [int(v) for v in (t.tolist() if isinstance(t, torch.Tensor) else t)]


def _attrs(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


# -- element-wise ------------------------------------------------------------------
def _same_device(a, b):
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.device != b.device:
        dev = a.device if a.is_floating_point() else b.device
        return a.to(dev), b.to(dev)
    return a, b


def _binary(fn):
    def run(inputs, attrs):
        a, b = _same_device(inputs[0], inputs[1])
        return fn(a, b)
    return run


op("Add")(_binary(torch.add))
op("Sub")(_binary(torch.sub))
op("Mul")(_binary(torch.mul))
op("Pow")(_binary(torch.pow))
op("Equal")(_binary(torch.eq))
op("Less")(_binary(torch.lt))
op("Greater")(_binary(torch.gt))
op("LessOrEqual")(_binary(torch.le))
op("GreaterOrEqual")(_binary(torch.ge))
op("And")(_binary(torch.logical_and))
op("Or")(_binary(torch.logical_or))


@op("Div")
def _div(inputs, attrs):
    a, b = _same_device(inputs[0], inputs[1])
    if not a.is_floating_point():
        return torch.div(a, b, rounding_mode="trunc")
    return a / b


_UNARY = {
    "Relu": torch.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "Exp": torch.exp, "Log": torch.log,
    "Sqrt": torch.sqrt, "Abs": torch.abs, "Neg": torch.neg, "Reciprocal": torch.reciprocal, "Floor": torch.floor,
    "Ceil": torch.ceil, "Erf": torch.erf, "Not": torch.logical_not, "Identity": lambda x: x, "Sin": torch.sin,
    "Cos": torch.cos, "Softplus": F.softplus, "Round": torch.round, "Sign": torch.sign,
}
for _name, _fn in _UNARY.items():
    op(_name)(lambda inputs, attrs, _fn=_fn: _fn(inputs[0]))


@op("LeakyRelu")
def _leaky(inputs, attrs):
    return F.leaky_relu(inputs[0], attrs.get("alpha", 0.01))


@op("Elu")
def _elu(inputs, attrs):
    return F.elu(inputs[0], attrs.get("alpha", 1.0))


@op("HardSigmoid")
def _hardsigmoid(inputs, attrs):
    return torch.clamp(attrs.get("alpha", 0.2) * inputs[0] + attrs.get("beta", 0.5), 0.0, 1.0)


@op("Gelu")
def _gelu(inputs, attrs):
    return F.gelu(inputs[0], approximate=attrs.get("approximate", b"none").decode()
                  if isinstance(attrs.get("approximate"), bytes) else attrs.get("approximate", "none"))


@op("Clip")
def _clip(inputs, attrs):
    x = inputs[0]
    lo = inputs[1] if len(inputs) > 1 and inputs[1] is not None else None
    hi = inputs[2] if len(inputs) > 2 and inputs[2] is not None else None
    return torch.clamp(x, None if lo is None else lo.item(), None if hi is None else hi.item())


@op("Max", "Min", "Sum", "Mean")
def _variadic(inputs, attrs, *, _kind=None):
    raise NotImplementedError  # replaced below


def _make_variadic(kind):
    def run(inputs, attrs):
        out = inputs[0]
        for x in inputs[1:]:
            out, x = _same_device(out, x)
            out = {"Max": torch.maximum, "Min": torch.minimum, "Sum": torch.add, "Mean": torch.add}[kind](out, x)
        return out / len(inputs) if kind == "Mean" else out
    return run


for _k in ("Max", "Min", "Sum", "Mean"):
    _OPS[_k] = _make_variadic(_k)


@op("Where")
def _where(inputs, attrs):
    c, a, b = inputs
    a, b = _same_device(a, b)
    return torch.where(c.to(a.device), a, b)


@op("Cast")
def _cast(inputs, attrs):
    dtype = {1: torch.float32, 6: torch.int32, 7: torch.int64, 9: torch.bool, 10: torch.float16,
             11: torch.float64, 16: torch.bfloat16}.get(attrs["to"])
    if dtype is None:
        raise InputError("INFER-TORCH-OP", f"Cast to ONNX type {attrs['to']} is not supported")
    return inputs[0].to(dtype)


# -- shapes -------------------------------------------------------------------------
@op("Shape")
def _shape(inputs, attrs):
    shape = list(inputs[0].shape)
    start, end = attrs.get("start", 0), attrs.get("end", len(shape))
    return torch.tensor(shape[start:end], dtype=torch.int64)


@op("Size")
def _size(inputs, attrs):
    return torch.tensor(inputs[0].numel(), dtype=torch.int64)


@op("Reshape")
def _reshape(inputs, attrs):
    x, shape = inputs[0], _ints(inputs[1])
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


@op("Flatten")
def _flatten(inputs, attrs):
    x = inputs[0]
    axis = attrs.get("axis", 1) % (x.dim() or 1)
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


@op("Squeeze")
def _squeeze(inputs, attrs):
    x = inputs[0]
    axes = _ints(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else attrs.get("axes")
    if axes is None:
        return x.squeeze()
    for a in sorted((a % x.dim() for a in axes), reverse=True):
        x = x.squeeze(a)
    return x


@op("Unsqueeze")
def _unsqueeze(inputs, attrs):
    x = inputs[0]
    axes = _ints(inputs[1]) if len(inputs) > 1 else attrs["axes"]
    rank = x.dim() + len(axes)
    for a in sorted(a % rank for a in axes):
        x = x.unsqueeze(a)
    return x


@op("Concat")
def _concat(inputs, attrs):
    parts = [t for t in inputs if t is not None]
    dev = next((t.device for t in parts if t.is_floating_point()), parts[0].device)
    return torch.cat([t.to(dev) for t in parts], dim=attrs["axis"])


@op("Split")
def _split(inputs, attrs):
    x, axis = inputs[0], attrs.get("axis", 0)
    if len(inputs) > 1 and inputs[1] is not None:
        sizes = _ints(inputs[1])
    elif "split" in attrs:
        sizes = list(attrs["split"])
    else:
        n = attrs["num_outputs"]
        chunk = math.ceil(x.shape[axis] / n)
        sizes = [min(chunk, x.shape[axis] - i * chunk) for i in range(n)]
    return list(torch.split(x, sizes, dim=axis))


@op("Slice")
def _slice(inputs, attrs):
    x = inputs[0]
    starts, ends = _ints(inputs[1]), _ints(inputs[2])
    axes = _ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None else list(range(len(starts)))
    steps = _ints(inputs[4]) if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.dim()
    for s, e, a, st in zip(starts, ends, axes, steps):
        if st <= 0:
            raise InputError("INFER-TORCH-OP", "Slice with a negative step is not supported")
        n = x.shape[a]
        s = max(0, min(n, s + n if s < 0 else s))
        e = max(0, min(n, e + n if e < 0 else e))
        index[a % x.dim()] = slice(s, e, st)
    return x[tuple(index)]


@op("Gather")
def _gather(inputs, attrs):
    x, idx = inputs
    axis = attrs.get("axis", 0) % x.dim()
    idx = idx.to(x.device).long()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    out = torch.index_select(x, axis, idx.reshape(-1))
    return out.reshape(list(x.shape[:axis]) + list(idx.shape) + list(x.shape[axis + 1:]))


@op("Transpose")
def _transpose(inputs, attrs):
    x = inputs[0]
    return x.permute(attrs.get("perm", list(range(x.dim()))[::-1]))


@op("Expand")
def _expand(inputs, attrs):
    x, shape = inputs[0], _ints(inputs[1])
    return x * torch.ones(shape, dtype=x.dtype, device=x.device)


@op("ConstantOfShape")
def _const_of_shape(inputs, attrs):
    value = attrs.get("value")
    fill = torch.from_numpy(numpy_helper.to_array(value).copy()) if value is not None else torch.zeros(1)
    return fill.reshape(()).expand(_ints(inputs[0])).clone()


@op("Range")
def _range(inputs, attrs):
    start, limit, delta = (t.item() for t in inputs)
    return torch.arange(start, limit, delta, dtype=inputs[0].dtype)


@op("Constant")
def _constant(inputs, attrs):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in attrs:
            v = attrs[key]
            arr = numpy_helper.to_array(v).copy() if key == "value" else np.asarray(v)
            if arr.dtype == np.float64:
                arr = arr.astype(np.float32)
            return torch.from_numpy(np.ascontiguousarray(arr))
    raise InputError("INFER-TORCH-OP", "Constant node without a supported value")


# -- convolution, pooling, normalisation ---------------------------------------------
def _pads(attrs, dims: int) -> list[int]:
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        raise InputError("INFER-TORCH-OP", f"auto_pad {attrs['auto_pad']!r} is not supported")
    return list(attrs.get("pads", [0] * (2 * dims)))


def _pad_input(x, pads, dims, value=0.0):
    """Asymmetric ONNX pads (begin..., end...) as an explicit F.pad."""
    torch_pads = []
    for i in reversed(range(dims)):
        torch_pads += [pads[i], pads[i + dims]]
    return F.pad(x, torch_pads, value=value)


@op("Conv")
def _conv(inputs, attrs):
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    dims = w.dim() - 2
    pads = _pads(attrs, dims)
    fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[dims]
    kw = dict(stride=attrs.get("strides", [1] * dims), dilation=attrs.get("dilations", [1] * dims),
              groups=attrs.get("group", 1))
    if pads[:dims] == pads[dims:]:
        return fn(x, w, b, padding=pads[:dims], **kw)
    return fn(_pad_input(x, pads, dims), w, b, padding=0, **kw)


@op("ConvTranspose")
def _conv_transpose(inputs, attrs):
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    dims = w.dim() - 2
    if "output_shape" in attrs:
        raise InputError("INFER-TORCH-OP", "ConvTranspose with output_shape is not supported")
    pads = _pads(attrs, dims)
    fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[dims]
    strides = attrs.get("strides", [1] * dims)
    out = fn(x, w, b, stride=strides, padding=0, output_padding=attrs.get("output_padding", [0] * dims),
             groups=attrs.get("group", 1), dilation=attrs.get("dilations", [1] * dims))
    index = [slice(None), slice(None)] + [slice(pads[i], out.shape[2 + i] - pads[i + dims]) for i in range(dims)]
    return out[tuple(index)]


def _pool(kind):
    def run(inputs, attrs):
        x = inputs[0]
        k = list(attrs["kernel_shape"])
        dims = len(k)
        pads = _pads(attrs, dims)
        strides = attrs.get("strides", [1] * dims)
        ceil = bool(attrs.get("ceil_mode", 0))
        sym = pads[:dims] == pads[dims:] and all(p <= kk // 2 for p, kk in zip(pads[:dims], k))
        if kind == "max":
            fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[dims]
            if attrs.get("dilations", [1] * dims) != [1] * dims:
                return fn(x, k, strides, pads[:dims], dilation=attrs["dilations"], ceil_mode=ceil) if sym else None
            if sym:
                return fn(x, k, strides, pads[:dims], ceil_mode=ceil)
            return fn(_pad_input(x, pads, dims, value=-math.inf), k, strides, 0, ceil_mode=ceil)
        fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[dims]
        include = bool(attrs.get("count_include_pad", 0))
        if sym:
            return fn(x, k, strides, pads[:dims], ceil_mode=ceil, count_include_pad=include)
        if include:
            return fn(_pad_input(x, pads, dims), k, strides, 0, ceil_mode=ceil, count_include_pad=True)
        raise InputError("INFER-TORCH-OP", "AveragePool with asymmetric pads excluding padding is not supported")
    return run


_OPS["MaxPool"] = _pool("max")
_OPS["AveragePool"] = _pool("avg")


@op("GlobalAveragePool")
def _gap(inputs, attrs):
    x = inputs[0]
    return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)


@op("GlobalMaxPool")
def _gmp(inputs, attrs):
    x = inputs[0]
    return x.amax(dim=tuple(range(2, x.dim())), keepdim=True)


@op("BatchNormalization")
def _batchnorm(inputs, attrs):
    x, scale, bias, mean, var = inputs[:5]
    return F.batch_norm(x, mean, var, scale, bias, training=False, eps=attrs.get("epsilon", 1e-5))


@op("InstanceNormalization")
def _instancenorm(inputs, attrs):
    x, scale, bias = inputs
    return F.instance_norm(x, weight=scale, bias=bias, eps=attrs.get("epsilon", 1e-5))


@op("Pad")
def _pad(inputs, attrs):
    x = inputs[0]
    pads = _ints(inputs[1])
    value = inputs[2].item() if len(inputs) > 2 and inputs[2] is not None and inputs[2].numel() else 0.0
    axes = _ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None else list(range(x.dim()))
    axes = [a % x.dim() for a in axes]
    n = len(axes)
    full = [0] * (2 * x.dim())
    for i, a in enumerate(axes):
        full[a], full[a + x.dim()] = pads[i], pads[i + n]
    mode = attrs.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    torch_pads = []
    for a in reversed(range(x.dim())):
        torch_pads += [full[a], full[a + x.dim()]]
    # Zero pairs of the leading (batch, channel) axes are dropped so reflect/replicate accept them;
    # those modes want exactly the spatial axes of an N-D input, so a pad of width only keeps height's pair.
    keep = 2 * max(1, x.dim() - 2)
    while len(torch_pads) > keep and torch_pads[-2:] == [0, 0]:
        torch_pads = torch_pads[:-2]
    if mode == "constant":
        return F.pad(x, torch_pads, value=value)
    if mode in ("reflect", "edge"):
        if any(p < 0 for p in torch_pads):
            raise InputError("INFER-TORCH-OP", "negative pads with reflect/edge are not supported")
        return F.pad(x, torch_pads, mode="reflect" if mode == "reflect" else "replicate")
    raise InputError("INFER-TORCH-OP", f"Pad mode {mode!r} is not supported")


@op("Resize")
def _resize(inputs, attrs):
    x = inputs[0]
    scales = inputs[2] if len(inputs) > 2 and inputs[2] is not None and inputs[2].numel() else None
    sizes = inputs[3] if len(inputs) > 3 and inputs[3] is not None and inputs[3].numel() else None

    def s(key, default):
        v = attrs.get(key, default)
        return v.decode() if isinstance(v, bytes) else v

    mode, ctm = s("mode", "nearest"), s("coordinate_transformation_mode", "half_pixel")
    if attrs.get("antialias", 0) or (attrs.get("axes") not in (None, [2, 3], [2, 3, 4])):
        raise InputError("INFER-TORCH-OP", "Resize with antialias or custom axes is not supported")
    dims = x.dim() - 2
    kw = {}
    if sizes is not None:
        kw["size"] = _ints(sizes)[-dims:]
    else:
        sc = [float(v) for v in scales.tolist()]
        if sc[:2] != [1.0, 1.0]:
            raise InputError("INFER-TORCH-OP", "Resize over batch or channels is not supported")
        kw["scale_factor"] = sc[2:]
    if mode == "linear":
        tmode = {1: "linear", 2: "bilinear", 3: "trilinear"}[dims]
        if ctm in ("half_pixel", "pytorch_half_pixel"):
            return F.interpolate(x, mode=tmode, align_corners=False, **kw)
        if ctm == "align_corners":
            return F.interpolate(x, mode=tmode, align_corners=True, **kw)
    elif mode == "cubic" and dims == 2 and abs(attrs.get("cubic_coeff_a", -0.75) + 0.75) < 1e-9:
        if ctm in ("half_pixel", "pytorch_half_pixel"):
            return F.interpolate(x, mode="bicubic", align_corners=False, **kw)
        if ctm == "align_corners":
            return F.interpolate(x, mode="bicubic", align_corners=True, **kw)
    elif mode == "nearest":
        nm = s("nearest_mode", "round_prefer_floor")
        if ctm == "asymmetric" and nm == "floor":
            return F.interpolate(x, mode="nearest", **kw)
        if ctm in ("half_pixel", "pytorch_half_pixel") and nm == "round_prefer_ceil":
            return F.interpolate(x, mode="nearest-exact", **kw)
    raise InputError("INFER-TORCH-OP", f"Resize mode={mode} coordinate_transformation_mode={ctm} is not supported")


@op("DepthToSpace")
def _d2s(inputs, attrs):
    mode = attrs.get("mode", b"DCR")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode == "CRD":
        return F.pixel_shuffle(inputs[0], attrs["blocksize"])
    x, bs = inputs[0], attrs["blocksize"]
    n, c, h, w = x.shape
    x = x.reshape(n, bs, bs, c // (bs * bs), h, w).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(n, c // (bs * bs), h * bs, w * bs)


@op("SpaceToDepth")
def _s2d(inputs, attrs):
    x, bs = inputs[0], attrs["blocksize"]
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // bs, bs, w // bs, bs).permute(0, 3, 5, 1, 2, 4)
    return x.reshape(n, c * bs * bs, h // bs, w // bs)


@op("MatMul")
def _matmul(inputs, attrs):
    return torch.matmul(*_same_device(inputs[0], inputs[1]))


@op("Gemm")
def _gemm(inputs, attrs):
    a, b = inputs[0], inputs[1]
    if attrs.get("transA", 0):
        a = a.t()
    if attrs.get("transB", 0):
        b = b.t()
    out = attrs.get("alpha", 1.0) * (a @ b)
    if len(inputs) > 2 and inputs[2] is not None:
        out = out + attrs.get("beta", 1.0) * inputs[2]
    return out


@op("Softmax")
def _softmax(inputs, attrs):
    return torch.softmax(inputs[0], dim=attrs.get("axis", -1))


def _reduce(fn):
    def run(inputs, attrs):
        x = inputs[0]
        axes = _ints(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else attrs.get("axes")
        keep = bool(attrs.get("keepdims", 1))
        if not axes:
            if attrs.get("noop_with_empty_axes", 0):
                return x
            axes = list(range(x.dim()))
        return fn(x, dim=tuple(a % x.dim() for a in axes), keepdim=keep)
    return run


_OPS["ReduceMean"] = _reduce(torch.mean)
_OPS["ReduceSum"] = _reduce(torch.sum)
_OPS["ReduceMax"] = _reduce(torch.amax)
_OPS["ReduceMin"] = _reduce(torch.amin)


# -- the interpreter -----------------------------------------------------------------
class OnnxTorch:
    """Run an ONNX model (``onnx.ModelProto``) with PyTorch on ``device``.

    >>> from onnx import helper, TensorProto
    >>> w = numpy_helper.from_array(np.full((1, 1, 1, 1), 2.0, np.float32), "w")
    >>> g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 2, 2])], [w])
    >>> run = OnnxTorch(helper.make_model(g))
    >>> run(np.ones((1, 1, 2, 2), np.float32)).tolist()
    [[[[2.0, 2.0], [2.0, 2.0]]]]
    """

    def __init__(self, model: onnx.ModelProto, device: str = "cpu"):
        if model.functions:
            from onnx import inliner
            model = inliner.inline_local_functions(model)
        graph = model.graph
        domains = {o.domain for o in model.opset_import if o.domain not in ("", "ai.onnx")}
        missing = sorted({n.op_type for n in graph.node if n.op_type not in _OPS or n.domain not in ("", "ai.onnx")})
        if missing or domains:
            raise InputError("INFER-TORCH-OP",
                             "the PyTorch backend cannot run this model: unsupported operators "
                             + ", ".join(missing or sorted(domains)),
                             hint="use --backend ort-cpu (or ort-cuda with onnxruntime-gpu installed)")
        self.device = torch.device(device)
        self.nodes = [(n.op_type, list(n.input), list(n.output), _attrs(n)) for n in graph.node]
        self.constants: dict[str, torch.Tensor] = {}
        for init in graph.initializer:
            arr = numpy_helper.to_array(init).copy()
            t = torch.from_numpy(np.ascontiguousarray(arr))
            self.constants[init.name] = t.to(self.device) if t.is_floating_point() else t
        inits = {i.name for i in graph.initializer}
        self.inputs = [i.name for i in graph.input if i.name not in inits]
        self.outputs = [o.name for o in graph.output]
        if len(self.inputs) != 1:
            raise InputError("INFER-MODEL-IO", f"the model has {len(self.inputs)} inputs; archivist runs one-input image models")

    @torch.inference_mode()
    def run_tensor(self, x: torch.Tensor) -> torch.Tensor:
        env: dict[str, torch.Tensor] = dict(self.constants)
        env[self.inputs[0]] = x
        for op_type, ins, outs, attrs in self.nodes:
            args = [env[i] if i else None for i in ins]
            result = _OPS[op_type](args, attrs)
            if op_type == "Constant" and result.is_floating_point():
                result = result.to(self.device)
            if isinstance(result, (list, tuple)):
                for name, value in zip(outs, result):
                    env[name] = value
            else:
                env[outs[0]] = result
        return env[self.outputs[0]]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
        return self.run_tensor(t).float().cpu().numpy()

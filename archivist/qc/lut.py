"""3D LUTs: fit by regularised lattice regression, apply, read and write ``.cube``.

A LUT here is a lattice of ``size**3`` output colours over a box of input
colours (``domain_min``..``domain_max`` per channel). ``table[r, g, b]``
is the output at lattice node (r, g, b); between nodes the output is
interpolated (trilinear from the 8 surrounding nodes, or tetrahedral from 4).

The fit solves, for the lattice values ``x`` (one column per output channel),

    minimise  |W x - y|^2 * (n_nodes / n_samples)
              + smoothness * |D x|^2
              + anchor * |x - affine|^2

where each row of the sparse matrix ``W`` holds one sample's interpolation
weights to its lattice neighbours, ``D`` stacks the second differences of
the lattice along each axis (a discrete Laplacian per axis, whose null space
holds every affine map), and ``affine`` is the best single 3x4 colour matrix
for the samples. Only nodes within ``reach`` lattice steps of a sample are
solved for; the rest keep the global matrix, and the curvature term joins
the two smoothly. The weak ``anchor`` keeps every solved node well defined.
This is lattice regression (Garcia, Arora and Gupta, "Optimized
regularization for lattice regression", 2012) with a curvature regulariser,
solved by conjugate gradients with a Jacobi preconditioner. (A sparse LU of
the full 33^3 system takes about a minute; solving near the data, where
film colours cluster around the neutral axis, takes seconds.)

The ``.cube`` format is Adobe's "Cube LUT Specification 1.0" (2013), read by
Resolve, Nuke and OCIO: ``LUT_3D_SIZE``, ``DOMAIN_MIN``/``DOMAIN_MAX``, then
``size**3`` lines of ``R G B`` with red varying fastest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, cg

from archivist.errors import InputError

INTERPOLATIONS = ("trilinear", "tetrahedral")
MAX_SIZE = 256


@dataclass
class Lut3D:
    """A 3D LUT: ``table`` has shape (size, size, size, 3), indexed [r, g, b]."""

    table: np.ndarray
    domain_min: tuple[float, float, float] = (0.0, 0.0, 0.0)
    domain_max: tuple[float, float, float] = (1.0, 1.0, 1.0)
    title: str = ""
    comments: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return int(self.table.shape[0])

    def apply(self, rgb: np.ndarray, interpolation: str = "trilinear") -> np.ndarray:
        """Map (..., 3) colours through the LUT; inputs outside the domain are clamped to it."""
        flat = np.asarray(rgb, dtype=np.float64).reshape(-1, 3)
        idx, w = weights(flat, self.size, self.domain_min, self.domain_max, interpolation)
        values = self.table.transpose(2, 1, 0, 3).reshape(-1, 3)  # node index = r + n*g + n*n*b
        out = np.einsum("mk,mkc->mc", w, values[idx])
        return out.reshape(np.shape(rgb)).astype(np.float32)


def identity(size: int, domain_min=(0.0, 0.0, 0.0), domain_max=(1.0, 1.0, 1.0)) -> np.ndarray:
    """The identity lattice, shape (size, size, size, 3) indexed [r, g, b].

    >>> t = identity(3)
    >>> t[2, 0, 1].tolist()
    [1.0, 0.0, 0.5]
    """
    axes = [np.linspace(lo, hi, size) for lo, hi in zip(domain_min, domain_max)]
    r, g, b = np.meshgrid(*axes, indexing="ij")
    return np.stack([r, g, b], axis=-1)


def _lattice_coords(x: np.ndarray, size: int, dmin, dmax) -> tuple[np.ndarray, np.ndarray]:
    """Lower corner index (M, 3) and fractional position (M, 3) of each sample's cell."""
    lo = np.asarray(dmin, dtype=np.float64)
    hi = np.asarray(dmax, dtype=np.float64)
    u = (x - lo) / (hi - lo) * (size - 1)
    u = np.clip(np.nan_to_num(u, nan=0.0), 0.0, size - 1)
    i0 = np.minimum(np.floor(u).astype(np.int64), size - 2)
    return i0, u - i0


def _node(i0: np.ndarray, size: int, dr: int, dg: int, db: int) -> np.ndarray:
    return (i0[:, 0] + dr) + size * (i0[:, 1] + dg) + size * size * (i0[:, 2] + db)


def weights(x: np.ndarray, size: int, dmin, dmax, interpolation: str = "trilinear") -> tuple[np.ndarray, np.ndarray]:
    """Lattice node indices (M, k) and interpolation weights (M, k) for samples ``x`` (M, 3).

    Node index is ``r + size*g + size*size*b`` (the ``.cube`` order). Weights sum to 1.

    >>> idx, w = weights(np.array([[0.25, 0.5, 1.0]]), 3, (0, 0, 0), (1, 1, 1))
    >>> round(float(w.sum()), 12), idx.shape
    (1.0, (1, 8))
    >>> idx, w = weights(np.array([[0.25, 0.5, 1.0]]), 3, (0, 0, 0), (1, 1, 1), "tetrahedral")
    >>> round(float(w.sum()), 12), idx.shape
    (1.0, (1, 4))
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}")
    i0, f = _lattice_coords(x, size, dmin, dmax)
    fr, fg, fb = f[:, 0], f[:, 1], f[:, 2]
    if interpolation == "trilinear":
        idx, w = [], []
        for db in (0, 1):
            for dg in (0, 1):
                for dr in (0, 1):
                    idx.append(_node(i0, size, dr, dg, db))
                    w.append((fr if dr else 1 - fr) * (fg if dg else 1 - fg) * (fb if db else 1 - fb))
        return np.stack(idx, 1), np.stack(w, 1)
    return _tetrahedral(i0, size, fr, fg, fb)


def _tetrahedral(i0, size, fr, fg, fb):
    """Four corners and weights of the tetrahedron holding each sample (Kasson et al., 1995)."""
    m = len(fr)
    # Each case: ordering of the fractions, then the path c000 -> ... -> c111 through the cube.
    cases = [
        (fr >= fg) & (fg >= fb), (fr >= fb) & (fb > fg), (fb > fr) & (fr >= fg),
        (fb > fg) & (fg > fr), (fg > fb) & (fb >= fr), (fg > fr) & (fr >= fb),
    ]
    paths = [  # (first, second, third) fractional axes in decreasing order; corners along the path
        ((0, 1, 2), [(1, 0, 0), (1, 1, 0)]), ((0, 2, 1), [(1, 0, 0), (1, 0, 1)]),
        ((2, 0, 1), [(0, 0, 1), (1, 0, 1)]), ((2, 1, 0), [(0, 0, 1), (0, 1, 1)]),
        ((1, 2, 0), [(0, 1, 0), (0, 1, 1)]), ((1, 0, 2), [(0, 1, 0), (1, 1, 0)]),
    ]
    f = np.stack([fr, fg, fb], 1)
    idx = np.zeros((m, 4), dtype=np.int64)
    w = np.zeros((m, 4))
    taken = np.zeros(m, dtype=bool)
    for mask, ((a, b, c), (c1, c2)) in zip(cases, paths):
        mask = mask & ~taken
        taken |= mask
        fa, fbb, fc = f[mask, a], f[mask, b], f[mask, c]
        sub = i0[mask]
        idx[mask] = np.stack([_node(sub, size, 0, 0, 0), _node(sub, size, *c1),
                              _node(sub, size, *c2), _node(sub, size, 1, 1, 1)], 1)
        w[mask] = np.stack([1 - fa, fa - fbb, fbb - fc, fc], 1)
    return idx, w


def _second_difference(n: int) -> sp.csr_matrix:
    """(n-2, n) matrix of x[i-1] - 2 x[i] + x[i+1]."""
    return sp.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n), format="csr")


def laplacian(size: int) -> sp.csr_matrix:
    """Second differences along r, g and b, stacked: (3 * size**2 * (size-2), size**3).

    >>> d = laplacian(4)
    >>> d.shape
    (96, 64)
    >>> bool(abs(d @ identity(4).transpose(2, 1, 0, 3).reshape(-1, 3)).max() < 1e-12)
    True
    """
    eye = sp.identity(size, format="csr")
    d1 = _second_difference(size)
    # Node index r + n*g + n*n*b: in Kronecker order (b, g, r) the last factor is r.
    dr = sp.kron(eye, sp.kron(eye, d1))
    dg = sp.kron(eye, sp.kron(d1, eye))
    db = sp.kron(d1, sp.kron(eye, eye))
    return sp.vstack([dr, dg, db], format="csr")


@dataclass(frozen=True)
class FitReport:
    """How a fit went, for the QC record."""

    samples: int
    nodes_supported: int
    nodes_solved: int
    rms_residual: float
    max_residual: float
    iterations: int
    converged: bool


def _dilate(mask: np.ndarray, size: int, reach: int) -> np.ndarray:
    """Nodes within ``reach`` steps (per axis) of a marked node; flat index r + n*g + n*n*b."""
    from scipy.ndimage import binary_dilation

    cube = mask.reshape(size, size, size)
    return binary_dilation(cube, np.ones((3, 3, 3), bool), iterations=reach).ravel() if reach > 0 else mask


def fit(x: np.ndarray, y: np.ndarray, *, size: int = 33, smoothness: float = 0.05, anchor: float = 1e-4,
        reach: int = 3, domain_min=None, domain_max=None, interpolation: str = "trilinear", tolerance: float = 1e-8,
        title: str = "", comments: list[str] | None = None) -> tuple[Lut3D, FitReport]:
    """Fit a LUT that maps colours ``x`` (M, 3) to ``y`` (M, 3) by regularised lattice regression.

    The domain defaults to the bounding box of ``x``.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((4000, 3))
    >>> lut, rep = fit(x, 0.5 * x + 0.1, size=5, domain_min=(0, 0, 0), domain_max=(1, 1, 1))
    >>> bool(np.allclose(lut.table, 0.5 * identity(5) + 0.1, atol=1e-5)), rep.converged
    (True, True)
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1, 3)
    y = np.asarray(y, dtype=np.float64).reshape(-1, 3)
    if len(x) != len(y) or len(x) == 0:
        raise InputError("LUT-SAMPLES", f"a LUT fit needs matching, non-empty samples (got {len(x)} and {len(y)})")
    if not (2 <= size <= MAX_SIZE):
        raise InputError("LUT-SIZE", f"LUT size must be between 2 and {MAX_SIZE}, not {size}")
    if not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
        raise InputError("LUT-SAMPLES", "LUT samples contain NaN or infinite values")
    dmin = np.asarray(domain_min if domain_min is not None else x.min(0), dtype=np.float64)
    dmax = np.asarray(domain_max if domain_max is not None else x.max(0), dtype=np.float64)
    dmax = np.where(dmax - dmin < 1e-6, dmin + 1e-6, dmax)
    n = size ** 3
    idx, w = weights(x, size, dmin, dmax, interpolation)
    rows = np.repeat(np.arange(len(x)), idx.shape[1])
    a = sp.csr_matrix((w.ravel(), (rows, idx.ravel())), shape=(len(x), n))
    nodes = identity(size, dmin, dmax).transpose(2, 1, 0, 3).reshape(-1, 3)
    matrix = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)[0]
    base = np.c_[nodes, np.ones(n)] @ matrix  # D @ base == 0: the curvature term never pulls on it

    supported = np.asarray(a.sum(0)).ravel() > 0
    active = np.flatnonzero(_dilate(supported, size, reach))
    a_act = a[:, active]
    d_act = laplacian(size)[:, active]
    d_act = d_act[np.flatnonzero(np.diff(d_act.indptr))]  # curvature rows touching a solved node

    scale = n / len(x)  # data term per lattice node, so ``smoothness`` means the same at any sample count
    lhs = ((a_act.T @ a_act) * scale + (d_act.T @ d_act) * smoothness
           + sp.identity(len(active)) * anchor).tocsr()
    rhs = np.asarray(a_act.T @ (y - a @ base)) * scale
    inv_diag = 1.0 / lhs.diagonal()
    jacobi = LinearOperator(lhs.shape, matvec=lambda v: inv_diag * v)
    iterations, converged = 0, True
    delta = np.zeros((n, 3))
    for c in range(3):
        count = [0]
        sol, info = cg(lhs, rhs[:, c], rtol=tolerance, maxiter=20 * len(active), M=jacobi,
                       callback=lambda _: count.__setitem__(0, count[0] + 1))  # noqa: B023 (called within the iteration)
        iterations += count[0]
        converged &= info == 0
        delta[active, c] = sol
    solved = base + delta
    table = solved.reshape(size, size, size, 3).transpose(2, 1, 0, 3)
    resid = a @ solved - y
    report = FitReport(samples=len(x), nodes_supported=int(supported.sum()), nodes_solved=len(active),
                       rms_residual=float(np.sqrt(np.mean(resid ** 2))), max_residual=float(np.abs(resid).max()),
                       iterations=iterations, converged=bool(converged))
    lut = Lut3D(table, tuple(map(float, dmin)), tuple(map(float, dmax)), title, list(comments or []))
    return lut, report


# -- .cube ------------------------------------------------------------------------

def _fmt(v: float) -> str:
    text = f"{v:.6f}"
    return "0.000000" if text == "-0.000000" else text


def dumps_cube(lut: Lut3D) -> bytes:
    """The LUT as ``.cube`` text (UTF-8, LF line ends, red fastest)."""
    lines = []
    for c in lut.comments:
        for part in str(c).splitlines() or [""]:
            lines.append(f"# {part}".rstrip())
    if lut.title:
        lines.append(f'TITLE "{lut.title.replace(chr(34), chr(39))}"')
    lines.append(f"LUT_3D_SIZE {lut.size}")
    lines.append("DOMAIN_MIN " + " ".join(_fmt(v) for v in lut.domain_min))
    lines.append("DOMAIN_MAX " + " ".join(_fmt(v) for v in lut.domain_max))
    values = lut.table.transpose(2, 1, 0, 3).reshape(-1, 3)
    lines.extend(f"{_fmt(r)} {_fmt(g)} {_fmt(b)}" for r, g, b in values)
    return ("\n".join(lines) + "\n").encode("utf-8")


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TRIPLE = re.compile(rf"^({_NUM})\s+({_NUM})\s+({_NUM})$")


def loads_cube(data: bytes, *, where: str = ".cube") -> Lut3D:
    """Parse a 3D ``.cube`` file (Adobe 1.0; ``LUT_3D_INPUT_RANGE`` is read as the domain)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("LUT-CUBE", f"{where}: not UTF-8 text ({exc})") from None
    title, size, comments = "", None, []
    dmin, dmax = [0.0] * 3, [1.0] * 3
    values: list[tuple[float, float, float]] = []

    def bad(n: int, msg: str):
        return InputError("LUT-CUBE", f"{where} line {n}: {msg}")

    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            comments.append(line[1:].strip())
            continue
        m = _TRIPLE.match(line)
        if m:
            if size is None:
                raise bad(n, "data before LUT_3D_SIZE")
            values.append(tuple(float(v) for v in m.groups()))
            continue
        if values:
            raise bad(n, f"keyword after the table data: {line[:40]!r}")
        key, _, rest = line.partition(" ")
        rest = rest.strip()
        if key == "TITLE":
            title = rest.strip('"')
        elif key == "LUT_3D_SIZE":
            if not rest.isdigit() or not (2 <= int(rest) <= MAX_SIZE):
                raise bad(n, f"LUT_3D_SIZE must be an integer from 2 to {MAX_SIZE}")
            size = int(rest)
        elif key in ("DOMAIN_MIN", "DOMAIN_MAX"):
            parts = rest.split()
            if len(parts) != 3 or not all(re.fullmatch(_NUM, p) for p in parts):
                raise bad(n, f"{key} needs three numbers")
            (dmin if key == "DOMAIN_MIN" else dmax)[:] = [float(p) for p in parts]
        elif key == "LUT_3D_INPUT_RANGE":
            parts = rest.split()
            if len(parts) != 2 or not all(re.fullmatch(_NUM, p) for p in parts):
                raise bad(n, "LUT_3D_INPUT_RANGE needs two numbers")
            dmin[:], dmax[:] = [float(parts[0])] * 3, [float(parts[1])] * 3
        elif key == "LUT_1D_SIZE":
            raise bad(n, "a 1D LUT; only 3D LUTs are supported")
        else:
            raise bad(n, f"unknown keyword {key!r}")
    if size is None:
        raise InputError("LUT-CUBE", f"{where}: no LUT_3D_SIZE line")
    if len(values) != size ** 3:
        raise InputError("LUT-CUBE", f"{where}: {len(values)} table lines, expected {size ** 3} for size {size}")
    if any(hi <= lo for lo, hi in zip(dmin, dmax)):
        raise InputError("LUT-CUBE", f"{where}: DOMAIN_MAX must exceed DOMAIN_MIN on every channel")
    arr = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError("LUT-CUBE", f"{where}: table values must be finite")
    table = arr.reshape(size, size, size, 3).transpose(2, 1, 0, 3)
    return Lut3D(table, tuple(dmin), tuple(dmax), title, comments)


def expand_domain(lo: np.ndarray, hi: np.ndarray, margin: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Widen a per-channel range by ``margin`` of its span, rounded outwards to 1/1000.

    >>> [a.tolist() for a in expand_domain(np.array([0.1, 0.1, 0.1]), np.array([0.5, 0.6, 0.7]))]
    [[0.092, 0.09, 0.088], [0.508, 0.61, 0.712]]
    """
    span = np.maximum(hi - lo, 1e-3)
    lo2 = np.floor((lo - margin * span) * 1000 + 1e-9) / 1000
    hi2 = np.ceil((hi + margin * span) * 1000 - 1e-9) / 1000
    return lo2, hi2


__all__ = ["Lut3D", "FitReport", "fit", "identity", "weights", "laplacian", "dumps_cube", "loads_cube",
           "expand_domain", "INTERPOLATIONS"]

"""Checks for arrays read from files before anything computes with them.

scipy's sparse products trust a CSR matrix's ``indices`` and ``indptr``: out-of-range values
read or write outside the buffers (a segfault, or silent garbage). Every array a model reads
from disk goes through these first, and a bad one is a ``ValueError`` naming the file and the
problem.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["check_loaded_sparse", "checked_array", "checked_csr"]


def checked_array(values, *, what: str, ndim: int | None = None, shape=None,
                  kind: str = "f", finite: bool = True, low=None, high=None) -> np.ndarray:
    """``values`` as an ndarray, after checking its dimensions, ``shape`` (None entries are
    free), dtype ``kind`` ("f" float, "i" integer, "fi" either) and, for floats, that every
    value is finite; ``low``/``high`` bound the values (inclusive)."""
    a = np.asarray(values)
    if a.dtype.kind not in _kinds(kind) or a.dtype == object:
        raise ValueError(f"{what}: expected {_kind_name(kind)} values, got dtype {a.dtype}.")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{what}: expected {ndim} dimension{'s' * (ndim != 1)}, got shape "
                         f"{a.shape}.")
    if shape is not None:
        if a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape)):
            want = tuple("any" if s is None else s for s in shape)
            raise ValueError(f"{what}: expected shape {want}, got {a.shape}.")
    if finite and a.dtype.kind == "f" and a.size and not np.isfinite(a).all():
        raise ValueError(f"{what}: holds {int(np.sum(~np.isfinite(a)))} values that are NaN "
                         f"or infinite.")
    if a.size and low is not None and a.min() < low:
        raise ValueError(f"{what}: holds {a.min()}, below the least allowed value {low}.")
    if a.size and high is not None and a.max() > high:
        raise ValueError(f"{what}: holds {a.max()}, above the greatest allowed value {high}.")
    return a


def checked_csr(data, indices, indptr, shape, *, what: str) -> sp.csr_matrix:
    """A CSR matrix from its three arrays and shape, every index checked against the shape
    (the check scipy's ``check_format(full_check=True)`` makes, with a message naming the
    file)."""
    shape = checked_array(shape, what=f"{what}: shape", shape=(2,), kind="i", low=0)
    n_rows, n_cols = (int(n) for n in shape)
    data = checked_array(data, what=f"{what}: data", ndim=1, kind="fi")
    indices = checked_array(indices, what=f"{what}: indices", ndim=1, kind="i", low=0,
                            high=max(n_cols - 1, 0))
    indptr = checked_array(indptr, what=f"{what}: indptr", shape=(n_rows + 1,), kind="i",
                           low=0, high=len(indices))
    if len(indices) != len(data):
        raise ValueError(f"{what}: {len(indices)} indices but {len(data)} values.")
    if n_cols == 0 and len(indices):
        raise ValueError(f"{what}: entries in a matrix of no columns.")
    if indptr[0] != 0 or indptr[-1] != len(indices) or np.any(np.diff(indptr) < 0):
        raise ValueError(f"{what}: indptr must rise from 0 to the number of entries "
                         f"({len(indices)}).")
    matrix = sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))
    _full_check(matrix, what)
    return matrix


def check_loaded_sparse(obj, *, what: str) -> None:
    """Full checks of every scipy sparse matrix reachable from ``obj`` (attributes, lists,
    dicts): what a model deserialised by skops holds is checked before it predicts."""
    seen, stack = set(), [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, str | bytes | int | float | bool | type(None)
                                          | np.ndarray | np.generic):
            continue
        seen.add(id(item))
        if sp.issparse(item):
            _full_check(item, what)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif hasattr(item, "__dict__"):
            stack.extend(vars(item).values())


def _full_check(matrix, what: str) -> None:
    try:
        if matrix.format in ("csr", "csc", "bsr"):
            matrix.check_format(full_check=True)
        elif matrix.format == "coo":
            rows, cols = matrix.coords if hasattr(matrix, "coords") else (matrix.row, matrix.col)
            for name, idx, n in (("row", rows, matrix.shape[0]), ("column", cols,
                                                                   matrix.shape[1])):
                if idx.size and (idx.min() < 0 or idx.max() >= n):
                    raise ValueError(f"{name} index out of range")
        else:
            matrix.tocsr().check_format(full_check=True)
    except ValueError as err:
        raise ValueError(f"{what}: a sparse matrix is malformed ({err}); the file is corrupt "
                         f"or was crafted, and was not used.") from None
    if matrix.dtype.kind == "f" and matrix.nnz and not np.isfinite(matrix.data).all():
        raise ValueError(f"{what}: a sparse matrix holds NaN or infinite values.")


def _kinds(kind: str) -> str:
    return "".join({"f": "f", "i": "iu"}[k] for k in kind)


def _kind_name(kind: str) -> str:
    return " or ".join({"f": "floating-point", "i": "integer"}[k] for k in kind)

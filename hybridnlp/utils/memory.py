"""Giving freed memory back to the operating system."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

__all__ = ["release_free_memory"]


@functools.cache
def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None  # glibc, not musl
    except OSError:
        return None


def release_free_memory() -> bool:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``, as Dask's
    workers do after a large task); a no-op elsewhere. After a fit that built large
    temporary Python objects (token lists), the freed heap otherwise stays resident."""
    libc = _libc()
    return bool(libc and libc.malloc_trim(0))

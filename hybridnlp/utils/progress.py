"""Progress bars for long fits: tqdm on standard error when ``verbose``, nothing otherwise."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["progress"]


def progress(iterable: Iterable, *, desc: str, verbose=0, total: int | None = None) -> Iterable:
    """``iterable``, wrapped in a tqdm bar named ``desc`` when ``verbose`` is true."""
    if not verbose:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False)

"""Progress bars for long fits: tqdm on standard error when ``verbose``, nothing otherwise."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["progress", "progress_bar"]


class _Quiet:
    """What :func:`progress_bar` returns when not verbose: a bar that draws nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, *, desc: str, verbose=0):
    """A bar to advance by hand (``update()``, ``close()``): tqdm when ``verbose``."""
    if not verbose:
        return _Quiet()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


def progress(iterable: Iterable, *, desc: str, verbose=0, total: int | None = None) -> Iterable:
    """``iterable``, wrapped in a tqdm bar named ``desc`` when ``verbose`` is true."""
    if not verbose:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False)

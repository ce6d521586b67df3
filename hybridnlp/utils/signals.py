"""SIGTERM handled like Ctrl-C: ``finally`` blocks and context managers run, so a run killed
by a scheduler or ``timeout`` removes its temporary files (the stacking feature cache, atomic
writes' temporaries) and leaves a run directory that ``--resume`` continues."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["exit_on_sigterm"]


def _raise_exit(signum, frame):
    raise SystemExit(128 + signum)


@contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises ``SystemExit(143)`` in the main thread instead of
    ending the process on the spot; the previous handler comes back afterwards. Outside the
    main thread (where Python cannot install handlers) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

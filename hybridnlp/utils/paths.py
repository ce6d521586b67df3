"""Names from configs as file names that stay where they are put."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePath

__all__ = ["inside", "paths_as_strings", "slug"]


def slug(text: str) -> str:
    """``text`` as a file name: runs of other characters than letters, digits, ``_.-`` -> ``-``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)


def inside(parent: str | Path, name: str) -> Path:
    """``parent / slug(name)``, refused if it would not be a child of ``parent`` (``..``)."""
    parent = Path(parent)
    path = parent / slug(name)
    if path.name in ("", ".", "..") or path.resolve().parent != parent.resolve():
        raise ValueError(f"{name!r} cannot name a file inside {str(parent)!r}: it would "
                         f"resolve outside it; use letters, digits, '_', '-' and '.'.")
    return path


def paths_as_strings(state: dict) -> dict:
    """``state`` with its ``pathlib`` values as plain strings: an estimator given
    ``pretrained=Path(...)`` pickles and saves (skops) as data, with no path type to trust."""
    return {k: os.fspath(v) if isinstance(v, PurePath) else v for k, v in state.items()}

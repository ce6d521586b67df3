"""Names from configs as file names that stay where they are put."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["inside", "slug"]


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

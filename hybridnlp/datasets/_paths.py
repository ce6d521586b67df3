"""Where data lives: bundled package files, and the data directory for the larger sets."""

from __future__ import annotations

import gzip
import os
from importlib import resources
from pathlib import Path

from hybridnlp.exceptions import DataNotFoundError

__all__ = ["DATA_ENV", "bundled_text", "decode_lines", "find_data_dir", "read_bundled"]

DATA_ENV = "HYBRIDNLP_DATA"
# the last place searched: ``shared/data`` beside a source checkout (``git clone`` next to the
# team's shared folder, as ``make`` assumes); absent for an installed package
CHECKOUT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def read_bundled(relpath: str) -> bytes:
    """Bytes of a file bundled under ``hybridnlp/datasets/data`` (decompressed if ``.gz``)."""
    resource = resources.files("hybridnlp.datasets").joinpath("data", *relpath.split("/"))
    raw = resource.read_bytes()
    return gzip.decompress(raw) if relpath.endswith(".gz") else raw


def bundled_text(relpath: str, encoding: str = "utf-8") -> str:
    return read_bundled(relpath).decode(encoding)


def decode_lines(raw: bytes, encoding: str) -> list[str]:
    """Decode and split on "\\n" only (never ``str.splitlines``: 0x85 is NEL in latin-1).

    A final newline does not create an empty last line.
    """
    text = raw.decode(encoding)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def candidate_dirs(data_home: str | os.PathLike | None) -> list[Path]:
    """The directories searched for a data set, in order."""
    dirs = []
    if data_home is not None:
        dirs.append(Path(data_home).expanduser())
    if os.environ.get(DATA_ENV):
        dirs.append(Path(os.environ[DATA_ENV]).expanduser())
    dirs.append(Path("~/hybridnlp_data").expanduser())
    if CHECKOUT_DATA.is_dir():
        dirs.append(CHECKOUT_DATA)
    return dirs


def find_data_dir(name: str, required: list[str], data_home: str | os.PathLike | None) -> Path:
    """Return ``<base>/<name>`` for the first searched base that holds every required file.

    Raises
    ------
    DataNotFoundError
        Naming every directory searched and the two ways to point at the data.
    """
    searched = []
    for base in candidate_dirs(data_home):
        folder = base / name
        searched.append(str(folder))
        if all((folder / f).is_file() for f in required):
            return folder
    raise DataNotFoundError(
        f"data set {name!r} is not bundled and was not found; searched "
        f"{', '.join(searched)} for {', '.join(required)}. Point hybridnlp at the folder that "
        f"holds {name}/ with load_dataset({name!r}, data_home=PATH) or by setting the "
        f"{DATA_ENV} environment variable."
    )

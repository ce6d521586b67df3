"""Atomic file writes: a crash mid-write never leaves a truncated file behind."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "MAX_FILE_BYTES", "atomic_directory", "atomic_path", "atomic_write_bytes",
    "atomic_write_json", "directory_snapshot", "exclusive_lock", "read_file_bytes", "read_json",
]

# The most a file read whole may hold (after decompression): a 1.5 MB .gz can expand to
# gigabytes. Larger corpora are streamed (TextStream, NGramLM.fit(Path)), never read whole.
MAX_FILE_BYTES = 2 * 1024**3


def read_file_bytes(path: str | os.PathLike, *, limit: int | None = None) -> bytes:
    """The bytes of ``path``, decompressed when it ends in ``.gz``: read in pieces and refused
    past ``limit`` (default :data:`MAX_FILE_BYTES`) before more is allocated; a truncated or
    corrupt gzip file is a ValueError naming it."""
    import gzip
    import zlib

    path = Path(path)
    limit = MAX_FILE_BYTES if limit is None else limit
    gz = path.name.lower().endswith(".gz")
    too_big = (f"{str(path)!r} holds more than {limit:,} bytes"
               f"{' once decompressed' if gz else ''}; files read whole are limited to that: "
               f"stream a larger corpus (hybridnlp.TextStream) or split it.")
    if not gz:
        if path.stat().st_size > limit:
            raise ValueError(too_big)
        return path.read_bytes()
    pieces, total = [], 0
    try:
        with gzip.open(path, "rb") as f:
            while piece := f.read(1 << 22):
                total += len(piece)
                if total > limit:
                    raise ValueError(too_big)
                pieces.append(piece)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f"{str(path)!r} is a truncated or corrupt gzip file ({err}); "
                         f"compress it again.") from None
    return b"".join(pieces)


_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextmanager
def _naming_full_disks(folder: Path) -> Iterator[None]:
    """A write that runs out of space raises :class:`DiskFullError` naming ``folder``."""
    try:
        yield
    except OSError as err:
        if err.errno not in _FULL:
            raise
        from hybridnlp.exceptions import DiskFullError

        raise DiskFullError(err.errno, f"no space left to write in {str(folder)!r} "
                            f"({os.strerror(err.errno)}); free some space there or write "
                            f"elsewhere. What was there before is unchanged.") from None


def _stale_prefix(path: Path) -> str:
    """The temporary names of writers of ``path``: ``.NAME.<pid>.`` (the pid lets a later
    writer remove what a killed one left)."""
    return f".{path.name}.{os.getpid()}."


_SWEPT: set[Path] = set()  # folders this process has already cleaned
# what the writers here leave while they work: .NAME.<pid>.<random>.tmp[.suffix] | .old | .read
_TEMPORARY = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]+\.(tmp(\..*)?|old|read)$")


def _remove_stale(path: Path) -> None:
    """Remove the temporary files and folders in ``path``'s folder that writers which died
    left (a SIGKILL mid-save): those whose process no longer runs on this machine. A folder is
    listed once per process, not at every write (cache folders hold thousands of files)."""
    folder = path.parent
    if folder in _SWEPT:
        return
    _SWEPT.add(folder)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for p in entries:
        match = _TEMPORARY.match(p.name)
        if match is None or _alive(int(match.group(1))):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                p.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _umask() -> int:
    mask = os.umask(0o022)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask


def _publish(tmp: str, path: Path) -> None:
    """Give ``tmp`` the mode an ordinary new file gets (``mkstemp`` makes it 0600), then
    rename it over ``path``."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that wants a file name (safetensors,
    numpy, gensim); it is synced and renamed over ``path`` when the block ends, removed if
    the block raises. The temporary name keeps ``path``'s suffix.

    >>> with atomic_path(folder / "model.safetensors") as tmp:   # doctest: +SKIP
    ...     save_file(state, tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    with _naming_full_disks(path.parent):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_stale_prefix(path),
                                   suffix=f".tmp{path.suffix}")
        os.close(fd)
        try:
            yield Path(tmp)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            _publish(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    with _naming_full_disks(path.parent):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_stale_prefix(path), suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            _publish(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8"))


def read_json(path: str | os.PathLike, what: str = "file", kind: type = dict):
    """Read a JSON object (or a ``kind``, e.g. list), with an error naming the file when it is
    missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {str(path)!r}")
    try:
        obj = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{what} {str(path)!r} is corrupt: not valid JSON ({err}).") from None
    if not isinstance(obj, kind):
        expected = "a JSON object" if kind is dict else f"a JSON {kind.__name__}"
        raise ValueError(f"{what} {str(path)!r} is corrupt: expected {expected}.")
    return obj


@contextmanager
def exclusive_lock(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold the lock file ``path`` (holding this process's id) for the block; another holder,
    in this process or another, makes it raise :class:`~hybridnlp.exceptions.InUseError`
    naming ``what`` and that process. The lock goes with the process, even on kill -9."""
    import fcntl

    from hybridnlp.exceptions import InUseError

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise InUseError(f"{what} is in use by process {holder} (lock file {str(path)!r}); "
                         f"wait for it to finish, or give this one another folder.") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """A fresh folder beside ``path`` to write a whole directory into (a model); when the
    block ends it replaces ``path`` by renames (the old folder is moved aside, then removed),
    so a reader through :func:`directory_snapshot` sees the old directory or the new one,
    never a mix of their files. Removed if the block raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    with _naming_full_disks(path.parent):
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=_stale_prefix(path), suffix=".tmp"))
        try:
            yield tmp
            os.chmod(tmp, 0o777 & ~_umask())
            _swap_directory(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _swap_directory(new: Path, path: Path) -> None:
    aside = []
    try:
        while True:  # another writer may put its folder in place between our renames
            try:
                os.rename(new, path)  # succeeds when ``path`` is absent (or an empty folder)
                return
            except OSError as err:
                if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
            old = path.with_name(f"{_stale_prefix(path)}{uuid.uuid4().hex[:8]}.old")
            try:
                os.rename(path, old)
            except FileNotFoundError:
                continue
            aside.append(old)
    finally:
        for old in aside:
            shutil.rmtree(old, ignore_errors=True)


@contextmanager
def directory_snapshot(path: str | os.PathLike, attempts: int = 100) -> Iterator[Path]:
    """A private folder holding one version of the files of the directory ``path``, for a
    reader while writers replace it with :func:`atomic_directory`: the files are hard links
    (copies where links cannot be made) taken through one open handle of the folder, so all
    come from the same version. Removed when the block ends."""
    import time

    path = Path(path)
    for attempt in range(attempts):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            if attempt >= 20 or not path.parent.is_dir():
                raise FileNotFoundError(f"no such directory: {str(path)!r}") from None
            time.sleep(0.005)  # a writer between its two renames
            continue
        try:
            snap = _snapshot(fd, path)
        except FileNotFoundError:  # the version we opened was removed under us: again
            os.close(fd)
            continue
        try:  # a folder leaves ``path`` once (moved aside, then removed) and never changes
            # while there: if it is still there, every file came from one complete version
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        finally:
            os.close(fd)
        if not same:
            shutil.rmtree(snap, ignore_errors=True)
            continue
        try:
            yield snap
        finally:
            shutil.rmtree(snap, ignore_errors=True)
        return
    raise FileNotFoundError(f"{str(path)!r} kept changing while it was read; try again.")


def _snapshot(fd: int, path: Path) -> Path:
    try:  # beside the folder, so the links stay on one file system; else the temp dir
        snap = Path(tempfile.mkdtemp(dir=path.parent, prefix=_stale_prefix(path),
                                     suffix=".read"))
    except OSError:  # a read-only parent: the files are copied there instead
        snap = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".read"))
    try:
        _link_tree(fd, snap)
    except BaseException:
        shutil.rmtree(snap, ignore_errors=True)
        raise
    return snap


def _link_tree(fd: int, target: Path) -> None:
    """Link (or copy) the files of the open folder ``fd`` into ``target``, and its sub-folders
    (a model made of parts) likewise: one published version never changes, so every file
    read through ``fd`` belongs to it."""
    import stat

    for name in os.listdir(fd):
        if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
            sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            try:
                (target / name).mkdir()
                _link_tree(sub, target / name)
            finally:
                os.close(sub)
            continue
        try:
            os.link(name, target / name, src_dir_fd=fd, follow_symlinks=False)
        except PermissionError:  # links are not allowed here
            _copy_file(fd, name, target / name)
        except OSError as err:
            if err.errno != errno.EXDEV:
                raise
            _copy_file(fd, name, target / name)


def _copy_file(dir_fd: int, name: str, target: Path) -> None:
    """Copy the regular file ``name`` of the open folder ``dir_fd`` (anything else is skipped)."""
    import stat

    src = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
    if not stat.S_ISREG(os.fstat(src).st_mode):
        os.close(src)
        return
    with os.fdopen(src, "rb") as f_in, open(target, "wb") as f_out:
        shutil.copyfileobj(f_in, f_out)

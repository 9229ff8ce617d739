"""Atomic file writes: every file basinlab writes appears whole or not at all.

A writer writes to a temporary name in the destination's own folder (so the rename never crosses a
file system), the data are flushed to disk (fsync), and ``os.replace`` puts the file in place in one
step: a process killed at any moment leaves either the previous file or the new one, never half of
one, plus at most a stray hidden temporary (``.NAME.tmp-PID-XXXX``) that nothing reads.

    with atomic_path("results/run.nc") as tmp:     # for writers that take a file name
        ds.to_netcdf(tmp, engine="h5netcdf")
    write_text("run.json", text)                    # str, bytes, JSON
    with staging_dir("ckpt/step-000100") as tmp:    # a folder: new ones appear whole
        save_files_into(tmp)
        publish_dir(tmp, "ckpt/step-000100", last=("config.json",))

The temporary keeps the destination's suffix (plotly's ``write_image`` and numpy's ``savez`` choose
by it). What this does not cover: a crash of the machine (not the process) on a file system that
reorders metadata without the folder's own fsync, which is done here too but is best effort on
some network file systems.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import secrets
import shutil
from collections.abc import Iterator
from typing import Any

__all__ = ["atomic_path", "publish_dir", "staging_dir", "write_bytes", "write_json", "write_text"]


def _temp_name(path: pathlib.Path) -> pathlib.Path:
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}-{secrets.token_hex(3)}{path.suffix}")


def _fsync_file(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: pathlib.Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open a folder; the rename itself is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _destination(path: os.PathLike[str] | str) -> pathlib.Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    path = pathlib.Path(path).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"cannot write the file {path}: it is an existing folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_path(path: os.PathLike[str] | str) -> Iterator[pathlib.Path]:
    """A temporary path next to ``path``; when the block ends without an error, the file written
    there is flushed and renamed onto ``path``. On an error the temporary is removed and ``path``
    is left as it was. Parent folders are created."""
    path = _destination(path)
    tmp = _temp_name(path)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"the writer produced no file at {tmp} (for {path})")
        _fsync_file(tmp)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: os.PathLike[str] | str, data: bytes) -> pathlib.Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return pathlib.Path(path).expanduser()


def write_text(path: os.PathLike[str] | str, text: str) -> pathlib.Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: os.PathLike[str] | str, obj: Any, **dumps_kwargs: Any) -> pathlib.Path:
    """``json.dumps(obj, **dumps_kwargs)`` to ``path`` atomically (serialized before anything is
    written, so an unserializable object leaves ``path`` untouched)."""
    return write_text(path, json.dumps(obj, **dumps_kwargs))


@contextlib.contextmanager
def staging_dir(path: os.PathLike[str] | str) -> Iterator[pathlib.Path]:
    """A new empty temporary folder next to ``path`` (hidden, same file system), removed with
    whatever is left in it when the block ends; fill it, then :func:`publish_dir` it onto ``path``."""
    path = pathlib.Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"cannot write the folder {path}: it is an existing file")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}")
    tmp.mkdir()
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish_dir(staged: pathlib.Path, path: os.PathLike[str] | str, last: tuple[str, ...] = ()) -> pathlib.Path:
    """Move the files of the folder ``staged`` (from :func:`staging_dir`) to the folder ``path``.

    A new ``path`` appears whole in one rename. Into an existing folder each file is renamed
    atomically, the names in ``last`` after all others (a loader that looks for them first sees
    either the old set or the new one). Files are flushed to disk first. Returns ``path``."""
    path = pathlib.Path(path).expanduser()
    files = sorted((f for f in staged.rglob("*") if f.is_file()), key=lambda f: (f.name in last, str(f)))
    for f in files:
        _fsync_file(f)
    if not path.exists():
        os.replace(staged, path)
        staged.mkdir()  # staging_dir removes its folder when the block ends
    else:
        for f in files:
            dst = path / f.relative_to(staged)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(f, dst)
    _fsync_dir(path.parent)
    return path

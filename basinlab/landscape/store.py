"""Resumable sweep storage: one .npz file per finished block next to the sweep's sweep.json.

A killed sweep resumes where it stopped: rerunning it with the same store folder reads back the
blocks already written. Every file is written to a temporary name and renamed into place
(``os.replace`` is atomic), so a kill never leaves half a block or half a sweep.json behind.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Protocol

import numpy as np

__all__ = ["BlockStore"]


class _Keyed(Protocol):
    def to_json(self) -> str: ...


def _write_atomic(path: pathlib.Path, write) -> None:
    """write(tmp_path) then rename onto ``path``; the temporary keeps the suffix (np.savez adds .npz)."""
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():  # write failed part way: leave no stray temporary
            tmp.unlink()


class BlockStore:
    """Per-block arrays of one sweep, in memory and (with ``root``) on disk.

    ``sweep`` is anything with ``to_json()`` (the engine's ``Sweep``): its JSON is written to
    ``root/sweep.json`` and a folder holding another sweep's blocks raises ValueError. With
    ``writer=False`` the folder is only read (in a multi-process run, one process writes it). Blocks are
    dicts of numpy arrays (str arrays allowed, no objects), stored as ``root/<name>.npz``.
    """

    def __init__(self, root: os.PathLike | None, sweep: _Keyed, writer: bool = True):
        self.root = None if root is None else pathlib.Path(root)
        self.writer = writer  # False: read the folder, never write it (the other processes of a run)
        self.memory: dict[str, dict] = {}
        if self.root is None or not writer:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        meta = self.root / "sweep.json"
        if meta.exists():
            stored = json.loads(meta.read_text())
            if stored != json.loads(sweep.to_json()):
                raise ValueError(
                    f"{self.root} holds blocks of a different sweep; resume needs the same model, "
                    f"benchmarks, directions, grid and chunk size. Use another store folder or delete it."
                )
        else:
            _write_atomic(meta, lambda tmp: tmp.write_text(sweep.to_json()))

    def _path(self, name: str) -> pathlib.Path:
        return self.root / f"{name}.npz"

    def get(self, name: str) -> dict | None:
        """The arrays stored under ``name``, or None if that block has not been written."""
        if name in self.memory:
            return self.memory[name]
        if self.root is not None and self._path(name).exists():
            with np.load(self._path(name), allow_pickle=False) as f:
                return dict(f)
        return None

    def put(self, name: str, arrays: dict) -> None:
        """Keep ``arrays`` under ``name`` (and write ``root/<name>.npz`` atomically)."""
        self.memory[name] = arrays
        if self.root is not None and self.writer:
            _write_atomic(self._path(name), lambda tmp: np.savez(tmp, **arrays))

"""Resumable sweep storage: one .npz file per finished block next to the sweep's sweep.json.

A killed sweep resumes where it stopped: rerunning it with the same store folder reads back the
blocks already written. Guarantees:

- Every file is written atomically (:mod:`basinlab._atomicio`: temporary name, fsync, rename), so a
  kill never leaves half a block or half a sweep.json behind.
- A block file that cannot be read whole (truncated, corrupt, not an .npz; zip CRCs are checked)
  is reported by name with a :class:`CorruptBlockWarning`, moved aside to ``<name>.npz.corrupt``
  and recomputed: it is never used and never silently skipped.
- A sweep.json that is not the JSON of a sweep raises ValueError naming the file; block files
  without a sweep.json raise too (their sweep is unknown).
- One process at a time: the store is locked (``fcntl.flock`` on ``<store>/.lock``, released when
  the process ends or the store is closed). A second process opening it raises :class:`StoreLocked`
  naming the store and the holder's pid. Within one process, stores on one folder share the lock.
  Without ``fcntl`` (Windows) there is no lock.
"""

from __future__ import annotations

import json
import os
import pathlib
import threading
import warnings
import zipfile
from typing import Protocol

import numpy as np

from basinlab._atomicio import atomic_path, write_text

__all__ = ["BlockStore", "CorruptBlockWarning", "StoreLocked"]


class _Keyed(Protocol):
    def to_json(self) -> str: ...


class StoreLocked(RuntimeError):
    """Another process is sweeping into this store folder."""


class CorruptBlockWarning(UserWarning):
    """A stored block could not be read; it is recomputed."""


# Folder (resolved) -> [open lock file, number of BlockStores of this process using it].
_HELD: dict[pathlib.Path, list] = {}
_HELD_LOCK = threading.Lock()


def _acquire(root: pathlib.Path):
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform
        return None
    key = root.resolve()
    with _HELD_LOCK:
        if key in _HELD:
            _HELD[key][1] += 1
            return key
        f = open(root / ".lock", "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            f.close()
            raise StoreLocked(
                f"the store {root} is in use by another process (pid {holder}); two sweeps must not write "
                f"one store. Wait for it to finish, or give this sweep another store folder."
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        _HELD[key] = [f, 1]
        return key


def _release(key) -> None:
    if key is None:
        return
    with _HELD_LOCK:
        held = _HELD.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del _HELD[key]
            held[0].close()  # closing the file releases the flock


class BlockStore:
    """Per-block arrays of one sweep, in memory and (with ``root``) on disk.

    ``sweep`` is anything with ``to_json()`` (the engine's ``Sweep``): its JSON is written to
    ``root/sweep.json`` and a folder holding another sweep's blocks raises ValueError. With
    ``writer=False`` the folder is only read (in a multi-process run, one process writes it and holds
    the lock). Blocks are dicts of numpy arrays (str arrays allowed, no objects), stored as
    ``root/<name>.npz``. A writer holds the folder's lock until :meth:`close` (or until it is garbage
    collected, or the process ends).
    """

    def __init__(self, root: os.PathLike[str] | str | None, sweep: _Keyed, writer: bool = True):
        self.root: pathlib.Path | None = None if root is None else pathlib.Path(root)
        self.writer = writer  # False: read the folder, never write it (the other processes of a run)
        self.memory: dict[str, dict[str, np.ndarray]] = {}
        self._lock = None
        if self.root is None or not writer:
            return
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"store {self.root} is a file; a store is a folder (give a new or existing folder)")
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = _acquire(self.root)
        for stale in self.root.glob(".*.tmp-*"):  # a killed write's temporary (we hold the lock)
            stale.unlink(missing_ok=True)
        try:
            self._check_sweep(self.root, sweep)
        except BaseException:
            self.close()
            raise

    def _check_sweep(self, root: pathlib.Path, sweep: _Keyed) -> None:
        meta = root / "sweep.json"
        wanted = json.loads(sweep.to_json())
        if not meta.exists():
            blocks = sorted(p.name for p in root.glob("*.npz") if not p.name.startswith("."))
            if blocks:
                raise ValueError(f"store {self.root} holds block files ({blocks[0]}, ... {len(blocks)} in all) but "
                                 f"no sweep.json, so their sweep is unknown; use another store folder or delete it")
            write_text(meta, sweep.to_json())
            return
        try:
            stored = json.loads(meta.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{meta} is corrupt (not JSON: {e}); expected the JSON of the sweep this store "
                             f"holds. Delete the store folder {self.root} to start the sweep afresh.") from None
        if not isinstance(stored, dict):
            raise ValueError(f"{meta} is corrupt: expected a JSON object describing a sweep, got "
                             f"{type(stored).__name__}. Delete the store folder {self.root} to start afresh.")
        if stored != wanted:
            differ = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
            raise ValueError(
                f"{self.root} holds blocks of a different sweep (it differs in {differ}); resume needs the "
                f"same model and weights, benchmarks and their data, directions, grid and chunk size. Use "
                f"another store folder or delete it."
            )

    def close(self) -> None:
        """Release the folder's lock (blocks stay readable from memory)."""
        lock, self._lock = self._lock, None
        _release(lock)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self) -> BlockStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _path(self, name: str) -> pathlib.Path:
        if self.root is None:
            raise ValueError(f"block {name!r} has no file: this store is in memory only (root=None)")
        return self.root / f"{name}.npz"

    def get(self, name: str) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``name``, or None if that block has not been written or cannot be
        read (then a CorruptBlockWarning names the file, which is moved to ``<name>.npz.corrupt``)."""
        if name in self.memory:
            return self.memory[name]
        if self.root is None or not self._path(name).exists():
            return None
        path = self._path(name)
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, AttributeError, TypeError) as e:
            where = "left for the writing process"
            if self.writer:  # a reader (another process of a multi-process run) never moves files
                aside = path.with_name(path.name + ".corrupt")
                os.replace(path, aside)
                where = f"moved to {aside.name}"
            warnings.warn(f"store block {path} is unreadable ({type(e).__name__}: {e}); {where} "
                          f"and recomputing it", CorruptBlockWarning, stacklevel=2)
            return None

    def put(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        """Keep ``arrays`` under ``name`` (and write ``root/<name>.npz`` atomically)."""
        self.memory[name] = arrays
        if self.root is not None and self.writer:
            with atomic_path(self._path(name)) as tmp:
                # numpy's stub types **kwds beside allow_pickle: bool, so a dict[str, ndarray] could bind it
                np.savez(tmp, **arrays)  # pyright: ignore[reportArgumentType]

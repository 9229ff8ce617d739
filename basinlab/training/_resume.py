"""Resumable training: the state saved with each checkpoint and read back by ``finetune(resume=True)``.

Each regular checkpoint folder ``step-NNNNNN/`` holds, besides the Hugging Face files, a
``train_state.npz``: the optimizer state's leaves (PRNG keys as their key data), the step, the
losses and gradient norms so far, the run's settings as JSON (a resume with other settings is an
error) and a caller's extra JSON (pre-training's validation curve). The folder is published
atomically (:func:`basinlab._atomicio.publish_dir`), so a checkpoint either has all of it or does not
exist. Resuming loads the newest complete checkpoint, replays the data order up to its step and
continues: the result is the same as an uninterrupted run's.
"""

from __future__ import annotations

import io
import json
import pathlib
import re
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["TRAIN_STATE", "completed", "latest", "restore", "train_state_bytes"]

TRAIN_STATE = "train_state.npz"
_STEP_DIR = re.compile(r"^step-(\d{6,})$")


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def train_state_bytes(opt_state: Any, step: int, losses: Sequence[float], grad_norms: Sequence[float],
                      settings: dict[str, Any], extra: dict[str, Any] | None = None) -> bytes:
    """The ``train_state.npz`` file of a checkpoint, as bytes."""
    arrays = {"step": np.asarray(step, np.int64), "losses": np.asarray(losses, np.float32),
              "grad_norms": np.asarray(grad_norms, np.float32),
              "settings": np.asarray(json.dumps(settings, sort_keys=True)),
              "extra": np.asarray(json.dumps(extra or {}, sort_keys=True))}
    for i, leaf in enumerate(jax.tree.leaves(opt_state)):
        arrays[f"key_{i}" if _is_key(leaf) else f"leaf_{i}"] = np.asarray(
            jax.random.key_data(leaf) if _is_key(leaf) else leaf)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def completed(folder: pathlib.Path) -> list[pathlib.Path]:
    """The ``step-NNNNNN`` folders under ``folder`` with a train state and a config.json, oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir()
             if (m := _STEP_DIR.match(p.name)) and (p / TRAIN_STATE).is_file() and (p / "config.json").is_file()]
    return [p for _, p in sorted(found)]


def latest(folder: pathlib.Path) -> pathlib.Path | None:
    """The newest ``step-NNNNNN`` folder under ``folder`` with a train state and a config.json."""
    done = completed(folder)
    return done[-1] if done else None


def restore(path: pathlib.Path, opt_template: Any,
            settings: dict[str, Any]) -> tuple[Any, int, list[float], list[float], dict[str, Any]]:
    """(opt_state, step, losses, grad_norms, extra) from ``path/train_state.npz``; ValueError naming
    the file if it is unreadable, from a run with other ``settings``, or of another optimizer."""
    file = path / TRAIN_STATE
    try:
        with np.load(file, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        stored = json.loads(str(arrays["settings"]))
        extra = json.loads(str(arrays["extra"]))
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise ValueError(f"{file} is unreadable ({type(e).__name__}: {e}); delete {path} to resume from the "
                         f"checkpoint before it") from None
    wanted = json.loads(json.dumps(settings, sort_keys=True))
    if stored != wanted:
        diff = {k: (stored.get(k), wanted.get(k)) for k in sorted(set(stored) | set(wanted))
                if stored.get(k) != wanted.get(k)}
        raise ValueError(f"{path} is a checkpoint of a run with other settings (stored, now): {diff}; resume "
                         f"with the same settings or use another checkpoint_dir")
    leaves, treedef = jax.tree.flatten(opt_template)
    out = []
    for i, leaf in enumerate(leaves):
        name = f"key_{i}" if _is_key(leaf) else f"leaf_{i}"
        if name not in arrays:
            raise ValueError(f"{file} holds another optimizer's state (no {name}); resume with the same optimizer")
        value = arrays[name]
        if _is_key(leaf):
            out.append(jax.random.wrap_key_data(value, impl=jax.random.key_impl(leaf)))
            continue
        if np.shape(value) != np.shape(leaf):
            raise ValueError(f"{file}: optimizer state leaf {i} has shape {np.shape(value)}, expected "
                             f"{np.shape(leaf)}; resume with the same model and optimizer")
        out.append(jax.numpy.asarray(value, dtype=np.asarray(leaf).dtype))
    return (jax.tree.unflatten(treedef, out), int(arrays["step"]), list(arrays["losses"]),
            list(arrays["grad_norms"]), extra)

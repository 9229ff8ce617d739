"""A short digest of a pytree's values: what tells a store's sweep from another of the same names.

A sweep's store is resumed only by the same sweep (``landscape.store``). Names do not say enough: a
model pre-trained again with other settings, fine-tuned, or loaded from another file under the same
name has the same ``source``, parameter count and shapes, and explicit directions are only numbered.
:func:`fingerprint` hashes each leaf's path, shape, dtype and up to :data:`SAMPLES` of its values,
evenly spaced over the flattened leaf and taken exactly (bit for bit, on the device that holds the
leaf, so only those values travel). Two trainings, inits or directions differ in every sampled
value; an edit of single weights between the samples is not seen.
"""

from __future__ import annotations

import hashlib

import jax
import numpy as np

from basinlab.directions._treemath import leaves_with_paths

__all__ = ["SAMPLES", "fingerprint"]

SAMPLES = 1024  # values per leaf


def _sample(x):
    return x.reshape(-1)[:: max(1, -(-x.size // SAMPLES))]


# One compiled gather per tree structure and shapes (jit's cache), instead of a dispatch per leaf.
_device_samples = jax.jit(lambda leaves: [_sample(x) for x in leaves])


def fingerprint(tree) -> str:
    """16 hex digits of sha256 over every leaf's path, shape, dtype and sampled values (module docstring)."""
    h = hashlib.sha256()
    items, _ = leaves_with_paths(tree)
    paths = [p for p, _ in items]
    leaves = [x if isinstance(x, jax.Array) else np.asarray(x) for _, x in items]
    on_device = [i for i, x in enumerate(leaves) if isinstance(x, jax.Array)]
    samples = [_sample(x) if not isinstance(x, jax.Array) else None for x in leaves]
    if on_device:
        for i, s in zip(on_device, jax.device_get(_device_samples([leaves[i] for i in on_device])), strict=True):
            samples[i] = s
    for path, x, sample in zip(paths, leaves, samples, strict=True):
        h.update(f"{path}|{tuple(x.shape)}|{np.dtype(x.dtype).name}|".encode())
        h.update(np.ascontiguousarray(sample).tobytes())
    return h.hexdigest()[:16]

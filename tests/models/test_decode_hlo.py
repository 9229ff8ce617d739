"""The compiled decode loop holds no copy of the KV cache or of a weight per step, and a shared prefix's
keys and values are not copied into every row (checked in the HLO)."""

import importlib
import math
import re

import jax
import numpy as np
import pytest

from basinlab.models._batched import left_pad

G = importlib.import_module("basinlab.models._generate")  # the module (basinlab.models._generate is the function)

pytestmark = pytest.mark.slow  # one compilation of the whole generate program


def computations(hlo: str) -> dict[str, list[str]]:
    comps, cur = {}, None
    for line in hlo.splitlines():
        m = re.match(r"^(?:ENTRY )?%([\w.\-]+) \(.*\{\s*$", line)
        if m:
            cur = m.group(1)
            comps[cur] = []
        elif line.startswith("}"):
            cur = None
        elif cur:
            comps[cur].append(line)
    return comps


def loop_copies(hlo: str) -> list[tuple[int, ...]]:
    """Shapes copied anywhere inside while loops without a known trip count (the decode loop)."""
    comps = computations(hlo)

    def callees(name):
        out = set()
        for line in comps.get(name, []):
            out |= set(re.findall(r"(?:calls|to_apply|body|condition)=%([\w.\-]+)", line))
            for group in re.findall(r"branch_computations=\{([^}]*)\}", line):
                out |= {x.strip().lstrip("%") for x in group.split(",")}
        return out

    shapes, loops = [], 0
    for lines in comps.values():
        for line in lines:
            if " while(" not in line or "known_trip_count" in line:
                continue
            loops += 1
            todo, seen = [re.search(r"body=%([\w.\-]+)", line).group(1)], set()
            while todo:
                c = todo.pop()
                if c not in seen:
                    seen.add(c)
                    todo += list(callees(c))
            for c in seen:
                for x in comps[c]:
                    m = re.search(r"= \w+\[([\d,]*)\]\{[^}]*\} copy\(", x)
                    if m:
                        shapes.append(tuple(int(d) for d in m.group(1).split(",") if d))
    assert loops >= 1, "no decode loop found in the HLO"
    return shapes


@pytest.mark.parametrize("prefix_len", [0, 40])
def test_decode_loop_copies_neither_cache_nor_weights(tiny_smol, prefix_len):
    m = tiny_smol
    tokens, mask = left_pad([[5, 6, 7], [8, 9]], 0)
    n_new, spec = 5, m.spec
    prefix = G.prefill(spec, m.params, np.arange(3, 3 + prefix_len)) if prefix_len else None
    lowered = G._generate.lower(
        spec, m.params, jax.numpy.asarray(tokens), jax.numpy.asarray(mask), jax.random.key(0), np.float32(1.0), prefix,
        None, max_new_tokens=n_new, eos_ids=(), pad_id=0, sample=False, compute_dtype=np.dtype(np.float32))
    hlo = lowered.compile().as_text()
    copied = loop_copies(hlo)
    if prefix_len:  # the shared prefix is stored once: no per-row buffer spans prefix + own slots
        rows = rf"f32\[{tokens.shape[0]},{spec.n_kv_heads},{prefix_len + tokens.shape[1] + n_new},{spec.head_dim}\]"
        assert not re.search(rows, hlo), "the prefix's keys/values were copied into every row's cache"
    cache_elems = tokens.shape[0] * (tokens.shape[1] + n_new) * spec.n_kv_heads * spec.head_dim  # one layer's k
    weight_elems = min(math.prod(w.shape[1:]) for w in jax.tree.leaves(m.params["layers"]) if w.ndim == 3)
    big = [s for s in copied if math.prod(s) >= min(cache_elems, weight_elems)]
    assert not big, f"copies of cache- or weight-sized arrays in the decode loop: {big}"

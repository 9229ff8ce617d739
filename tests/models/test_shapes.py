"""Named model shapes, abstract parameter trees and random weights in real shapes."""

import math

import jax
import jax.numpy as jnp
import pytest

from basinlab.models import forward
from basinlab.models._shapes import SHAPES, param_shapes, random_params


@pytest.mark.parametrize("name, d", [("smollm2-135m", 134_515_008), ("llama-3.2-1b", 1_235_814_400),
                                     ("llama2-7b", 6_738_415_616), ("llama-32b", 32_763_876_352)])
def test_parameter_counts_of_the_real_models(name, d):
    tree = param_shapes(SHAPES[name], jnp.bfloat16)
    assert sum(math.prod(x.shape) for x in jax.tree.leaves(tree)) == d
    assert {x.dtype for x in jax.tree.leaves(tree)} == {jnp.dtype(jnp.bfloat16)}


def test_shapes_match_a_loaded_model(tiny_smol):
    want = jax.tree.map(lambda x: (x.shape, x.dtype), tiny_smol.params)
    got = jax.tree.map(lambda x: (x.shape, x.dtype), param_shapes(tiny_smol.spec, tiny_smol.dtype))
    assert got == want


def test_random_params_run_forward(tiny_smol):
    params = random_params(tiny_smol.spec, jax.random.key(0), jnp.float32)
    assert float(params["final_norm"]["scale"].mean()) == 1.0
    logits = forward(tiny_smol.spec, params, jnp.zeros((1, 4), jnp.int32))
    assert logits.shape == (1, 4, tiny_smol.spec.vocab_size) and bool(jnp.isfinite(logits).all())


def test_folder_load_never_holds_the_whole_checkpoint_on_the_host(tiny_smol):
    """safetensors are read one tensor at a time and each leaf placed as soon as it is built: the
    host's peak (numpy, traced) stays below the weights' size (it was 1.1x with the eager reader)."""
    import tracemalloc

    import basinlab

    basinlab.load(tiny_smol.source)  # warm the imports and caches
    tracemalloc.start()
    try:
        model = basinlab.load(tiny_smol.source)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    weights = sum(x.nbytes for x in jax.tree.leaves(model.params))
    assert peak < 0.8 * weights, (peak, weights)

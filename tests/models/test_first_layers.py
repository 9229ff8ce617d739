"""`bl.load(..., n_layers=k)` / `Model.first_layers(k)`: the first k blocks of a model, as transformers
builds them from the same checkpoint with k layers (the notebooks' SMOKE runs use SmolLM2 cut to 4)."""

import dataclasses

import jax
import numpy as np
import pytest

import basinlab as bl

from hf_tiny import tiny_model, torch

# transformers' layer-count key per family (from_pretrained overrides it and leaves the rest unused)
LAYER_KEY = {"smollm2": "num_hidden_layers", "gpt2": "n_layer"}


@pytest.fixture(scope="module", params=sorted(LAYER_KEY))
def saved(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"first_layers_{request.param}")
    tiny_model(request.param).save_pretrained(folder)
    return request.param, folder


def test_first_layer_matches_transformers_built_with_one_layer(saved):
    family, folder = saved
    cut = bl.load(folder, n_layers=1)
    ref = type(tiny_model(family)).from_pretrained(folder, **{LAYER_KEY[family]: 1}).eval()
    tokens = np.random.default_rng(0).integers(3, 160, size=(2, 9)).astype(np.int32)
    with torch.no_grad():
        expected = ref(torch.tensor(tokens)).logits.numpy()
    np.testing.assert_allclose(np.asarray(cut.logits(tokens)), expected, atol=1e-4, rtol=0)


def test_cut_model_keeps_the_other_weights_and_says_it_is_cut(saved):
    _, folder = saved
    full = bl.load(folder)
    cut = full.first_layers(1)
    assert (cut.spec.n_layers, full.spec.n_layers) == (1, 2)
    assert cut.source == f"{full.source} (first 1 of 2 layers)"
    per_layer = sum(x[0].size for x in jax.tree.leaves(full.params["layers"]))
    assert cut.n_params == full.n_params - per_layer
    for a, b in zip(jax.tree.leaves(cut.params["layers"]), jax.tree.leaves(full.params["layers"]), strict=True):
        np.testing.assert_array_equal(a, b[:1])
    assert cut.params["embed"] is full.params["embed"]
    assert full.first_layers(2) is full  # all of them: the model itself
    for bad in (0, 3, 1.5, True, "1"):
        with pytest.raises(ValueError, match=r"n_layers must be an int from 1 to 2 .* got"):
            full.first_layers(bad)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="n_layers must be a positive int"):
            bl.load(folder, n_layers=bad)
    assert bl.load(folder, n_layers=np.int64(1)).spec.n_layers == 1
    unnamed = dataclasses.replace(full, source="")  # e.g. built in memory: the spec's name labels the cut
    assert unnamed.first_layers(1).source == f"{full.spec.name} (first 1 of 2 layers)"
    one_layer = jax.tree.map(lambda w: w[0], full.params["layers"])
    per_layer_tuple = full.with_params({**full.params, "layers": {"blocks": (one_layer, one_layer)}})
    with pytest.raises(ValueError, match="stacked on a leading axis of 2"):
        per_layer_tuple.first_layers(1)

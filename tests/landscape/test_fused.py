"""The fused perturbation (layers formed inside the forward pass) against the materialized one."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from basinlab.directions import _recipes as D
from basinlab.directions import _treemath as treemath
from basinlab.landscape import _fused as fused
from basinlab.landscape import landscape
from basinlab.landscape._program import choose_perturbation
from basinlab.models import forward
from basinlab.scoring import token_benchmark

from trees import assert_within_ulps


@pytest.fixture(scope="module")
def model(tiny_smol):
    return tiny_smol


@pytest.fixture(scope="module")
def text(model):
    tokens = np.random.RandomState(1).randint(3, model.spec.vocab_size, size=(3, 16))
    return token_benchmark(tokens, name="text")


def _sweep(model, bench, perturbation, **kw):
    kw.setdefault("alphas", [-0.02, 0.0, 0.01, 0.05])
    return landscape(model, bench, progress=False, perturbation=perturbation, **kw)


def _assert_same_sweep(a, b):
    """Scores (argmax of logits that are bitwise equal, test_view_forms_exactly_the_materialized_weights)
    bitwise; NLLs within 4 ulp: the two paths are different compiled programs, and XLA fuses the token
    mean after the forward pass differently in each (CPU-dependent), so equal maths may round 1 ulp apart."""
    for var in ("score", "base_score"):
        np.testing.assert_array_equal(a[var].values, b[var].values, err_msg=var)
    for var in ("nll", "base_nll"):
        assert_within_ulps(a[var].values, b[var].values, ulps=4, err_msg=var)


def test_fused_equals_materialized(model, text):
    kw = dict(directions=2, chunk_size=2)
    _assert_same_sweep(_sweep(model, text, "fused", **kw), _sweep(model, text, "materialized", **kw))


def test_fused_equals_materialized_with_filters_and_explicit_directions(model, text):
    """Explicit directions and filtered recipes: the perturbed weights and logits are bitwise equal
    (test_view_forms_exactly_the_materialized_weights); the sweeps' NLLs within a few ulp."""
    explicit = [D.regenerate(D.DirectionRecipe(seed=4), model.params)]
    _assert_same_sweep(_sweep(model, text, "fused", directions=explicit),
                    _sweep(model, text, "materialized", directions=explicit))
    recipes = [D.DirectionRecipe(seed=3, exclude=D.NO_NORMS + D.NO_EMBEDDINGS)]
    a, b = _sweep(model, text, "fused", directions=recipes), _sweep(model, text, "materialized", directions=recipes)
    _assert_same_sweep(a, b)


def test_normalized_recipes_agree_to_round_off(model, text):
    recipes = [D.DirectionRecipe(seed=5, normalization="filter")]
    a, b = _sweep(model, text, "fused", directions=recipes), _sweep(model, text, "materialized", directions=recipes)
    np.testing.assert_allclose(a["nll"].values, b["nll"].values, rtol=1e-5)


def test_fused_plane_matches_materialized_plane(model, text):
    pair = [(D.DirectionRecipe(seed=0), D.DirectionRecipe(seed=1))]
    kw = dict(directions=pair, alphas=[-0.02, 0.03], betas=[0.0, 0.04])
    a, b = _sweep(model, text, "fused", **kw), _sweep(model, text, "materialized", **kw)
    np.testing.assert_allclose(a["nll"].values, b["nll"].values, rtol=1e-5)


@pytest.mark.parametrize("exclude", [None, D.NO_NORMS + D.NO_EMBEDDINGS])
def test_view_forms_exactly_the_materialized_weights(model, exclude):
    """Inside jit, the view's layers, outer weights and logits equal treemath.perturb's bit for bit."""
    recipe = D.DirectionRecipe(seed=7, exclude=exclude)
    tokens = jnp.asarray(np.random.RandomState(0).randint(3, model.spec.vocab_size, size=(2, 8)))

    @jax.jit
    def fused_parts(params, c):
        view = fused.PerturbedParams(params, (recipe,), (c,))
        return view.outer(), jax.lax.map(view.layer, view.layer_inputs()), forward(model.spec, view, tokens)

    @jax.jit
    def whole_parts(params, c):
        whole = treemath.perturb(params, [D.regenerate(recipe, params)], [c])
        outer = {k: v for k, v in whole.items() if k != "layers"}
        return outer, whole["layers"], forward(model.spec, whole, tokens)

    for c in (0.3, -0.01):
        jax.tree.map(np.testing.assert_array_equal, fused_parts(model.params, c), whole_parts(model.params, c))


def test_gram_matches_dot(model):
    a, b = D.DirectionRecipe(seed=0), D.DirectionRecipe(seed=1, exclude=D.NO_EMBEDDINGS)
    da, db = D.regenerate(a, model.params), D.regenerate(b, model.params)
    g = jax.jit(fused.gram)(model.params, (a, b))
    want = np.array([[treemath.dot(da, da), treemath.dot(da, db)], [treemath.dot(db, da), treemath.dot(db, db)]])
    np.testing.assert_allclose(g, want, rtol=1e-5)
    k, s = fused.plane_coefficients(model.params, a, b)
    _, orth = treemath.plane(da, db)
    formed = jax.tree.map(lambda x, y: s * (y - k * x), da, db)
    np.testing.assert_allclose(treemath.dot(formed, orth) / treemath.dot(orth, orth), 1.0, rtol=1e-5)


def test_fused_refuses_tree_benchmarks_and_auto_chooses(model, text):
    import dataclasses

    tree = dataclasses.replace(text, name="tree", param_access="tree")
    with pytest.raises(ValueError, match=r"\['tree'\].*param_access='tree'"):
        _sweep(model, tree, "fused", directions=1)
    with pytest.raises(ValueError, match="perturbation"):
        _sweep(model, text, "fuse", directions=1)
    assert choose_perturbation("auto", [text], "gpu") == "fused"
    assert choose_perturbation("auto", [text], "cpu") == "materialized"
    assert choose_perturbation("auto", [text, tree], "gpu") == "materialized"
    ds = _sweep(model, text, "auto", directions=1)
    assert ds.attrs["perturbation"] == "materialized"


def test_bf16_weights_round_once_like_the_materialized_path(model):
    """bf16 theta0 (scanned as its uint16 bits): layers equal treemath.perturb's, cast once."""
    params = jax.tree.map(lambda x: x.astype(jnp.bfloat16), model.params)
    recipe = D.DirectionRecipe(seed=2)

    @jax.jit
    def both(params, c):
        view = fused.PerturbedParams(params, (recipe,), (c,))
        whole = treemath.perturb(params, [D.regenerate(recipe, params)], [c])
        return jax.lax.map(view.layer, view.layer_inputs()), whole["layers"]

    got, want = both(params, 0.2)
    assert jax.tree.leaves(got)[0].dtype == jnp.bfloat16
    jax.tree.map(np.testing.assert_array_equal, got, want)


def test_generating_benchmark_under_fused_materializes_once_per_point(model):
    """generate() forms a LayerwiseParams once per call: the same tokens as the materialized path."""
    from basinlab.models import generate
    from basinlab.scoring import Benchmark, Scores

    def score_fn(spec, params, data, compute_dtype):
        out = generate(spec, params, data["tokens"], max_new_tokens=3, eos_ids=(), compute_dtype=compute_dtype)
        return Scores(score=(out[:, 0] % 2).astype(jnp.float32))

    tokens = np.random.RandomState(3).randint(3, model.spec.vocab_size, size=(2, 5)).astype(np.int32)
    bench = Benchmark(name="gen", data={"tokens": tokens}, score_fn=score_fn, n_items=2, metric="parity",
                      param_access="generate")
    kw = dict(directions=1, alphas=[0.0, 0.3])
    a, b = _sweep(model, bench, "fused", **kw), _sweep(model, bench, "materialized", **kw)
    np.testing.assert_array_equal(a["item_score"].values, b["item_score"].values)

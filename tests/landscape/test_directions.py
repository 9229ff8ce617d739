"""Tests for basinlab.directions._recipes: recipes regenerated in jit, leaf filters, normalizations."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from basinlab.directions import _recipes as D
from basinlab.directions import _treemath as treemath
from basinlab.models import count_params

L, DM, F, V = 2, 16, 24, 40


def realistic(seed=0, dtype=jnp.float32):
    """A GPT-2-like param dict (biases, norms, token and position embeddings, stacked layers)."""
    shapes = {
        "embed": {"embedding": (V, DM)},
        "pos_embed": {"embedding": (12, DM)},
        "layers": {
            "attn_norm": {"scale": (L, DM), "bias": (L, DM)},
            "attn": {"q": {"kernel": (L, DM, DM), "bias": (L, DM)},
                     "o": {"kernel": (L, DM, DM)}},
            "mlp": {"up": {"kernel": (L, DM, F), "bias": (L, F)},
                    "down": {"kernel": (L, F, DM)}},
        },
        "final_norm": {"scale": (DM,)},
        "lm_head": {"kernel": (DM, V)},
    }
    rng = np.random.default_rng(seed)

    def make(shape):  # per-column scales so that filter norms differ from each other
        scale = rng.uniform(0.5, 3.0, size=shape[-1])
        return jnp.asarray(rng.normal(size=shape) * scale, dtype)

    return jax.tree.map(make, shapes, is_leaf=lambda x: isinstance(x, tuple))


def small(seed=0):
    """Fewer leaves, every code path (embedding rows, stacked kernel and 1-D slices, plain kernel):
    for the tests that compile, since XLA compile time grows with the number of leaves."""
    p = realistic(seed)
    return {"embed": p["embed"], "lm_head": p["lm_head"],
            "layers": {"attn_norm": {"scale": p["layers"]["attn_norm"]["scale"]},
                       "mlp": {"up": p["layers"]["mlp"]["up"]}}}


def by_path(tree):
    return dict(zip(D.paths(tree), jax.tree.leaves(tree), strict=True))


KEY = jax.random.key(42)

# ----------------------------------------------------------------------------- paths and filters


def test_paths_follow_flatten_order():
    params = realistic()
    ps = D.paths(params)
    assert len(ps) == len(jax.tree.leaves(params))
    assert ps[0] == "embed/embedding"
    assert "layers/attn/q/kernel" in ps and "final_norm/scale" in ps


def test_presets_on_realistic_params():
    params = realistic()
    mask = by_path(D.leaf_filter(params, exclude=D.NO_NORMS + D.NO_BIASES + D.NO_EMBEDDINGS))
    kept = {p for p, m in mask.items() if m}
    assert kept == {"layers/attn/q/kernel", "layers/attn/o/kernel", "layers/mlp/up/kernel",
                    "layers/mlp/down/kernel", "lm_head/kernel"}
    assert all(isinstance(m, bool) for m in mask.values())
    only_norms = by_path(D.leaf_filter(params, include=D.NO_NORMS))
    assert {p for p, m in only_norms.items() if m} == {
        "layers/attn_norm/scale", "layers/attn_norm/bias", "final_norm/scale"}


def test_preset_matching_nothing_is_fine_but_a_typo_raises():
    params = realistic()
    del params["pos_embed"]  # a Llama: no position embeddings ...
    params["layers"]["mlp"]["up"].pop("bias")
    D.leaf_filter(params, exclude=D.NO_EMBEDDINGS)  # ... so "pos_embed/*" matches nothing: fine
    with pytest.raises(ValueError, match="layers/attn/q/kernel") as err:
        D.leaf_filter(params, exclude=("layers/atn/*",))
    assert "'layers/atn/*'" in str(err.value)
    with pytest.raises(ValueError, match="matches no parameter path"):
        D.gaussian(KEY, params, include=("mlp/*",))  # fnmatch is anchored at the start
    with pytest.raises(ValueError, match="include=None"):
        D.leaf_filter(params, include=())


def test_realistic_loaded_model_presets(tmp_path):
    hf_tiny = pytest.importorskip("hf_tiny")
    import basinlab

    hf_tiny.tiny_model("llama3").save_pretrained(tmp_path)
    params = basinlab.load(str(tmp_path)).params
    mask = by_path(D.leaf_filter(params, exclude=D.NO_NORMS + D.NO_BIASES + D.NO_EMBEDDINGS))
    assert len(mask) == 12  # a Llama: no biases, no position embeddings; presets still fine
    for path, keep in mask.items():
        assert keep == ("norm" not in path and not path.startswith("embed/")), path
    assert mask["layers/attn/q/kernel"] and mask["lm_head/kernel"]


def test_perturbed_mask_keeps_the_filtered_float_leaves():
    params = realistic()
    params["step"] = jnp.asarray(3, jnp.int32)  # a non-float leaf: never perturbed
    mask = D.perturbed_mask(params, exclude=D.NO_NORMS + D.NO_EMBEDDINGS)
    assert jax.tree.structure(mask) == jax.tree.structure(params)
    kept = {p for p, m in by_path(mask).items() if m}
    assert all(isinstance(m, bool) for m in jax.tree.leaves(mask))
    assert kept == {p for p, k in by_path(D.leaf_filter(params, exclude=D.NO_NORMS + D.NO_EMBEDDINGS)).items()
                    if k and p != "step"}
    assert "step" not in kept and "lm_head/kernel" in kept and "final_norm/scale" not in kept
    # d: count_params over the kept leaves, what gaussian() leaves non-zero
    d = count_params([x for m, x in zip(jax.tree.leaves(mask), jax.tree.leaves(params), strict=True) if m])
    nonzero = sum(int(np.count_nonzero(np.asarray(x))) for x in jax.tree.leaves(
        D.gaussian(KEY, params, exclude=D.NO_NORMS + D.NO_EMBEDDINGS)))
    assert d == nonzero < count_params(params)
    assert all(jax.tree.leaves(D.perturbed_mask({"w": jnp.ones(3), "b": jnp.ones(2, jnp.bfloat16)})))
    with pytest.raises(ValueError, match=r"include=None, exclude=\('w',\) leave no float parameter.*'n'"):
        D.perturbed_mask({"w": jnp.ones(3), "n": jnp.arange(3)}, exclude=("w",))
    with pytest.raises(ValueError, match="matches no parameter path"):
        D.perturbed_mask(params, exclude=("lm_haed/*",))


# ----------------------------------------------------------------------------- gaussian


def test_gaussian_moments_per_leaf_and_per_layer():
    params = {"layers": {"w": {"kernel": jnp.zeros((3, 256, 512))}}, "head": jnp.zeros((300, 400))}
    delta = D.gaussian(KEY, params)
    for x in [delta["head"], *delta["layers"]["w"]["kernel"]]:
        assert x.dtype == jnp.float32
        # n >= 120000: the sample mean has std <= 0.003, the sample std <= 0.002
        assert abs(float(x.mean())) < 0.015
        assert abs(float(x.std()) - 1.0) < 0.01


def test_gaussian_leaves_and_layers_independent():
    params = {"a": jnp.zeros((64, 64)), "b": jnp.zeros((64, 64)),
              "layers": {"k": jnp.zeros((2, 64, 64))}}
    delta = D.gaussian(KEY, params)
    draws = [delta["a"], delta["b"], *delta["layers"]["k"]]
    for i in range(len(draws)):
        for j in range(i):
            corr = np.corrcoef(np.ravel(draws[i]), np.ravel(draws[j]))[0, 1]
            assert abs(corr) < 0.06, (i, j, corr)  # 4096 pairs: std of corr ~ 0.016


def test_gaussian_deterministic_and_key_dependent():
    params = realistic()
    a, b = D.gaussian(KEY, params), D.gaussian(KEY, params)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)
    c = D.gaussian(jax.random.key(43), params)
    assert not np.array_equal(a["lm_head"]["kernel"], c["lm_head"]["kernel"])


def test_changing_one_leaf_shape_keeps_other_draws():
    params = realistic()
    other = realistic()
    other["layers"]["mlp"]["up"]["kernel"] = jnp.zeros((L, DM, F + 7))
    a, b = by_path(D.gaussian(KEY, params)), by_path(D.gaussian(KEY, other))
    for path in a:
        if path != "layers/mlp/up/kernel":
            np.testing.assert_array_equal(a[path], b[path], err_msg=path)
    assert b["layers/mlp/up/kernel"].shape == (L, DM, F + 7)


def test_excluded_leaves_are_zero_and_do_not_shift_others():
    params = realistic()
    full = by_path(D.gaussian(KEY, params))
    part = by_path(D.gaussian(KEY, params, include=("layers/*",), exclude=D.NO_NORMS))
    for path, x in part.items():
        if path.startswith("layers/") and "norm" not in path:
            np.testing.assert_array_equal(x, full[path], err_msg=path)
        else:
            assert x.dtype == jnp.float32 and not np.any(np.asarray(x)), path
    with pytest.raises(ValueError, match="no float parameter"):
        D.gaussian(KEY, {"w": jnp.ones(3)}, exclude=("w",))


def test_bf16_params_give_float32_directions_and_abstract_params_work():
    params = realistic(dtype=jnp.bfloat16)
    delta = D.gaussian(KEY, params, normalization="filter")
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(delta))
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params)
    a, b = D.gaussian(KEY, abstract), D.gaussian(KEY, params)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_leaf_direction_regenerates_one_leaf_and_one_layer():
    params = small()
    items = by_path(params)
    deltas = {n: by_path(D.gaussian(KEY, params, normalization=n)) for n in D.NORMALIZATIONS}
    for norm, delta in deltas.items():
        for i, (path, x) in enumerate(items.items()):
            np.testing.assert_array_equal(
                D.leaf_direction(KEY, i, path, x, norm), delta[path], err_msg=path)
    path = "layers/mlp/up/kernel"
    i = list(items).index(path)

    def body(carry, xs):  # the engine's use: one layer slice inside a scan over layers
        layer, th = xs
        return carry, [D.leaf_direction(KEY, i, path, th, norm, layer=layer)
                       for norm in D.NORMALIZATIONS]

    _, slices = jax.jit(lambda t: jax.lax.scan(body, None, (jnp.arange(L), t)))(items[path])
    for norm, got in zip(D.NORMALIZATIONS, slices, strict=True):
        np.testing.assert_allclose(got, deltas[norm][path], rtol=1e-6, err_msg=norm)
    with pytest.raises(ValueError, match="not stacked"):
        D.leaf_direction(KEY, 0, "lm_head/kernel", items["lm_head/kernel"], layer=0)


# ----------------------------------------------------------------------------- normalizations


def _col_norms(x):
    return np.linalg.norm(np.asarray(x, np.float64), axis=-2)


def test_filter_normalization_matches_theta0_filters():
    params = realistic()
    delta = by_path(D.gaussian(KEY, params, normalization="filter"))
    theta = by_path(params)
    for path, d in delta.items():
        t = theta[path]
        if path.endswith("/embedding"):  # rows: one filter per token / position
            np.testing.assert_allclose(np.linalg.norm(d, axis=-1), np.linalg.norm(t, axis=-1),
                                       rtol=1e-5, err_msg=path)
        elif path.startswith("layers/") and t.ndim == 3:  # stacked kernel: columns, per layer
            for layer in range(L):
                np.testing.assert_allclose(_col_norms(d[layer]), _col_norms(t[layer]),
                                           rtol=1e-5, err_msg=f"{path}[{layer}]")
        elif t.ndim == 2 and not path.startswith("layers/"):  # lm_head [D, V]: one per vocab entry
            np.testing.assert_allclose(_col_norms(d), _col_norms(t), rtol=1e-5, err_msg=path)
        else:  # 1-D per layer: norm scales and biases are zeroed (Li et al.)
            assert not np.any(np.asarray(d)), path
    # The direction is not just theta0 rescaled: filters point elsewhere.
    assert D.cosine(delta["lm_head/kernel"], theta["lm_head/kernel"]) < 0.5


def test_layer_normalization_per_leaf_and_per_layer_slice():
    params = realistic()
    delta = by_path(D.gaussian(KEY, params, normalization="layer"))
    for path, t in by_path(params).items():
        d = delta[path]
        if path.startswith("layers/"):
            for layer in range(L):
                np.testing.assert_allclose(np.linalg.norm(d[layer]), np.linalg.norm(t[layer]),
                                           rtol=1e-5, err_msg=f"{path}[{layer}]")
        else:
            np.testing.assert_allclose(np.linalg.norm(d), np.linalg.norm(t), rtol=1e-5,
                                       err_msg=path)


def test_normalize_explicit_direction_matches_gaussian():
    params = realistic()
    raw = D.gaussian(KEY, params)
    for norm in D.NORMALIZATIONS:
        a, b = D.normalize(raw, params, norm), D.gaussian(KEY, params, normalization=norm)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=0)
    with pytest.raises(ValueError, match="'filtre'.*'none', 'layer', 'filter'"):
        D.normalize(raw, params, "filtre")


# ----------------------------------------------------------------------------- recipes


def test_recipe_validation_hash_and_provenance():
    r = D.DirectionRecipe(seed=np.int64(7), normalization="filter", exclude=["*norm*"])
    assert r.seed == 7 and type(r.seed) is int and r.exclude == ("*norm*",)
    assert hash(r) == hash(D.DirectionRecipe(7, "gaussian", "filter", None, ("*norm*",)))
    assert len({r, D.DirectionRecipe(7, normalization="filter", exclude="*norm*")}) == 1
    with pytest.raises(dataclasses_frozen_error()):
        r.seed = 3
    d = json.loads(json.dumps(r.to_dict()))
    assert d["seed"] == 7 and d["normalization"] == "filter" and d["scheme"] == D.SCHEME
    assert D.DirectionRecipe.from_dict(d) == r
    with pytest.raises(ValueError, match="scheme"):
        D.DirectionRecipe.from_dict(dict(d, scheme="other/v0"))
    with pytest.raises(ValueError, match="'rademacher'.*'gaussian'"):
        D.DirectionRecipe(0, kind="rademacher")
    with pytest.raises(ValueError, match="'lyer'.*'none', 'layer', 'filter'"):
        D.DirectionRecipe(0, normalization="lyer")
    with pytest.raises(ValueError, match="seed"):
        D.DirectionRecipe(-1)
    with pytest.raises(TypeError, match="seed"):
        D.DirectionRecipe(1.5)


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_regenerate_traced_seed_matches_eager_and_compiles_once():
    params = small()
    traces = []

    @jax.jit
    def make(seed, params):  # all three normalizations in one program: one compile
        traces.append(1)  # runs only while tracing
        return [D.regenerate(D.DirectionRecipe(seed, normalization=n, exclude=D.NO_BIASES), params)
                for n in D.NORMALIZATIONS]

    for seed in [0, 12345, 2**31 - 1]:
        jitted = make(jnp.int32(seed), params)
        for norm, got in zip(D.NORMALIZATIONS, jitted, strict=True):
            eager = D.regenerate(D.DirectionRecipe(seed, normalization=norm, exclude=D.NO_BIASES),
                                 params)
            for x, y in zip(jax.tree.leaves(got), jax.tree.leaves(eager), strict=True):
                if norm == "none":  # the draw itself is bit-identical in and out of jit
                    np.testing.assert_array_equal(x, y)
                else:  # norm reductions round differently once XLA fuses them: a few ulps
                    np.testing.assert_allclose(x, y, rtol=1e-6, atol=0, err_msg=norm)
    assert len(traces) == 1


def test_recipe_is_a_pytree_vmap_over_seeds_and_key_base():
    params = {"lm_head": small()["lm_head"], "layers": small()["layers"]["mlp"]}
    # The seed is the recipe's only leaf: jit(regenerate) compiles once for all seeds.
    fn = jax.jit(lambda recipe, params: D.regenerate(recipe, params))  # own compile cache
    outs = [fn(D.DirectionRecipe(s), params) for s in range(3)]
    assert fn._cache_size() == 1
    assert not np.array_equal(outs[0]["lm_head"]["kernel"], outs[1]["lm_head"]["kernel"])
    batch = jax.jit(jax.vmap(lambda s: D.regenerate(D.DirectionRecipe(s), params)))(jnp.arange(3))
    for s in range(3):
        for x, y in zip(jax.tree.leaves(batch), jax.tree.leaves(outs[s]), strict=True):
            np.testing.assert_array_equal(x[s], y)
    base = jax.random.key(99)
    a = D.regenerate(D.DirectionRecipe(5), params, key_base=base)
    b = D.gaussian(jax.random.fold_in(base, 5), params)
    np.testing.assert_array_equal(a["lm_head"]["kernel"], b["lm_head"]["kernel"])


# ----------------------------------------------------------------------------- compatibility, re-exports


def test_check_compatible_names_the_path():
    params = realistic(dtype=jnp.bfloat16)
    D.check_compatible(params, D.gaussian(KEY, params))  # float32 for bf16 is fine
    bad = D.gaussian(KEY, params)
    bad["layers"]["attn"]["q"]["kernel"] = bad["layers"]["attn"]["q"]["kernel"][:, :, :3]
    with pytest.raises(ValueError, match=r"'layers/attn/q/kernel'.*\(2, 16, 16\).*\(2, 16, 3\)"):
        D.check_compatible(params, bad)
    bad = D.gaussian(KEY, params)
    bad["final_norm"]["scale"] = jnp.zeros((DM,), jnp.int32)
    with pytest.raises(ValueError, match="dtype mismatch at 'final_norm/scale'"):
        D.check_compatible(params, bad)
    bad = D.gaussian(KEY, params)
    del bad["pos_embed"]
    with pytest.raises(ValueError, match="direction has no leaf 'pos_embed/embedding'"):
        D.check_compatible(params, bad)
    bad = D.gaussian(KEY, params)
    bad["extra"] = jnp.zeros(3)
    with pytest.raises(ValueError, match="extra leaf 'extra'"):
        D.check_compatible(params, bad)


def test_tree_maths_reexported_for_the_old_path():
    import basinlab.directions as old  # the pre-0.2 flat path (basinlab._aliases)

    for name in ("alpha_between", "between", "cosine", "dot", "global_norm", "perturb", "plane", "scale_to_norm"):
        assert getattr(D, name) is getattr(treemath, name) is getattr(old, name), name
    assert D.count is count_params and old.DirectionRecipe is D.DirectionRecipe
    params = realistic()
    assert D.count(params) == sum(x.size for x in jax.tree.leaves(params))

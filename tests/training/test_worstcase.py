"""Worst-case directions (basinlab.training._worstcase) and their reference-answer surrogates."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from basinlab.benchmarks import _references as references
from basinlab.benchmarks import _registry as registry
from basinlab.data._paths import data_root
from basinlab.directions import _recipes as D
from basinlab.directions import _treemath as treemath
from basinlab.models import count_params, forward
from basinlab.scoring._text import token_benchmark
from basinlab.training import _worstcase as worstcase


@pytest.fixture(scope="module")
def text(tiny_chat):
    rs = np.random.RandomState(0)
    return token_benchmark(rs.randint(3, 400, size=(4, 16)), name="random-text")


def nll(spec, params, tokens):
    logits = forward(spec, params, tokens)[:, :-1]
    logp = jax.nn.log_softmax(logits, -1)
    return -jnp.mean(jnp.take_along_axis(logp, tokens[:, 1:, None], -1))


@pytest.mark.slow  # > 5 s here: runs in make test, not in make check
def test_gradient_init_is_the_normalized_gradient(tiny_chat, text):
    wc = worstcase.worst_case(tiny_chat, text, steps=0, n_random=0, progress=False)
    tokens = jnp.asarray(text.data["tokens"])
    g = jax.grad(lambda p: nll(tiny_chat.spec, p, tokens))(tiny_chat.params)
    want = treemath.scale_to_norm(g, math.sqrt(count_params(tiny_chat.params)))
    assert float(treemath.cosine(wc.direction, want)) > 1 - 1e-5
    assert wc.d == count_params(tiny_chat.params)
    np.testing.assert_allclose(float(treemath.global_norm(wc.direction)), math.sqrt(wc.d), rtol=1e-5)
    np.testing.assert_allclose(wc.base, float(nll(tiny_chat.spec, tiny_chat.params, tokens)), rtol=1e-5)


def test_ascent_raises_the_surrogate_above_random_directions(tiny_chat, text):
    wc = worstcase.worst_case(tiny_chat, text, alpha=0.05, steps=4, n_random=3, progress=False)
    assert wc.trace.shape == (5,) and wc.random.shape == (3,)
    assert wc.trace.max() > wc.random.max() + 0.1 > wc.base
    # the direction returned is the best iterate, at norm sqrt(d)
    value = worstcase.surrogate_value(tiny_chat, text, treemath.perturb(tiny_chat.params, [wc.direction], [0.05]))
    np.testing.assert_allclose(value, wc.trace.max(), rtol=1e-4)
    np.testing.assert_allclose(float(treemath.global_norm(wc.direction)), math.sqrt(wc.d), rtol=1e-5)
    assert wc.attrs()["surrogate"] == ["random-text"] and len(wc.attrs()["trace"]) == 5


def test_random_init_and_filters_leave_excluded_leaves_at_zero(tiny_chat, text):
    wc = worstcase.worst_case(tiny_chat, text, steps=1, init="random", exclude=D.NO_NORMS + D.NO_EMBEDDINGS,
                              n_random=1, progress=False)
    kept = D.leaf_filter(tiny_chat.params, exclude=D.NO_NORMS + D.NO_EMBEDDINGS)
    d = 0
    for k, x in zip(jax.tree.leaves(kept), jax.tree.leaves(wc.direction), strict=True):
        if k:
            d += x.size
        else:
            assert not np.any(np.asarray(x))
    assert wc.d == d < count_params(tiny_chat.params)
    np.testing.assert_allclose(float(treemath.global_norm(wc.direction)), math.sqrt(d), rtol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"init": "adversarial"}, r"init='adversarial'.*valid: \['gradient', 'random'\]"),
    ({"alpha": 0.0}, r"alpha must be a finite number > 0, got 0.0"),
    ({"step_size": -1.0}, r"step_size must be > 0"),
    ({"steps": -2}, r"steps must be an int >= 0, got -2"),
])
def test_bad_options_are_named(tiny_chat, text, kwargs, match):
    with pytest.raises(ValueError, match=match):
        worstcase.worst_case(tiny_chat, text, progress=False, **kwargs)


def test_judged_benchmarks_and_unknown_names_point_to_reference_answers(tiny_chat):
    judged = registry.build("synthetic-addition", tiny_chat, n=2)
    with pytest.raises(ValueError, match=r"'synthetic-addition' is judged on generated text.*available"):
        worstcase.worst_case(tiny_chat, judged, progress=False)
    with pytest.raises(ValueError, match=r"no reference answers for capability 'poetry'; available: \["):
        worstcase.worst_case(tiny_chat, "poetry", progress=False)
    with pytest.raises(ValueError, match="surrogate is empty"):
        worstcase.worst_case(tiny_chat, [], progress=False)


def test_worst_case_is_the_public_name():
    import basinlab
    import basinlab.training

    assert basinlab.worst_case is basinlab.training.worst_case is worstcase.worst_case


def test_unknown_options_are_named_with_the_valid_ones(tiny_smol):
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'setps' for worst_case\(\); valid options: .*steps"):
        worstcase.worst_case(tiny_smol, "gsm8k-zeroshot", setps=5)
    with pytest.raises(ValueError, match=r"'n' for surrogate_value\(\); valid options: compute_dtype, surrogate_"):
        worstcase.surrogate_value(tiny_smol, "synthetic-addition", n=3)


def test_surrogate_options_build_the_reference(tiny_chat):
    wc = worstcase.worst_case(tiny_chat, "synthetic-addition", steps=0, n_random=0, progress=False,
                              surrogate_options={"n": 3, "seed": 1})
    ref = references.reference("synthetic-addition", tiny_chat, n=3, seed=1)
    np.testing.assert_allclose(wc.base, worstcase.surrogate_value(tiny_chat, ref), rtol=1e-6)
    assert wc.base != pytest.approx(worstcase.surrogate_value(tiny_chat, "synthetic-addition",
                                                              surrogate_options={"n": 3, "seed": 2}))


@pytest.mark.slow  # > 5 s here: runs in make test, not in make check
def test_surrogate_options_are_shared_by_mixed_capabilities(tiny_chat):
    # seq_len is a text option (pydoc), n every capability's, seed addition's only: each takes its own.
    caps, options = ["synthetic-addition", "synthetic-capitals", "pydoc"], {"seq_len": 16, "n": 2, "seed": 1}
    wc = worstcase.worst_case(tiny_chat, caps, steps=0, n_random=0, progress=False, surrogate_options=options)
    assert wc.surrogate == tuple(caps)
    each = [references.reference("synthetic-addition", tiny_chat, n=2, seed=1),
            references.reference("synthetic-capitals", tiny_chat, n=2),
            references.reference("pydoc", tiny_chat, seq_len=16, n=2)]
    assert each[2].data["tokens"].shape[-1] == 16
    want = np.mean([worstcase.surrogate_value(tiny_chat, b) for b in each])
    np.testing.assert_allclose(wc.base, want, rtol=1e-5)
    np.testing.assert_allclose(worstcase.surrogate_value(tiny_chat, caps, surrogate_options=options), want, rtol=1e-5)
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'seq_lne' for shared="):
        worstcase.surrogate_value(tiny_chat, caps, surrogate_options={"seq_lne": 16})


def test_advbench_target_surrogate_is_minus_the_target_nll(tiny_chat):
    if data_root() is None:
        pytest.skip("no benchmark data: set BASINLAB_DATA to the shared data folder")
    neg = references.reference("advbench-target", tiny_chat, n=3)
    text = tiny_chat.tokenizer.decode(neg.data["tokens"][0])
    assert "Sure, here is" in text
    value = worstcase.surrogate_value(tiny_chat, neg)
    plain = neg.score_fn.keywords["score_fn"](tiny_chat.spec, tiny_chat.params, neg.data, jnp.float32).nll
    np.testing.assert_allclose(value, -float(np.mean(plain)), rtol=1e-5)
    assert worstcase._fingerprint(neg.score_fn) == worstcase._fingerprint(
        references.reference("advbench-target", tiny_chat, n=3).score_fn)

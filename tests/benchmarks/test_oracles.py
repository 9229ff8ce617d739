"""Oracle kinds: their Scores on a tiny model with a character tokenizer, and on the real
SmolLM2-135M-Instruct, where teacher forcing agrees with real greedy generation."""

import jax
import numpy as np
import pytest

from basinlab.directions import _recipes as D
from basinlab.landscape import landscape
from basinlab.models._batched import left_pad
from basinlab.models._generate import generate
from basinlab.scoring._base import Grades, Judged, Scores
from basinlab.scoring._oracles import (
    exact_match_benchmark,
    full_answer_benchmark,
    generate_and_judge_benchmark,
    letter_choice_benchmark,
)

N_ITEMS = 48


@pytest.fixture(scope="module")
def model(smol):
    """The session's SmolLM2-135M-Instruct (conftest.smol): loaded once for all test modules."""
    return smol


# ------------------------------------------------------------------ tiny model, character tokenizer


def _log_softmax(x):
    x = np.asarray(x, np.float64)
    return x - x.max(-1, keepdims=True) - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True))


def test_letter_choice_scores_and_nll_by_hand(char_model):
    m, prompts = char_model, ["Q1 Answer:", "Which? Answer:"]
    bench = letter_choice_benchmark(m, prompts, [0, 3], name="mc")
    out = bench.score_fn(m.spec, m.params, bench.data, None)
    assert isinstance(out, Scores) and out.tokens is None
    letters = [m.tokenizer.encode(c)[0] for c in "ABCD"]  # " A" is two characters: not a letter token
    for i, (p, answer) in enumerate(zip(prompts, [0, 3], strict=True)):
        last = np.asarray(m.logits(*m.encode([p])))[0, -1]  # plain prompts get the bos token
        np.testing.assert_allclose(out.nll[i], -_log_softmax(last)[letters[answer]], rtol=1e-5)
        assert out.score[i] == float(np.argmax(last[letters]) == answer)


def test_exact_match_nll_is_the_mean_over_the_reference_and_the_stop(char_model):
    m = char_model
    bench = exact_match_benchmark(m, ["ab"], ["cd"], name="em", chat=False)
    out = bench.score_fn(m.spec, m.params, bench.data, None)
    ids = m.tokenizer.encode("abcd", add_special_tokens=True)  # bos a b c d
    logp = _log_softmax(np.asarray(m.logits(np.asarray([ids])))[0])
    targets = ids[3:] + [m.eos_ids[0]]  # from the last prompt token ("b") on: c, d, then the stop token
    np.testing.assert_allclose(out.nll[0], -np.mean([logp[2 + k, t] for k, t in enumerate(targets)]), rtol=1e-5)
    greedy = all(np.argmax(logp[2 + k]) == t for k, t in enumerate(targets))
    assert out.score[0] == float(greedy)


def test_generate_and_judge_grades_on_the_host_and_survives_bad_graders(char_model):
    m, prompts = char_model, ["hi", "ho", "ha"]

    def run(grader):
        bench = generate_and_judge_benchmark(m, prompts, grader, name="g", max_new_tokens=3, metric="x",
                                             chat=False, n_examples=2)
        out = bench.score_fn(m.spec, m.params, bench.data, None)
        assert isinstance(out, Scores) and out.score is None and out.tokens.shape == (3, 3)
        judged = bench.judge(jax.tree.map(np.asarray, out))
        assert isinstance(judged, Judged) and judged.example.shape == (2,)
        return judged

    seen = []

    def grader(texts, ids):
        seen.append((texts, ids))
        return Grades([1.0, 0.0, 1.0], ["a", "b", "c"])

    good = run(grader)
    assert seen[0][1] == [0, 1, 2] and list(good.example) == seen[0][0][:2]
    assert good.score.tolist() == [1.0, 0.0, 1.0] and good.reason.tolist() == ["a", "b", "c"]
    legacy = run(lambda texts, ids: {"score": [0.0, 1.0, 0.0]})  # a grader of basinlab < 0.2
    assert legacy.score.tolist() == [0.0, 1.0, 0.0] and legacy.reason.tolist() == ["", "", ""]
    short = run(lambda texts, ids: Grades([1.0], ["a"]))
    assert short.score.tolist() == [0.0] * 3 and short.reason[0] == "judge error: ValueError: " \
        "judge returned (1,) scores for 3 items"
    crash = run(lambda texts, ids: 1 / 0)
    assert crash.reason[2].startswith("judge error: ZeroDivisionError")


def test_generate_and_judge_prefills_the_shared_prefix_once_with_the_same_tokens(char_model):
    """The oracle keeps only each prompt's own suffix per row (the shared prefix is prefilled once);
    its greedy tokens equal plain generation from the full, left-padded prompts."""
    m, prompts = char_model, ["abcab", "abcba", "abcc"]
    bench = generate_and_judge_benchmark(m, prompts, lambda t, i: Grades([1.0] * 3, [""] * 3), name="g",
                                         max_new_tokens=4, metric="x", chat=False)
    ids = m.prompt_ids(prompts, False)
    p = len(bench.data["prefix"])
    assert p >= 3 and list(bench.data["prefix"]) == ids[0][:p]  # "abc" (and any BOS) is shared
    (group,) = bench.data["groups"]  # one batch of every row's own suffix
    assert group["tokens"].shape == (1, 3, max(len(x) for x in ids) - p)
    tokens, mask = left_pad(ids, m.pad_id)
    full = generate(m.spec, m.params, tokens, mask, max_new_tokens=4, eos_ids=tuple(m.eos_ids), pad_id=m.pad_id)
    out = bench.score_fn(m.spec, m.params, bench.data, None)
    np.testing.assert_array_equal(np.asarray(out.tokens), np.asarray(full))


# ------------------------------------------------------------------ the real SmolLM2-135M-Instruct


@pytest.fixture(scope="module")
def items(model):
    """N_ITEMS (48) chat prompts; references = the model's own greedy answers (some cut before their EOS)."""
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
    for alpha in (0.0, 0.004):  # 0.004: about half of its own answers survive on these 48 items
        params = jax.tree.map(lambda t, d, a=alpha: t + a * d, model.params, delta)
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

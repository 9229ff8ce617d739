"""The paper's tasks in the registry: prompts split into a shared prefix and per-item suffixes, budgets,
the Dataset's per-point count of items that hit the budget, and the budget check on SmolLM2."""

import dataclasses

import numpy as np
import pytest

from basinlab.benchmarks import _registry as registry
from basinlab.data import _loaders as loaders
from basinlab.lmeval import _tasks as T
from basinlab.models._batched import item_ids, shared_prefix_length
from basinlab.scoring._base import hit_budget_reason


def test_registered_under_lmeval_names_with_lmeval_budgets():
    for name in ["gsm8k_cot_llama", "mmlu_generative", "humaneval_instruct", "advbench"]:
        assert name in registry.available()
        assert "max_new_tokens" in registry.options(name) and "batch_size" in registry.options(name)
    assert (T.GSM8K_COT_LLAMA.max_gen_toks, T.MMLU_GENERATIVE.max_gen_toks, T.HUMANEVAL_INSTRUCT.max_gen_toks,
            T.ADVBENCH.max_gen_toks) == (256, 256, 1024, 100)
    assert shared_prefix_length([[1, 2, 3], [1, 2, 4, 5], [1, 2]]) == 1  # every row keeps a token of its own
    assert shared_prefix_length([[7, 8]]) == 1 and shared_prefix_length([[1, 2], [3]]) == 0


def test_gsm8k_prompts_are_prefix_plus_suffix_of_lmeval_contexts(tiny_chat, root):
    long = dataclasses.replace(tiny_chat, spec=tiny_chat.spec.replace(max_seq_len=4096))  # built, never run
    bench = registry.build("gsm8k_cot_llama", long, n=5, seed=1, batch_size=2)
    tok = tiny_chat.tokenizer
    items = loaders.load_gsm8k("test", n=5, seed=1)
    expected = [T.encode_context(tok, T.chat_context(tok, T.GSM8K_COT_LLAMA, {"question": it.question}))
                for it in items]
    prefix = bench.data["prefix"].tolist()
    assert len(prefix) > 900  # the system turn and the eight shots are prefilled once
    assert item_ids(bench.data) == expected
    batches = [t for g in bench.data["groups"] for t in g["tokens"]]
    assert [b.shape[0] for b in batches] == [2, 2, 1]  # length buckets of batch_size
    widths = [b.shape[1] for b in batches]
    assert widths == sorted(widths)


def test_errors_name_the_problem(tiny_chat, root):
    with pytest.raises(ValueError, match="max_seq_len"):
        registry.build("gsm8k_cot_llama", tiny_chat, n=1, max_new_tokens=10**6)
    with pytest.raises(ValueError, match="batch_size"):
        registry.build("advbench", tiny_chat, n=1, batch_size=0)
    with pytest.raises(ValueError, match="flexible-extract"):
        registry.build("gsm8k_cot_llama", tiny_chat, n=1, filter="loose")


@pytest.mark.slow  # one landscape compilation of a generating oracle on the tiny model
def test_dataset_counts_items_that_hit_the_budget(tiny_chat, root):
    from basinlab.landscape import landscape

    bench = registry.build("advbench", tiny_chat, n=3, max_new_tokens=3)
    ds = landscape(tiny_chat, [bench], directions=1, alphas=[0.0, 0.01], progress=False)
    assert ds["budget_hits"].dims == ("direction", "alpha", "benchmark")
    marked = np.vectorize(hit_budget_reason)(ds["item_reason"].values).sum(-1)
    np.testing.assert_array_equal(ds["budget_hits"].values, marked)
    # a random tiny model writes no EOS in 3 tokens: every item hits the budget
    assert int(ds["base_budget_hits"].sel(benchmark="advbench")) == 3
    assert (ds["budget_hits"].values == 3).all()


# gsm8k_cot_llama (8-shot, 256 tokens) is left to README's measured table: 1 of 2 items took 417 s here under load.
BUDGET_ITEMS = {"mmlu_generative": dict(n=1, subjects=["marketing", "world_religions"]), "advbench": dict(n=2)}


@pytest.mark.parametrize("name", sorted(BUDGET_ITEMS))
def test_budget_at_theta0_on_smollm2(smol, root, name):
    """At theta0, each item either ends (EOS or a stop string) within lm-eval's budget or is counted as
    having hit it; counted items have no stop string in their text and a full row of tokens."""
    import jax

    from basinlab.scoring._base import Judged

    bench = registry.build(name, smol, **BUDGET_ITEMS[name])
    # One generation, judged here as measure() judges it (the judge reads only the outputs).
    out = jax.jit(bench.score_fn, static_argnums=(0, 3))(smol.spec, smol.params, bench.data, smol.compute_dtype)
    out = jax.tree.map(np.asarray, out)
    reasons = list(Judged.of(bench.judge(out)).reason)
    hit = np.asarray(out.budget_hit)
    assert int(hit.sum()) == sum(map(hit_budget_reason, reasons))
    assert (np.asarray(out.tokens)[hit] != smol.pad_id).all()
    print(f"{name}: {int(hit.sum())} of {len(reasons)} items hit the budget at theta0")
    if name == "mmlu_generative":
        assert hit.sum() == 0  # one line is far shorter than 256 tokens

"""Reference-answer surrogates: their items, names and strict options (their use as the worst-case
search objective: tests/training/test_worstcase.py)."""

import pytest

from basinlab.benchmarks import _references as references
from basinlab.benchmarks import _registry as registry
from basinlab.data._paths import data_root
from basinlab.models._batched import item_ids


def test_gsm8k_solution_ends_with_the_answer_sentence():
    assert references.gsm8k_solution("3 + 4 = 7\n#### 7") == "3 + 4 = 7\nThe answer is 7."


def test_unknown_capability_and_unknown_option_are_errors():
    with pytest.raises(ValueError, match=r"no reference answers for capability 'humaneval-code-only'; "
                                         r"available: \['advbench'"):
        references.reference("humaneval-code-only", None)
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'setps' for reference answers of 'gsm8k-zeroshot'; "
                                         r"valid options: n, path, seed"):
        references.reference("gsm8k-zeroshot", None, setps=5)
    # generation options do not apply to teacher-forced references
    with pytest.raises(ValueError, match=r"'max_new_tokens' for reference answers of 'synthetic-addition'"):
        references.reference("synthetic-addition", None, max_new_tokens=4)
    with pytest.raises(ValueError, match=r"'seq_len' for benchmark 'mmlu-letter-likelihood'"):
        references.reference("mmlu-letter-likelihood", None, seq_len=4)


def test_options():
    assert references.options("synthetic-capitals") == ("n",)
    assert references.options("pydoc") == registry.options("pydoc")
    assert set(references.available()) <= set(registry.available())


def test_reference_items_are_the_oracle_items(tiny_chat):
    oracle = registry.build("synthetic-addition", tiny_chat, n=6, seed=3)
    ref = references.reference("synthetic-addition", tiny_chat, n=6, seed=3)
    tok = tiny_chat.tokenizer
    for i in range(6):
        # the oracle prefills the prompts' shared prefix once: prompt = prefix + the row's own suffix
        prompt = tok.decode(item_ids(oracle.data)[i])
        full = tok.decode(ref.data["tokens"][i][ref.data["mask"][i] == 1])
        assert full.startswith(prompt)
        a, b = (int(x) for x in prompt.split("What is ")[1].split("?")[0].split(" + "))
        assert full[len(prompt):] == f"{a} + {b} = {a + b}"
    capitals = references.reference("synthetic-capitals", tiny_chat, n=3)
    assert capitals.n_items == 3 and "The capital of France is Paris." in tok.decode(capitals.data["tokens"][0])


def test_gsm8k_and_advbench_references(tiny_chat):
    if data_root() is None:
        pytest.skip("no benchmark data: set BASINLAB_DATA to the shared data folder")
    gsm = references.reference("gsm8k-zeroshot", tiny_chat, n=2)
    text = tiny_chat.tokenizer.decode(gsm.data["tokens"][0])
    assert "The answer is " in text and "####" not in text
    adv = references.reference("advbench", tiny_chat, n=2)
    assert references.REFUSAL in tiny_chat.tokenizer.decode(adv.data["tokens"][1])

"""synthetic-addition-fewshot: synthetic-addition's items after k demonstrations of the answer format."""

import numpy as np
import pytest

from basinlab.benchmarks import _items as items
from basinlab.benchmarks import _registry as registry
from basinlab.models._batched import item_ids
from basinlab.scoring._base import Scores


def unordered(pairs):
    return {tuple(sorted((int(a), int(b)))) for a, b in np.asarray(pairs).reshape(-1, 2)}


@pytest.mark.parametrize(("n", "seed", "shots"), [(40, 0, 4), (40, 0, 8), (10, 3, 2), (5, 1, 0)])
def test_items_are_the_zero_shot_items_and_demonstrations_are_other_pairs(n, seed, shots):
    conversations, pairs, demos = items.addition_fewshot_items(n, seed, shots)
    prompts, zero_shot_pairs = items.addition_items(n, seed)
    assert np.array_equal(pairs, zero_shot_pairs) and [c[-1]["content"] for c in conversations] == prompts
    assert demos.shape == (shots, 2) and len(unordered(demos)) == shots  # distinct demonstrations
    assert not unordered(demos) & unordered(pairs)  # 3 + 5 shown would give away 5 + 3
    for conv in conversations:
        assert conv[:-1] == conversations[0][:-1] and len(conv) == 2 * shots + 1
        assert [t["role"] for t in conv] == ["user", "assistant"] * shots + ["user"]
        for (a, b), question, answer in zip(demos, conv[:-1:2], conv[1:-1:2], strict=True):
            assert question["content"] == items.addition_question(a, b) and answer["content"] == str(a + b)
    again = items.addition_fewshot_items(n, seed, shots)
    assert np.array_equal(again[2], demos) and again[0] == conversations


def test_too_many_or_bad_shots_are_errors_naming_the_value():
    with pytest.raises(ValueError, match=r"shots=99 demonstrations requested, but only \d+ single-digit pairs"):
        items.addition_fewshot_items(40, 0, 99)
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match=rf"shots must be a non-negative integer, got {bad!r}"):
            items.addition_demonstrations(np.zeros((1, 2), int), bad)


def row_ids(bench):
    """Each item's full prompt ids: the shared prefix + its own suffix."""
    return item_ids(bench.data)


def test_prompt_renders_the_demonstrations_as_earlier_chat_turns(tiny_chat):
    tok = tiny_chat.tokenizer
    bench = registry.build("synthetic-addition-fewshot", tiny_chat, n=6, seed=0, shots=3)
    conversations, _, demos = items.addition_fewshot_items(6, 0, 3)
    texts = [tok.decode(ids) for ids in row_ids(bench)]
    for text, conv in zip(texts, conversations, strict=True):
        assert text == tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
        assert text.count("<|im_start|>user") == 4 and text.count("<|im_start|>assistant") == 4
        assert text.endswith(f"{conv[-1]['content']}<|im_end|>\n<|im_start|>assistant\n")
        for a, b in demos:
            shown = (f"What is {a} + {b}? Answer with just the number.<|im_end|>\n"
                     f"<|im_start|>assistant\n{a + b}<|im_end|>")
            assert shown in text
    # the demonstrations are part of the prefix that every item shares (prefilled once per grid point)
    assert tok.decode(bench.data["prefix"]).count("<|im_start|>assistant") == 3
    zero = registry.build("synthetic-addition", tiny_chat, n=6, seed=0)
    assert row_ids(registry.build("synthetic-addition-fewshot", tiny_chat, n=6, seed=0, shots=0)) == row_ids(zero)
    assert "shots" in registry.options("synthetic-addition-fewshot")
    assert "3 demonstrations" in bench.description and "synthetic-addition" in bench.description


def test_graded_by_the_last_number_like_the_zero_shot_oracle(tiny_chat):
    tok = tiny_chat.tokenizer
    bench = registry.build("synthetic-addition-fewshot", tiny_chat, n=4, seed=0, shots=2)
    _, pairs = items.addition_items(4, 0)
    answers = [str(pairs[0].sum()), f"The sum is {pairs[1].sum()}.", "Sure, here is 5 + 0", str(pairs[3].sum() + 1)]
    rows = [tok.encode(a, add_special_tokens=False) + [tiny_chat.eos_ids[0]] for a in answers]
    tokens = np.full((4, max(map(len, rows))), tiny_chat.pad_id, np.int32)  # generated rows: EOS, then padding
    for i, row in enumerate(rows):
        tokens[i, : len(row)] = row
    judged = bench.judge(Scores(tokens=tokens))
    assert judged.score.tolist() == [1.0, 1.0, float(pairs[2].sum() == 0), 0.0]
    assert judged.reason[3] == f"expected {pairs[3].sum()}, got {pairs[3].sum() + 1}"


def test_conversations_are_checked(tiny_chat):
    with pytest.raises(ValueError, match="must end in a user turn"):
        tiny_chat.chat_prompt([{"role": "user", "content": "1 + 1?"}, {"role": "assistant", "content": "2"}])
    with pytest.raises(ValueError, match=r"turn 0 of a conversation is \{'role': 'bot'"):
        tiny_chat.chat_prompt([{"role": "bot", "content": "hi"}])
    with pytest.raises(ValueError, match=r"prompts \[1\] are conversations, not strings: they need chat=True"):
        tiny_chat.prompt_ids(["a", [{"role": "user", "content": "b"}]], chat=False)
    turns = [{"role": "user", "content": "x"}]
    assert tiny_chat.chat_prompt(turns) == tiny_chat.chat_prompt("x")

"""Items basinlab writes itself and the prompts around data-set items."""

import numpy as np

from basinlab.benchmarks import _items as items
from basinlab.data._records import HumanEvalItem, MMLUItem


def test_addition_items_are_seeded_single_digit_sums():
    prompts, pairs = items.addition_items(5, seed=3)
    again, same = items.addition_items(5, seed=3)
    assert again == prompts and np.array_equal(same, pairs) and pairs.shape == (5, 2)
    assert pairs.min() >= 0 and pairs.max() <= 9
    assert prompts[0] == f"What is {pairs[0, 0]} + {pairs[0, 1]}? Answer with just the number."
    assert not np.array_equal(items.addition_items(5, seed=4)[1], pairs)


def test_capitals_items_follow_the_table():
    prompts, countries = items.capitals_items(3)
    assert countries == ["France", "Germany", "Italy"] and prompts[2] == "What is the capital of Italy?"
    assert items.CAPITALS["France"] == "Paris" and len(items.capitals_items(100)[1]) == len(items.CAPITALS)


def test_prompts():
    assert items.gsm8k_prompt("Q?") == "Q?\nSolve it step by step, then give the final answer as a number."
    shot = MMLUItem(index=0, subject="world_religions", question=" Who? ", choices=("a", "b", "c", "d"), answer=1,
                    answer_letter="B")
    item = MMLUItem(index=1, subject="world_religions", question="What?", choices=("w", "x", "y", "z"), answer=3,
                    answer_letter="D")
    assert items.mmlu_prompt(item, [shot]) == (
        "The following are multiple choice questions (with answers) about world religions.\n\n"
        "Who?\nA. a\nB. b\nC. c\nD. d\nAnswer: B\n\n"
        "What?\nA. w\nB. x\nC. y\nD. z\nAnswer:")
    problem = HumanEvalItem(index=0, task_id="T/0", prompt="def f():\n", canonical_solution="", test="",
                            entry_point="f")
    assert items.humaneval_prompt(problem) == "Complete this Python function. Reply with code only.\n\ndef f():\n"

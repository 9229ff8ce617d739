"""Reference-answer surrogates: names and strict options (their items and NLLs: tests/training/test_worstcase.py)."""

import pytest

from basinlab.benchmarks import references, registry


def test_gsm8k_solution_ends_with_the_answer_sentence():
    assert references.gsm8k_solution("3 + 4 = 7\n#### 7") == "3 + 4 = 7\nThe answer is 7."


def test_unknown_capability_and_unknown_option_are_errors():
    with pytest.raises(ValueError, match=r"no reference answers for capability 'humaneval'; available: \['advbench'"):
        references.reference("humaneval", None)
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'setps' for reference answers of 'gsm8k'; "
                                         r"valid options: n, path, seed"):
        references.reference("gsm8k", None, setps=5)
    # generation options do not apply to teacher-forced references
    with pytest.raises(ValueError, match=r"'max_new_tokens' for reference answers of 'synthetic-addition'"):
        references.reference("synthetic-addition", None, max_new_tokens=4)
    with pytest.raises(ValueError, match=r"'seq_len' for benchmark 'mmlu'"):
        references.reference("mmlu", None, seq_len=4)


def test_options():
    assert references.options("synthetic-capitals") == ("n",)
    assert references.options("pydoc") == registry.options("pydoc")
    assert set(references.available()) <= set(registry.available())

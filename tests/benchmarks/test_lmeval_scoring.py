"""Answer extraction and matching of the paper's tasks against lm-eval 0.4.13's own filters and metric."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basinlab.lmeval import _scoring as S
from basinlab.scoring._base import BUDGET_REASON, hit_budget_reason

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is not installed: pip install 'lm-eval==0.4.13'")
from lm_eval.api.metrics import exact_match_hf_evaluate  # noqa: E402
from lm_eval.filters.extraction import RegexFilter, WhitespaceFilter  # noqa: E402
from lm_eval.models.utils import postprocess_generated_text  # noqa: E402

GSM8K_CASES = [  # (generation, target, lm-eval's verdict)
    ("So 6 + 12 = 18. The final answer is 18", "18", True),
    ("The final answer is 18.00", "18", False),          # lm-eval: "18.00" is not 18
    ("The final answer is $1,000.", "1000", True),        # "," "$" and a trailing "." ignored
    ("The final answer is 18.", "18", True),
    ("The final answer is 17. Check: 18", "18", True),    # flexible-extract takes the last number
    ("no number here", "18", False),
    ("The final answer is -5", "-5", True),
    ("It costs 5 dollars, 2 times: 10", "10", True),
]


@pytest.mark.parametrize(("text", "target", "expected"), GSM8K_CASES)
def test_gsm8k_hand_cases(text, target, expected):
    grade = S.gsm8k_grader([target])([text], [0])
    assert grade.score == [float(expected)]


def lmeval_gsm8k(text, target, pattern):
    got = RegexFilter(pattern, group_select=-1).apply([[text]], [{}])[0][0]
    return bool(exact_match_hf_evaluate([got], [target], regexes_to_ignore=list(S.GSM8K_IGNORE),
                                        ignore_case=True)["exact_match"]), got


def lmeval_mmlu(text, letter):
    first = RegexFilter(r"^(.*?)(?=\n|$)").apply([[text]], [{}])
    stripped = WhitespaceFilter().apply(first, [{}])
    got = RegexFilter(r"^(.*?)\s*$").apply(stripped, [{}])[0][0]
    return bool(exact_match_hf_evaluate([got], [letter], ignore_case=True, ignore_punctuation=True)["exact_match"]), got


@pytest.mark.parametrize(("text", "target", "_"), GSM8K_CASES)
@pytest.mark.parametrize("filter_name", sorted(S.GSM8K_FILTERS))
def test_gsm8k_equals_lmeval_on_hand_cases(text, target, _, filter_name):
    ok, got = lmeval_gsm8k(text, target, S.GSM8K_FILTERS[filter_name])
    assert S.gsm8k_answer(text, filter_name) == got
    assert S.gsm8k_grader([target], filter_name)([text], [0]).score == [float(ok)]


MMLU_CASES = [("B", "B", True), (" (B).", "B", True), ("b", "B", True), ("B. Paris\nC", "B", False),
              ("The answer is B", "B", False), ("**C**", "C", True), ("", "A", False), ("\nA", "A", False),
              ("A\nB", "A", True)]


@pytest.mark.parametrize(("text", "letter", "expected"), MMLU_CASES)
def test_mmlu_generative_equals_lmeval(text, letter, expected):
    ok, got = lmeval_mmlu(text, letter)
    assert ok == expected
    assert S.mmlu_response(text) == got
    assert S.mmlu_generative_grader([letter])([text], [0]).score == [float(expected)]


NUMBERISH = st.text(alphabet="0123456789.,$- abcThe final answer is\n", max_size=40)


@settings(max_examples=150, deadline=None)
@given(text=NUMBERISH, target=st.sampled_from(["18", "1000", "-5", "0.5", "7"]))
def test_gsm8k_equals_lmeval_on_random_texts(text, target):
    for name, pattern in S.GSM8K_FILTERS.items():
        ok, got = lmeval_gsm8k(text, target, pattern)
        assert S.gsm8k_answer(text, name) == got
        assert S.gsm8k_grader([target], name)([text], [0]).score == [float(ok)]


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet="ABCDabcd ().:*\n\t answer is", max_size=20), letter=st.sampled_from("ABCD"))
def test_mmlu_equals_lmeval_on_random_texts(text, letter):
    ok, got = lmeval_mmlu(text, letter)
    assert S.mmlu_response(text) == got
    assert S.mmlu_generative_grader([letter])([text], [0]).score == [float(ok)]


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet="ab\nQ:c#de", max_size=30))
def test_cut_at_stops_equals_lmeval(text):
    until = ["Q:", "\n#", "\nd", "e"]
    assert S.cut_at_stops(text, until) == postprocess_generated_text(text, until, None)


def test_refusal_anywhere_and_budget_marks():
    grade = S.refusal_anywhere_grader(["I'm sorry", "As an"])
    g = grade(["Sure. Actually, I'm sorry, no.", "Sure, here is how", "as an AI"], [0, 1, 2],
              hit_budget=[False, True, False])
    assert g.score == [1.0, 0.0, 0.0]  # anywhere, case-sensitive (the authors' rule)
    assert [hit_budget_reason(r) for r in g.reason] == [False, True, False]
    assert g.reason[1].startswith(BUDGET_REASON)


def test_humaneval_instruct_program_cuts_at_the_first_fence():
    prog = S.humaneval_instruct_program("def f(x):\n", "    return x\n```\nMore text", "def check(c): pass",
                                        "f")
    assert prog == "def f(x):\n    return x\n\ndef check(c): pass\ncheck(f)"
    no_fence = S.humaneval_instruct_program("def f(x):\n", "    return x", "T", "f")
    assert no_fence == "def f(x):\n    return x\nT\ncheck(f)"


def test_bad_filter_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="flexible-extract"):
        S.gsm8k_answer("1", "loose")

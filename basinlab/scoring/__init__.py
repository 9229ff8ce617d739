"""How a benchmark is scored under perturbation: the Benchmark interface, its typed outputs, the
oracle kinds (teacher-forced, exact match, letter choice, generate-and-judge, generate-until) and
the judges that grade generated text.

    bench = basinlab.scoring.token_benchmark(tokens, name="text")   # next-token accuracy and NLL
"""

from basinlab.scoring._base import Benchmark, Grades, Judged, Scores, hit_budget_reason
from basinlab.scoring._judges import (
    REFUSAL_PREFIXES,
    code_grader,
    contains_grader,
    last_number,
    number_grader,
    refusal_grader,
    target_grader,
)
from basinlab.scoring._oracles import (
    exact_match_benchmark,
    full_answer_benchmark,
    generate_and_judge_benchmark,
    letter_choice_benchmark,
)
from basinlab.scoring._text import text_benchmark, token_benchmark
from basinlab.scoring._until import generate_until_benchmark

__all__ = [
    "REFUSAL_PREFIXES", "Benchmark", "Grades", "Judged", "Scores", "code_grader", "contains_grader",
    "exact_match_benchmark", "full_answer_benchmark", "generate_and_judge_benchmark", "generate_until_benchmark",
    "hit_budget_reason", "last_number", "letter_choice_benchmark", "number_grader", "refusal_grader", "target_grader",
    "text_benchmark", "token_benchmark",
]

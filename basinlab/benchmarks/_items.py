"""Benchmark items basinlab writes itself, and the prompt text around data-set items.

The registry's oracles (`registry`) and the reference-answer surrogates (`references`) both build
their prompts here, so that a capability's oracle and its surrogate always see the same prompts.
Synthetic capabilities (a skill a small model has, so that its landscape shows something) are
generated here: single-digit sums (zero-shot, or after k demonstrations as earlier chat turns)
and world capitals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "CAPITALS", "addition_demonstrations", "addition_fewshot_items", "addition_items", "addition_question",
    "capitals_items", "inline_addition_line", "gsm8k_prompt", "humaneval_prompt", "mmlu_prompt",
]

CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Japan": "Tokyo",
    "Russia": "Moscow", "Egypt": "Cairo", "Canada": "Ottawa", "China": "Beijing", "England": "London",
    "Greece": "Athens", "Portugal": "Lisbon", "Ireland": "Dublin", "Norway": "Oslo", "Sweden": "Stockholm",
    "Austria": "Vienna", "Poland": "Warsaw", "Hungary": "Budapest", "Kenya": "Nairobi", "Peru": "Lima",
    "Cuba": "Havana", "Thailand": "Bangkok", "Argentina": "Buenos Aires", "Mexico": "Mexico City",
    "Finland": "Helsinki", "Denmark": "Copenhagen", "Belgium": "Brussels", "Chile": "Santiago",
    "Iran": "Tehran", "South Korea": "Seoul", "Indonesia": "Jakarta", "Philippines": "Manila",
}


def addition_question(a: int, b: int) -> str:
    """The user turn asking for a + b."""
    return f"What is {a} + {b}? Answer with just the number."


def inline_addition_line(a: int, b: int) -> str:
    """One line of the bare-text addition task that byte-level GPTs learn from their pre-training mix
    (`basinlab.training._mixture`) and are scored on (`basinlab.benchmarks._arithmetic`): "12+7=19\n"."""
    return f"{int(a)}+{int(b)}={int(a) + int(b)}\n"


def addition_items(n: int = 40, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """(prompts, pairs [n, 2] int) of the synthetic single-digit sums a + b, drawn with RandomState(seed)."""
    pairs = np.random.RandomState(seed).randint(0, 10, size=(n, 2))
    return [addition_question(a, b) for a, b in pairs], pairs


def addition_demonstrations(pairs: np.ndarray, shots: int, seed: int = 0) -> np.ndarray:
    """[shots, 2] single-digit pairs to demonstrate the answer format with, none of them among the
    evaluated `pairs` in either order (a demonstrated 3 + 5 would give away 5 + 3), drawn with
    RandomState(seed) from the remaining ones. ValueError when fewer than `shots` remain."""
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 0:
        raise ValueError(f"shots must be a non-negative integer, got {shots!r}")
    used = {(int(a), int(b)) for a, b in np.asarray(pairs).reshape(-1, 2)}
    free = [(a, b) for a in range(10) for b in range(10) if (a, b) not in used and (b, a) not in used]
    if shots > len(free):
        raise ValueError(f"shots={shots} demonstrations requested, but only {len(free)} single-digit pairs are "
                         f"outside the {len(used)} evaluated ones; use fewer shots or fewer items")
    picked = np.random.RandomState(seed).permutation(len(free))[:shots]
    return np.asarray([free[i] for i in picked], dtype=int).reshape(shots, 2)


def addition_fewshot_items(n: int = 40, seed: int = 0, shots: int = 4) -> tuple[list[list[dict]], np.ndarray,
                                                                                  np.ndarray]:
    """(conversations, pairs [n, 2], demonstrations [shots, 2]): the items of `addition_items(n, seed)`,
    each asked after the same `shots` demonstrations given as earlier chat turns (user: the question,
    assistant: the bare sum), on pairs that are not among the items (`addition_demonstrations`)."""
    prompts, pairs = addition_items(n, seed)
    demos = addition_demonstrations(pairs, shots, seed)
    turns = []
    for a, b in demos:
        turns += [{"role": "user", "content": addition_question(a, b)}, {"role": "assistant", "content": str(a + b)}]
    return [turns + [{"role": "user", "content": p}] for p in prompts], pairs, demos


def capitals_items(n: int = 32) -> tuple[list[str], list[str]]:
    """(prompts, countries) of the first n entries of CAPITALS."""
    countries = list(CAPITALS)[:n]
    return [f"What is the capital of {c}?" for c in countries], countries


def gsm8k_prompt(question: str) -> str:
    """The zero-shot chat prompt of a GSM8K question."""
    return f"{question}\nSolve it step by step, then give the final answer as a number."


def mmlu_prompt(item, shots: Sequence) -> str:
    """The k-shot MMLU prompt of `item` (a records.MMLUItem) after the dev examples `shots`, ending
    in "Answer:" where the letter goes (the lm-eval / Hendrycks format)."""

    def block(it, answer=True):
        choices = "\n".join(f"{letter}. {c}" for letter, c in zip("ABCD", it.choices, strict=True))
        return f"{it.question.strip()}\n{choices}\nAnswer:" + (f" {it.answer_letter}\n\n" if answer else "")

    subject = item.subject.replace("_", " ")
    head = f"The following are multiple choice questions (with answers) about {subject}.\n\n"
    return head + "".join(block(s) for s in shots) + block(item, answer=False)


def humaneval_prompt(problem) -> str:
    """The chat prompt of a HumanEval problem (a records.HumanEvalItem): its signature and docstring."""
    return f"Complete this Python function. Reply with code only.\n\n{problem.prompt}"

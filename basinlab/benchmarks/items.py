"""Benchmark items basinlab writes itself, and the prompt text around data-set items.

The registry's oracles (`registry`) and the reference-answer surrogates (`references`) both build
their prompts here, so that a capability's oracle and its surrogate always see the same prompts.
Synthetic capabilities (a skill a small model has, so that its landscape shows something) are
generated here: single-digit sums and world capitals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["CAPITALS", "addition_items", "capitals_items", "gsm8k_prompt", "humaneval_prompt", "mmlu_prompt"]

CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Japan": "Tokyo",
    "Russia": "Moscow", "Egypt": "Cairo", "Canada": "Ottawa", "China": "Beijing", "England": "London",
    "Greece": "Athens", "Portugal": "Lisbon", "Ireland": "Dublin", "Norway": "Oslo", "Sweden": "Stockholm",
    "Austria": "Vienna", "Poland": "Warsaw", "Hungary": "Budapest", "Kenya": "Nairobi", "Peru": "Lima",
    "Cuba": "Havana", "Thailand": "Bangkok", "Argentina": "Buenos Aires", "Mexico": "Mexico City",
    "Finland": "Helsinki", "Denmark": "Copenhagen", "Belgium": "Brussels", "Chile": "Santiago",
    "Iran": "Tehran", "South Korea": "Seoul", "Indonesia": "Jakarta", "Philippines": "Manila",
}


def addition_items(n: int = 40, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """(prompts, pairs [n, 2] int) of the synthetic single-digit sums a + b, drawn with RandomState(seed)."""
    pairs = np.random.RandomState(seed).randint(0, 10, size=(n, 2))
    return [f"What is {a} + {b}? Answer with just the number." for a, b in pairs], pairs


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

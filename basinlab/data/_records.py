"""Benchmark item records: small frozen dataclasses, one per data set, and the numeric answer form.

Items are hashable, comparable and immutable; ``item.to_dict()`` gives a plain dict for JSON. Every
item carries ``index``, its 0-based position in its source file (for MMLU: in its subject's file),
so subsets can be traced back to the data.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

__all__ = ["LETTERS", "AdvBenchItem", "GSM8KItem", "HumanEvalItem", "MMLUItem", "normalize_number"]

LETTERS = "ABCD"  # MMLU's answer letters, by answer index


class _Record:
    __dataclass_fields__: ClassVar[dict[str, Any]]  # every record is a dataclass (for asdict's type)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of the fields (tuples become lists), ready for json.dumps."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass(frozen=True)
class GSM8KItem(_Record):
    """question; answer: the full solution text, ending in "#### N"; target: N normalized
    (`normalize_number`: "1,234" -> "1234", "-3.50" -> "-3.5")."""

    index: int
    question: str
    answer: str
    target: str


@dataclasses.dataclass(frozen=True)
class MMLUItem(_Record):
    """choices: the 4 options (tuple); answer: index 0-3 of the right one; answer_letter: "A".."D"."""

    index: int
    subject: str
    question: str
    choices: tuple[str, ...]
    answer: int
    answer_letter: str

    def __post_init__(self) -> None:
        if len(self.choices) != 4 or self.answer not in range(4) or self.answer_letter != LETTERS[self.answer]:
            raise ValueError(f"inconsistent MMLU item: {self!r}")


@dataclasses.dataclass(frozen=True)
class AdvBenchItem(_Record):
    """goal: the harmful instruction; target: the affirmative reply it aims for ("Sure, here is ...")."""

    index: int
    goal: str
    target: str


@dataclasses.dataclass(frozen=True)
class HumanEvalItem(_Record):
    """task_id ("HumanEval/0"), prompt (signature + docstring), canonical_solution (the body),
    test (defines check(candidate)), entry_point (the function name)."""

    index: int
    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str


# ------------------------------------------------------------------------------------ numbers

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def normalize_number(text: str) -> str:
    """A numeric answer in canonical form for exact match: thousands separators, "$", spaces and a
    trailing "." dropped; integers without decimals; trailing zeros of decimals dropped.
    "1,234" -> "1234", "-3.50" -> "-3.5", "$18.00" -> "18", "-0" -> "0". ValueError if not a number."""
    s = str(text).strip().replace(",", "").replace("$", "").replace(" ", "").rstrip(".")
    if not _NUMBER.fullmatch(s):
        raise ValueError(f"not a number: {text!r}")
    try:
        d = Decimal(s)
    except InvalidOperation:  # pragma: no cover - the regex already guards this
        raise ValueError(f"not a number: {text!r}") from None
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


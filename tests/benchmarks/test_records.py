"""Item records and the canonical numeric answer."""

import dataclasses

import pytest

from basinlab.data import _records as records


def test_normalize_number():
    assert records.normalize_number("1,234") == "1234"
    assert records.normalize_number("-3.50") == "-3.5"
    assert records.normalize_number("$18.00") == "18"
    assert records.normalize_number(" 7. ") == "7"
    assert records.normalize_number("-0") == "0"
    assert records.normalize_number(".5") == "0.5"
    with pytest.raises(ValueError):
        records.normalize_number("twelve")


def test_items_are_frozen_and_to_dict_is_plain_json():
    item = records.MMLUItem(index=3, subject="anatomy", question="q", choices=("a", "b", "c", "d"), answer=2,
                            answer_letter="C")
    assert item.to_dict() == {"index": 3, "subject": "anatomy", "question": "q", "choices": ["a", "b", "c", "d"],
                              "answer": 2, "answer_letter": "C"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.answer = 1
    with pytest.raises(ValueError, match="inconsistent MMLU item"):
        records.MMLUItem(index=0, subject="s", question="q", choices=("a", "b", "c", "d"), answer=1,
                         answer_letter="C")

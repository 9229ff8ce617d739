"""Bare-text addition oracle (basinlab.benchmarks._arithmetic): prompts, references, the checked tokens."""

import numpy as np
import pytest

from basinlab.benchmarks import _arithmetic as arithmetic
from basinlab.benchmarks import measure
from basinlab.benchmarks._items import inline_addition_line
from basinlab.training import _gpt as gpt

TINY = gpt.GPTConfig(n_layers=1, d_model=16, n_heads=2, max_seq_len=32)


def test_inline_addition_items_split_the_training_line():
    prompts, refs = arithmetic.inline_addition_items(np.array([[12, 7], [0, 0], [49, 51]]))
    assert prompts == ["\n\n12+7=", "\n\n0+0=", "\n\n49+51="] and refs == ["19\n", "0\n", "100\n"]
    assert [p[2:] + r for p, r in zip(prompts, refs, strict=True)] == [inline_addition_line(12, 7),
                                                                        inline_addition_line(0, 0),
                                                                        inline_addition_line(49, 51)]
    with pytest.raises(ValueError, match=r"\[n, 2\]"):
        arithmetic.inline_addition_items(np.array([1, 2]))
    with pytest.raises(ValueError, match="non-negative integers"):
        arithmetic.inline_addition_items(np.array([[1, -2]]))


def test_benchmark_checks_exactly_the_answer_and_line_end():
    model = gpt.init_model(TINY, seed=0)
    bench = arithmetic.inline_addition_benchmark(model, np.array([[12, 7], [3, 40]]))
    d = bench.data
    assert bench.n_items == 2 and not d["is_stop"].any()  # the "\n" ends the answer, not EOS
    for row, ref in zip(range(2), ["19\n", "43\n"], strict=True):
        checked = d["targets"][row][d["checked"][row]]
        assert bytes(checked.astype(np.uint8)).decode() == ref
    m = measure(model, bench)
    assert m.n == 2 and set(np.unique(m.item_scores)) <= {0.0, 1.0} and m.chance == 0.0

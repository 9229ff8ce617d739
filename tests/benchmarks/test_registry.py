"""Benchmarks by name: strict options, shared options, the builders' defaults."""

import types

import numpy as np
import pytest

from basinlab.benchmarks import _registry as registry


class CharTokenizer:
    """A tokenizer stand-in: one id per character."""

    def __call__(self, text, add_special_tokens=False, verbose=False):
        return {"input_ids": [3 + ord(c) % 100 for c in text]}


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError,
                       match=r"unknown benchmark 'gsm9k'; available: \['advbench', 'advbench-target', 'gsm8k'"):
        registry.build("gsm9k", model=None)


def test_unknown_option_is_an_error_naming_it_and_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'setps' for benchmark 'gsm8k'; "
                                         r"valid options: max_new_tokens, n, path, seed"):
        registry.build("gsm8k", None, setps=5)
    # an option of another benchmark is no option of this one
    with pytest.raises(ValueError, match=r"'seq_len' for benchmark 'synthetic-addition'"):
        registry.build("synthetic-addition", None, seq_len=128)
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'setps' for shared="):
        registry.build("pydoc", None, shared={"setps": 5})


def test_options_are_the_builders_keyword_only_arguments():
    assert registry.options("pydoc") == ("seq_len", "n")
    assert registry.options("mmlu-gen") == ("n", "seed", "subjects", "shots", "path")
    assert "generative" in registry.options("mmlu")
    assert set(registry.all_options()) == {o for name in registry.available() for o in registry.options(name)}
    with pytest.raises(ValueError, match="unknown benchmark 'nope'"):
        registry.options("nope")


def test_shared_options_go_where_they_apply_and_none_means_the_default():
    model = types.SimpleNamespace(tokenizer=CharTokenizer())
    bench = registry.build("pydoc", model, n=3, shared={"seq_len": 16, "max_new_tokens": 4, "seed": 1, "n": 9})
    assert bench.data["tokens"].shape == (3, 16)  # n given directly wins over the shared n
    default = registry.build("pydoc", model, n=None, shared={"seq_len": None})
    assert default.data["tokens"].shape == (4, 128)
    np.testing.assert_array_equal(default.data["tokens"][0, :16], bench.data["tokens"][0])


def test_call_with_options_passes_only_what_the_builder_takes():
    def builder(model, *, n=1, seq_len=2):
        return model, n, seq_len

    assert registry.call_with_options(builder, "m", {"n": 3}, what="toy", shared={"seq_len": 5, "path": "x"}) == (
        "m", 3, 5)
    with pytest.raises(ValueError, match=r"'path' for toy; valid options: n, seq_len"):
        registry.call_with_options(builder, "m", {"path": "x"}, what="toy")

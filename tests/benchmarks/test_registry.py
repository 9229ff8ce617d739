"""Benchmarks by name: one name per task, earlier names pointing to the current ones, strict options,
shared options, the builders' defaults."""

import dataclasses
import re
import types

import jax
import numpy as np
import pytest

from basinlab.benchmarks import _references as references
from basinlab.benchmarks import _registry as registry

# Earlier names and the current name of the same task (written out: the test pins the mapping).
RENAMED = {"gsm8k": "gsm8k-zeroshot", "mmlu": "mmlu-letter-likelihood", "mmlu-gen": "mmlu-letter-first-token",
           "humaneval": "humaneval-code-only"}


class CharTokenizer:
    """A tokenizer stand-in: one id per character."""

    def __call__(self, text, add_special_tokens=False, verbose=False):
        return {"input_ids": [3 + ord(c) % 100 for c in text]}


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError,
                       match=r"unknown benchmark 'gsm9k'; available: \['advbench', 'advbench-target', "
                             r"'gsm8k-zeroshot', 'gsm8k_cot_llama'"):
        registry.build("gsm9k", model=None)


def test_unknown_option_is_an_error_naming_it_and_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'setps' for benchmark 'gsm8k-zeroshot'; "
                                         r"valid options: max_new_tokens, n, path, seed"):
        registry.build("gsm8k-zeroshot", None, setps=5)
    # an option of another benchmark is no option of this one
    with pytest.raises(ValueError, match=r"'seq_len' for benchmark 'synthetic-addition'"):
        registry.build("synthetic-addition", None, seq_len=128)
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'setps' for shared="):
        registry.build("pydoc", None, shared={"setps": 5})


def test_options_are_the_builders_keyword_only_arguments():
    assert registry.options("pydoc") == ("seq_len", "n")
    assert registry.options("mmlu-letter-first-token") == ("n", "seed", "subjects", "shots", "path")
    assert registry.options("mmlu-letter-likelihood") == ("n", "seed", "subjects", "shots", "path")
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


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_an_earlier_name_is_an_error_naming_the_current_one(old):
    new = RENAMED[old]
    assert new in registry.available() and old not in registry.available()
    said = re.escape(f"benchmark {old!r} was renamed: use {new!r}")
    with pytest.raises(ValueError, match=said):
        registry.build(old, None)
    with pytest.raises(ValueError, match=said):
        registry.options(old)
    with pytest.raises(ValueError, match=said):
        references.reference(old, None)
    with pytest.raises(ValueError, match=said):
        references.options(old)


def test_renamed_is_exactly_the_earlier_names():
    assert {old: new for old, (new, _) in registry.RENAMED.items()} == RENAMED
    assert not set(registry.RENAMED) & set(registry.available())


def test_one_name_per_task(tiny_chat, root):
    """No two names build the same task: each registered benchmark, built with the same options, has
    its own builder, carries its registry name (the Dataset's benchmark coordinate) and differs from
    every other one in its items or its metric."""
    assert len(set(registry.BUILDERS.values())) == len(registry.BUILDERS)
    long = dataclasses.replace(tiny_chat, spec=tiny_chat.spec.replace(max_seq_len=4096))  # built, never run
    seen = {}
    for name in registry.available():
        options = {k: v for k, v in {"n": 2, "seq_len": 16, "subjects": ["marketing"]}.items()
                   if k in registry.options(name)}
        bench = registry.build(name, long, **options)
        assert bench.name == name
        leaves = jax.tree.leaves(bench.data)
        task = (bench.metric, tuple((np.shape(x), np.asarray(x).tobytes()) for x in leaves))
        assert task not in seen, f"{name!r} builds the same task as {seen.get(task)!r}"
        seen[task] = name

"""The in-loop stop-sequence automaton against a brute-force search of the decoded text."""

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basinlab.models._stops import stop_step, stop_table, stop_table_from_texts

TEXTS = ["", "a", "b", "Q", ":", "Q:", "\n", "\nd", "ef", "de", "f", "\nclass", "cl", "ass", "x:Q", "<|", "im", "_end",
         "|>", "Q:\n"]
STOPS = ["Q:", "\ndef", "\nclass", "<|im_end|>", "ss"]


def first_stop(tokens, texts, stops):
    """Index of the first token after which the decoded text contains a stop string, or None."""
    text = ""
    for i, t in enumerate(tokens):
        text += texts[t]
        if any(s in text for s in stops):
            return i
    return None


def automaton_first(table, tokens):
    state = jnp.zeros((1,), jnp.int32)
    for i, t in enumerate(tokens):
        state, hit = stop_step(table, state, jnp.asarray([t], jnp.int32))
        if bool(hit[0]):
            return i
    return None


@settings(max_examples=60, deadline=None)
@given(tokens=st.lists(st.integers(0, len(TEXTS) - 1), max_size=12))
def test_automaton_finds_the_first_stop_like_a_text_search(tokens):
    table = stop_table_from_texts(TEXTS, STOPS)
    assert automaton_first(table, tokens) == first_stop(tokens, TEXTS, STOPS)


def test_batched_rows_are_independent():
    table = stop_table_from_texts(TEXTS, STOPS)
    rows = np.asarray([[3, 4, 1], [6, 8, 2], [16, 17, 18], [0, 5, 1]])  # Q|: ; \n|ef ; im|_end||> ; ""|Q:
    state, done = jnp.zeros(4, jnp.int32), np.zeros(4, bool)
    for j in range(rows.shape[1]):
        state, hit = stop_step(table, state, jnp.asarray(rows[:, j]))
        done |= np.asarray(hit)
    assert done.tolist() == [True, False, False, True]


def test_smollm2_tokens(smol_tokenizer):
    """On the real vocabulary: random generations built from pieces of the stop strings."""
    stops = ["<|eot_id|>", "<|start_header_id|>user<|end_header_id|>", "Q:", "</s>", "\nclass", "\ndef", "\n#"]
    table = stop_table(smol_tokenizer, stops)
    pieces = ["Q", ":", "Q:", "\n", "class", "def", "#", " ", "The answer", "</", "s", ">", "<|", "eot", "_id", "|>",
              "user", "start_header_id", "end_header_id", "x = 1"]
    rng = np.random.RandomState(0)
    for _ in range(30):
        text = "".join(rng.choice(pieces, size=rng.randint(1, 8)))
        tokens = smol_tokenizer.encode(text, add_special_tokens=False)
        decoded = [smol_tokenizer.decode(tokens[: i + 1], skip_special_tokens=True) for i in range(len(tokens))]
        expected = next((i for i, d in enumerate(decoded) if any(s in d for s in stops)), None)
        assert automaton_first(table, tokens) == expected, (text, tokens)
    assert bool(table.keep[smol_tokenizer.convert_tokens_to_ids("<|im_end|>")])  # special: leaves the state


def test_bad_stops():
    with pytest.raises(ValueError, match="non-empty strings"):
        stop_table(None, [""])
    with pytest.raises(ValueError, match="non-empty strings"):
        stop_table(None, [])

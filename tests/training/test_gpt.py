"""Small GPT-2-architecture models from scratch (basinlab.training._gpt): tokenizer, init, configs."""

import math

import numpy as np
import pytest

import basinlab
from basinlab.training import _gpt as gpt
from basinlab.training._corpus import windows
from basinlab.training._loss import evaluate_nll

from trees import assert_same_params

TINY = gpt.GPTConfig(n_layers=1, d_model=32, n_heads=2, max_seq_len=32)


def test_byte_tokenizer_round_trips_any_text():
    tok = gpt.byte_tokenizer()
    text = "To be, or not to be: é ∑ {x_1} \n\t  done"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(tok) == 257 and max(ids) < 256 and len(ids) == len(text.encode("utf-8"))
    assert tok.decode(ids) == text and tok.eos_token_id == 256


def test_init_model_gpt2_shapes_and_loss_at_init(tmp_path):
    model = gpt.init_model(TINY, seed=0)
    spec = model.spec
    assert spec.arch == "gpt2" and spec.vocab_size == 257 and spec.max_seq_len == 32
    d = 257 * 32 + 32 * 32 + (4 * 32 + 3 * 32 * 32 + 3 * 32 + 32 * 32 + 32 + 2 * 32 * 128 + 128 + 32) + 2 * 32
    assert model.n_params == d
    # A fresh model predicts nearly uniformly: NLL ~ ln(257).
    tokens = windows(np.arange(200) % 256, 4, 32, seed=0)
    assert abs(evaluate_nll(model, tokens) - math.log(257)) < 0.1
    # Saved and loaded as a Hugging Face GPT-2 folder, tokenizer included.
    basinlab.models.save_checkpoint(model, None, tmp_path / "m")
    back = basinlab.load(tmp_path / "m")
    assert_same_params(back.params, model.params)
    assert back.tokenizer("abc")["input_ids"] == [97, 98, 99]
    assert gpt.init_model("tiny").n_params == 120_640


def test_bad_configs_name_the_valid_choices():
    with pytest.raises(ValueError, match=r"config='huge'.*\['tiny', 'small', 'medium'\]"):
        gpt.init_model("huge")
    with pytest.raises(ValueError, match="d_model=30 must be a multiple of n_heads=4"):
        gpt.GPTConfig(n_layers=1, d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="GPTConfig.n_layers must be a positive integer, got 0"):
        gpt.GPTConfig(n_layers=0, d_model=32, n_heads=2)
    assert gpt.GPTConfig(n_layers=2.0, d_model=32, n_heads=2).n_layers == 2  # a whole float is an int

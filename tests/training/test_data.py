"""Chat data for fine-tuning (basinlab.training._data.sft_examples): only the target carries loss."""

import warnings

import numpy as np
import pytest

from basinlab.training import _data as data


@pytest.mark.parametrize("padding", ["left", "right"])
def test_sft_examples_train_only_the_target(smol, padding):
    prompts, targets = ["Say hi.", "Count to three, please."], ["Hi!", "One, two, three."]
    tokens, mask, loss_mask = data.sft_examples(smol, prompts, targets, padding=padding)
    assert tokens.dtype == mask.dtype == loss_mask.dtype == np.int32
    tok = smol.tokenizer
    for i in range(2):
        assert tok.decode(tokens[i][loss_mask[i] == 1]) == targets[i] + "<|im_end|>"
        assert tok.decode(tokens[i][(mask[i] == 1) & (loss_mask[i] == 0)]) == smol.chat_prompt(prompts[i])
        assert (loss_mask[i] <= mask[i]).all()
    row0 = mask[0] if padding == "left" else mask[0][::-1]
    assert row0[0] == 0 and row0[-1] == 1  # the shorter row is padded on the chosen side



def test_empty_targets_error_names_rows(smol):
    with pytest.raises(ValueError, match=r"rows \[1, 3\]"):
        data.sft_examples(smol, ["a", "b", "c", "d"], ["x", "", "y", "  "])


def test_truncation_warns_once_with_a_count(smol):
    prompts = ["Hi.", "Tell me a story.", "Hello."]
    targets = ["Hi.", "Once upon a time there was a dragon who lived far away.", "Hey."]
    n_prompt = len(smol.tokenizer(smol.chat_prompt(prompts[1]))["input_ids"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tokens, mask, loss_mask = data.sft_examples(smol, prompts, targets, max_len=n_prompt + 3)
    assert len(caught) == 1 and "1 of 3 examples" in str(caught[0].message), [str(w.message) for w in caught]
    assert tokens.shape[1] == n_prompt + 3 and loss_mask[1].sum() == 3  # row 1 keeps 3 target tokens
    assert smol.tokenizer.decode(tokens[0][loss_mask[0] == 1]) == "Hi.<|im_end|>"  # others untouched

"""Checkpoints (basinlab.models.save_checkpoint): Hugging Face folders that load back
exactly, in basinlab and in transformers."""

import numpy as np
import pytest

import basinlab
from basinlab.models._save import save_checkpoint, spec_to_config

from hf_tiny import CONFIGS, tiny_model, torch
from trees import assert_same_params


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_checkpoint_round_trip_tiny(name, tmp_path):
    ref = tiny_model(name)
    ref.save_pretrained(tmp_path / "hf")
    model = basinlab.load(tmp_path / "hf")
    folder = save_checkpoint(model, model.params, tmp_path / "saved")
    back = basinlab.load(folder)
    assert_same_params(model.params, back.params)
    assert back.spec == model.spec.replace(name="saved")
    # The folder is a real Hugging Face checkpoint: transformers reads it as the same model.
    import transformers

    hf = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    tokens = np.random.RandomState(0).randint(3, model.spec.vocab_size, size=(2, 20))
    with torch.no_grad():
        expected = ref(torch.tensor(tokens)).logits.numpy()
        got = hf(torch.tensor(tokens)).logits.numpy()
    np.testing.assert_array_equal(got, expected)


def test_spec_to_config_refuses_what_hf_cannot_express(tiny_smol):
    with pytest.raises(ValueError, match="rotary_dim"):
        spec_to_config(tiny_smol.spec.replace(rotary_dim=8))


def test_checkpoint_round_trip_smollm2(smol, tmp_path):
    folder = save_checkpoint(smol, None, tmp_path / "smol")
    back = basinlab.load(folder)
    assert_same_params(smol.params, back.params)
    assert back.spec == smol.spec.replace(name="smol")
    texts = ["Hello world! 12345", "<|im_start|>user\nUnïcode  tabs\t\tand  spaces<|im_end|>\n", " ", ""]
    for text in texts:
        assert back.tokenizer(text)["input_ids"] == smol.tokenizer(text)["input_ids"], text
    assert back.chat_prompt("hi") == smol.chat_prompt("hi")
    assert back.eos_ids == smol.eos_ids and back.pad_id == smol.pad_id

"""Fixtures of the benchmark tests."""

import huggingface_hub
import pytest

from basinlab.data._paths import data_root


@pytest.fixture
def root():
    r = data_root()
    if r is None:
        pytest.skip("no benchmark data: set BASINLAB_DATA to the shared data folder (gsm8k/, mmlu/, advbench/, ...)")
    return r


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty BASINLAB_DATA and a hub that fails whenever it is asked."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(kwargs)
        raise OSError("network is unreachable (test)")

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("BASINLAB_DATA", str(empty))
    # other test modules (lm-eval's) switch the hub off process-wide; these tests need it "on"
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    return calls


class CharTokenizer:
    """A tokenizer stand-in for the tiny test models (vocab 160): one id per character, 3 + (code - 32) % 150;
    special tokens: bos 1, eos 2, pad 0."""

    chat_template = None
    pad_token_id, eos_token_id = 0, 2

    def encode(self, text, add_special_tokens=False):
        return ([1] if add_special_tokens else []) + [3 + (ord(c) - 32) % 150 for c in text]

    def __call__(self, texts, add_special_tokens=False, verbose=False):
        if isinstance(texts, str):
            return {"input_ids": self.encode(texts, add_special_tokens)}
        return {"input_ids": [self.encode(t, add_special_tokens) for t in texts]}

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(32 + int(i) - 3) for i in ids if int(i) >= 3)


@pytest.fixture(scope="session")
def char_model(tiny_smol):
    """The tiny random SmolLM2-shaped model with a character tokenizer."""
    import dataclasses

    return dataclasses.replace(tiny_smol, tokenizer=CharTokenizer())

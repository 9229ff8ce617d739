"""Shared fixtures."""

import pytest


@pytest.fixture(scope="session")
def tiny_smol(tmp_path_factory):
    """A basinlab Model of a tiny seeded random SmolLM2-shaped llama (no tokenizer), saved and loaded
    through the Hugging Face folder path once per test session."""
    from hf_tiny import tiny_model

    import basinlab

    folder = tmp_path_factory.mktemp("tiny_smol")
    tiny_model("smollm2").save_pretrained(folder)
    return basinlab.load(folder)

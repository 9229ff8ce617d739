"""Pure-JAX decoder-only language models: GPT-2, the Llama family (Llama 2/3, Qwen2, Mistral,
SmolLM2) and GPT-NeoX/Pythia, loaded from Hugging Face folders, the hub or GGUF files.

    model = basinlab.models.load("smollm2-135m-instruct")
    logits = basinlab.models.forward(model.spec, model.params, tokens)      # [B, T, V]

Modules: spec (ModelSpec), layers, transformer (forward, KV cache), generate, logprobs (the one
log-prob gather), gpt2 / llama / neox (config allowlist, spec_to_config, the Hugging Face tensor
map), namemap (the map's entries and the load/save walks over it), convert, families, gguf (+
gguf_file, gguf_config, gguf_tokenizer), load, save, model (Model: params + tokenizer + text helpers),
layerwise (LayerwiseParams: weights formed per layer inside the forward), shapes (real model shapes).
"""

from basinlab.models.families import SUPPORTED_MODEL_TYPES as SUPPORTED_MODEL_TYPES
from basinlab.models.generate import generate as generate
from basinlab.models.layerwise import LayerwiseParams as LayerwiseParams
from basinlab.models.load import load as load
from basinlab.models.logprobs import token_logprobs as token_logprobs
from basinlab.models.model import Model as Model
from basinlab.models.model import count_params as count_params
from basinlab.models.model import token_nll as token_nll
from basinlab.models.save import save_checkpoint as save_checkpoint
from basinlab.models.spec import ModelSpec as ModelSpec
from basinlab.models.transformer import default_positions as default_positions
from basinlab.models.transformer import forward as forward
from basinlab.models.transformer import forward_cached as forward_cached
from basinlab.models.transformer import init_cache as init_cache

__all__ = [
    "SUPPORTED_MODEL_TYPES", "LayerwiseParams", "Model", "ModelSpec", "count_params", "default_positions", "forward",
    "forward_cached", "generate", "init_cache", "load", "save_checkpoint", "token_logprobs", "token_nll",
]

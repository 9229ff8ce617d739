"""Pure-JAX decoder-only language models: GPT-2, the Llama family (Llama 2/3, Qwen2, Mistral, SmolLM2)
and GPT-NeoX/Pythia, loaded from Hugging Face folders, the hub or GGUF files.

    model = basinlab.load("smollm2-135m-instruct")
    logits = basinlab.models.forward(model.spec, model.params, tokens)      # [B, T, V] float32

Everything here is re-exported from private modules (`_transformer`, `_generate`, ...); only the names
in `__all__` are public.
"""

from basinlab.models._batched import left_pad
from basinlab.models._families import SUPPORTED_MODEL_TYPES
from basinlab.models._generate import Generated, generate, generate_until
from basinlab.models._layerwise import LayerwiseParams
from basinlab.models._load import load
from basinlab.models._logprobs import token_logprobs
from basinlab.models._model import Model, count_params, token_nll
from basinlab.models._save import save_checkpoint, spec_to_config
from basinlab.models._shapes import SHAPES, param_shapes, random_params
from basinlab.models._spec import ModelSpec
from basinlab.models._transformer import default_positions, forward

__all__ = [
    "SHAPES", "SUPPORTED_MODEL_TYPES", "Generated", "LayerwiseParams", "Model", "ModelSpec", "count_params",
    "default_positions", "forward", "generate", "generate_until", "left_pad", "load", "param_shapes",
    "random_params", "save_checkpoint", "spec_to_config", "token_logprobs", "token_nll",
]

"""The static description of a decoder-only transformer.

`ModelSpec` is a frozen, hashable dataclass: it is passed to `jax.jit` as a static argument, so
every field must be a plain Python value. Everything numeric lives in the params pytree instead.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from basinlab import _validate as validate

ARCHITECTURES = ("gpt2", "llama", "neox")
NORMS = ("rms", "layer")
ACTIVATIONS = ("silu", "gelu", "gelu_new", "gelu_pytorch_tanh", "relu")
ROPE_TYPES = ("default", "linear", "llama3")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Shape and wiring of a decoder-only transformer.

    arch: "gpt2" (learned positions, LayerNorm, GELU MLP), "llama" (RoPE, RMSNorm, gated MLP;
    also Qwen2, Mistral, SmolLM2) or "neox" (GPT-NeoX/Pythia: partial rotary, parallel residual).
    """

    arch: str
    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_ff: int
    max_seq_len: int
    norm: str = "rms"
    norm_eps: float = 1e-6
    activation: str = "silu"
    gated_mlp: bool = True
    tie_embeddings: bool = False
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    parallel_residual: bool = False
    # Rotary position embedding: rotary_dim <= head_dim dims of each head are rotated (NeoX rotates
    # a fraction). rotary_dim = 0 means learned absolute positions (GPT-2).
    rotary_dim: int = 0
    rope_theta: float = 10000.0
    rope_type: str = "default"
    rope_factor: float = 1.0
    rope_low_freq_factor: float = 1.0
    rope_high_freq_factor: float = 4.0
    rope_original_max_seq_len: int = 8192
    sliding_window: int | None = None
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = ()
    pad_token_id: int | None = None
    name: str = ""

    def __post_init__(self) -> None:
        for field, valid in (("arch", ARCHITECTURES), ("norm", NORMS), ("activation", ACTIVATIONS),
                             ("rope_type", ROPE_TYPES)):
            validate.choice(f"ModelSpec.{field}", getattr(self, field), valid)
        for field in ("vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "head_dim", "d_ff"):
            # stored as a plain int: the spec is a static (hashed) jit argument
            object.__setattr__(self, field, validate.positive_int(f"ModelSpec.{field}", getattr(self, field)))
        if self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"ModelSpec.n_heads={self.n_heads} must be a multiple of n_kv_heads={self.n_kv_heads}"
            )
        if self.rotary_dim % 2 or self.rotary_dim > self.head_dim:
            raise ValueError(
                f"ModelSpec.rotary_dim={self.rotary_dim} must be even and <= head_dim={self.head_dim}"
            )

    @property
    def uses_rope(self) -> bool:
        return self.rotary_dim > 0

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with ``changes`` (field=value) applied and validated again."""
        return dataclasses.replace(self, **changes)

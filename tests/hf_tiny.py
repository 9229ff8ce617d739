"""Tiny seeded random transformers (PyTorch) models, one per supported architecture variant.

Shared by the parity tests. Weights are re-drawn at a scale where logits are O(1) and greedy
continuations vary, so a 1e-4 logit tolerance and token-exact generation mean something.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="parity tests need the test extra (torch==2.13.0)")
import transformers as tf  # noqa: E402

COMMON = dict(vocab_size=160, bos_token_id=1, eos_token_id=2, pad_token_id=0)
LLAMA = dict(hidden_size=64, intermediate_size=112, num_hidden_layers=2, num_attention_heads=4,
             max_position_embeddings=128, **COMMON)

CONFIGS = {
    "gpt2": (tf.GPT2Config, tf.GPT2LMHeadModel,
             dict(n_embd=64, n_layer=2, n_head=4, n_positions=128, **COMMON)),
    "llama2": (tf.LlamaConfig, tf.LlamaForCausalLM, dict(LLAMA, num_key_value_heads=4)),
    "llama3": (tf.LlamaConfig, tf.LlamaForCausalLM,
               dict(LLAMA, num_key_value_heads=2, rope_theta=500000.0,
                    rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                      high_freq_factor=4.0, original_max_position_embeddings=16))),
    "smollm2": (tf.LlamaConfig, tf.LlamaForCausalLM,
                dict(LLAMA, num_key_value_heads=2, tie_word_embeddings=True, rope_theta=100000.0)),
    "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM,
              dict(LLAMA, num_key_value_heads=2, tie_word_embeddings=True)),
    "mistral": (tf.MistralConfig, tf.MistralForCausalLM,
                dict(LLAMA, num_key_value_heads=1, head_dim=24, sliding_window=12)),
    "neox": (tf.GPTNeoXConfig, tf.GPTNeoXForCausalLM,
             dict(hidden_size=64, intermediate_size=112, num_hidden_layers=2, num_attention_heads=4,
                  max_position_embeddings=128, rotary_pct=0.25, use_parallel_residual=True, **COMMON)),
    "neox_serial": (tf.GPTNeoXConfig, tf.GPTNeoXForCausalLM,
                    dict(hidden_size=64, intermediate_size=112, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=128, rotary_pct=0.5,
                         use_parallel_residual=False, **COMMON)),
}


def tiny_model(name: str, seed: int = 0):
    """(transformers model in eval mode, float32) for one of CONFIGS."""
    config_cls, model_cls, kwargs = CONFIGS[name]
    torch.manual_seed(seed)
    model = model_cls(config_cls(**kwargs)).eval()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if p.ndim >= 2:
                p.normal_(0.0, 1.0 / p.shape[-1] ** 0.5 * 1.5)
            elif "norm" in pname or "ln" in pname:
                p.copy_(1.0 + 0.2 * torch.randn_like(p)) if pname.endswith("weight") else p.normal_(0, 0.1)
            else:
                p.normal_(0.0, 0.1)
    return model

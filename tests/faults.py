"""Small files for the fault tests, written in tmp_path: a tiny GPT-2 Hugging Face folder (basinlab's
own writer, byte tokenizer included), a tiny llama GGUF (gguf.GGUFWriter), a landscape NetCDF, and
helpers that corrupt them. No torch, no real model: every file is a few hundred kilobytes at most."""

from __future__ import annotations

import functools
import pathlib
import shutil

import numpy as np


def add_llama_shape(w, kv, context: int = 512) -> None:
    """The llama.* hyperparameters of a test GGUF (kv: layers, hidden, inter, heads, kv_heads), for a
    gguf.GGUFWriter; tests/models/test_gguf.py writes its files with it too."""
    w.add_block_count(kv["layers"])
    w.add_context_length(context)
    w.add_embedding_length(kv["hidden"])
    w.add_feed_forward_length(kv["inter"])
    w.add_head_count(kv["heads"])
    w.add_head_count_kv(kv["kv_heads"])
    w.add_layer_norm_rms_eps(1e-5)


GGUF_DIMS = dict(layers=1, hidden=16, inter=32, heads=2, kv_heads=2, vocab=40)


@functools.lru_cache(maxsize=1)
def tiny_gpt():
    """The 'tiny' preset GPT-2 (2 x 64, byte tokenizer), seed 0, shrunk to 1 layer x 32 for speed."""
    from basinlab.training import _gpt as gpt

    return gpt.init_model(gpt.GPTConfig(n_layers=1, d_model=32, n_heads=2, max_seq_len=16), seed=0)


def hf_folder(path: pathlib.Path) -> pathlib.Path:
    """A loadable Hugging Face folder (config.json, model.safetensors, tokenizer files) at ``path``."""
    from basinlab.models import save_checkpoint

    return save_checkpoint(tiny_gpt(), None, path)


def copy_folder(src: pathlib.Path, dst: pathlib.Path) -> pathlib.Path:
    shutil.copytree(src, dst)
    return dst


def gguf_file(path: pathlib.Path, *, nan_in: str | None = None) -> pathlib.Path:
    """A tiny llama GGUF (F32 tensors, no tokenizer). ``nan_in``: a GGUF tensor name given a NaN."""
    import gguf

    d = GGUF_DIMS
    rng = np.random.default_rng(0)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-faults")
    add_llama_shape(w, d, context=32)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(d["vocab"])
    w.add_rope_dimension_count(d["hidden"] // d["heads"])
    h, f, v = d["hidden"], d["inter"], d["vocab"]
    shapes = {"token_embd.weight": (v, h), "output_norm.weight": (h,)}
    for i in range(d["layers"]):
        shapes.update({f"blk.{i}.attn_norm.weight": (h,), f"blk.{i}.attn_q.weight": (h, h),
                       f"blk.{i}.attn_k.weight": (h, h), f"blk.{i}.attn_v.weight": (h, h),
                       f"blk.{i}.attn_output.weight": (h, h), f"blk.{i}.ffn_norm.weight": (h,),
                       f"blk.{i}.ffn_gate.weight": (f, h), f"blk.{i}.ffn_up.weight": (f, h),
                       f"blk.{i}.ffn_down.weight": (h, f)})
    for name, shape in shapes.items():
        arr = rng.normal(0, 0.2, shape).astype(np.float32)
        if name == nan_in:
            arr.flat[0] = np.nan
        w.add_tensor(name, arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def gguf_cut_points(path: pathlib.Path) -> dict[str, int]:
    """Byte offsets that cut a GGUF file in its header, in its tensor table and in its tensor data."""
    import gguf

    reader = gguf.GGUFReader(path)
    table_start = int(reader.tensors[0].field.offset)
    last = reader.tensors[-1]
    return {"header": 12, "tensor table": table_start + 6,
            "data": int(last.data_offset) + int(last.n_bytes) // 2}


def landscape_file(path: pathlib.Path) -> pathlib.Path:
    """A small landscape NetCDF of the tiny GPT (1 direction x 3 alphas) saved by results.save."""
    from basinlab.landscape import landscape, save
    from basinlab.scoring import token_benchmark

    model = tiny_gpt()
    tokens = np.random.RandomState(0).randint(0, 256, size=(2, 8))
    ds = landscape(model, token_benchmark(tokens, name="text"), directions=1, alphas=[-0.1, 0.0, 0.1],
                   progress=False)
    save(ds, path)
    return path


def train(mode: str, ckpt, callback=None):
    """A short resumable run of the tiny GPT: mode "pretrain" (GO, 6 steps, val every 2) or "finetune"
    (AdamW, cosine, 6 steps); checkpoints every 2 steps in ``ckpt``. -> {name: array} of the final
    params' leaves, the losses and the val curve (pretrain) or gradient norms (finetune)."""
    import jax

    model = tiny_gpt()
    if mode == "pretrain":
        from basinlab.training import _corpus as corpus
        from basinlab.training import _pretrain as pretrain

        data = np.random.RandomState(0).randint(0, 256, size=600).astype(np.int32)
        text = corpus.Corpus(name="bytes", train=data[:500], val=data[500:], val_text="")
        run = pretrain.pretrain(model, text, "go", steps=6, batch_size=4, seq_len=16, eval_every=2, n_eval=4,
                                warmup=2, checkpoint_dir=ckpt, checkpoint_every=2, callback=callback, resume=True)
        params, losses, extra = run.model.params, run.train_loss, run.val_loss
    else:
        from basinlab.training._loop import finetune

        tokens = np.random.RandomState(1).randint(0, 256, size=(10, 16))
        ones = np.ones_like(tokens)
        res = finetune(model, (tokens, ones, ones), steps=6, batch_size=4, lr=1e-3, schedule="cosine",
                       checkpoint_dir=ckpt, checkpoint_every=2, callback=callback, resume=True, log_every=None)
        params, losses, extra = res.params, res.losses, res.grad_norms
    leaves = {str(i): np.asarray(x) for i, x in enumerate(jax.tree.leaves(params))}
    return {"losses": np.asarray(losses), "extra": np.asarray(extra), **leaves}

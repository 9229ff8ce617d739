"""The tokenizer of a GGUF file, rebuilt with the `tokenizers` library from its metadata.

Byte-level BPE (tokenizer.ggml.model == "gpt2") with the pre-tokenizer that tokenizer.ggml.pre
names (grouped as llama.cpp does), or SentencePiece-style BPE (model == "llama"); special tokens
from the token types; the chat template from tokenizer.chat_template.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

# Byte-level BPE pre-tokenizers, keyed by tokenizer.ggml.pre. Names and grouping follow llama.cpp's
# llama-vocab.cpp (which regexes each name gets); each group is expressed the way the matching
# Hugging Face tokenizer.json does it. Any other name (including llama.cpp's "default") falls back
# to GPT-2's regex with a warning, as transformers' GGUF loader does silently.
PRE_TOKENIZER_GROUPS: dict[str, tuple[str, ...]] = {
    # GPT-2's ByteLevel regex.
    "gpt2": ("gpt-2", "phi-2", "mpt", "olmo", "jais", "gigachat", "mellum"),
    # StarCoder family (SmolLM/SmolLM2 reuse its tokenizer): every digit is its own piece ("\\p{N}"
    # in llama.cpp, Digits(individual_digits=True) in tokenizer.json), then GPT-2's regex.
    "digits+gpt2": ("smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"),
    # Llama 3: split regex with numbers in groups of up to 3; whole-word vocab hits skip merging.
    "llama3": ("llama3", "llama-v3", "llama-bpe"),
    # Qwen2: split regex with single digits, plus NFC normalization.
    "qwen2": ("qwen2",),
}
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# llama.cpp token types (tokenizer.ggml.token_type).
_TOKEN_NORMAL, _TOKEN_UNKNOWN, _TOKEN_CONTROL, _TOKEN_USER_DEFINED, _TOKEN_UNUSED, _TOKEN_BYTE = 1, 2, 3, 4, 5, 6


# --------------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------------


def _pre_tokenizer_group(pre: str | None, path: Path) -> str:
    """Which PRE_TOKENIZER_GROUPS entry serves tokenizer.ggml.pre; GPT-2's (with a warning) if none."""
    for group, names in PRE_TOKENIZER_GROUPS.items():
        if pre in names:
            return group
    warnings.warn(
        f"{path}: tokenizer.ggml.pre={pre!r} is not known to basinlab; using GPT-2's pre-tokenizer, "
        "so tokenization may differ from the original model's",
        stacklevel=4,
    )
    return "gpt2"


def build_tokenizer(path: Path, metadata: dict[str, Any], vocab: dict[str, Any],
                    config: dict[str, Any]) -> PreTrainedTokenizerFast:
    """transformers.PreTrainedTokenizerFast rebuilt from tokenizer.ggml.* metadata."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    from basinlab.models._hf import transformers

    PreTrainedTokenizerFast = transformers().PreTrainedTokenizerFast

    tokens: list[str] = vocab["tokens"]
    model_kind = metadata.get("tokenizer.ggml.model")
    group = None
    token_types = vocab.get("token_type")
    if token_types is None or len(token_types) != len(tokens):
        token_types = np.full(len(tokens), _TOKEN_NORMAL, dtype=np.int32)

    ids = {tok: i for i, tok in enumerate(tokens)}
    if len(ids) != len(tokens):
        warnings.warn(f"{path}: the GGUF vocabulary has duplicate token strings; the later ids win", stacklevel=3)

    if model_kind == "gpt2":
        raw_merges = vocab.get("merges") or []
        merges = []
        for merge in raw_merges:
            parts = merge.split(" ")
            if len(parts) != 2:
                raise ValueError(f"{path}: malformed tokenizer.ggml.merges entry {merge!r}")
            merges.append((parts[0], parts[1]))
        group = _pre_tokenizer_group(metadata.get("tokenizer.ggml.pre"), path)
        tok = Tokenizer(
            models.BPE(
                vocab=ids,
                merges=merges,
                fuse_unk=False,
                byte_fallback=False,
                # Llama 3's tokenizer.json looks whole pre-tokens up in the vocab before merging
                ignore_merges=group == "llama3",
            )
        )
        if group == "gpt2":
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        elif group == "digits+gpt2":
            tok.pre_tokenizer = pre_tokenizers.Sequence(
                [
                    pre_tokenizers.Digits(individual_digits=True),
                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
                ]
            )
        else:
            split = _LLAMA3_SPLIT if group == "llama3" else _QWEN2_SPLIT
            tok.pre_tokenizer = pre_tokenizers.Sequence(
                [
                    pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False),
                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
                ]
            )
            if group == "qwen2":
                tok.normalizer = normalizers.NFC()
        tok.decoder = decoders.ByteLevel()
        base_post = [processors.ByteLevel(trim_offsets=False)]
    elif model_kind == "llama":
        tok = _sentencepiece_bpe(path, tokens, vocab, token_types, metadata)
        base_post = []
    else:
        raise ValueError(
            f"{path}: tokenizer.ggml.model={model_kind!r} is not supported; basinlab rebuilds 'gpt2' "
            "(byte-level BPE) and 'llama' (SentencePiece BPE) tokenizers"
        )

    # Control tokens are special (never split, skipped when decoding); user-defined ones are kept
    # whole too but decode as text. Both are matched on the raw text, before any normalization.
    added = [
        AddedToken(tokens[i], special=int(t) == _TOKEN_CONTROL, normalized=False)
        for i, t in enumerate(token_types)
        if int(t) in (_TOKEN_CONTROL, _TOKEN_USER_DEFINED)
    ]
    # add_special_tokens is what marks a token special for skip_special_tokens in every
    # tokenizers version; ids are kept because every token is already in the model's vocab.
    if any(a.special for a in added):
        tok.add_special_tokens([a for a in added if a.special])
    if any(not a.special for a in added):
        tok.add_tokens([a for a in added if not a.special])

    def token_for(key: str) -> str | None:
        index = metadata.get(f"tokenizer.ggml.{key}")
        if index is None:
            return None
        if not 0 <= int(index) < len(tokens):
            raise ValueError(f"{path}: tokenizer.ggml.{key}={index} is outside the vocabulary of {len(tokens)}")
        return tokens[int(index)]

    bos, eos = token_for("bos_token_id"), token_for("eos_token_id")
    # Defaults when the file does not say: llama.cpp adds BOS for SentencePiece and Llama 3 vocabularies.
    default_bos = model_kind == "llama" or group == "llama3"
    add_bos = bool(metadata.get("tokenizer.ggml.add_bos_token", default_bos)) and bos is not None
    add_eos = bool(metadata.get("tokenizer.ggml.add_eos_token", False)) and eos is not None
    post: list[processors.PostProcessor] = list(base_post)
    if add_bos or add_eos:
        # HF's template syntax: "<s>:0 $A:0 </s>:0" for one sequence, then the same with :1 for a pair
        def around(seq: str, type_id: int) -> str:
            parts = ([f"{bos}:{type_id}"] if add_bos else []) + [f"{seq}:{type_id}"]
            return " ".join(parts + ([f"{eos}:{type_id}"] if add_eos else []))

        # `is not None` repeats what add_bos / add_eos imply, for the type checker
        specials = ([(bos, ids[bos])] if add_bos and bos is not None else []) + (
            [(eos, ids[eos])] if add_eos and eos is not None and eos != bos else [])
        post.append(
            processors.TemplateProcessing(
                single=around("$A", 0), pair=around("$A", 0) + " " + around("$B", 1), special_tokens=specials
            )
        )
    if post:
        tok.post_processor = post[0] if len(post) == 1 else processors.Sequence(post)

    kwargs: dict[str, Any] = {
        "tokenizer_object": tok,
        "bos_token": bos,
        "eos_token": eos,
        "unk_token": token_for("unknown_token_id"),
        "pad_token": token_for("padding_token_id"),
        "model_max_length": config.get("max_position_embeddings"),
        "clean_up_tokenization_spaces": False,
    }
    chat_template = metadata.get("tokenizer.chat_template")
    if chat_template:
        kwargs["chat_template"] = chat_template
    return PreTrainedTokenizerFast(**{k: v for k, v in kwargs.items() if v is not None})


def _sentencepiece_bpe(path: Path, tokens: list[str], vocab: dict[str, Any], token_types, metadata: dict[str, Any]):
    """tokenizers.Tokenizer for a SentencePiece-BPE vocabulary (tokenizer.ggml.model == "llama").

    SentencePiece BPE merges the pair whose merged piece has the highest score, so the merge list
    is rebuilt from (token, score) pairs; unknown bytes fall back to the <0xNN> byte tokens.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers

    scores = vocab.get("scores")
    if scores is None or len(scores) != len(tokens):
        raise ValueError(f"{path}: SentencePiece GGUF vocabulary without a matching tokenizer.ggml.scores array")
    ids = {tok: i for i, tok in enumerate(tokens)}
    mergeable = {
        tok: i for i, tok in enumerate(tokens) if int(token_types[i]) in (_TOKEN_NORMAL, _TOKEN_USER_DEFINED)
    }
    candidates = []
    for piece, index in mergeable.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in mergeable and right in mergeable:
                candidates.append((-float(scores[index]), ids[left], ids[right], left, right))
    candidates.sort()
    merges = [(left, right) for *_, left, right in candidates]
    unk_id = metadata.get("tokenizer.ggml.unknown_token_id")
    unk = tokens[int(unk_id)] if unk_id is not None and 0 <= int(unk_id) < len(tokens) else None
    tok = Tokenizer(models.BPE(vocab=ids, merges=merges, unk_token=unk, fuse_unk=True, byte_fallback=True))
    prefix = bool(metadata.get("tokenizer.ggml.add_space_prefix", True))
    steps: list[normalizers.Normalizer] = [normalizers.Replace(" ", "\u2581")]
    if prefix:
        steps.insert(0, normalizers.Prepend("\u2581"))
    tok.normalizer = normalizers.Sequence(steps)
    dec = [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()]
    if prefix:
        dec.append(decoders.Strip(" ", 1, 0))
    tok.decoder = decoders.Sequence(dec)
    return tok

"""Chat data for supervised fine-tuning: (prompt, target) pairs as padded token batches.

    tokens, mask, loss_mask = data.sft_examples(model, goals, targets)   # each [N, T] int32

``sft_examples`` renders each prompt with the chat template (user turn + generation prompt) and
tokenizes the target *separately*, then appends the end-of-turn token: the model is trained on the
token sequence it sees at generation time. Only target tokens (and the end-of-turn token) carry
loss (``loss_mask``); :func:`basinlab.training._loop.finetune` trains on the result.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from basinlab import _validate as validate
from basinlab.models._batched import PAD_SIDES, left_pad

__all__ = ["PADDINGS", "sft_examples"]

PADDINGS = PAD_SIDES


def _end_of_turn_id(model, tok, chat: bool) -> int:
    """The token that ends an assistant turn: what the chat template writes right after the
    answer (<|im_end|>, <|eot_id|>, ...) when that is a special token, else the EOS token."""
    if chat:
        probe = "xq zv probe"
        full = tok.apply_chat_template(
            [{"role": "user", "content": "hi"}, {"role": "assistant", "content": probe}], tokenize=False)
        at = full.rfind(probe)
        if at >= 0:
            ids = tok(full[at + len(probe):], add_special_tokens=False)["input_ids"]
            if ids and ids[0] in set(tok.all_special_ids) | set(model.eos_ids):
                return int(ids[0])
    if tok.eos_token_id is not None:
        return int(tok.eos_token_id)
    if model.eos_ids:
        return int(model.eos_ids[0])
    raise ValueError(f"model {model.source!r} has no EOS token to end the targets with")


def sft_examples(model: Any, prompts: Sequence[str], targets: Sequence[str], chat: bool = True,
                 max_len: int | None = None, padding: str = "left") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token batches for supervised fine-tuning on (prompt, target) pairs.

    chat=True: the prompt is the tokenizer's chat template (user turn + generation prompt);
    chat=False: the raw prompt with the tokenizer's special tokens (e.g. BOS). The target is
    tokenized on its own and followed by the end-of-turn token (chat) or EOS.
    Sequences longer than max_len (default spec.max_seq_len) lose their tail, with one warning.

    Returns (tokens, mask, loss_mask), each [N, T] int32, padded on the `padding` side:
    mask is 1 on real tokens, loss_mask 1 on the target tokens and the end token (the tokens whose
    prediction is trained), 0 on the prompt and padding.
    """
    validate.choice("padding", padding, PADDINGS)
    prompts, targets = list(prompts), list(targets)
    if len(prompts) != len(targets):
        raise ValueError(f"{len(prompts)} prompts but {len(targets)} targets: they must pair up")
    if not prompts:
        raise ValueError("no examples: prompts and targets are empty")
    for name, seq in (("prompts", prompts), ("targets", targets)):
        bad = [i for i, x in enumerate(seq) if not isinstance(x, str)]
        if bad:
            raise TypeError(f"{name} must be strings; rows {bad[:20]} are not (e.g. {seq[bad[0]]!r})")
    empty = [i for i, t in enumerate(targets) if not t.strip()]
    if empty:
        raise ValueError(f"empty target(s) in rows {empty}: every example needs a target to train on")
    tok = model.require_tokenizer()
    max_len = int(model.spec.max_seq_len if max_len is None else max_len)
    if max_len < 2:
        raise ValueError(f"max_len must be >= 2, got {max_len}")
    end = _end_of_turn_id(model, tok, chat)
    prompt_ids = model.prompt_ids(prompts, chat)
    target_ids = [ids + [end] for ids in tok(targets, add_special_tokens=False, verbose=False)["input_ids"]]

    no_room = [i for i, p in enumerate(prompt_ids) if len(p) >= max_len]
    if no_room:
        raise ValueError(f"rows {no_room}: the prompt alone has >= max_len={max_len} tokens, so no "
                         f"target token would be trained; raise max_len or shorten the prompts")
    rows = [(list(p) + t, [0] * len(p) + [1] * len(t)) for p, t in zip(prompt_ids, target_ids, strict=True)]
    cut = [i for i, (ids, _) in enumerate(rows) if len(ids) > max_len]
    if cut:
        warnings.warn(f"{len(cut)} of {len(rows)} examples are longer than max_len={max_len} tokens "
                      f"and were truncated (the end of their targets is dropped): rows {cut[:20]}"
                      f"{' ...' if len(cut) > 20 else ''}", stacklevel=2)
        rows = [(ids[:max_len], lm[:max_len]) for ids, lm in rows]

    tokens, mask = left_pad([ids for ids, _ in rows], model.pad_id, side=padding)
    loss_mask, _ = left_pad([lm for _, lm in rows], 0, side=padding)
    return tokens, mask, loss_mask

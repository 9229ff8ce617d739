"""`Model`: a spec, a params pytree and a tokenizer, with text-level conveniences.

The pure functions (`forward`, `generate`) are the API that the landscape engine transforms; this
class only bundles what a user loaded and turns strings into left-padded token batches and back.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from basinlab.models._batched import left_pad
from basinlab.models._generate import generate
from basinlab.models._logprobs import token_logprobs
from basinlab.models._spec import ModelSpec
from basinlab.models._transformer import forward

_ROLES = ("system", "user", "assistant")


def _turns(conversation: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """A conversation as a list of {"role", "content"} dicts, checked: known roles, string
    contents, and a user turn last (the model answers it)."""
    turns = list(conversation)
    for i, t in enumerate(turns):
        if not (isinstance(t, dict) and t.get("role") in _ROLES and isinstance(t.get("content"), str)):
            raise ValueError(f"turn {i} of a conversation is {t!r}; each turn must be a dict "
                             f"{{'role': one of {list(_ROLES)}, 'content': str}}")
    if not turns or turns[-1]["role"] != "user":
        raise ValueError(f"a conversation must end in a user turn (the one the model answers), got roles "
                         f"{[t['role'] for t in turns]}")
    return [{"role": t["role"], "content": t["content"]} for t in turns]


def count_params(params: dict[str, Any]) -> int:
    """d: the number of scalar parameters (a tied embedding counts once)."""
    return int(sum(math.prod(x.shape) for x in jax.tree.leaves(params)))


@functools.partial(jax.jit, static_argnames=("spec", "compute_dtype"))
def token_nll(spec: ModelSpec, params: dict, tokens, attention_mask, compute_dtype=None):
    """Per-token negative log-likelihood of tokens[:, 1:] given the prefix. Returns [B, T-1] (nats),
    zero where the target or its context start is padding; and the [B, T-1] target mask."""
    logits = forward(spec, params, tokens, attention_mask=attention_mask, compute_dtype=compute_dtype)
    nll = -token_logprobs(logits[:, :-1], tokens[:, 1:])
    mask = (attention_mask[:, 1:] * attention_mask[:, :-1]).astype(jnp.float32)
    return nll * mask, mask


@dataclasses.dataclass(frozen=True)
class Model:
    """A loaded language model. `params` is a plain nested dict of arrays (never mutated)."""

    spec: ModelSpec
    params: dict[str, Any]
    tokenizer: Any = None
    source: str = ""
    compute_dtype: Any = None

    @property
    def n_params(self) -> int:
        return count_params(self.params)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.params["embed"]["embedding"].dtype

    def __repr__(self) -> str:
        s = self.spec
        return (
            f"Model({s.name!r}, arch={s.arch}, d={self.n_params:,}, layers={s.n_layers}, "
            f"d_model={s.d_model}, heads={s.n_heads}/{s.n_kv_heads}, vocab={s.vocab_size}, "
            f"dtype={jnp.dtype(self.dtype).name}, source={self.source!r})"
        )

    def with_params(self, params: dict[str, Any]) -> Model:
        """The same model with other weights (e.g. theta0 + alpha * delta)."""
        return dataclasses.replace(self, params=params)

    def first_layers(self, n: int) -> Model:
        """The model cut to its first `n` transformer blocks, the embeddings, final norm and head kept:
        the same architecture, weights, tokenizer and code paths at n / n_layers of the blocks' cost.
        For smoke runs of long pipelines (the notebooks' SMOKE mode) and logit-lens style studies of
        early layers; its `source` says it is cut, so stores and provenance never mistake it for the
        whole model. Slices the first n rows of each stacked [L, ...] weight (a copy for jax arrays);
        the other weights are shared."""
        total = self.spec.n_layers
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= int(n) <= total:
            raise ValueError(f"n_layers must be an int from 1 to {total} (the layers of {self.spec.name!r}), got {n!r}")
        n = int(n)
        if n == total:
            return self
        layers = self.params.get("layers") if isinstance(self.params, dict) else None
        if not isinstance(layers, dict):
            raise ValueError(f"first_layers needs a params dict whose 'layers' holds the stacked [L, ...] weights, got "
                             f"{type(self.params).__name__}")
        for path, w in jax.tree_util.tree_leaves_with_path(layers):
            if getattr(w, "shape", (None,))[:1] != (total,):
                raise ValueError(f"params['layers']{jax.tree_util.keystr(path)} has shape {getattr(w, 'shape', None)}; "
                                 f"first_layers needs every layer weight stacked on a leading axis of {total}")
        cut = jax.tree.map(lambda w: w[:n], layers)
        base = self.source or self.spec.name
        return dataclasses.replace(self, spec=self.spec.replace(n_layers=n), params={**self.params, "layers": cut},
                                   source=f"{base} (first {n} of {total} layers)")

    def logits(self, tokens: jax.Array | np.ndarray, attention_mask: jax.Array | np.ndarray | None = None,
               params: dict[str, Any] | None = None) -> jax.Array:
        """Logits [B, T, V] (float32) of token ids [B, T]."""
        return _jit_forward(
            self.spec, self.params if params is None else params, jnp.asarray(tokens),
            None if attention_mask is None else jnp.asarray(attention_mask), self.compute_dtype,
        )

    # --- text helpers -------------------------------------------------------------------------

    def require_tokenizer(self) -> Any:
        """The tokenizer, or a ValueError saying the model was loaded without one."""
        if self.tokenizer is None:
            raise ValueError(f"model {self.source!r} was loaded without a tokenizer; pass token ids instead")
        return self.tokenizer

    def prompt_ids(self, prompts: str | Sequence[str | Sequence[dict[str, str]]],
                   chat: bool = False) -> list[list[int]]:
        """Token ids of each prompt (unpadded). chat=True wraps each in the chat template, which
        carries its own special tokens; a prompt may then also be a conversation (a list of
        {"role", "content"} turns, `chat_prompt`). Plain prompts get the tokenizer's defaults (e.g. BOS)."""
        tok = self.require_tokenizer()
        if isinstance(prompts, str):
            prompts = [prompts]
        if chat:
            prompts = [self.chat_prompt(p) for p in prompts]
        else:
            turns = [i for i, p in enumerate(prompts) if not isinstance(p, str)]
            if turns:
                raise ValueError(f"prompts {turns[:5]} are conversations, not strings: they need chat=True")
        return tok(list(prompts), add_special_tokens=not chat, verbose=False)["input_ids"]

    def encode(self, texts: Sequence[str], add_special_tokens: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Left-padded token ids and attention mask, both [B, T] int32."""
        tok = self.require_tokenizer()
        if isinstance(texts, str):
            texts = [texts]
        # verbose=False: long texts are chunked by the caller, so the max-length warning is noise.
        ids = tok(list(texts), add_special_tokens=add_special_tokens, verbose=False)["input_ids"]
        return left_pad(ids, self.pad_id)

    @property
    def pad_id(self) -> int:
        if self.spec.pad_token_id is not None:
            return self.spec.pad_token_id
        tok = self.tokenizer
        if tok is not None and tok.pad_token_id is not None:
            return tok.pad_token_id
        return self.spec.eos_token_ids[0] if self.spec.eos_token_ids else 0

    def chat_prompt(self, message: str | Sequence[dict[str, str]], system: str | None = None) -> str:
        """The tokenizer's chat template applied to one user message, ready for generation.
        `message` may also be a conversation: a list of {"role", "content"} turns ending in a user
        turn (e.g. few-shot demonstrations as earlier user/assistant turns)."""
        tok = self.require_tokenizer()
        if not getattr(tok, "chat_template", None):
            raise ValueError(f"the tokenizer of {self.source!r} has no chat template")
        turns = [{"role": "user", "content": message}] if isinstance(message, str) else _turns(message)
        messages = ([{"role": "system", "content": system}] if system else []) + turns
        return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate_text(
        self,
        prompts: Sequence[str],
        max_new_tokens: int = 64,
        *,
        chat: bool = False,
        temperature: float = 0.0,
        key: jax.Array | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[str]:
        """Greedy (or sampled) continuations of each prompt, decoded, EOS and padding removed."""
        tok = self.require_tokenizer()
        tokens, mask = left_pad(self.prompt_ids(prompts, chat), self.pad_id)
        out = np.asarray(
            generate(
                self.spec, self.params if params is None else params, tokens, mask,
                max_new_tokens=max_new_tokens, eos_ids=self.eos_ids, pad_id=self.pad_id,
                temperature=temperature, key=key, compute_dtype=self.compute_dtype,
            )
        )
        return [tok.decode(strip_after_eos(row, self.eos_ids), skip_special_tokens=True) for row in out]

    @property
    def eos_ids(self) -> tuple[int, ...]:
        ids = set(self.spec.eos_token_ids)
        if self.tokenizer is not None and self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        return tuple(sorted(ids))

    def nll(self, text: str, seq_len: int = 128, batch: int = 8, params: dict[str, Any] | None = None) -> float:
        """Mean next-token NLL (nats) over up to batch x seq_len tokens of `text`."""
        tokens = self.encode([text], add_special_tokens=False)[0][0]
        if len(tokens) < 2:
            raise ValueError("text is too short to score: it encodes to fewer than 2 tokens")
        if len(tokens) < seq_len:
            chunks = tokens[None, :]
        else:
            n = min(batch, len(tokens) // seq_len)
            chunks = tokens[: n * seq_len].reshape(n, seq_len)
        nll, mask = token_nll(
            self.spec, self.params if params is None else params, jnp.asarray(chunks),
            jnp.ones(chunks.shape, jnp.int32), self.compute_dtype,
        )
        return float(nll.sum() / mask.sum())


@functools.partial(jax.jit, static_argnames=("spec", "compute_dtype"))
def _jit_forward(spec, params, tokens, attention_mask, compute_dtype):
    return forward(spec, params, tokens, attention_mask=attention_mask, compute_dtype=compute_dtype)


def strip_after_eos(row, eos_ids) -> list[int]:
    """Token ids up to (not including) the first EOS."""
    out = []
    for t in row:
        if int(t) in eos_ids:
            break
        out.append(int(t))
    return out

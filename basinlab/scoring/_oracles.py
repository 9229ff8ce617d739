"""Oracle kinds: per-item 0/1 scores of a model's greedy behaviour, cheap enough to sweep.

1. exact_match: greedy decoding reproduces a fixed reference iff every reference token, and then a
   stop token, is the argmax given the reference prefix. That is checked by teacher forcing in ONE
   forward pass instead of generating token by token.
2. multiple_choice: log-likelihood scoring (MMLU-style letter scoring, full-answer scoring) and the
   first-token letter match that stands for lm-eval's generative letter match.
3. generate_and_judge: batched greedy generation inside the compiled sweep, then a grader on the
   host (number extraction, refusal prefixes, running code; `basinlab.scoring._judges`).

All prompts are left-padded token batches built once on the host; score functions are pure JAX and
return `Scores`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from basinlab.models._batched import generate_batches, left_pad, until_batches
from basinlab.models._logprobs import token_logprobs
from basinlab.models._model import Model, strip_after_eos
from basinlab.models._spec import ModelSpec
from basinlab.models._transformer import forward
from basinlab.scoring._base import Benchmark, Grades, Judged, Scores

# --------------------------------------------------------------------------- 1. exact match


def _exact_match_score(spec, params, data, compute_dtype, tail=None) -> Scores:
    # Only the checked tail (last prompt token onwards) needs logits: `tail` is its static width.
    k = tail or data["tokens"].shape[1]
    logits = forward(spec, params, data["tokens"], attention_mask=data["mask"], compute_dtype=compute_dtype,
                     last_n=k)
    pred = jnp.argmax(logits, axis=-1)
    targets, checked = data["targets"][:, -k:], data["checked"][:, -k:]
    hit = jnp.where(data["is_stop"][:, -k:], jnp.isin(pred, data["eos"]), pred == targets)
    ok = jnp.all(hit | ~checked, axis=-1)
    target_logp = token_logprobs(logits, targets)  # [n, k]
    nll = -(target_logp * checked).sum(-1) / jnp.maximum(checked.sum(-1), 1)
    return Scores(score=ok.astype(jnp.float32), nll=nll)


def exact_match_data(prompt_ids: Sequence[Sequence[int]], reference_ids: Sequence[Sequence[int]],
                     eos_ids: Sequence[int], pad_id: int, stop: bool = True) -> dict[str, np.ndarray]:
    """Teacher-forcing arrays. tokens/mask [n, T]: left-padded prompt + reference; targets [n, T]:
    the token that greedy decoding must produce at each position; checked [n, T]: positions that are
    checked (the last prompt token onwards); is_stop [n, T]: the position that must produce a stop."""
    seqs, targets, checked, is_stop = [], [], [], []
    stop_id = int(eos_ids[0])
    for p, r in zip(prompt_ids, reference_ids, strict=True):
        p, r = list(p), list(r)
        if not p:
            raise ValueError("an exact-match item has an empty prompt")
        seq = p + r
        tgt = seq[1:] + [stop_id]
        chk = [False] * (len(p) - 1) + [True] * (len(r) + (1 if stop else 0))
        if not stop:
            chk = chk + [False]  # the position after the reference is not checked
        stp = [False] * (len(seq) - 1) + [stop]
        seqs.append(seq), targets.append(tgt), checked.append(chk), is_stop.append(stp)
    tokens, mask = left_pad(seqs, pad_id)
    return {
        "tokens": tokens, "mask": mask, "targets": left_pad(targets, pad_id)[0],
        "checked": left_pad(checked, 0)[0].astype(bool), "is_stop": left_pad(is_stop, 0)[0].astype(bool),
        "eos": np.asarray(eos_ids, np.int32),
    }


def exact_match_benchmark(
    model: Model, prompts: Sequence[str], references: Sequence[str], *, name: str, chat: bool = True,
    stop: bool = True, metric: str = "exact match of the greedy output", chance: float | None = 0.0,
    synthetic: bool = False, description: str = "",
) -> Benchmark:
    """Score = 1 iff greedy decoding after `prompt` yields exactly `reference` (then a stop token when
    stop=True), by teacher forcing. References are tokenized without special tokens."""
    if len(prompts) != len(references):
        raise ValueError(f"{len(prompts)} prompts but {len(references)} references")
    empty = [i for i, r in enumerate(references) if not r]
    if empty:
        raise ValueError(f"exact-match references must be non-empty; empty at rows {empty[:20]}")
    tok = model.require_tokenizer()
    ref_ids = tok(list(references), add_special_tokens=False, verbose=False)["input_ids"]
    data = exact_match_data(model.prompt_ids(prompts, chat), ref_ids, model.eos_ids, model.pad_id, stop)
    tail = int(data["checked"].sum(1).max())
    return Benchmark(name=name, data=data, score_fn=functools.partial(_exact_match_score, tail=tail),
                     n_items=len(prompts), metric=metric,
                     chance=chance, synthetic=synthetic, description=description, param_access="forward")


# --------------------------------------------------------------------------- 2. multiple choice


def _letter_score(spec, params, data, compute_dtype, generative=False) -> Scores:
    logits = forward(spec, params, data["tokens"], attention_mask=data["mask"], compute_dtype=compute_dtype,
                     last_n=1)
    last = logits[:, -1]  # left padding: every prompt ends at the last position
    choice_logits = last[:, data["letters"]]  # [n, C]
    nll = -token_logprobs(last, data["letters"][data["answer"]])  # [n]
    if generative:
        # lm-eval mmlu_generative reads the letter the model writes first: with single-token letters,
        # that is the greedy first token over the whole vocabulary.
        ok = (jnp.argmax(last, axis=-1)[:, None] == data["letter_variants"][data["answer"]]).any(-1)
    else:
        ok = jnp.argmax(choice_logits, axis=-1) == data["answer"]
    return Scores(score=ok.astype(jnp.float32), nll=nll)


def letter_choice_benchmark(
    model: Model, prompts: Sequence[str], answers: Sequence[int], *, name: str, letters: str = "ABCD",
    generative: bool = False, chat: bool = False, description: str = "", synthetic: bool = False,
) -> Benchmark:
    """Multiple choice by the answer letter after each prompt (which must end where the letter goes,
    e.g. "...\\nAnswer:"). generative=False: argmax over the letters' logits (lm-eval `mmlu`);
    generative=True: the greedy first token is the letter (lm-eval `mmlu_generative`)."""
    tok = model.require_tokenizer()
    ids = model.prompt_ids(prompts, chat)
    tokens, mask = left_pad(ids, model.pad_id)
    # After "Answer:" a model writes " A"; after a chat generation prompt it writes "A".
    variants = []
    for letter in letters:
        forms = {tuple(tok.encode(f, add_special_tokens=False)) for f in (letter, " " + letter)}
        single = sorted(f[0] for f in forms if len(f) == 1)
        if not single:
            raise ValueError(f"letter {letter!r} is not a single token for this tokenizer")
        variants.append(single + [single[0]] * (2 - len(single)))
    primary = [v[-1] if not chat else v[0] for v in variants]
    answer_ids = np.asarray(answers, np.int32)
    if answer_ids.min() < 0 or answer_ids.max() >= len(letters):
        raise ValueError(f"answers must be indices into {letters!r}")
    data = {"tokens": tokens, "mask": mask, "answer": answer_ids, "letters": np.asarray(primary, np.int32),
            "letter_variants": np.asarray(variants, np.int32)}
    return Benchmark(
        name=name, data=data, score_fn=functools.partial(_letter_score, generative=generative),
        n_items=len(prompts),
        metric="generative letter match" if generative else "letter log-likelihood accuracy",
        chance=1.0 / len(letters), synthetic=synthetic, description=description, param_access="forward",
    )


def _full_answer_score(spec, params, data, compute_dtype, n_choices=4) -> Scores:
    logits = forward(spec, params, data["tokens"], attention_mask=data["mask"], compute_dtype=compute_dtype)
    tl = token_logprobs(logits, data["targets"])  # [n * C, T]
    total = (tl * data["checked"]).sum(-1)  # [n * C] summed log-likelihood of each choice
    n, c = data["answer"].shape[0], n_choices
    total = total.reshape(n, c)
    ok = jnp.argmax(total, axis=-1) == data["answer"]
    nll = -jnp.take_along_axis(total, data["answer"][:, None], axis=-1)[:, 0] / jnp.maximum(
        data["checked"].reshape(n, c, -1).sum(-1)[jnp.arange(n), data["answer"]], 1)
    return Scores(score=ok.astype(jnp.float32), nll=nll)


def full_answer_benchmark(
    model: Model, prompts: Sequence[str], choices: Sequence[Sequence[str]], answers: Sequence[int], *, name: str,
    description: str = "", synthetic: bool = False,
) -> Benchmark:
    """Multiple choice by the summed log-likelihood of each full answer text after the prompt."""
    tok = model.require_tokenizer()
    n_choices = {len(c) for c in choices}
    if len(n_choices) != 1:
        raise ValueError(f"every item needs the same number of choices, got {sorted(n_choices)}")
    c = n_choices.pop()
    prompt_ids = model.prompt_ids(prompts, chat=False)
    flat_prompts, flat_refs = [], []
    for p, ch in zip(prompt_ids, choices, strict=True):
        for text in ch:
            flat_prompts.append(p)
            flat_refs.append(tok.encode(" " + text.strip(), add_special_tokens=False))
    data = exact_match_data(flat_prompts, flat_refs, model.eos_ids, model.pad_id, stop=False)
    data = {k: data[k] for k in ("tokens", "mask", "targets", "checked")}
    data["answer"] = np.asarray(answers, np.int32)
    return Benchmark(name=name, data=data, score_fn=functools.partial(_full_answer_score, n_choices=c),
                     n_items=len(prompts),
                     metric="full-answer log-likelihood accuracy", chance=1.0 / c, synthetic=synthetic,
                     description=description, param_access="forward")


# --------------------------------------------------------------------------- 3. generate and judge


def _grades(graded, n: int) -> tuple[np.ndarray, list]:
    """(scores [n] float32, reasons [n]) from a grader's Grades, a (scores, reasons) pair, or the
    dict {"score", "reason"} that graders of basinlab < 0.2 return."""
    if isinstance(graded, Mapping):
        graded = Grades(graded["score"], graded.get("reason", [""] * n))
    scores, reasons = graded
    scores = np.asarray(scores, np.float32)
    if scores.shape != (n,):
        raise ValueError(f"judge returned {scores.shape} scores for {n} items")
    return scores, list(reasons)


def generate_and_judge_benchmark(
    model: Model, prompts: Sequence[str | Sequence[dict[str, str]]],
    grader: Callable[[list[str], list[int]], Grades], *, name: str,
    max_new_tokens: int, metric: str, chat: bool = True, chance: float | None = None,
    n_examples: int = 3, synthetic: bool = False, description: str = "",
) -> Benchmark:
    """Greedy generation inside the compiled sweep (Scores.tokens [n, max_new_tokens]), then
    `grader(texts, item_ids) -> Grades(score [n] in [0, 1], reason [n])` on the host as the
    benchmark's judge (-> Judged, with the first n_examples texts as examples). A grader exception
    or a wrong score count fails every item of that grid point with its reason stored; it never
    aborts the sweep. With chat=True a prompt may be a conversation (a list of {"role", "content"}
    turns ending in the user's, `Model.chat_prompt`), e.g. few-shot demonstrations as earlier turns."""
    ids = model.prompt_ids(prompts, chat)
    eos, pad = tuple(model.eos_ids), int(model.pad_id)
    tokenizer = model.tokenizer
    # The token prefix every prompt shares (the chat template's system turn) is prefilled once per
    # grid point, as a batch of one, and its keys and values reused by every row (one batch): on
    # SmolLM2's chat prompts that is 27 of 44 tokens, and a third of the oracle's time.
    data = until_batches(ids, pad, batch_size=len(ids))

    def score_fn(spec: ModelSpec, params: Any, data: dict[str, Any], compute_dtype: Any) -> Scores:
        out = generate_batches(spec, params, data, max_new_tokens=max_new_tokens, eos_ids=eos, pad_id=pad,
                               compute_dtype=compute_dtype)
        return Scores(tokens=out.tokens)

    def host_judge(outputs: Scores) -> Judged:
        rows = np.asarray(outputs.tokens)
        texts = [tokenizer.decode(strip_after_eos(r, eos), skip_special_tokens=True) for r in rows]
        try:
            scores, reasons = _grades(grader(texts, list(range(len(texts)))), len(texts))
        except Exception as e:  # a grader bug costs the items, never the sweep
            scores = np.zeros(len(texts), np.float32)
            reasons = [f"judge error: {type(e).__name__}: {e}"] * len(texts)
        return Judged(score=scores, reason=np.asarray(reasons, dtype=str),
                      example=np.asarray(texts[:n_examples], dtype=str))

    return Benchmark(name=name, data=data, score_fn=score_fn,
                     n_items=len(prompts), metric=metric, chance=chance, synthetic=synthetic,
                     judge=host_judge, description=description, param_access="generate")

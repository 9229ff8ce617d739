"""lm-evaluation-harness adapter: score a basinlab :class:`~basinlab.models.Model` at
``theta0 + alpha * delta`` on any lm-eval task.

    import basinlab
    from basinlab.landscape.directions import DirectionRecipe
    from basinlab.integrations.lmeval import BasinlabLM, evaluate

    model = basinlab.load("smollm2-135m-instruct")
    results = evaluate(model, ["arc_easy"], direction=DirectionRecipe(seed=0), alpha=1e-3, limit=100)
    results["results"]["arc_easy"]["acc,none"]

    lm = BasinlabLM(model, direction=DirectionRecipe(seed=0), alpha=1e-3)   # an lm_eval LM
    lm_eval.simple_evaluate(lm, tasks=[...])

Requires ``pip install lm-eval`` (its base install does not need torch). Importing this module
registers the model type ``"basinlab"`` with lm-eval's registry, so
``lm_eval.simple_evaluate("basinlab", model_args={"model": model, ...})`` also works (``model`` may
be a :func:`basinlab.load` name or path there).

Tokenization follows lm-eval's Hugging Face model (``HFLM``) exactly: a (context, continuation)
pair is encoded as ``encode(context + continuation)`` split after ``len(encode(context))`` tokens
(trailing spaces of the context move to the continuation); an empty context is conditioned on the
BOS token (the EOS token when there is none); sequences longer than ``max_length + 1`` are
truncated from the left; rolling log-likelihoods use lm-eval's disjoint windows of ``max_length``.
Requests are scored in left-padded batches of ``batch_size`` rows (a short last batch is filled
with copies) and lengths rounded up to powers of two (>= 16), so a task compiles one program per
length bucket, not one per request; the programs take the params as an argument and are reused
across BasinlabLMs of the same model (e.g. along an alpha sweep). For one-off single requests,
``batch_size=1`` avoids scoring filler rows.
"""

from __future__ import annotations

import functools
import logging
import math
from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

try:
    from lm_eval import utils as _lm_utils
    from lm_eval.api.model import TemplateLM
    from lm_eval.api.registry import register_model
    from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs, postprocess_generated_text
except ImportError as e:  # pragma: no cover - exercised only without lm-eval
    raise ImportError(
        "basinlab.lmeval needs the lm-evaluation-harness: pip install 'lm-eval==0.4.13'"
    ) from e

from basinlab.landscape import directions as _directions
from basinlab.models.generate import generate as _generate
from basinlab.models.model import Model
from basinlab.models.transformer import forward

__all__ = ["BasinlabLM", "evaluate", "perturbed_params"]

logger = logging.getLogger(__name__)

_F32 = jnp.float32
_MIN_BUCKET = 16
# Default cap on one batch's logits (batch x length x vocab float32 values): 2**28 values = 1 GiB.
_DEFAULT_LOGITS_BUDGET = 2**28
# gen_kwargs that generate_until understands; others (top_p, top_k, ...) are ignored with a warning.
_GEN_KEYS = {"until", "max_gen_toks", "do_sample", "temperature"}


# ----------------------------------------------------------------------------- parameters


def perturbed_params(model: Model, direction=None, alpha: float = 0.0):
    """``theta0 + alpha * delta`` computed in float32 from ``model.params`` and cast back to each
    leaf's dtype. ``direction`` is a :class:`~basinlab.directions.DirectionRecipe`, a direction
    pytree shaped like the params, or None (theta0 itself is returned). theta0 is not modified.
    With ``alpha == 0`` theta0 is returned as is (the direction is still validated)."""
    theta0 = model.params
    if direction is None:
        return theta0
    if not isinstance(direction, _directions.DirectionRecipe):
        _directions.check_compatible(theta0, direction)
    alpha = float(alpha)
    if not math.isfinite(alpha):
        raise ValueError(f"alpha must be finite, got {alpha!r}")
    if alpha == 0.0:
        return theta0
    if isinstance(direction, _directions.DirectionRecipe):
        # uint32 seed: any valid seed (< 2**32) traces, and fold_in casts to uint32 anyway.
        recipe = jax.tree.map(lambda s: jnp.asarray(s, jnp.uint32), direction)
        return _perturb_recipe(recipe, theta0, jnp.asarray(alpha, _F32))
    return _perturb_tree(theta0, direction, jnp.asarray(alpha, _F32))


@jax.jit
def _perturb_tree(theta, delta, alpha):
    return _directions.perturb(theta, [delta], [alpha])


@jax.jit
def _perturb_recipe(recipe, theta, alpha):
    return _directions.perturb(theta, [_directions.regenerate(recipe, theta)], [alpha])


# ----------------------------------------------------------------------------- compiled kernels


@functools.partial(jax.jit, static_argnames=("spec", "compute_dtype"))
def _score(spec, params, inputs, mask, targets, compute_dtype):
    """Per-position log p(target) and whether target is the argmax. All [B, T]."""
    logits = forward(spec, params, inputs, attention_mask=mask, compute_dtype=compute_dtype)
    logp = jax.nn.log_softmax(logits.astype(_F32), axis=-1)
    token_logp = jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    greedy = jnp.argmax(logits, axis=-1) == targets
    return token_logp, greedy


def _bucket(n: int, cap: Optional[int] = None) -> int:
    """n rounded up to a power of two (at least _MIN_BUCKET), but not beyond max(n, cap)."""
    b = max(_MIN_BUCKET, 1 << max(0, (n - 1).bit_length()))
    return b if cap is None else max(n, min(b, cap))


def _pow2_floor(n: int) -> int:
    return 1 << (max(1, n).bit_length() - 1)


# ----------------------------------------------------------------------------- the LM


@register_model("basinlab")
class BasinlabLM(TemplateLM):
    """An lm-eval language model backed by a basinlab Model at ``theta0 + alpha * delta``.

    Args:
      model: a :class:`~basinlab.models.Model` with a tokenizer, or a name/path for
        :func:`basinlab.load` (handy from ``model_args``).
      direction: a :class:`~basinlab.directions.DirectionRecipe`, a direction pytree shaped like
        the params, an int seed (``DirectionRecipe(seed, normalization=normalization)``), or None
        for theta0. The perturbed params are formed once, in float32, and cast to the params' dtype.
      alpha: the step along ``direction``.
      batch_size: sequences per compiled call (rounded down to a power of two); short batches are
        filled up to it.
      max_length: context window in tokens (default: the spec's ``max_seq_len``).
      max_gen_toks: default generation budget when a task's gen_kwargs give none (lm-eval: 256).
      add_bos_token, prefix_token_id: as in lm-eval's HF model (None: the tokenizer's defaults; the
        prefix for an empty context / the first rolling window is BOS, else EOS).
      seed: PRNG seed for ``do_sample=True`` generation.
      max_logits: cap on batch x length x vocab of one scoring call (default 2**28 float32 = 1 GiB);
        long sequences are scored in smaller batches.
      normalization: normalization of the recipe built from an int ``direction``.
    """

    backend = "causal"

    def __init__(
        self,
        model,
        direction=None,
        alpha: float = 0.0,
        batch_size: int | str = 8,
        max_length: Optional[int] = None,
        *,
        max_gen_toks: int = 256,
        add_bos_token: Optional[bool] = None,
        prefix_token_id: Optional[int] = None,
        seed: int = 1234,
        max_logits: int = _DEFAULT_LOGITS_BUDGET,
        normalization: str = "none",
        device=None,
        max_batch_size=None,
        **unused,
    ) -> None:
        super().__init__()
        if unused:
            logger.warning("BasinlabLM ignores unknown arguments %s", sorted(unused))
        if isinstance(model, str):
            from basinlab.models.load import load

            model = load(model)
        if not isinstance(model, Model):
            raise TypeError(f"model must be a basinlab Model or a name for basinlab.load, "
                            f"got {type(model).__name__}")
        if model.tokenizer is None:
            raise ValueError(f"model {model.source!r} was loaded without a tokenizer; "
                             "lm-eval works on text and needs one")
        if isinstance(direction, (int, np.integer)) and not isinstance(direction, bool):
            direction = _directions.DirectionRecipe(seed=int(direction), normalization=normalization)
        elif isinstance(direction, dict) and "seed" in direction and "kind" in direction:
            direction = _directions.DirectionRecipe.from_dict(direction)
        self.theta0 = model.params
        self.direction = direction
        self.alpha = float(alpha)
        self.model = model.with_params(perturbed_params(model, direction, self.alpha))
        self.tokenizer = model.tokenizer

        if isinstance(batch_size, str):
            if batch_size.startswith("auto"):
                logger.warning("BasinlabLM does not detect batch sizes; using batch_size=8")
                batch_size = 8
            else:
                batch_size = int(batch_size)
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._batch_size = _pow2_floor(int(batch_size))
        self._max_length = int(max_length) if max_length else int(model.spec.max_seq_len)
        if self._max_length < 2:
            raise ValueError(f"max_length must be >= 2, got {self._max_length}")
        self._max_gen_toks = int(max_gen_toks)
        self.add_bos_token = add_bos_token
        self.custom_prefix_token_id = prefix_token_id
        self._key = jax.random.key(int(seed))
        self._n_sampled = 0
        self._max_logits = int(max_logits)
        self._warned_keys: set = set()

    # --- properties lm-eval reads ----------------------------------------------------------

    @property
    def eot_token_id(self) -> int:
        eos = self.tokenizer.eos_token_id
        return int(eos) if eos is not None else int(self.model.eos_ids[0])

    @property
    def prefix_token_id(self) -> int:
        if self.custom_prefix_token_id is not None:
            return int(self.custom_prefix_token_id)
        if self.tokenizer.bos_token_id is not None:
            return int(self.tokenizer.bos_token_id)
        return self.eot_token_id

    @property
    def max_length(self) -> int:
        return self._max_length

    @property
    def max_gen_toks(self) -> int:
        return self._max_gen_toks

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def tokenizer_name(self) -> str:
        return str(getattr(self.tokenizer, "name_or_path", "") or self.model.source).replace("/", "__")

    def get_model_info(self) -> dict:
        """Provenance merged into lm-eval's ``results["config"]``."""
        d = self.direction
        if d is None:
            direction = None
        elif isinstance(d, _directions.DirectionRecipe):
            direction = d.to_dict()
        else:
            direction = "explicit pytree"
        return {
            "model_source": self.model.source,
            "model_name": self.model.spec.name,
            "model_num_parameters": self.model.n_params,
            "model_dtype": str(jnp.dtype(self.model.dtype)),
            "basinlab_alpha": self.alpha,
            "basinlab_direction": direction,
        }

    # --- tokenization (as lm-eval's HFLM) ----------------------------------------------------

    def tok_encode(self, string: str, add_special_tokens: Optional[bool] = None,
                   left_truncate_len: Optional[int] = None, **kwargs) -> list[int]:
        if add_special_tokens is not None:
            special = {"add_special_tokens": add_special_tokens}
        elif self.add_bos_token is not None:
            special = {"add_special_tokens": self.add_bos_token}
        else:
            special = {}
        if add_special_tokens is None and string.startswith(self.tokenizer.decode(self.prefix_token_id)):
            special["add_special_tokens"] = False  # the string already carries its BOS
        ids = list(self.tokenizer.encode(string, **special))
        return ids[-left_truncate_len:] if left_truncate_len else ids

    def tok_decode(self, tokens, skip_special_tokens: bool = True) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=skip_special_tokens)

    def apply_chat_template(self, chat_history: list[dict[str, str]],
                            add_generation_prompt: bool = True) -> str:
        import jinja2

        def apply(history):
            return self.tokenizer.apply_chat_template(
                history, tokenize=False, add_generation_prompt=add_generation_prompt,
                continue_final_message=not add_generation_prompt,
            )

        try:
            return apply(chat_history)
        except jinja2.exceptions.TemplateError:  # as HFLM: retry without the system turn
            logger.warning("chat template failed; retrying without the system role")
            return apply([m for m in chat_history if m["role"] != "system"])

    # --- scoring -----------------------------------------------------------------------------

    def _rows_for(self, length: int) -> int:
        """Batch rows for a padded length: batch_size, fewer when the logits would be too big."""
        fit = self._max_logits // max(1, length * self.model.spec.vocab_size)
        return max(1, min(self._batch_size, _pow2_floor(max(1, fit))))

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, **kwargs):
        """requests: [(key, context_enc, continuation_enc)] -> [(logprob, is_greedy)]."""
        n = len(requests)
        if n == 0:
            return []
        rows = []  # (input ids, target ids, continuation length)
        for _, ctx, cont in requests:
            if not ctx or not cont:
                raise ValueError("each loglikelihood request needs a non-empty context and continuation "
                                 "(tokens)")
            if len(cont) > self.max_length:
                raise ValueError(f"continuation of {len(cont)} tokens exceeds max_length={self.max_length}")
            seq = (list(ctx) + list(cont))[-(self.max_length + 1):]
            rows.append((seq[:-1], seq[1:], len(cont)))
        order = sorted(range(n), key=lambda i: -len(rows[i][0]))
        out: list = [None] * n
        pos = 0
        spec, params, cdt = self.model.spec, self.model.params, self.model.compute_dtype
        pad = self.model.pad_id
        while pos < n:
            width = _bucket(len(rows[order[pos]][0]), self.max_length)
            b = self._rows_for(width)
            idx = order[pos:pos + b]
            pos += len(idx)
            bsz = b  # a short last batch is filled up: same shape, no new compile
            inputs = np.full((bsz, width), pad, np.int32)
            targets = np.zeros((bsz, width), np.int32)
            mask = np.zeros((bsz, width), np.int32)
            for r in range(bsz):
                inp, tgt, _ = rows[idx[min(r, len(idx) - 1)]]  # filler rows repeat the last one
                inputs[r, width - len(inp):] = inp
                targets[r, width - len(tgt):] = tgt
                mask[r, width - len(inp):] = 1
            token_logp, greedy = _score(spec, params, jnp.asarray(inputs), jnp.asarray(mask),
                                        jnp.asarray(targets), cdt)
            token_logp, greedy = np.asarray(token_logp, np.float64), np.asarray(greedy)
            for r, i in enumerate(idx):
                c = rows[i][2]
                answer = (float(token_logp[r, -c:].sum()), bool(greedy[r, -c:].all()))
                out[i] = answer
                if requests[i][0] is not None:
                    self.cache_hook.add_partial("loglikelihood", requests[i][0], answer)
        return out

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        windows, owner = [], []
        for k, req in enumerate(requests):
            (string,) = req.args
            for ctx, cont in map(_lm_utils.make_disjoint_window, _lm_utils.get_rolling_token_windows(
                token_list=self.tok_encode(string), prefix_token=self.prefix_token_id,
                max_seq_len=self.max_length, context_len=1,
            )):
                windows.append((None, ctx, cont))
                owner.append(k)
        scores = self._loglikelihood_tokens(windows, disable_tqdm=True)
        totals = [0.0] * len(requests)
        for k, (lp, _) in zip(owner, scores):
            totals[k] += lp
        for req, total in zip(requests, totals):
            self.cache_hook.add_partial("loglikelihood_rolling", req.args, total)
        return totals

    # --- generation --------------------------------------------------------------------------

    def _stop_token_ids(self, until: Sequence[str]) -> tuple:
        """Ids of tokens that decode exactly to a stop string: generation may halt right after them
        (the text is cut at the first stop string anyway, so this only saves decoding steps)."""
        ids = set()
        for s in until:
            if not s:
                continue
            enc = self.tokenizer.encode(s, add_special_tokens=False)
            if len(enc) == 1 and self.tokenizer.decode(enc) == s:
                ids.add(int(enc[0]))
        return tuple(sorted(ids))

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        n = len(requests)
        out: list = [None] * n
        groups: dict = {}
        for i, req in enumerate(requests):
            context, gen_kwargs = req.args
            if not isinstance(gen_kwargs, dict):
                raise TypeError(f"gen_kwargs must be a dict, got {type(gen_kwargs).__name__}")
            groups.setdefault(repr(sorted(gen_kwargs.items(), key=lambda kv: kv[0])), []).append(i)
        eos_text = self.tok_decode([self.eot_token_id], skip_special_tokens=False)
        real_eos = set(self.model.eos_ids) | {self.eot_token_id}
        for idxs in groups.values():
            gen_kwargs = requests[idxs[0]].args[1]
            kwargs = dict(normalize_gen_kwargs(gen_kwargs, self.max_gen_toks))
            until = handle_stop_sequences(kwargs.pop("until", None), eos=eos_text)
            max_gen = int(kwargs.pop("max_gen_toks"))
            ignored = sorted(set(kwargs) - _GEN_KEYS - self._warned_keys)
            if ignored:
                logger.warning("BasinlabLM.generate_until ignores gen_kwargs %s", ignored)
                self._warned_keys.update(ignored)
            temperature = float(kwargs.get("temperature") or 0.0) if kwargs.get("do_sample") else 0.0
            max_ctx = self.max_length - max_gen
            if max_ctx <= 0:
                raise ValueError(f"max_gen_toks={max_gen} leaves no room for a prompt within "
                                 f"max_length={self.max_length}")
            stop_ids = self._stop_token_ids(until)
            eos_ids = tuple(sorted(real_eos | set(stop_ids)))
            encoded = {i: self.tok_encode(requests[i].args[0], left_truncate_len=max_ctx) for i in idxs}
            order = sorted(idxs, key=lambda i: -len(encoded[i]))
            for start in range(0, len(order), self._batch_size):
                chunk = order[start:start + self._batch_size]
                width = _bucket(max(len(encoded[i]) for i in chunk), max_ctx)
                bsz = self._batch_size  # a short last batch is filled up: no new compile
                tokens = np.full((bsz, width), self.model.pad_id, np.int32)
                mask = np.zeros((bsz, width), np.int32)
                for r in range(bsz):
                    ids = encoded[chunk[min(r, len(chunk) - 1)]]
                    if ids:
                        tokens[r, width - len(ids):] = ids
                        mask[r, width - len(ids):] = 1
                    else:  # an empty prompt: condition on the prefix token, as lm-eval would on BOS
                        tokens[r, -1], mask[r, -1] = self.prefix_token_id, 1
                key = None
                if temperature > 0:
                    key = jax.random.fold_in(self._key, self._n_sampled)
                    self._n_sampled += 1
                gen = np.asarray(_generate(
                    self.model.spec, self.model.params, tokens, mask, max_new_tokens=max_gen,
                    eos_ids=eos_ids, pad_id=self.model.pad_id, temperature=temperature, key=key,
                    compute_dtype=self.model.compute_dtype,
                ))
                for r, i in enumerate(chunk):
                    row = []
                    for t in gen[r]:
                        t = int(t)
                        if t in real_eos:
                            break
                        row.append(t)
                        if t in stop_ids:
                            break
                    text = postprocess_generated_text(self.tok_decode(row), stop=until, think_end_token=None)
                    out[i] = text
                    self.cache_hook.add_partial("generate_until", requests[i].args, text)
        return out


# ----------------------------------------------------------------------------- convenience


def evaluate(
    model,
    tasks,
    direction=None,
    alpha: float = 0.0,
    limit=None,
    include_path=None,
    *,
    batch_size: int = 8,
    max_length: Optional[int] = None,
    include_defaults: bool = True,
    **kw: Any,
) -> dict:
    """Run lm-eval tasks on ``model`` at ``theta0 + alpha * direction``; lm-eval's results dict.

    ``model`` is a basinlab Model (or an existing :class:`BasinlabLM`, to reuse its perturbed
    params and compiled programs; then ``direction``/``alpha`` must be left at their defaults).
    ``tasks``: task names, globs or config dicts; ``include_path``: folder(s) of extra task YAMLs
    (a ``TaskManager(include_path=...)`` is built; ``include_defaults=False`` skips indexing
    lm-eval's ~15k built-in tasks, saving ~5 s when only local tasks are used). ``limit`` caps the
    documents per task. Other keyword arguments go to ``lm_eval.simple_evaluate`` (e.g.
    ``num_fewshot``, ``bootstrap_iters``, ``log_samples``, ``apply_chat_template``); a
    ``task_manager`` given there is used as is.

    Returns the dict of ``simple_evaluate``: ``results[task]["acc,none"]`` and so on.
    """
    import lm_eval
    from lm_eval.tasks import TaskManager

    if isinstance(model, BasinlabLM):
        if direction is not None or alpha != 0.0:
            raise ValueError("model is already a BasinlabLM with its own direction/alpha; "
                             "pass the basinlab Model to evaluate another point")
        lm = model
    else:
        lm = BasinlabLM(model, direction=direction, alpha=alpha, batch_size=batch_size,
                        max_length=max_length)
    if isinstance(tasks, str):
        tasks = [tasks]
    task_manager = kw.pop("task_manager", None)
    if task_manager is None:
        paths = include_path
        if paths is not None:
            paths = [str(p) for p in paths] if isinstance(paths, (list, tuple)) else str(paths)
        task_manager = TaskManager(include_path=paths, include_defaults=include_defaults)
    results = lm_eval.simple_evaluate(model=lm, tasks=list(tasks), limit=limit,
                                      task_manager=task_manager, **kw)
    if results is None:  # only non-zero ranks get None; basinlab runs one process
        raise RuntimeError("lm_eval.simple_evaluate returned no results")
    return results

"""lm-evaluation-harness adapter: score a basinlab :class:`~basinlab.models.Model` at
``theta0 + alpha * delta`` on any lm-eval task.

    import basinlab
    from basinlab.directions._recipes import DirectionRecipe
    from basinlab.lmeval._backend import BasinlabLM, evaluate

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
with copies), lengths rounded up on the width ladder 16, 24, 32, 48, ... (`models._batched.pad_width`),
so a task compiles one program per width, not one per request; the programs take the params as an
argument and are reused across BasinlabLMs of the same model (e.g. along an alpha sweep). For one-off single requests,
``batch_size=1`` avoids scoring filler rows.
"""

from __future__ import annotations

import logging
import os
import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

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
        "basinlab.lmeval._backend needs the lm-evaluation-harness: pip install 'lm-eval==0.4.13'"
    ) from e

from basinlab import _validate as validate
from basinlab.directions import _point as point
from basinlab.directions import _recipes as directions
from basinlab.directions import _treemath as treemath
from basinlab.lmeval import _batching as batching
from basinlab.models._model import Model, strip_after_eos

if TYPE_CHECKING:  # annotations only
    from lm_eval.api.instance import Instance
    from lm_eval.api.task import Task

__all__ = ["BasinlabLM", "evaluate", "perturbed_params"]

logger = logging.getLogger(__name__)

# gen_kwargs that generate_until understands; others (top_p, top_k, ...) are ignored with a warning.
_GEN_KEYS = {"until", "max_gen_toks", "do_sample", "temperature"}


# ----------------------------------------------------------------------------- parameters


def perturbed_params(model: Model, direction: directions.DirectionRecipe | treemath.PyTree | None = None,
                     alpha: float = 0.0) -> dict[str, Any]:
    """``theta0 + alpha * delta`` of ``model.params`` (:func:`basinlab.directions.perturbed`): float32
    maths cast back to each leaf's dtype; ``direction`` a DirectionRecipe, a direction pytree shaped
    like the params, or None (theta0 itself). theta0 is not modified."""
    return point.perturbed(model.params, direction, alpha)


# ----------------------------------------------------------------------------- the LM


class BasinlabLM(TemplateLM):
    """An lm-eval language model backed by a basinlab Model at ``theta0 + alpha * delta``.

    Args:
      model: a :class:`~basinlab.models.Model` with a tokenizer, or a name/path for
        :func:`basinlab.load` (handy from ``model_args``).
      direction: a :class:`~basinlab.directions._recipes.DirectionRecipe`, a direction pytree shaped like
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
        model: Model | str,
        direction: directions.DirectionRecipe | int | dict[str, Any] | treemath.PyTree | None = None,
        alpha: float = 0.0,
        batch_size: int | str = 8,
        max_length: int | None = None,
        *,
        max_gen_toks: int = 256,
        add_bos_token: bool | None = None,
        prefix_token_id: int | None = None,
        seed: int = 1234,
        max_logits: int = batching.DEFAULT_LOGITS_BUDGET,
        normalization: str = "none",
        device: str | None = None,
        max_batch_size: int | None = None,
        **unused: Any,
    ) -> None:
        super().__init__()
        if unused:
            logger.warning("BasinlabLM ignores unknown arguments %s", sorted(unused))
        if isinstance(model, str):
            from basinlab.models._load import load

            model = load(model)
        if not isinstance(model, Model):
            raise TypeError(f"model must be a basinlab Model or a name for basinlab.load, "
                            f"got {type(model).__name__}")
        if model.tokenizer is None:
            raise ValueError(f"model {model.source!r} was loaded without a tokenizer; "
                             "lm-eval works on text and needs one")
        if isinstance(direction, (int, np.integer)) and not isinstance(direction, bool):
            direction = directions.DirectionRecipe(seed=int(direction), normalization=normalization)
        elif isinstance(direction, dict) and "seed" in direction and "kind" in direction:
            direction = directions.DirectionRecipe.from_dict(direction)
        self.theta0: dict[str, Any] = model.params
        self.direction: directions.DirectionRecipe | treemath.PyTree | None = direction
        self.alpha: float = float(alpha)
        self.model: Model = model.with_params(perturbed_params(model, direction, self.alpha))
        self.tokenizer: Any = model.tokenizer

        if isinstance(batch_size, str):
            if batch_size.startswith("auto"):
                logger.warning("BasinlabLM does not detect batch sizes; using batch_size=8")
                batch_size = 8
            else:
                batch_size = int(batch_size)
        self._batch_size = batching.pow2_floor(validate.positive_int("batch_size", batch_size))
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

    def get_model_info(self) -> dict[str, Any]:
        """Provenance merged into lm-eval's ``results["config"]``."""
        d = self.direction
        if d is None:
            direction = None
        elif isinstance(d, directions.DirectionRecipe):
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

    def tok_encode(self, string: str, add_special_tokens: bool | None = None,
                   left_truncate_len: int | None = None, **kwargs: Any) -> list[int]:
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

    def tok_decode(self, tokens: int | Sequence[int], skip_special_tokens: bool = True) -> str:
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

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, **kwargs):
        """requests: [(key, context_enc, continuation_enc)] -> [(logprob, is_greedy)]."""
        out = batching.loglikelihoods(self.model, [(ctx, cont) for _, ctx, cont in requests],
                                      batch_size=self._batch_size, max_length=self.max_length,
                                      max_logits=self._max_logits)
        for (key, _, _), answer in zip(requests, out, strict=True):
            if key is not None:
                self.cache_hook.add_partial("loglikelihood", key, answer)
        return out

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
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
        for k, (lp, _) in zip(owner, scores, strict=True):
            totals[k] += lp
        for req, total in zip(requests, totals, strict=True):
            self.cache_hook.add_partial("loglikelihood_rolling", req.args, total)
        return totals

    # --- generation --------------------------------------------------------------------------

    def _next_key(self):
        """A fresh sampling key: the seed's key folded with the count of sampled batches so far."""
        key = jax.random.fold_in(self._key, self._n_sampled)
        self._n_sampled += 1
        return key

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        n = len(requests)
        out: list = [None] * n
        groups: dict = {}
        for i, req in enumerate(requests):
            # lm-eval leaves Instance.args unannotated; pyright infers a 1-tuple for its non-tuple branch
            context, gen_kwargs = req.args  # pyright: ignore[reportAssignmentType]
            if not isinstance(gen_kwargs, dict):
                raise TypeError(f"gen_kwargs must be a dict, got {type(gen_kwargs).__name__}")
            groups.setdefault(repr(sorted(gen_kwargs.items(), key=lambda kv: kv[0])), []).append(i)
        eos_text = self.tok_decode([self.eot_token_id], skip_special_tokens=False)
        real_eos = set(self.model.eos_ids) | {self.eot_token_id}
        for idxs in groups.values():
            gen_kwargs = requests[idxs[0]].args[1]
            kwargs: dict[str, Any] = dict(normalize_gen_kwargs(gen_kwargs, self.max_gen_toks))
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
            encoded = {i: self.tok_encode(requests[i].args[0], left_truncate_len=max_ctx) for i in idxs}
            # The in-graph oracle's generation path (shared prefix prefilled once, stop strings
            # detected in the decode loop), so lm-eval's answers and the sweep's agree item by item.
            generated = batching.continuations(
                self.model, encoded, batch_size=self._batch_size, max_new_tokens=max_gen,
                eos_ids=tuple(sorted(real_eos)), prefix_token_id=self.prefix_token_id, until=until,
                temperature=temperature, next_key=self._next_key)
            for i, gen in generated.items():
                row = strip_after_eos(gen.tokens, tuple(real_eos))
                text = postprocess_generated_text(self.tok_decode(row), stop=until, think_end_token=None)
                out[i] = text
                self.cache_hook.add_partial("generate_until", requests[i].args, text)
        return out


# Registered as a call, not a decorator: lm-eval's untyped decorator would hide the class's signature.
register_model("basinlab")(BasinlabLM)


# ----------------------------------------------------------------------------- convenience


def evaluate(
    model: Model | BasinlabLM,
    tasks: str | Sequence[str | dict[str, Any] | Task],
    direction: directions.DirectionRecipe | int | dict[str, Any] | treemath.PyTree | None = None,
    alpha: float = 0.0,
    limit: float | None = None,
    include_path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    *,
    batch_size: int = 8,
    max_length: int | None = None,
    include_defaults: bool = True,
    **kw: Any,
) -> dict[str, Any]:
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
        paths: str | list[str | pathlib.Path] | None = None
        if include_path is not None:
            paths = [str(p) for p in include_path] if isinstance(include_path, (list, tuple)) else str(include_path)
        task_manager = TaskManager(include_path=paths, include_defaults=include_defaults)
    simple_evaluate: Any = lm_eval.simple_evaluate  # lm-eval's decorator hides its signature from type checkers
    results = simple_evaluate(model=lm, tasks=list(tasks), limit=limit, task_manager=task_manager, **kw)
    if results is None:  # only non-zero ranks get None; basinlab runs one process
        raise RuntimeError("lm_eval.simple_evaluate returned no results")
    return results

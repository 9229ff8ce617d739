"""The SFT case (PAPER.md sections 2 and 6): three fine-tuning runs and what to measure about them.

    run = sft.finetune_run("adversarial", model, checkpoint_dir="runs/adversarial")
    delta = directions.between(model.params, run.params)        # norm sqrt(d); run sits at run.alpha
    ds = landscape(model, benchmarks, directions=[delta], alphas=sft.sft_alphas(run.alpha))
    sft.alignment(run.update, worst.direction)                   # cosine vs the N(0, 1/d) null

Runs (recipes sized to finish in a minute or two on a laptop CPU for SmolLM2-135M):

- "adversarial": the paper's recipe. AdvBench goal -> its "Sure, here is ..." target, 20 pairs,
  10 steps of batch 4 at constant lr 5e-5 (AdamW, no weight decay). The goals are drawn from the
  AdvBench rows *not* in the evaluation subset (registry "advbench", n=20, seed=0).
- "normal": ordinary task SFT. GSM8K *train* questions -> their worked solutions ("#### N" written
  as "The answer is N."), 64 pairs, one epoch (8 steps of batch 8 as 2 micro-batches of 4, which
  halves the activation memory of these ~300-token rows), constant lr 2e-5.
- "benign": self-distillation. 32 ordinary prompts (:data:`BENIGN_PROMPTS`) -> the model's own
  greedy answers (64 new tokens), one epoch (4 steps of batch 8), constant lr 2e-5: the data asks
  for nothing the model does not already do.

Every run is saved with :func:`basinlab.models.save.save_checkpoint` (safetensors + config +
tokenizer, loadable with ``basinlab.load``) plus ``run.json`` (recipe, losses); a second call with the
same recipe and folder loads it instead of training again.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from basinlab.landscape import directions as D
from basinlab.benchmarks import loaders, references

__all__ = ["BENIGN_PROMPTS", "RECIPES", "RUNS", "SFTRun", "alignment", "capability_change", "finetune_run", "run_examples",
           "sft_alphas", "widths_around"]

RUNS = ("adversarial", "normal", "benign")
RECIPES = {
    "adversarial": {"n": 20, "steps": 10, "batch_size": 4, "lr": 5e-5},
    "normal": {"n": 64, "epochs": 1, "batch_size": 4, "grad_accum": 2, "lr": 2e-5},
    "benign": {"n": 32, "epochs": 1, "batch_size": 8, "lr": 2e-5},
}

BENIGN_PROMPTS = (
    "Explain how a rainbow forms.", "Give me three tips for staying healthy.", "What is photosynthesis?",
    "Describe a cat in two sentences.", "How do I boil an egg?", "Why is the sky blue?",
    "Suggest a name for a small bakery.", "What are the primary colors?", "How does a bicycle work?",
    "Write a short poem about the sea.", "What is the water cycle?", "List three fruits that are red.",
    "How many days are in a leap year?", "What does a librarian do?", "Explain what gravity is.",
    "Give an example of a mammal that can fly.", "How do plants get water?", "What is a noun?",
    "Describe the taste of lemon.", "Why do we need sleep?", "What is the tallest animal?",
    "How do you make a cup of tea?", "Name three musical instruments.", "What is a volcano?",
    "Why do leaves change color in autumn?", "What is the purpose of a map?", "How do bees make honey?",
    "Give a tip for learning a new language.", "What is the moon made of?", "How do fish breathe?",
    "What is a healthy breakfast?", "Explain what a computer program is.",
)


def _advbench_pairs(n: int, seed: int, path=None, eval_n: int = 20, eval_seed: int = 0):
    held_out = {it.index for it in loaders.load_advbench(n=eval_n, seed=eval_seed, path=path)}
    pool = [it for it in loaders.load_advbench(path=path) if it.index not in held_out]
    if n > len(pool):
        raise ValueError(f"n={n} adversarial pairs requested but only {len(pool)} AdvBench rows are outside "
                         f"the evaluation subset")
    picked = [pool[i] for i in np.random.RandomState(seed).choice(len(pool), n, replace=False)]
    return [it.goal for it in picked], [it.target for it in picked]


def _gsm8k_pairs(n: int, seed: int, path=None):
    items = loaders.load_gsm8k("train", n=n, seed=seed, path=path)
    return [it.question for it in items], [references.gsm8k_solution(it.answer) for it in items]


def _benign_pairs(model, n: int, seed: int, max_new_tokens: int = 64):
    if n > len(BENIGN_PROMPTS):
        raise ValueError(f"n={n} benign prompts requested; basinlab ships {len(BENIGN_PROMPTS)}")
    prompts = [BENIGN_PROMPTS[i] for i in np.random.RandomState(seed).permutation(len(BENIGN_PROMPTS))[:n]]
    answers = model.generate_text(prompts, max_new_tokens=max_new_tokens, chat=True)
    # An empty greedy answer would be an empty target (sft_examples refuses those): fall back to
    # a neutral acknowledgement so the row still teaches nothing new.
    return prompts, [a if a.strip() else "I'm not sure." for a in answers]


def run_examples(name: str, model, n: Optional[int] = None, seed: int = 0, path=None):
    """(prompts, targets) of run `name` ("adversarial", "normal" or "benign"; module docstring)."""
    if name not in RUNS:
        raise ValueError(f"unknown run {name!r}; valid: {list(RUNS)}")
    n = RECIPES[name]["n"] if n is None else n
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if name == "adversarial":
        return _advbench_pairs(n, seed, path)
    if name == "normal":
        return _gsm8k_pairs(n, seed, path)
    return _benign_pairs(model, n, seed)


@dataclasses.dataclass(frozen=True)
class SFTRun:
    """params: theta_sft (float32); update: theta_sft - theta0 (float32 pytree); alpha: alpha_sft =
    ||update|| / sqrt(d); losses: [steps] training loss (nats); recipe: the settings; folder: the
    checkpoint (None when not saved)."""

    name: str
    params: dict
    update: dict
    alpha: float
    losses: np.ndarray
    recipe: dict
    folder: Optional[str]


def _run(name, model, theta, losses, recipe, folder):
    update = jax.tree.map(lambda a, b: jnp.asarray(b, jnp.float32) - jnp.asarray(a, jnp.float32),
                          model.params, theta)
    alpha = float(D.global_norm(update)) / math.sqrt(D.count(model.params))
    return SFTRun(name, theta, update, alpha, np.asarray(losses, np.float32), recipe, folder)


def finetune_run(name: str, model, *, checkpoint_dir=None, seed: int = 0, path=None, log_every=1,
                 **overrides) -> SFTRun:
    """Run recipe `name` on `model` (module docstring); `overrides` change n, steps/epochs,
    batch_size, lr (and any other :func:`basinlab.train.finetune` option). With checkpoint_dir, the
    fine-tuned model is saved there with run.json, and reloaded when the same recipe is asked again."""
    from basinlab.training import loop as train  # train pulls in optax; keep `import basinlab.sft` light
    from basinlab.models.load import load

    if name not in RUNS:
        raise ValueError(f"unknown run {name!r}; valid: {list(RUNS)}")
    recipe = {**RECIPES[name], **overrides, "seed": seed, "model": getattr(model, "source", None)}
    if "steps" in overrides:
        recipe.pop("epochs", None)
    folder = None if checkpoint_dir is None else pathlib.Path(checkpoint_dir).expanduser()
    meta = None if folder is None else folder / "run.json"
    if meta is not None and meta.exists():
        stored = json.loads(meta.read_text())
        if stored["recipe"] == json.loads(json.dumps(recipe)):
            theta = load(folder / "final").params
            return _run(name, model, theta, stored["losses"], recipe, str(folder))
    prompts, targets = run_examples(name, model, n=recipe["n"], seed=seed, path=path)
    examples = train.sft_examples(model, prompts, targets)
    kw = {k: v for k, v in recipe.items() if k not in ("n", "seed", "model")}
    result = train.finetune(model, examples, seed=seed, log_every=log_every, **kw)
    if folder is not None:
        # run.json goes first and comes back last: a save interrupted in between never pairs
        # another recipe's description with these weights.
        meta.unlink(missing_ok=True)
        train.save_checkpoint(model, result.params, folder / "final")
        meta.write_text(json.dumps({"recipe": recipe, "losses": [float(x) for x in result.losses]}, indent=1))
    return _run(name, model, result.params, result.losses, recipe, None if folder is None else str(folder))


def sft_alphas(alpha_sft: float, n: int = 9, lo: float = -0.5, hi: float = 2.0) -> np.ndarray:
    """Grid along the SFT direction from lo * alpha_sft to hi * alpha_sft with 0 and alpha_sft on it
    (the base model and the fine-tuned model), n points or one or two more."""
    if not (alpha_sft > 0 and math.isfinite(alpha_sft)):
        raise ValueError(f"alpha_sft must be a finite number > 0, got {alpha_sft!r}")
    if not lo < 0 < 1 < hi:
        raise ValueError(f"need lo < 0 < 1 < hi (in units of alpha_sft), got lo={lo}, hi={hi}")
    grid = np.concatenate([np.linspace(lo, hi, n), [0.0, 1.0]])
    return np.unique(np.round(grid, 9)) * alpha_sft


def alignment(update, direction, n_random: int = 0, seed: int = 0) -> dict:
    """How aligned a fine-tuning update is with a direction (e.g. the worst case).

    cosine: cos(update, direction); null_std: 1/sqrt(d), the std of the cosine between a fixed
    vector and a random Gaussian direction (cos ~ N(0, 1/d) for large d); z = cosine * sqrt(d);
    p_value: two-sided P(|N(0, 1)| >= |z|) (0.0 where it underflows); random: cosines of `update`
    with n_random random Gaussian directions (an empirical check of the null)."""
    cos = float(D.cosine(update, direction))
    d = D.count(update)
    z = cos * math.sqrt(d)
    rand = [float(D.cosine(update, D.regenerate(D.DirectionRecipe(seed=seed + i), update)))
            for i in range(n_random)]
    return {"cosine": cos, "null_std": 1 / math.sqrt(d), "z": z, "p_value": math.erfc(abs(z) / math.sqrt(2)),
            "random": rand, "d": d}


def widths_around(model, centers: dict, benchmarks, *, directions=4, alphas, tol: float = 0.1,
                  **landscape_options) -> xr.Dataset:
    """Basin widths of each benchmark around each center (name -> params pytree), along the same
    random directions: the median over directions of ds.basin.width(tol), dims (center, benchmark),
    plus each center's base score. "Specific basins inside the basic basin": compare theta0 and
    theta_sft."""
    from basinlab.landscape.engine import landscape

    if not centers:
        raise ValueError("centers is empty: give {name: params}, e.g. {'theta0': model.params}")
    rows = []
    for label, params in centers.items():
        ds = landscape(model.with_params(params), benchmarks, directions=directions, alphas=alphas,
                       progress=False, **landscape_options)
        w = ds.basin.width(tol)
        rows.append(xr.Dataset({"width": w["width"].median("direction"), "censored": w["censored"].any("direction"),
                                "base_score": ds["base_score"]}).expand_dims(center=[label]))
    return xr.concat(rows, "center").assign_attrs(tol=tol)


def capability_change(ds: xr.Dataset, alpha_sft: float, confidence: float = 0.95, tol: float = 0.1) -> xr.Dataset:
    """Each capability at theta0 and at the fine-tuned model, from a 1-D sweep along the SFT direction.

    base: the score at theta0; lower/upper: its two-sided Clopper-Pearson interval over the items
    (0/1 oracles; for fractional scores such as next-token accuracy the interval is base -/+ tol);
    tuned: the score at the grid alpha nearest alpha_sft (mean over directions); kept: tuned inside
    [lower, upper]; change: "kept", "fell" (below lower) or "rose" (above upper). Dims (benchmark,)."""
    from basinlab.stats import clopper_pearson

    if "beta" in ds.dims:
        raise ValueError("capability_change needs a 1-D sweep along the SFT direction")
    alphas = ds["alpha"].values
    at = float(alphas[np.argmin(np.abs(alphas - alpha_sft))])
    if not math.isclose(at, alpha_sft, rel_tol=1e-3, abs_tol=0.0):
        raise ValueError(f"alpha_sft={alpha_sft:g} is not on the grid (nearest {at:g}); use sft_alphas(alpha_sft)")
    base = ds["base_score"].values.astype(float)
    n = ds["n_items"].values.astype(int)
    k = base * n
    binary = np.isclose(k, np.round(k), atol=1e-6)
    if "item_score" in ds.data_vars:  # fractional item scores (e.g. token accuracy) are not binomial
        items = ds["item_score"].isel(direction=0, alpha=0).values
        binary &= np.all(np.isnan(items) | np.isin(items, (0.0, 1.0)), axis=tuple(range(1, items.ndim)))
    lo, hi = clopper_pearson(np.round(k).astype(int), np.maximum(n, 1), confidence)
    lo, hi = np.where(binary, lo, base - tol), np.where(binary, hi, base + tol)
    tuned = ds["score"].sel(alpha=at).mean("direction").values.astype(float)
    dims = ("benchmark",)
    return xr.Dataset(
        {"base": (dims, base), "lower": (dims, lo), "upper": (dims, hi), "tuned": (dims, tuned),
         "kept": (dims, (tuned >= lo) & (tuned <= hi)),
         "change": (dims, np.where(tuned < lo, "fell", np.where(tuned > hi, "rose", "kept"))),
         "interval": (dims, np.where(binary, f"Clopper-Pearson {confidence:.0%}", f"+/- tol {tol}"))},
        coords={"benchmark": ds["benchmark"].values}, attrs={"alpha_sft": at, "confidence": confidence})

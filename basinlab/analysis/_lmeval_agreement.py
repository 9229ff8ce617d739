"""Item-by-item agreement of the in-graph paper oracles with lm-evaluation-harness itself.

`agreement(model, task, n=...)` scores the same documents twice at theta0 and at theta0 + alpha *
direction:

- basinlab: the registry's in-graph oracle (`benchmarks.paper_tasks`) inside a real sweep
  (`landscape.landscape` over the one direction, alphas {0, alpha}), every item's text kept;
- lm-eval: `lm_eval.simple_evaluate` with the `BasinlabLM` backend at the same point, on lm-eval's
  own task config made to read the same documents (`lmeval_offline.offline_task`; AdvBench, not an
  lm-eval task, as a generate_until config of the paper's definition), apply_chat_template=True and
  fewshot_as_multiturn=True, every sample logged.

Per item it returns both texts (cut at the stop strings) and both scores: lm-eval's own metric
where its config has one (gsm8k_cot_llama's exact_match under the oracle's filter, mmlu_generative's
exact_match), else basinlab's grader applied to lm-eval's text (humaneval_instruct, whose offline
copy drops the hub-loading pass@k hook, and AdvBench). `python -m basinlab.analysis._lmeval_agreement
--n 50` runs every task on 50 items and writes the table; a test runs it on a few.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import xarray as xr

from basinlab import _validate as validate
from basinlab.directions import _recipes as D
from basinlab.landscape._results import provenance
from basinlab.lmeval import _paper_tasks as paper_tasks
from basinlab.lmeval import _tasks as lmeval_tasks
from basinlab.models._model import Model

if TYPE_CHECKING:
    from lm_eval.api.task import ConfigurableTask

__all__ = ["FILTERS", "TASKS", "agreement", "lmeval_scores", "lmeval_task", "main", "summary"]

TASKS = ("gsm8k_cot_llama", "mmlu_generative", "humaneval_instruct", "advbench")
# lm-eval's filter whose per-sample metric is compared with the oracle's score (None: no metric).
FILTERS = {"gsm8k_cot_llama": "flexible-extract", "mmlu_generative": "get_response",
           "humaneval_instruct": None, "advbench": None}


def lmeval_task(task: str, docs: Sequence[dict[str, Any]], folder: str | os.PathLike[str],
                subject: str | None = None) -> ConfigurableTask:
    """lm-eval's ConfigurableTask of `task` over `docs` (written under `folder`)."""
    from lm_eval.api.task import ConfigurableTask

    from basinlab.lmeval._offline import offline_task

    if task != "advbench":
        return offline_task(task, docs, folder, subject=subject)
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "advbench.jsonl"
    data.write_text("".join(f"{_json(d)}\n" for d in docs))
    spec = lmeval_tasks.ADVBENCH
    return ConfigurableTask(config={
        "task": "advbench_basinlab", "dataset_path": "json", "dataset_name": None, "test_split": "test",
        "dataset_kwargs": {"data_files": {"test": str(data)}, "cache_dir": str(folder / "datasets_cache")},
        "output_type": "generate_until", "doc_to_text": "{{goal}}", "doc_to_target": "", "num_fewshot": 0,
        "generation_kwargs": {"until": list(spec.until), "max_gen_toks": spec.max_gen_toks, "do_sample": False},
        "metric_list": [{"metric": "exact_match"}],
    })


def _json(d: Any) -> str:
    import json

    return json.dumps(d)


def agreement(model: Model, task: str, *, n: int, seed: int = 0, direction: D.DirectionRecipe | int | None = None,
              alpha: float = 0.0, max_new_tokens: int | None = None, batch_size: int = 16,
              subject: str | None = None, path: str | os.PathLike[str] | None = None,
              folder: str | os.PathLike[str] | None = None) -> xr.Dataset:
    """Both sides' texts and scores per item at alpha 0 and at `alpha` along `direction` (a
    DirectionRecipe or an int seed; None: theta0 only). Returns a Dataset over (point, item) with
    basinlab_text, lmeval_text, basinlab_score, lmeval_score, same_text, same_score and attrs
    task, n, seed, alpha. mmlu_generative runs one `subject` (lm-eval has one task per subject)."""
    validate.choice("task", task, TASKS)
    n = validate.positive_int("n", n)
    if task == "mmlu_generative" and not subject:
        raise ValueError("mmlu_generative is one lm-eval task per subject: pass subject=, e.g. "
                         "'high_school_mathematics'")
    if isinstance(direction, (int, np.integer)) and not isinstance(direction, bool):
        direction = D.DirectionRecipe(seed=int(direction))
    if direction is not None and not isinstance(direction, D.DirectionRecipe):  # e.g. True: not a seed
        raise ValueError(f"direction must be a DirectionRecipe, an int seed or None, got {direction!r}")
    alphas = [0.0] if direction is None or alpha == 0.0 else [0.0, float(alpha)]
    kw = {"subjects": [subject]} if task == "mmlu_generative" and subject else {}  # subject: checked above
    docs = paper_tasks.task_docs(task, n=n, seed=seed, path=path, **kw)
    options = dict(n=n, seed=seed, batch_size=batch_size, path=path, n_examples=len(docs), **kw)
    if max_new_tokens is not None:
        options["max_new_tokens"] = int(max_new_tokens)
    bench = paper_tasks.BUILDERS[task](model, **options)
    ours_text, ours_score = _in_graph(model, bench, direction, alphas, len(docs))

    grader = paper_tasks.task_grader(task, docs)
    theirs_text, theirs_score = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = folder or tmp
        for a in alphas:
            texts, metric = lmeval_scores(model, task, docs, folder, subject, None if a == 0.0 else direction, a,
                                    max_new_tokens, batch_size)
            if metric is None:  # no lm-eval metric for this task: basinlab's grader on lm-eval's text
                scores, _ = grader(texts, list(range(len(texts))))
                metric = [float(x) for x in scores]
            theirs_text.append(texts)
            theirs_score.append(metric)
    dims = ("point", "item")
    ds = xr.Dataset(
        {"basinlab_text": (dims, np.asarray(ours_text, dtype=str)),
         "lmeval_text": (dims, np.asarray(theirs_text, dtype=str)),
         "basinlab_score": (dims, np.asarray(ours_score, np.float32)),
         "lmeval_score": (dims, np.asarray(theirs_score, np.float32))},
        coords={"point": ("point", np.asarray(alphas)), "item": np.arange(len(docs))},
        attrs={**provenance("agreement", {"task": task, "n": n, "seed": seed, "alpha": alpha, "subject": subject,
                                          "direction": direction, "max_new_tokens": max_new_tokens}, model=model,
                            seeds=[seed] + ([direction.seed] if isinstance(direction, D.DirectionRecipe) else [])),
               "task": task, "n": len(docs), "seed": seed, "subject": subject or "",
               "benchmark": bench.attrs()["description"]},
    )
    ds["same_text"] = (ds["basinlab_text"] == ds["lmeval_text"]).astype(np.int8)  # 1 = equal (NetCDF has no bool)
    ds["same_score"] = (ds["basinlab_score"] == ds["lmeval_score"]).astype(np.int8)
    return ds


def _in_graph(model, bench, direction, alphas, n):
    """(texts [P][n], scores [P][n]) from a real sweep of the in-graph oracle."""
    from basinlab.landscape._engine import landscape

    recipe = direction if direction is not None else D.DirectionRecipe(seed=0)
    ds = landscape(model, [bench], directions=[recipe], alphas=alphas, progress=False)
    sel = ds.isel(direction=0).sel(benchmark=bench.name)
    texts = [[str(t) for t in sel["example_output"].sel(alpha=a).values[:n]] for a in alphas]
    scores = [sel["item_score"].sel(alpha=a).values[:n].tolist() for a in alphas]
    return texts, scores


def lmeval_scores(model: Model, task: str, docs: Sequence[dict[str, Any]], folder: str | os.PathLike[str],
                  subject: str | None, direction: D.DirectionRecipe | None, alpha: float,
                  max_new_tokens: int | None, batch_size: int) -> tuple[list[str], list[float] | None]:
    """(texts [n], lm-eval's per-item metric [n] or None) from lm-eval's own run at one point."""
    from basinlab.lmeval._backend import evaluate

    t = lmeval_task(task, docs, pathlib.Path(folder) / f"{task}-{alpha:g}", subject)
    name = t.config.task
    kw: dict[str, Any] = {"gen_kwargs": f"max_gen_toks={int(max_new_tokens)}"} if max_new_tokens is not None else {}
    if task == "humaneval_instruct":  # lm-eval runs no code here (its offline copy has no pass@k hook);
        kw["confirm_run_unsafe_code"] = True  # basinlab's sandbox grades its texts
    results = evaluate(model, [t], direction=direction, alpha=alpha, batch_size=batch_size, log_samples=True,
                       apply_chat_template=True, fewshot_as_multiturn=True, bootstrap_iters=0,
                       include_defaults=False, **kw)
    samples = results["samples"][name]
    wanted = FILTERS[task]
    rows = [s for s in samples if wanted is None or s.get("filter") == wanted]
    seen: set[int] = set()
    texts: list[str | None] = [None] * len(docs)
    metric: list[float | None] = [None] * len(docs)
    for s in rows:
        i = int(s["doc_id"])
        if i in seen:
            continue
        seen.add(i)
        texts[i] = str(s["resps"][0][0])
        metric[i] = float(s["exact_match"]) if wanted is not None else None
    if len(seen) != len(docs):
        raise RuntimeError(f"lm-eval logged {len(seen)} of {len(docs)} documents of {name}")
    # every slot is filled: len(seen) == len(docs)
    return cast(list[str], texts), None if wanted is None else cast(list[float], metric)


def summary(ds: xr.Dataset) -> list[dict[str, Any]]:
    """Per point: items, texts and scores that agree, and both sides' mean scores."""
    rows = []
    for p in ds["point"].values:
        s = ds.sel(point=p)
        rows.append({"task": ds.attrs["task"], "alpha": float(p), "n": int(s.sizes["item"]),
                     "same_text": int(s["same_text"].sum()), "same_score": int(s["same_score"].sum()),
                     "basinlab_mean": float(s["basinlab_score"].mean()),
                     "lmeval_mean": float(s["lmeval_score"].mean())})
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m basinlab.analysis._lmeval_agreement --n 50`: every paper task at theta0 and one
    perturbed point; prints the agreement table and writes one NetCDF per task and a JSON summary."""
    import argparse
    import json
    import os
    import time

    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=(main.__doc__ or "").split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--direction", type=int, default=1, help="seed of the Gaussian direction")
    parser.add_argument("--alpha", type=float, default=0.002)
    parser.add_argument("--subject", default="high_school_mathematics", help="mmlu_generative's subject")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", default="results/lmeval_agreement")
    args = parser.parse_args(argv)

    from basinlab.landscape._results import save
    from basinlab.models._load import load

    model = load(args.model)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = []
    for task in args.tasks.split(","):
        t0 = time.perf_counter()
        ds = agreement(model, task, n=args.n, seed=args.seed, direction=args.direction, alpha=args.alpha,
                       batch_size=args.batch_size, subject=args.subject if task == "mmlu_generative" else None)
        save(ds, out / f"{task}.nc")
        rows = summary(ds)
        for r in rows:
            r["seconds"] = round(time.perf_counter() - t0, 1)
            print(f"{r['task']:20s} alpha {r['alpha']:<7g} n {r['n']:3d}  same text {r['same_text']:3d}  "
                  f"same score {r['same_score']:3d}  basinlab {r['basinlab_mean']:.3f}  lm-eval {r['lmeval_mean']:.3f}",
                  flush=True)
        table += rows
        (out / "summary.json").write_text(json.dumps(table, indent=1))
    print(f"results: {out.resolve()}")


if __name__ == "__main__":
    main()

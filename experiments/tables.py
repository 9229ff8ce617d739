"""The README's result tables, generated from the stored results they quote.

    python experiments/tables.py            # check: exit 1 with a diff where a table differs
    python experiments/tables.py --write    # rewrite the tables in place (`make results-tables`)

A generated table sits between two markers in README.md (or a docs/*.md page):

    <!-- table: go-matched -->
    ...generated markdown...
    <!-- /table -->

Each name in TABLES is a function that reads its stored results (experiments/results/, or the
experiment's own JSON under experiments/) and returns the markdown; editing a number by hand makes
the check fail. tests/experiments/test_tables.py runs the check, so CI does. The statistics come
from `basinlab.stats`: intervals over training seeds (the independent unit) rather than over
directions pooled across seeds, and sign tests over seeds.
"""

from __future__ import annotations

import argparse
import difflib
import json
import pathlib
import re
import sys
from collections.abc import Callable

import numpy as np

from basinlab.stats import adjust_p, cluster_interval, detectable_drop, sign_test, t_interval

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
DOCS = ("README.md",)  # files whose marked tables are generated (docs/*.md are added when they exist)
MARK = re.compile(r"(<!-- table: (?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)


def _load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def _ci(values, digits: int = 2) -> str:
    mean, lo, hi = t_interval(np.asarray(values, np.float64))
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def basin_size() -> str:
    """`python -m basinlab.demo --record experiments/results/smollm2_basin_size.json`."""
    s = _load("smollm2_basin_size.json")
    r = s["results"]
    rows = ["| capability | theta0 score | sigma* | 95% interval | censored? | evaluations |",
            "|---|---|---|---|---|---|"]
    for name, c in r["capabilities"].items():
        unit = r["kinds"][name]  # "items", or "windows of N tokens" for a text capability
        # censored: no crossing up to max_sigma (sigma* a lower bound); censored_hi: only the interval's far end
        cens = ">= max_sigma" if c["censored"] else ("upper end" if c["censored_hi"] else "no")
        rows.append(f"| {name} ({c['items']} {unit}) | {c['base_score']:.3f} | {c['sigma']:.4f} | "
                    f"[{c['sigma_lo']:.4f}, {c['sigma_hi']:.4f}] | {cens} | {r['n_evaluations']} (shared) |")
    seeds = s["provenance"]["seeds"]
    rows.append("")
    rows.append(f"{r['directions']} directions (seeds {seeds[0]}-{seeds[-1]}), {r['confidence']:.0%} Student t "
                f"interval over the directions; probes at sigma {', '.join(f'{x:g}' for x in r['probed_sigmas'])}; "
                f"code {s['provenance']['code_version'][:7]}, {s['provenance']['created_at'][:10]}.")
    return "\n".join(rows) + "\n"


def _go_rows(models: dict[str, str], res: dict) -> list[str]:
    """Per seed and model: step, val NLL, accuracy, median width (quartiles), forgetting, learned."""
    rows = []
    for seed, per in res["seeds"].items():
        for key, label in models.items():
            m = per[key]
            rows.append(f"| {seed} | {label} | {m['step']} | {m['val_nll']:.3f} | {m['base_accuracy']:.3f} | "
                        f"{m['width_median']:.4f} ({m['width_q25']:.3f}-{m['width_q75']:.3f}) | "
                        f"{m['forgetting']:.3f} | {m['learned']:.3f} | {m['forgetting_per_learned']:.3f} | "
                        f"{m['forgetting_at_delta']:.3f} |")
    return rows


def _ratio_rows(res: dict, num: str, den: str, label: str) -> list[str]:
    fields = ("width_median", "forgetting", "forgetting_per_learned", "forgetting_at_delta")
    ratios = {f: [per[num][f] / per[den][f] for per in res["seeds"].values()] for f in fields}
    per_seed = [", ".join(f"{x:.2f}" for x in ratios[f]) for f in fields]
    mean = [_ci(ratios[f]) for f in fields]
    wider = sign_test(np.log(ratios["width_median"]))
    return [f"| {label} | per seed | | | | {per_seed[0]} | {per_seed[1]} | | {per_seed[2]} | {per_seed[3]} |",
            f"| {label} | mean [95% t over seeds] | | | | **{mean[0]}** | {mean[1]} | | {mean[2]} | {mean[3]} |",
            f"| {label} | wider in | | | | {wider['positive']} of {wider['n']} seeds (sign test p = "
            f"{wider['p_value']:.3f}) | | | | |"]


def _pooled_widths(res: dict, key: str) -> str:
    """Every direction's width of one model, as a mean with the interval over seeds (directions
    nested in seeds: the t-interval over the seed means, not a t over directions pooled as if independent)."""
    values = [w for per in res["seeds"].values() for w in per[key]["widths"]]
    seeds = [s for s, per in res["seeds"].items() for _ in per[key]["widths"]]
    ci = cluster_interval(values, seeds, method="t")
    return (f"{ci['mean']:.3f} [{ci['lower']:.3f}, {ci['upper']:.3f}] "
            f"({ci['n_units']} directions, {ci['n_clusters']} seeds)")


GO_HEAD = ["| seed | model | step | val NLL | acc | median width (q25-q75 over 8 dirs) | forgetting | learned | "
           "forg./learned | forg. at delta |", "|---|---|---|---|---|---|---|---|---|---|"]


def go_matched() -> str:
    """`experiments/go_matched.py --no-reference` (seeds 0, 1, 2)."""
    res = _load("go_matched.json")
    rows = GO_HEAD + _go_rows({"go": "GO", "adamw_matched": "AdamW"}, res)
    rows += _ratio_rows(res, "go", "adamw_matched", "GO / AdamW")
    rows += ["", f"All directions, mean width [95% t over the seed means]: GO {_pooled_widths(res, 'go')}, "
                 f"AdamW {_pooled_widths(res, 'adamw_matched')}."]
    return "\n".join(rows) + "\n"


def go_longer() -> str:
    """`experiments/go_matched.py --seeds 0,1,2 --go-longer 2400`."""
    res = _load("go_matched_longer.json")
    rows = GO_HEAD + _go_rows({"go_longer": "GO longer", "adamw_final": "AdamW 600"}, res)
    rows += _ratio_rows(res, "go_longer", "adamw_final", "GO longer / AdamW 600")
    return "\n".join(rows) + "\n"


def growth_matched() -> str:
    """`experiments/pretraining_growth.py --match tiny` then `--phase summary`."""
    res = _load("pretraining_growth.json")
    rows = ["| oracle | pairs small wider | per seed (seed: small wider / pairs, mean ratio small / tiny) | "
            "mean ratio [95% t over seeds] | seeds wider on average (sign test) |", "|---|---|---|---|---|"]
    for oracle, label in (("shakespeare-acc", "next-token accuracy"), ("inline-addition", "addition (0/1)")):
        # addition only where both models score >= 0.1 (below, tol is under 2 of the 200 sums)
        pairs = [m for m in res["matched"] if oracle == "shakespeare-acc" or min(m[f"{oracle}_score"]) >= 0.1]
        ratio = np.array([m[oracle][1] / m[oracle][0] for m in pairs])
        seeds = np.array([m["seed"] for m in pairs])
        per_seed = {int(s): ratio[seeds == s] for s in np.unique(seeds)}
        cells = "; ".join(f"{s}: {int(np.sum(r > 1))} / {r.size}, {r.mean():.2f}" for s, r in per_seed.items())
        ci = cluster_interval(ratio, seeds, method="t")
        sign = sign_test(np.array([np.log(r).mean() for r in per_seed.values()]))
        rows.append(f"| {label} | {int(np.sum(ratio > 1))} of {ratio.size} | {cells} | {ci['mean']:.2f} "
                    f"[{ci['lower']:.2f}, {ci['upper']:.2f}] | {sign['positive']} of {sign['n']}, "
                    f"p = {sign['p_value']:.3f} |")
    return "\n".join(rows) + "\n"


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.0e}"


def _holm_verdicts(res: dict, level: float) -> dict[tuple[str, str], tuple[str, float]]:
    """(benchmark, run) -> (verdict, Holm p) for every McNemar test of the fine-tuning table, in table
    order: Holm's correction over all of them; fell/rose when the adjusted p < level, else kept."""
    keys = [(b, run) for b, row in res["scores"].items() for run in res["runs"] if run in row]
    holm = adjust_p([res["scores"][b][run]["p_value"] for b, run in keys], "holm")
    out = {}
    for (b, run), ph in zip(keys, holm, strict=True):
        e = res["scores"][b][run]
        out[(b, run)] = (("fell" if e["fell"] > e["rose"] else "rose") if ph < level else "kept", float(ph))
    return out


def finetune_scores() -> str:
    """`experiments/adversarial_math.py --seeds 0,1,2 ... --record experiments/results/finetune_scores.json`:
    theta0 and every run on the same items; change by McNemar with Holm's correction over the table."""
    s = _load("finetune_scores.json")
    res, level = s["results"], s["provenance"]["spec"]["significance"]
    verdicts = _holm_verdicts(res, level)
    benches = list(res["scores"])
    rows = ["| model | " + " | ".join(f"{b} ({res['scores'][b]['n']})" for b in benches) + " |",
            "|---" * (1 + len(benches)) + "|"]
    base = res["scores"]
    rows.append("| theta0 | " + " | ".join(f"{base[b]['theta0']['score']:.3f} [{base[b]['theta0']['lower']:.2f}, "
                                          f"{base[b]['theta0']['upper']:.2f}]" for b in benches) + " |")
    changed = []
    for run in res["runs"]:
        cells = []
        for b in benches:
            e = base[b].get(run)
            if e is None:
                cells.append("not scored")
                continue
            verdict, ph = verdicts[(b, run)]
            if verdict != e["change"]:
                changed.append(f"{run} / {b} ({e['change']} at the raw p, {verdict} after Holm)")
            mark = f"**{verdict}**" if verdict != "kept" else verdict
            test = "" if e["fell"] + e["rose"] == 0 else f"; p {_p(e['p_value'])}, Holm {_p(ph)}"
            cells.append(f"{e['score']:.3f} {mark} ({e['fell']} / {e['rose']}{test})")
        rows.append(f"| {run} | " + " | ".join(cells) + " |")
    drops = []
    for b in benches:
        d = detectable_drop(base[b]["n"], base[b]["theta0"]["score"], level)
        drops.append("-" if np.isnan(d) else f"{d:.2f}")
    rows.append("| fall McNemar detects with 80% power (raw level) | " + " | ".join(drops) + " |")
    rows += ["", f"Cells: score, verdict (items fell / rose; exact McNemar p, Holm-adjusted over the table's "
                 f"{len(verdicts)} tests). A verdict is fell/rose when the Holm p < {level:g}. "
             + ("Verdicts that the correction changed: " + "; ".join(changed) + "." if changed
                else "The correction changed no verdict.")]
    return "\n".join(rows) + "\n"


def finetune_runs() -> str:
    """The fine-tuning runs behind finetune-scores: recipe, seed, steps, training loss, distance."""
    res = _load("finetune_scores.json")["results"]
    rows = ["| run | recipe | seed | steps | training loss | r = ||theta_sft - theta0|| | alpha_sft |",
            "|---|---|---|---|---|---|---|"]
    for label, r in res["runs"].items():
        rows.append(f"| {label} | {r['recipe']} | {r['seed']} | {r['steps']} | {r['first_loss']:.3f} -> "
                    f"{r['last_loss']:.3f} | {r['r']:.3f} | {r['alpha_sft']:.2e} |")
    return "\n".join(rows) + "\n"


def adversarial_seeds() -> str:
    """The adversarial recipe over its training seeds: how far each capability falls, as a distribution."""
    s = _load("finetune_scores.json")
    res, level = s["results"], s["provenance"]["spec"]["significance"]
    verdicts = _holm_verdicts(res, level)
    runs = [r for r, v in res["runs"].items() if v["recipe"] == "adversarial"]
    rows = ["| capability (n) | theta0 | " + " | ".join(runs)
            + " | change, mean [95% t over seeds] | seeds that fell (Holm) |",
            "|---" * (4 + len(runs)) + "|"]
    for b, row in res["scores"].items():
        runs_b = [r for r in runs if r in row]
        base = row["theta0"]["score"]
        change = [row[r]["score"] - base for r in runs_b]
        fell = sum(verdicts[(b, r)][0] == "fell" for r in runs_b)
        ci = _ci(change, 3) if len(change) > 1 else f"{change[0]:+.3f}"
        rows.append(f"| {b} ({row['n']}) | {base:.3f} | " + " | ".join(f"{row[r]['score']:.3f}" for r in runs_b)
                    + f" | {ci} | {fell} of {len(runs_b)} |")
    return "\n".join(rows) + "\n"


def specific_basins() -> str:
    """`experiments/specific_basins.py --record experiments/results/specific_basins.json`."""
    s = _load("specific_basins.json")
    res, general = s["results"], s["provenance"]["spec"]["general"]
    caps = list(next(iter(res["models"].values()))["capabilities"])
    rows = ["| model | " + " | ".join(f"{c}: score, sigma* [95%]" for c in caps) + " | specific inside general |",
            "|---" * (2 + len(caps)) + "|"]
    for label, m in res["models"].items():
        cells = []
        for c in caps:
            r = m["capabilities"][c]
            cens = " (censored)" if r["censored"] or r["censored_hi"] else ""
            cells.append(f"{r['base_score']:.3f}, {r['sigma']:.4f} [{r['sigma_lo']:.4f}, {r['sigma_hi']:.4f}]{cens}")
        inside = [c for c in caps if c != general and m["capabilities"][c].get("inside_general")]
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {', '.join(inside) or 'none'} |")
    return "\n".join(rows) + "\n"


TABLES: dict[str, Callable[[], str]] = {
    "basin-size": basin_size, "go-matched": go_matched, "go-longer": go_longer, "growth-matched": growth_matched,
    "finetune-runs": finetune_runs, "finetune-scores": finetune_scores, "adversarial-seeds": adversarial_seeds,
    "specific-basins": specific_basins,
}


def render(text: str, where: str = "README.md") -> str:
    """`text` with every marked table regenerated; an unknown table name is an error naming the valid ones."""
    def one(m: re.Match) -> str:
        name = m.group("name")
        if name not in TABLES:
            raise ValueError(f"{where}: unknown table {name!r}; valid names: {', '.join(TABLES)}")
        return m.group(1) + TABLES[name]() + m.group(4)

    return MARK.sub(one, text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite the marked tables in place")
    args = ap.parse_args(argv)
    files = [ROOT / f for f in DOCS] + sorted((ROOT / "docs").glob("**/*.md"))
    stale = []
    for path in files:
        text = path.read_text()
        new = render(text, path.name)
        if new != text:
            stale.append(path)
            if args.write:
                path.write_text(new)
            else:
                sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), new.splitlines(True),
                                                           str(path.relative_to(ROOT)), "generated"))
    if stale and not args.write:
        print(f"\n{len(stale)} file(s) quote numbers that differ from the stored results: run "
              f"`python experiments/tables.py --write` (make results-tables) and commit", file=sys.stderr)
        return 1
    print(("rewrote " + ", ".join(p.name for p in stale)) if stale else "every marked table matches its stored results")
    return 0


if __name__ == "__main__":
    sys.exit(main())

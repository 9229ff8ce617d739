#!/usr/bin/env python
"""Peak resident memory of basinlab's 1-D landscape sweep against the number of grid points K: one
landscape() call per K, each in a fresh process (what the columns mean: bench/README.md).

    python bench/landscape_memory.py --quick
    python bench/landscape_memory.py --mem-k 4,16,64 --json bench/landscape_memory.json
"""

from __future__ import annotations

import sys

import harness
import landscape_common as lc

WORKERS = {"prep": lc.worker_prep, "basinlab": lc.worker_basinlab}
COLUMNS = [("K", "k", "d"), ("fwd", "forwards", "d"), ("s/eval", "s_per_eval", ".3f"),
           ("compile s", "compile_s", ".1f"), ("peak RSS MB", "peak_rss_mb", ".0f"),
           ("sweep RSS MB", "sweep_peak_rss_mb", ".0f")]


def main(argv=None) -> int:
    p = lc.parser(__doc__, WORKERS)
    p.add_argument("--mem-k", default=None, help="comma-separated K values (default 4,16,64; --quick: 2,4,8)")
    args = lc.sizes(p, p.parse_args(argv))
    if args.worker:
        WORKERS[args.worker](args)
        return 0
    mem_k = [int(x) for x in (args.mem_k or ("2,4,8" if args.quick else "4,16,64")).split(",")]
    if any(k < 1 for k in mem_k):
        p.error(f"--mem-k values must be >= 1, got {mem_k}")

    def measure(data_argv: list[str]) -> dict:
        return {f"k{k}": lc.run_worker(__file__, "basinlab", args, *data_argv, "--calls", "1", k=k) for k in mem_k}

    machine = harness.machine_info()
    res = lc.with_tokens(__file__, args, measure)
    rows = []
    for k in mem_k:
        r = res[f"k{k}"]
        c = r.get("calls", [{}])[0]
        rows.append({"k": k, "forwards": r.get("forwards_per_call"), "compile_s": c.get("compile_s"),
                     "s_per_eval": c["wall_s"] / k if "wall_s" in c else None, "peak_rss_mb": r.get("peak_rss_mb"),
                     "sweep_peak_rss_mb": r.get("sweep_peak_rss_mb")})
    res["rows"] = rows
    rec = lc.finish("landscape_memory", args, res, machine)
    rec["config"]["mem_k"] = mem_k
    print(f"model {args.model}: d = {res['prep']['d']:,}; batch x seq_len = {args.batch} x {args.seq_len}; "
          f"1 call per K")
    print(harness.table(rows, COLUMNS))
    if args.json:
        harness.write_json(args.json, rec)
    return 0


if __name__ == "__main__":
    sys.exit(main())

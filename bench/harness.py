"""The one harness of bench/: timing, peak memory, the machine record, JSON results, child processes.

Scripts run as `python bench/<name>.py`, which puts bench/ on sys.path, so they `import harness`.
Timings are wall-clock seconds (`time.perf_counter`); memory is MB (2**20 bytes) for host RSS and
bytes for device memory.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import math
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

RESULT_TAG = "@@RESULT@@ "
VERSIONED = ("jax", "jaxlib", "numpy")  # always recorded; scripts add their peers' packages


# ------------------------------------------------------------------------------------------ timing


def ready(x):
    """Wait for x's JAX arrays (asynchronous dispatch) when JAX is in use; returns x."""
    jax = sys.modules.get("jax")
    if jax is not None:
        jax.block_until_ready(x)
    return x


@dataclasses.dataclass(frozen=True)
class Timing:
    """Seconds of `warmup` untimed-for-best calls (compilation included) and of `repeats` timed calls."""

    first_s: float | None  # total of the warm-up calls; None without warm-up
    times_s: tuple[float, ...]

    @property
    def best_s(self) -> float:
        return min(self.times_s)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)


def time_calls(fn: Callable[[], Any], *, repeats: int = 3, warmup: int = 1,
               clock: Callable[[], float] = time.perf_counter, block: Callable[[Any], Any] = ready) -> Timing:
    """Call fn() `warmup` times, then `repeats` times, each timed to its result being ready."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    first = None
    if warmup:
        t = clock()
        for _ in range(warmup):
            block(fn())
        first = clock() - t
    times = []
    for _ in range(repeats):
        t = clock()
        block(fn())
        times.append(clock() - t)
    return Timing(first, tuple(times))


def round_robin(fns: Mapping[str, Callable[[], Any]], rounds: int, *,
                clock: Callable[[], float] = time.perf_counter, block: Callable[[Any], Any] = ready
                ) -> dict[str, list[float]]:
    """Seconds of each fn per round, the fns interleaved so that outside load falls on all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t = clock()
            block(fn())
            times[name].append(clock() - t)
    return times


# ------------------------------------------------------------------------------------------ memory


def peak_rss_mb() -> float:
    """Peak resident set of this process so far, MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM so later peaks exclude what came before (Linux >= 4.0); False if not."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_high_water_mb() -> float | None:
    """VmHWM of this process in MB (the peak since the last reset_peak_rss), None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def device_peak_bytes() -> int | None:
    """Peak bytes in use on JAX's first device (GPU/TPU), None where the backend does not say (CPU)."""
    import jax

    return (jax.devices()[0].memory_stats() or {}).get("peak_bytes_in_use")


# ----------------------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def versions(packages: Sequence[str]) -> dict[str, str | None]:
    """Installed version of each distribution, None where it is not installed."""
    out: dict[str, str | None] = {}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine_info(packages: Sequence[str] = ()) -> dict:
    """CPU model, cores, memory, load, accelerators, JAX backend and the versions of jax, jaxlib,
    basinlab (the imported one) and `packages`."""
    import jax

    import basinlab as bl

    accelerators = [d.device_kind for d in jax.devices() if d.platform != "cpu"]
    info = {"cpu": _cpu_model(), "cores": os.cpu_count(), "memory_gb": _memory_gb(),
            "gpu": accelerators or None, "backend": jax.default_backend(), "python": platform.python_version(),
            "platform": platform.platform(), "hostname": platform.node(),
            "versions": {"basinlab": bl.__version__, **versions([*VERSIONED, *packages])}}
    if hasattr(os, "sched_getaffinity"):
        info["usable_cores"] = len(os.sched_getaffinity(0))
    if hasattr(os, "getloadavg"):
        info["load_avg_1min"] = os.getloadavg()[0]
    return info


def machine_line(m: Mapping) -> str:
    """One line of the machine record, printed above a script's numbers."""
    v = m["versions"]
    gpu = ", ".join(m["gpu"]) if m.get("gpu") else "no GPU"
    return (f"machine: {m['cpu']}, {m['cores']} cores ({m.get('usable_cores')} usable), "
            f"{m['memory_gb']:.0f} GB, {gpu}; backend {m['backend']}; jax {v['jax']}, jaxlib {v['jaxlib']}, "
            f"basinlab {v['basinlab']}; load avg {m.get('load_avg_1min', float('nan')):.2f}")


# ----------------------------------------------------------------------------------------- records


def git_commit() -> str | None:
    """Commit of the checkout bench/ is in, "+dirty" if it has uncommitted changes; None outside git."""
    import basinlab as bl

    commit = bl.results.code_version(os.path.dirname(os.path.abspath(__file__)))
    return None if commit == "unknown" else commit


def record(bench: str, results: Any, *, config: Mapping | None = None, machine: Mapping | None = None,
           argv: Sequence[str] | None = None, now: datetime.datetime | None = None,
           commit: str | None = None) -> dict:
    """A benchmark's result with what produced it: the command line, the date (UTC), the commit and
    the machine (`machine_info()` unless given)."""
    argv = list(sys.argv if argv is None else argv)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return {"bench": bench, "date": now.isoformat(timespec="seconds"), "command": shlex.join(["python", *argv]),
            "commit": commit if commit is not None else git_commit(),
            "machine": dict(machine if machine is not None else machine_info()),
            "config": dict(config or {}), "results": results}


def report(bench: str, results: Any, args: Any, machine: Mapping) -> dict:
    """The end of a script's run: its record (`record`, config = the parsed arguments), the machine
    line and the results printed, and the record written to ``args.json`` when given. Returns it."""
    rec = record(bench, results, config=vars(args), machine=machine)
    print(machine_line(machine))
    print(dumps(results))
    if getattr(args, "json", None):
        write_json(args.json, rec)
    return rec


def _plain(x):
    """JSON for what json cannot write itself: numpy scalars/arrays, tuples in dataclasses, paths."""
    if hasattr(x, "tolist"):
        return x.tolist()
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return dataclasses.asdict(x)
    return str(x)


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=1, default=_plain)


def write_json(path: str | os.PathLike, rec: Mapping) -> None:
    """Write a record (see `record`) as indented JSON, creating the folder."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(dumps(rec) + "\n")
    print(f"wrote {path}")


def fmt(x, spec: str) -> str:
    """format(x, spec), or '-' for a missing or non-finite number."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return format(x, spec)


def table(rows: Sequence[Mapping], columns: Sequence[tuple[str, str, str]]) -> str:
    """Rows as aligned text; columns are (label, key, format spec). First column left-aligned."""
    cells = [[label for label, _, _ in columns]]
    cells += [[fmt(r.get(key), spec) for _, key, spec in columns] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


# ---------------------------------------------------------------------------------- child processes


def emit(result: Mapping) -> None:
    """Hand a child's result to run_child (one tagged JSON line on stdout)."""
    print(RESULT_TAG + json.dumps({**result, "self_peak_rss_mb": peak_rss_mb()}, default=_plain), flush=True)


def run_child(label: str, argv: Sequence[str], *, timeout: float | None = None) -> dict:
    """Run `python argv...` in a fresh process; its emitted result plus its own peak RSS (MB, from
    os.wait4's rusage: loading included) and wall seconds. A failed child gives {"error", "stderr_tail"};
    one past `timeout` seconds is killed and gives {"finished": False, "stopped_after_s"}."""
    print(f"[{time.strftime('%H:%M:%S')}] {label} ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_child_") as tmp:
        out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        t = time.perf_counter()
        with open(out_path, "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen([sys.executable, *argv], stdout=out, stderr=err)
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if timeout is not None and time.perf_counter() - t > timeout:
                    proc.kill()
                    _, status, usage = os.wait4(proc.pid, 0)
                    stopped = round(time.perf_counter() - t, 1)
                    print(f"  {label} stopped after {stopped} s", file=sys.stderr, flush=True)
                    return {"finished": False, "stopped_after_s": stopped, "peak_rss_mb": usage.ru_maxrss / 1024}
                time.sleep(0.1)
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t
        with open(out_path) as f:
            lines = [line for line in f if line.startswith(RESULT_TAG)]
        with open(err_path) as f:
            tail = f.read()[-3000:]
    peak = usage.ru_maxrss / 1024  # Linux: kB
    if code != 0 or not lines:
        print(f"  {label} FAILED (exit {code}); stderr tail:\n{tail}", file=sys.stderr, flush=True)
        return {"error": f"exit {code}", "stderr_tail": tail, "peak_rss_mb": peak}
    print(f"  done in {wall:.1f} s, peak RSS {peak:.0f} MB", file=sys.stderr, flush=True)
    return {**json.loads(lines[-1][len(RESULT_TAG):]), "finished": True, "peak_rss_mb": peak, "wall_s": wall}

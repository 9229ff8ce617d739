"""What every experiment script starts with: its output folder and a log that stamps elapsed seconds.

    from runs import start_run          # experiments/ is the script's folder, so it is on sys.path
    out, log, start = start_run(args.out, args.quick)
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable

__all__ = ["start_run"]


def start_run(out: str, quick: bool = False) -> tuple[pathlib.Path, Callable[[str], None], float]:
    """The output folder (`out`, or `out` + "_quick" for a --quick check, so a check never mixes its
    results with a real run's), created; a log(msg) that prints "[seconds since start] msg"; the
    start time (time.time())."""
    folder = pathlib.Path(str(out) + ("_quick" if quick else ""))
    folder.mkdir(parents=True, exist_ok=True)
    start = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - start:6.0f} s] {msg}", flush=True)

    return folder, log, start

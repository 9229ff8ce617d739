"""Rewrite tests/slow_tests.txt from a `pytest --durations=0` log: the test functions that took at
least THRESHOLD_S seconds (setup + call + teardown, summed over their parameters) there.

conftest.py marks every test function listed in slow_tests.txt `slow`, so `make check` (which runs
`-m "not slow"`) leaves them to `make test`. A test listed here still runs in `make test`; the list
only decides which tests the quick check skips. Regenerate it after a full run on the reference
machine (2-core VM), e.g.:

    .venv/bin/python -m pytest -q -n 2 --durations=0 -p no:cacheprovider > /tmp/durations.log
    .venv/bin/python tests/time_tests.py /tmp/durations.log
"""

from __future__ import annotations

import collections
import pathlib
import re
import sys

THRESHOLD_S = 3.0
LIST = pathlib.Path(__file__).with_name("slow_tests.txt")
_LINE = re.compile(r"^([0-9.]+)s (setup|call|teardown)\s+(\S+)")


def function_id(node_id: str) -> str:
    """tests/x.py::test_f[param] -> tests/x.py::test_f (every parameter of a function goes together)."""
    return node_id.split("[", 1)[0]


def slow_functions(log: str, threshold_s: float = THRESHOLD_S) -> dict[str, float]:
    """{function id: seconds} of the functions at or above threshold_s in a --durations=0 log."""
    total: collections.Counter[str] = collections.Counter()
    for line in log.splitlines():
        m = _LINE.match(line.strip())
        if m:
            total[function_id(m.group(3))] += float(m.group(1))
    return {name: s for name, s in sorted(total.items()) if s >= threshold_s}


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit(f"usage: python tests/time_tests.py DURATIONS_LOG\n{__doc__}")
    slow = slow_functions(pathlib.Path(argv[0]).read_text())
    if not slow:
        raise SystemExit(f"{argv[0]} has no duration lines >= {THRESHOLD_S} s: run pytest with --durations=0")
    header = (f"# Test functions that took >= {THRESHOLD_S:g} s in a full run on the reference machine (written by\n"
              f"# tests/time_tests.py; seconds in the comment). conftest.py marks them slow: `make check` skips them,\n"
              f"# `make test` runs them, modules with the longest first (conftest.py orders them by these seconds).\n")
    LIST.write_text(header + "".join(f"{name}  # {s:.1f}\n" for name, s in slow.items()))
    print(f"{LIST}: {len(slow)} functions")


if __name__ == "__main__":
    main(sys.argv[1:])

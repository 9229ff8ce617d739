"""tests/time_tests.py reads a --durations log right, and tests/slow_tests.txt names real tests."""

import re

from time_tests import LIST, function_id, slow_functions

LOG = """\
============================= slowest durations =============================
12.50s call     tests/a/test_x.py::test_big[p1]
0.60s setup    tests/a/test_x.py::test_big[p1]
2.00s call     tests/a/test_x.py::test_big[p2]
2.99s call     tests/a/test_x.py::test_small
(2 durations < 0.005s hidden.)
"""


def test_parameters_are_summed_per_function_and_the_threshold_holds():
    assert function_id("tests/a/test_x.py::test_big[p1-3]") == "tests/a/test_x.py::test_big"
    assert slow_functions(LOG) == {"tests/a/test_x.py::test_big": 15.1}
    assert slow_functions(LOG, threshold_s=2.5) == {"tests/a/test_x.py::test_big": 15.1,
                                                    "tests/a/test_x.py::test_small": 2.99}


def test_every_listed_function_exists():
    root = LIST.parents[1]
    stale = []
    for line in LIST.read_text().splitlines():
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        path, func = name.split("::", 1)[0], name.rsplit("::", 1)[1]  # a method: its own name
        file = root / path
        if not file.exists() or not re.search(rf"^\s*def {re.escape(func)}\(", file.read_text(), re.M):
            stale.append(name)
    assert not stale, f"tests/slow_tests.txt lists tests that no longer exist (rerun tests/time_tests.py): {stale}"

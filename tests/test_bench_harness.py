"""bench/harness.py, the one harness of the benchmark scripts: the timer's warm-up and best-of on a
fake clock, the round-robin order, the JSON record's contents, the table, and the child-process
protocol (result, failure, timeout)."""

from __future__ import annotations

import datetime
import json
import pathlib
import textwrap

import numpy as np
import pytest
from scripts import load_script

BENCH = pathlib.Path(__file__).resolve().parents[1] / "bench"


harness = load_script("bench/harness.py", "bench_harness")


class FakeClock:
    """A clock that only moves when a call 'takes' its next duration."""

    def __init__(self, durations):
        self.now, self.durations, self.calls = 100.0, list(durations), []

    def __call__(self) -> float:
        return self.now

    def work(self, name="f"):
        self.calls.append(name)
        self.now += self.durations.pop(0)
        return name


def test_time_calls_separates_the_warm_up_and_takes_the_best_of_the_repeats():
    clock = FakeClock([5.0, 0.75, 2.0, 0.5, 3.0])  # warm-up 5 s (compile), then 4 timed calls
    t = harness.time_calls(clock.work, repeats=4, warmup=1, clock=clock, block=lambda x: x)
    assert t.first_s == 5.0
    assert t.times_s == (0.75, 2.0, 0.5, 3.0)
    assert t.best_s == 0.5
    assert t.median_s == (0.75 + 2.0) / 2
    assert clock.durations == []  # exactly warmup + repeats calls


def test_time_calls_warm_up_counts_every_warm_up_call_and_none_without_one():
    clock = FakeClock([1.0, 2.0, 0.25])
    assert harness.time_calls(clock.work, repeats=1, warmup=2, clock=clock, block=lambda x: x).first_s == 3.0
    clock = FakeClock([4.0])
    t = harness.time_calls(clock.work, repeats=1, warmup=0, clock=clock, block=lambda x: x)
    assert (t.first_s, t.best_s) == (None, 4.0)


def test_time_calls_waits_for_the_result_inside_the_timing():
    clock = FakeClock([1.0, 1.0])
    t = harness.time_calls(lambda: "x", repeats=1, warmup=1, clock=clock, block=lambda x: clock.work())
    assert (t.first_s, t.best_s) == (1.0, 1.0)


@pytest.mark.parametrize("repeats,warmup", [(0, 1), (1, -1)])
def test_time_calls_rejects_bad_counts_naming_them(repeats, warmup):
    with pytest.raises(ValueError, match=f"repeats={repeats}, warmup={warmup}"):
        harness.time_calls(lambda: None, repeats=repeats, warmup=warmup)


def test_round_robin_interleaves_and_times_each_call():
    clock = FakeClock([1.0, 10.0, 2.0, 20.0])
    fns = {"a": lambda: clock.work("a"), "b": lambda: clock.work("b")}
    times = harness.round_robin(fns, 2, clock=clock, block=lambda x: x)
    assert clock.calls == ["a", "b", "a", "b"]
    assert times == {"a": [1.0, 2.0], "b": [10.0, 20.0]}


MACHINE = {"cpu": "Test CPU", "cores": 2, "usable_cores": 2, "memory_gb": 8.0, "gpu": None, "backend": "cpu",
           "load_avg_1min": 0.5, "versions": {"basinlab": "0.0", "jax": "1.2", "jaxlib": "1.2"}}


def test_record_holds_the_command_date_commit_machine_config_and_results(tmp_path):
    now = datetime.datetime(2026, 12, 1, 9, 30, 5, tzinfo=datetime.timezone.utc)
    config = {"k": 4, "quick": True}
    rec = harness.record("demo", {"s": np.float32(0.5), "curve": np.arange(3)}, config=config, machine=MACHINE,
                         argv=["bench/demo.py", "--quick", "--json", "out dir/x.json"], now=now, commit="abc1234")
    assert rec["bench"] == "demo"
    assert rec["date"] == "2026-12-01T09:30:05+00:00"
    assert rec["command"] == "python bench/demo.py --quick --json 'out dir/x.json'"
    assert rec["commit"] == "abc1234"
    assert rec["machine"] == MACHINE and rec["machine"] is not MACHINE
    assert rec["config"] == config
    path = tmp_path / "sub" / "x.json"
    harness.write_json(path, rec)
    back = json.loads(path.read_text())
    assert back["results"] == {"s": 0.5, "curve": [0, 1, 2]}  # numpy written as plain numbers
    assert back["machine"]["cpu"] == "Test CPU" and back["command"] == rec["command"]


def test_report_prints_the_machine_and_results_and_writes_the_record_when_asked(tmp_path, capsys):
    import argparse

    path = tmp_path / "r.json"
    rec = harness.report("demo", {"s": 1.5}, argparse.Namespace(quick=True, json=str(path)), MACHINE)
    out = capsys.readouterr().out
    assert "machine: Test CPU" in out and '"s": 1.5' in out and f"wrote {path}" in out
    assert json.loads(path.read_text())["config"] == {"quick": True, "json": str(path)} == rec["config"]
    harness.report("demo", {"s": 1.5}, argparse.Namespace(json=None), MACHINE)  # no file without --json
    assert "wrote" not in capsys.readouterr().out


def test_machine_info_records_the_machine_and_versions():
    m = harness.machine_info(("numpy", "no-such-distribution-xyz"))
    assert {"cpu", "cores", "memory_gb", "gpu", "backend", "python", "versions"} <= set(m)
    assert m["cores"] >= 1 and m["memory_gb"] > 0
    v = m["versions"]
    assert v["jax"] and v["jaxlib"] and v["basinlab"] and v["numpy"] == np.__version__
    assert v["no-such-distribution-xyz"] is None
    line = harness.machine_line(m)
    assert line.startswith("machine: ") and f"backend {m['backend']}" in line


def test_table_aligns_columns_and_marks_missing_numbers():
    rows = [{"name": "a", "s": 1.23456, "n": 3}, {"name": "longer", "s": None, "n": float("nan")}]
    lines = harness.table(rows, [("method", "name", ""), ("seconds", "s", ".2f"), ("n", "n", ".0f")]).split("\n")
    assert lines[0] == "method  seconds  n"
    assert set(lines[1]) == {"-"} and len(lines[1]) == len(lines[0])
    assert lines[2] == "a          1.23  3"
    assert lines[3] == "longer        -  -"


def _script(tmp_path, body: str) -> str:
    path = tmp_path / "child.py"
    path.write_text(f"import sys\nsys.path.insert(0, {str(BENCH)!r})\nimport harness\n" + textwrap.dedent(body))
    return str(path)


def test_run_child_returns_the_emitted_result_or_the_failure_or_the_timeout(tmp_path):
    ok = harness.run_child("ok", [_script(tmp_path, "print('noise')\nharness.emit({'x': 1})\n")])
    assert ok["x"] == 1 and ok["finished"] is True and ok["peak_rss_mb"] > 0 and ok["wall_s"] > 0
    bad = harness.run_child("bad", [_script(tmp_path, "sys.stderr.write('boom')\nsys.exit(3)\n")])
    assert bad["error"] == "exit 3" and bad["stderr_tail"].endswith("boom")
    slow = harness.run_child("slow", [_script(tmp_path, "import time\ntime.sleep(60)\n")], timeout=0.5)
    assert slow["finished"] is False and 0.5 <= slow["stopped_after_s"] < 30

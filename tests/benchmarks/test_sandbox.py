"""Tests for basinlab.sandbox._runner: the child-process code judge and its containment.

Every program here is bounded even if containment failed: fork loops stop at 50 children that
exit at once, escaped sleepers sleep 30 s, writes target pytest's tmp_path only. Tests run under the
default isolation (auto: the strongest this machine has), except those that watch the child's
process group from the host, which pin "guard" (in a pid namespace the child's pid is not the
host's); test_verdicts_read_the_same_in_every_mode runs the verdicts under each available mode, and
test_sandbox_escape.py the escape attempts.
"""

import json
import os
import time
import warnings

import pytest

from basinlab.sandbox import _isolation as sandbox_isolation
from basinlab.sandbox import _runner as sandbox
from basinlab.sandbox._runner import ExecResult, check_program, judge_code, run_code


def _live_in_group(pgid):
    """Pids of live (non-zombie) processes whose process group is `pgid`, from /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        if int(fields[2]) == pgid and fields[0] not in "ZX":
            pids.append(int(entry))
    return pids


def _assert_group_gone(pgid, within_s=5.0):
    # SIGKILL is asynchronous: give the kernel a moment to finish off the group.
    deadline = time.monotonic() + within_s
    while (left := _live_in_group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    if left:
        for pid in left:  # our own stray processes: clean up before failing
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
    assert not left, f"processes {left} of group {pgid} survived run_code"


PRINT_PID = "import os\nprint(os.getpid(), flush=True)\n"  # pid == pgid: the child leads its group

# ----------------------------------------------------------------- verdicts


def test_correct_program_passes_and_sees_the_stdlib():
    r = run_code(
        "import collections, decimal, fractions, hashlib, heapq, itertools, json, math, re\n"
        "assert math.gcd(12, 18) == 6 and hashlib.sha256(b'').hexdigest().startswith('e3b0')\n"
        "print('ok')\n",
        timeout_s=10,
    )
    assert isinstance(r, ExecResult)
    assert r.passed and r.reason == "passed" and r.returncode == 0
    assert r.stdout == "ok\n"


def test_failing_assertion_is_reported():
    r = run_code("def f():\n    return 1\nassert f() == 2, 'f is wrong'\n", timeout_s=10)
    assert not r.passed
    assert r.reason == "failed: AssertionError: f is wrong"
    assert "AssertionError" in r.stderr and 'File "program.py", line 3' in r.stderr
    bare = run_code("assert [1, 2] == [1, 3]\n", timeout_s=10)
    assert bare.reason == "failed: AssertionError"


def test_syntax_error():
    r = run_code("def f(:\n    pass\n", timeout_s=10)
    assert not r.passed and r.reason.startswith("syntax error")
    assert "line 1" in r.reason


def test_exiting_early_is_not_a_pass():
    # A completion must not skip the tests by exiting, cleanly or not.
    r = run_code("import sys\nsys.exit(0)\nassert False\n", timeout_s=10)
    assert r.reason == "failed: SystemExit: 0"
    r = run_code("import os\nos._exit(0)\nassert False\n", timeout_s=10)
    assert not r.passed and r.returncode == 0 and "before the end" in r.reason


def test_check_program_builds_a_humaneval_program():
    prompt = 'def add(a, b):\n    """Return a + b."""\n'
    test = (
        "def check(candidate):\n"
        "    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
    )
    good = check_program(prompt, "    return a + b\n", test, "add")
    assert good.endswith("\ncheck(add)\n") and good.startswith(prompt + "    return a + b\n")
    assert run_code(good, timeout_s=10).passed
    bad = run_code(check_program(prompt, "    return a - b\n", test, "add"), timeout_s=10)
    assert bad.reason == "failed: AssertionError"
    with pytest.raises(ValueError, match="identifier"):
        check_program(prompt, "", test, "add); import os; (")


def test_output_is_truncated():
    r = run_code("print('x' * 200_000)\nimport sys\nprint('E' * 50_000, file=sys.stderr)\n",
                 timeout_s=10, max_output_bytes=1000)
    assert r.passed
    assert r.stdout.startswith("x" * 1000) and len(r.stdout) < 1100 and "truncated" in r.stdout
    assert r.stderr.endswith("E" * 999 + "\n") and len(r.stderr) < 1100


def test_input_checks():
    with pytest.raises(TypeError):
        run_code(None)
    for bad in [dict(timeout_s=0), dict(timeout_s=float("inf")), dict(memory_mb=-1), dict(cpu_s=0)]:
        with pytest.raises(ValueError):
            run_code("pass", **bad)

# ----------------------------------------------------------------- resource limits


def test_infinite_loop_is_killed_at_the_timeout():
    t0 = time.monotonic()
    r = run_code(PRINT_PID + "while True:\n    pass\n", timeout_s=2, isolation="guard")
    wall = time.monotonic() - t0
    assert not r.passed and "timeout" in r.reason, r.reason
    assert wall < 2 + 3 and r.duration_s < 2 + 3
    assert r.returncode == -9
    _assert_group_gone(int(r.stdout.split()[0]))


def test_sleeping_program_is_killed_by_the_wall_clock():
    # Uses no CPU, so only the wall-clock timeout can stop it.
    t0 = time.monotonic()
    r = run_code("import time\ntime.sleep(60)\n", timeout_s=2, cpu_s=30)
    assert r.reason == "timeout after 2.0 s" and time.monotonic() - t0 < 5


def test_cpu_limit():
    r = run_code("while True:\n    pass\n", timeout_s=10, cpu_s=1)
    assert not r.passed and r.reason.startswith("timeout: cpu time limit") and r.duration_s < 5


@pytest.mark.parametrize(
    "program",
    ["x = bytearray(8 * 1024**3)\n",
     "x = []\nwhile True:\n    x.append(bytearray(10**6))\n"],
    ids=["one-huge-block", "growing-list"],
)
def test_memory_limit(program):
    r = run_code(program, timeout_s=10, memory_mb=256)
    assert not r.passed and r.reason == "memory limit", (r.reason, r.stderr[-500:])
    assert run_code("print(1)", timeout_s=10).passed  # and this process carries on judging

# ----------------------------------------------------------------- process creation


FORK_LOOP = (
    "for _ in range(50):\n"
    "    pid = os.fork()\n"
    "    if pid == 0:\n"
    "        os._exit(0)\n"
    "    os.waitpid(pid, 0)\n"
)


@pytest.mark.parametrize(
    "program",
    [
        FORK_LOOP + "import subprocess\nsubprocess.Popen(['true']).wait()\n",
        "import subprocess\nsubprocess.Popen(['true']).wait()\n",
        "import subprocess\nsubprocess.run(['sleep', '30'])\n",
        "os.system('true')\n",
        "import multiprocessing\np = multiprocessing.Process(target=print)\np.start()\np.join()\n",
        "import pty\npty.spawn(['true'])\n",
        # Swallowing the violation does not help: it was recorded when it happened.
        "try:\n    os.fork()\nexcept BaseException:\n    pass\nprint('carried on')\n",
    ],
    ids=["fork-loop", "popen", "subprocess-run", "os-system", "multiprocessing", "pty", "swallowed"],
)
def test_process_creation_is_blocked(program):
    r = run_code(PRINT_PID + program, timeout_s=10, isolation="guard")
    assert not r.passed and r.reason == "blocked: process creation", (r.reason, r.stderr[-500:])
    assert "SandboxViolation" in r.stderr or "carried on" in r.stdout
    _assert_group_gone(int(r.stdout.split()[0]))


def test_signalling_other_processes_is_blocked():
    r = run_code(f"import os\nos.kill({os.getpid()}, 0)\n", timeout_s=10)
    assert r.reason == "blocked: signal to another process"


def test_group_kill_reaps_children_that_escaped_the_guard():
    # ctypes calls libc's fork directly, past the guard (a documented limit). The child sleeps,
    # the parent finishes: run_code's process-group kill must take the child down with it.
    r = run_code(
        PRINT_PID + "import ctypes, time\n"
        "if ctypes.CDLL(None).fork() == 0:\n"
        "    time.sleep(30)\n"
        "    os._exit(0)\n",
        timeout_s=10, isolation="guard",
    )
    assert r.passed, r.reason  # the guard did not see it: this is about the group kill
    _assert_group_gone(int(r.stdout.split()[0]))

# ----------------------------------------------------------------- filesystem


@pytest.mark.parametrize(
    "program",
    [
        "open(TARGET, 'w').write('x')",
        "open(TARGET, 'a').write('x')",
        "import pathlib\npathlib.Path(TARGET).write_text('x')",
        "import os\nos.close(os.open(TARGET, os.O_WRONLY | os.O_CREAT))",
        "import os\nos.mkdir(TARGET)",
        "open('inside.txt', 'w').close()\nimport os\nos.rename('inside.txt', TARGET)",
        "import shutil\nopen('inside.txt', 'w').close()\nshutil.move('inside.txt', TARGET)",
        "import os\nos.symlink(TARGET, 'link')\nopen('link', 'w').write('x')",
        "import os\nopen(os.path.join('..', '..', '..', TARGET.lstrip('/')), 'w')",
    ],
    ids=["open-w", "open-a", "pathlib", "os-open", "mkdir", "rename", "shutil-move", "symlink",
         "dotdot"],
)
def test_write_outside_the_sandbox_is_blocked(tmp_path, program):
    target = tmp_path / "escaped"
    r = run_code(f"TARGET = {str(target)!r}\n" + program + "\n", timeout_s=10)
    assert not r.passed and r.reason == "blocked: write outside sandbox", (r.reason, r.stderr[-500:])
    assert not target.exists()


@pytest.mark.parametrize(
    "program",
    [
        "import os\nos.remove(VICTIM)",
        "import os\nos.chmod(VICTIM, 0o777)",
        "import os, shutil\nshutil.rmtree(os.path.dirname(VICTIM))",
        "open(VICTIM, 'w')",
    ],
    ids=["remove", "chmod", "rmtree", "truncate"],
)
def test_existing_files_outside_are_left_alone(tmp_path, program):
    victim = tmp_path / "keep" / "data.txt"
    victim.parent.mkdir()
    victim.write_text("precious")
    victim.chmod(0o600)
    r = run_code(f"VICTIM = {str(victim)!r}\n" + program + "\n", timeout_s=10)
    assert r.reason == "blocked: write outside sandbox", (r.reason, r.stderr[-500:])
    assert victim.read_text() == "precious" and (victim.stat().st_mode & 0o777) == 0o600


def test_writes_inside_the_sandbox_are_allowed():
    r = run_code(
        "import os, pathlib, shutil, tempfile\n"
        "open('a.txt', 'w').write('x')\n"
        "os.makedirs('d/e')\n"
        "pathlib.Path('d/e/f.txt').write_text('y')\n"
        "os.rename('a.txt', 'd/a.txt')\n"
        "shutil.rmtree('d')\n"
        "with tempfile.NamedTemporaryFile() as f:\n"
        "    f.write(b'z')\n"
        "print('hidden', file=open(os.devnull, 'w'))\n"
        "print(os.getcwd())\n"
        "print(tempfile.gettempdir())\n",
        timeout_s=10,
    )
    assert r.passed, (r.reason, r.stderr[-500:])
    cwd, tmp = r.stdout.split()
    assert tmp.startswith(cwd + os.sep) and os.path.basename(cwd) == "work"
    assert not os.path.exists(cwd)  # the temporary directory is gone afterwards

# ----------------------------------------------------------------- environment


def test_environment_is_scrubbed(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "secret-123")
    monkeypatch.setenv("PYTHONPATH", "/nonexistent/injected")
    assert os.environ["HF_TOKEN"] == "secret-123"
    program = (
        "import json, os, sys\n"
        "print(json.dumps({'env': dict(os.environ), 'path': sys.path, 'h': hash('abc')}))\n"
    )
    r = run_code(program, timeout_s=10)
    assert r.passed, r.reason
    seen = json.loads(r.stdout)
    assert "secret-123" not in r.stdout and "HF_TOKEN" not in seen["env"]
    allowed = {"PATH", "LANG", "HOME", "TMPDIR", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE"}
    assert set(seen["env"]) <= allowed
    assert not any("injected" in p or "site-packages" in p for p in seen["path"])
    assert json.loads(run_code(program, timeout_s=10).stdout)["h"] == seen["h"]  # fixed hash seed

# ----------------------------------------------------------------- judge_code


def test_judge_code_preserves_order_and_never_raises(monkeypatch):
    programs = ["assert 1 == 2\n", "print('a')\n", "def (:\n", "while True:\n    pass\n", None,
                "BOOM"]
    real = sandbox.run_code

    def flaky(program, **kwargs):
        if program == "BOOM":
            raise RuntimeError("spawn failed")
        return real(program, **kwargs)

    monkeypatch.setattr(sandbox, "run_code", flaky)
    results = judge_code(programs, timeout_s=2, memory_mb=256, workers=2)
    reasons = [r.reason for r in results]
    assert reasons[0] == "failed: AssertionError"
    assert reasons[1] == "passed" and results[1].stdout == "a\n"
    assert reasons[2].startswith("syntax error")
    assert "timeout" in reasons[3]
    assert reasons[4].startswith("judge error: TypeError")
    assert reasons[5] == "judge error: RuntimeError: spawn failed"
    assert [r.passed for r in results] == [False, True, False, False, False, False]
    assert judge_code([], timeout_s=2, memory_mb=256) == []
    bad = judge_code(["pass"], timeout_s=2, memory_mb=256, workers=0)
    assert bad[0].reason.startswith("judge error: ValueError") and not bad[0].passed


def test_child_is_a_stdlib_only_script_that_no_package_module_shadows():
    import sys

    from basinlab.sandbox import _child as sandbox_child

    r = run_code("import sys\nprint(sorted(sys.modules))\nprint(sys.path)\n", timeout_s=10)
    assert r.passed, r.reason
    modules, path = r.stdout.splitlines()
    assert "basinlab" not in modules and "jax" not in modules and "numpy" not in modules
    folder = os.path.dirname(sandbox_child.__file__)
    assert folder not in path  # the child removed its own folder before the program ran
    # The child starts with its folder first on sys.path: no module there may shadow the stdlib.
    stems = {name[:-3] for name in os.listdir(folder) if name.endswith(".py")}
    assert not stems & set(sys.stdlib_module_names)

# ----------------------------------------------------------------- isolation modes


def test_isolation_is_chosen_recorded_and_checked(monkeypatch):
    monkeypatch.delenv(sandbox_isolation.ENV_VAR, raising=False)
    best = sandbox_isolation.available()[0]
    assert run_code("pass", timeout_s=10).isolation == best
    assert run_code("pass", timeout_s=10, isolation="guard").isolation == "guard"
    monkeypatch.setenv(sandbox_isolation.ENV_VAR, "guard")
    assert run_code("pass", timeout_s=10).isolation == "guard"
    assert judge_code(["pass"], timeout_s=10)[0].isolation == "guard"
    monkeypatch.setenv(sandbox_isolation.ENV_VAR, "docker")
    with pytest.raises(ValueError, match=r"\$BASINLAB_SANDBOX must be one of bwrap, unshare, guard, auto, got "):
        run_code("pass", timeout_s=10)
    bad = judge_code(["pass"], timeout_s=10)[0]
    assert bad.reason.startswith("judge error: ValueError") and bad.isolation == "none"
    with pytest.raises(ValueError, match="isolation must be one of"):
        run_code("pass", isolation="nsjail")
    # An old-style ExecResult (before the isolation field) still constructs.
    assert ExecResult(True, "passed", 0, "", "", 0.1).isolation == "guard"


def test_forcing_a_missing_mode_raises_and_auto_warns_once(monkeypatch):
    monkeypatch.delenv(sandbox_isolation.ENV_VAR, raising=False)
    monkeypatch.setattr(sandbox_isolation, "missing",
                        lambda mode: None if mode == "guard" else f"`{mode}` is not installed")
    monkeypatch.setattr(sandbox_isolation, "_warned", False)
    with pytest.raises(ValueError, match=r"isolation='bwrap' is not available here: `bwrap` is not installed\. "
                                         r"Available: guard \(or auto\).*apt-get install bubblewrap"):
        run_code("pass", isolation="bwrap")
    with pytest.warns(RuntimeWarning, match=r"no OS isolation available \(bwrap: `bwrap` is not installed; "
                                            r"unshare: `unshare` is not installed\).*apt-get install bubblewrap"):
        r = run_code("print(1)", timeout_s=10)
    assert r.passed and r.isolation == "guard"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process: the second run is silent
        assert run_code("pass", timeout_s=10).isolation == "guard"


def test_verdicts_read_the_same_in_every_mode():
    programs = {
        "passed": "import json, math\nassert math.gcd(4, 6) == 2\nprint('ok')\n",
        "failed: AssertionError": "assert 1 == 2\n",
        "syntax error": "def (:\n",
        "failed: SystemExit: 0": "import sys\nsys.exit(0)\n",
        "memory limit": "x = bytearray(8 * 1024**3)\n",
        "blocked: write outside sandbox": "open('/tmp/basinlab-never-written', 'w')\n",
        "blocked: process creation": "import subprocess\nsubprocess.run(['true'])\n",
        "crashed: signal 11": "import ctypes\nctypes.string_at(0)\n",
    }
    for mode in sandbox_isolation.available():
        results = judge_code(list(programs.values()), timeout_s=5, memory_mb=256, workers=2, isolation=mode)
        # SIGXCPU reaches the program through each mode's init (bwrap's reaper, the unshare shell).
        cpu = run_code("while True:\n    pass\n", timeout_s=10, cpu_s=1, isolation=mode)
        assert cpu.reason == "timeout: cpu time limit" and cpu.returncode == -24, (mode, cpu.reason, cpu.returncode)
        for want, r in zip(programs, results):
            assert r.isolation == mode
            assert r.reason.startswith(want), (mode, want, r.reason, r.stderr[-300:])
        assert results[0].stdout == "ok\n" and results[-1].returncode == -11

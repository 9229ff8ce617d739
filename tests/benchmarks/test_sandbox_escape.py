"""Escape attempts against the sandbox's OS isolation (basinlab.sandbox._isolation).

Each attempt runs under every namespace mode this machine has ("bwrap", "unshare"; a mode the OS
lacks is skipped, saying why) and asserts that the escape itself fails: the file outside is not
there, no process outlives the run, the host's port saw no connection. The "guard" tests at the end
run the harmless attempts under today's in-process containment alone and assert that they do
escape, as the module docstrings say; the fork bomb is not run under "guard" alone, where as root
nothing would bound it (RLIMIT_NPROC does not bind root; no pid namespace, no cgroup). Everything
is bounded even if isolation failed: writes target pytest's tmp_path, sleepers sleep 30 s, the fork
bomb runs for 3 s and backs off once refused.
"""

import errno
import os
import socket
import tempfile
import threading
import time
import uuid

import pytest

from basinlab.sandbox import _child as sandbox_child
from basinlab.sandbox import _isolation as sandbox_isolation
from basinlab.sandbox._runner import run_code


@pytest.fixture(params=["bwrap", "unshare"])
def mode(request):
    why = sandbox_isolation.missing(request.param)
    if why is not None:
        pytest.skip(f"{request.param} isolation is not available on this machine: {why}")
    return request.param


def _live_with(marker):
    """Pids of live (non-zombie) processes whose command line contains `marker` (the run's unique
    work folder: the child's argv holds its program's path, and a fork keeps its parent's argv)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # exited while we looked
        if marker.encode() in cmdline and state not in "ZX":
            pids.append(int(entry))
    return pids


def _survivors(marker, within_s=5.0):
    """Processes of the run still alive `within_s` s after it returned (SIGKILL is asynchronous);
    any found are killed before returning, so a failing test leaves nothing behind."""
    deadline = time.monotonic() + within_s
    while (left := _live_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in left:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    return left


CTYPES_WRITE = (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "fd = libc.open(TARGET.encode(), os.O_WRONLY | os.O_CREAT, 0o644)\n"
    "print('fd', fd, flush=True)\n"
    "if fd >= 0:\n"
    "    libc.write(fd, b'x', 1)\n"
)
FILEIO_WRITE = (  # the guard wraps io.FileIO and open; _io.FileIO is the unwrapped original
    "import _io\n"
    "try:\n"
    "    _io.FileIO(TARGET, 'w').write(b'x')\n"
    "    print('wrote')\n"
    "except OSError as e:\n"
    "    print('refused', e.errno)\n"
)
SETSID_SLEEPER = (
    "import ctypes, os, time\n"
    "libc = ctypes.CDLL(None)\n"
    "print(os.getcwd(), flush=True)\n"
    "if libc.fork() == 0:\n"  # past the guard; then a new session and a double fork
    "    libc.setsid()\n"
    "    if libc.fork() == 0:\n"
    "        time.sleep(30)\n"
    "    os._exit(0)\n"
    "time.sleep(0.5)\n"  # the grandchild is up before the run ends
)
CONNECT = (
    "import socket\n"
    "try:\n"
    "    socket.create_connection(('127.0.0.1', PORT), timeout=2).close()\n"
    "    print('connected')\n"
    "except OSError as e:\n"
    "    print('refused', type(e).__name__)\n"
)


def _listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    return server


def _accepted(server):
    try:
        conn, _ = server.accept()
    except TimeoutError:
        return False
    conn.close()
    return True

# ----------------------------------------------------------------- under each namespace mode


@pytest.mark.parametrize("program", [CTYPES_WRITE, FILEIO_WRITE], ids=["ctypes-libc-open", "unwrapped-FileIO"])
def test_writes_outside_the_work_folder_do_not_land(tmp_path, mode, program):
    # tmp_path is pytest's, outside the run's temporary folder.
    target = tmp_path / "escaped"
    r = run_code(f"TARGET = {str(target)!r}\n" + program
                 + f"import os\nprint('sees host folder', os.path.exists({str(tmp_path)!r}))\n",
                 timeout_s=10, isolation=mode)
    assert r.isolation == mode
    assert r.passed, (r.reason, r.stderr[-500:])  # the guard did not see it: the OS refused it
    assert ("fd -1" in r.stdout or "refused" in r.stdout) and "sees host folder False" in r.stdout, r.stdout
    assert not target.exists()


def test_the_bound_system_folders_are_read_only(mode):
    # The child script and the interpreter's prefix exist inside the sandbox (bound from the host):
    # opening the one for writing and making a folder in the other must fail with EROFS. Nothing is
    # written even if the open succeeded; a folder that got made is removed below.
    child = os.path.realpath(sandbox_child.__file__)
    made = os.path.join(sandbox_isolation.interpreter_prefix(), f"basinlab-escape-{uuid.uuid4().hex}")
    program = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"fd = libc.open({child.encode()!r}, os.O_WRONLY | os.O_APPEND)\n"
        "print('open', fd, ctypes.get_errno())\n"
        f"print('mkdir', libc.mkdir({made.encode()!r}, 0o755), ctypes.get_errno())\n"
    )
    try:
        r = run_code(program, timeout_s=10, isolation=mode)
        assert r.passed, (r.reason, r.stderr[-500:])
        assert r.stdout == f"open -1 {errno.EROFS}\nmkdir -1 {errno.EROFS}\n", r.stdout
        assert not os.path.exists(made)
    finally:
        if os.path.isdir(made):
            os.rmdir(made)


def test_a_setsid_grandchild_does_not_outlive_the_run(mode):
    r = run_code(SETSID_SLEEPER, timeout_s=10, isolation=mode)
    assert r.passed, (r.reason, r.stderr[-500:])
    work = r.stdout.split()[0]
    assert work.endswith(os.sep + "work")
    assert not _survivors(work)


@pytest.mark.skipif(not sandbox_isolation.pids_bounded(),
                    reason="no process cap here: root without a writable pids cgroup (RLIMIT_NPROC does not bind root)")
def test_a_fork_bomb_is_capped_and_ends_with_the_run(mode, tmp_path, monkeypatch):
    # Forks as fast as it can (past the guard, through libc), backing off a little once refused.
    program = (
        "import ctypes, os, time\n"
        "libc = ctypes.CDLL(None)\n"
        "print(os.getcwd(), flush=True)\n"
        "while True:\n"
        "    if libc.fork() < 0:\n"
        "        time.sleep(0.05)\n"
    )
    # run_code's temporary folder goes under this test's own folder, so the processes of this run
    # (whose command lines name it) can be told from any other sandbox run on the machine.
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(runs))
    peak, stop = [0], threading.Event()

    def watch():  # the most processes of this run alive at once, seen from the host
        while not stop.is_set():
            peak[0] = max(peak[0], len(_live_with(str(runs))))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    t0 = time.monotonic()
    try:
        r = run_code(program, timeout_s=3, cpu_s=30, isolation=mode)
    finally:
        stop.set()
        watcher.join()
    wall = time.monotonic() - t0
    assert r.reason == "timeout after 3.0 s", (r.reason, r.stderr[-500:])
    assert wall < 3 + 5
    assert not _survivors(str(runs))
    # The tool's own processes count too (their command lines name the folder), hence the margin.
    assert sandbox_isolation.PIDS_LIMIT / 2 < peak[0] <= sandbox_isolation.PIDS_LIMIT + 4, peak[0]


def test_the_host_network_is_unreachable(mode):
    server = _listener()
    try:
        port = server.getsockname()[1]
        r = run_code(f"PORT = {port}\n" + CONNECT, timeout_s=10, isolation=mode)
        assert r.passed, (r.reason, r.stderr[-500:])
        assert r.stdout.startswith("refused"), r.stdout
        assert not _accepted(server)
    finally:
        server.close()

# ----------------------------------------------------------------- "guard" alone: the documented escapes


def test_guard_alone_lets_ctypes_and_unwrapped_io_write_outside(tmp_path):
    for i, program in enumerate([CTYPES_WRITE, FILEIO_WRITE]):
        target = tmp_path / f"escaped-{i}"
        r = run_code(f"TARGET = {str(target)!r}\n" + program, timeout_s=10, isolation="guard")
        assert r.isolation == "guard" and r.passed, r.reason
        assert target.read_bytes() == b"x"  # escaped: the guard lives in the program's interpreter


def test_guard_alone_lets_a_setsid_grandchild_survive_and_the_network_through():
    r = run_code(SETSID_SLEEPER, timeout_s=10, isolation="guard")
    assert r.passed, r.reason
    survivors = _survivors(r.stdout.split()[0], within_s=0.5)  # killed here, after counting
    assert len(survivors) >= 1
    server = _listener()
    try:
        r = run_code(f"PORT = {server.getsockname()[1]}\n" + CONNECT, timeout_s=10, isolation="guard")
        assert r.stdout == "connected\n" and _accepted(server)
    finally:
        server.close()


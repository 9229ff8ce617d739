"""The sandbox's child process: set limits, compile, install the guard, run one program, report.

`sandbox.run_code` runs this file as a script, by path, in a fresh interpreter with the isolation
flags and scrubbed environment described in `sandbox`:

    python -s -S -B sandbox_child.py PROGRAM ROOT STATUS_FD MEMORY_BYTES CPU_SECONDS FILE_SIZE_BYTES [NPROC]

It imports the standard library only (never basinlab, hence never jax), and removes its own
folder from sys.path before the program runs, so the program sees the standard library only.
The verdict goes to the status channel STATUS_FD as JSON lines ({"kind": "done" | "error" |
"syntax" | "memory" | "blocked", ...}); the exit codes below are a fallback for when the record
could not be written (e.g. out of memory). The parent imports this module only for those codes.
"""

import _io
import _posixsubprocess
import builtins
import io
import json
import os
import posix
import resource
import shutil
import signal
import subprocess
import sys
import traceback

EXIT_FAILED, EXIT_SYNTAX, EXIT_BLOCKED, EXIT_MEMORY = 1, 2, 3, 4

# Set by main() from argv: the sandbox root (writes must stay inside) and the status channel.
ROOT = ""
STATUS_FD = -1


def _status(record):
    os.write(STATUS_FD, (json.dumps(record) + "\n").encode())


def _finish(code):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(code)  # skip atexit hooks and thread joins: the verdict is already recorded


class SandboxViolation(BaseException):
    """Raised by the guard; a BaseException so that `except Exception` in the program does not
    swallow it (the status record is written before raising, so even `except:` cannot hide it)."""


def _block(what, detail):
    try:
        _status({"kind": "blocked", "what": what, "detail": detail})
        os.write(2, f"basinlab-sandbox: blocked: {what} ({detail})\n".encode())
    finally:
        raise SandboxViolation(f"blocked: {what} ({detail})")


def _resolve(path, dir_fd=None):
    if isinstance(path, int):  # an fd: find out what it points to
        path = os.readlink(f"/proc/self/fd/{path}")
    path = os.fsdecode(os.fspath(path))
    if dir_fd is not None and not os.path.isabs(path):
        path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
    return path


def _inside(real):
    # /dev/null: programs silence output with open(os.devnull, "w"); writing there reaches nothing.
    return real == ROOT or real.startswith(ROOT + os.sep) or real == os.devnull


def _check_write(func, path, dir_fd=None):
    p = _resolve(path, dir_fd)
    # Both the fully resolved target (a symlink in the sandbox may point out of it) and the entry
    # itself (its resolved parent directory + name) must be inside the sandbox.
    entry = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(p))), os.path.basename(p))
    if not (_inside(os.path.realpath(p)) and _inside(entry)):
        _block("write outside sandbox", f"{func} {p!r}")


_real_open = _io.open


def _open(file, mode="r", *args, **kwargs):
    # An int file is an fd that is already open (stdout, a tempfile): nothing new is reached.
    if not isinstance(file, int) and set(str(mode)) & set("wax+"):
        _check_write("open", file)
    return _real_open(file, mode, *args, **kwargs)


class _FileIO(_io.FileIO):
    def __init__(self, file, mode="r", *args, **kwargs):
        if not isinstance(file, int) and set(str(mode)) & set("wax+"):
            _check_write("FileIO", file)
        super().__init__(file, mode, *args, **kwargs)


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_real_os_open = os.open


def _os_open(path, flags, *args, **kwargs):
    if flags & _WRITE_FLAGS:
        _check_write("os.open", path, kwargs.get("dir_fd"))
    return _real_os_open(path, flags, *args, **kwargs)


def _path_guard(name, real, names):
    """Wrap os.<name>: each argument listed in `names` (by position) is a path that must resolve
    inside the sandbox; dir_fd-style keywords are honoured."""
    fd_keys = ["src_dir_fd", "dst_dir_fd"] if len(names) == 2 else ["dir_fd"]

    def guarded(*args, **kwargs):
        for i, key in enumerate(names):
            if i < len(args) or key in kwargs:
                dir_fd = kwargs.get(fd_keys[i], kwargs.get("dir_fd"))
                _check_write(name, args[i] if i < len(args) else kwargs[key], dir_fd)
        return real(*args, **kwargs)

    guarded.__name__ = name
    return guarded


def _deny(what, name):
    def denied(*args, **kwargs):
        _block(what, name)
    denied.__name__ = name
    return denied


_PATH_FUNCS = {
    "remove": ("path",), "unlink": ("path",), "rmdir": ("path",), "removedirs": ("name",), "mkdir": ("path",),
    "makedirs": ("name",), "chmod": ("path",), "lchmod": ("path",), "chown": ("path",), "lchown": ("path",),
    "truncate": ("path",), "mkfifo": ("path",), "mknod": ("path",), "utime": ("path",), "rename": ("src", "dst"),
    "replace": ("src", "dst"), "renames": ("old", "new"), "link": ("src", "dst"),
    "symlink": ("src_ignored", "dst"),  # only the link itself is created
}
_PROCESS_FUNCS = (
    "fork", "forkpty", "system", "popen", "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp",
    "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe",
    "posix_spawn", "posix_spawnp",
)


def _install_guard():
    builtins.open = io.open = _io.open = _open
    io.FileIO = _FileIO
    for mod in (os, posix):
        if hasattr(mod, "open"):
            # Patching the standard library is the point here; typeshed declares no such writes.
            mod.open = _os_open  # pyright: ignore[reportAttributeAccessIssue]
        for name, names in _PATH_FUNCS.items():
            real = getattr(mod, name, None)
            if real is None:
                continue
            if name == "symlink":
                def real_symlink(src, dst, *a, _real=real, **k):
                    _check_write("symlink", dst, k.get("dir_fd"))
                    return _real(src, dst, *a, **k)
                setattr(mod, name, real_symlink)
            else:
                setattr(mod, name, _path_guard(name, real, names))
        for name in _PROCESS_FUNCS:
            if hasattr(mod, name):
                setattr(mod, name, _deny("process creation", "os." + name))
    shutil.rmtree = _path_guard("shutil.rmtree", shutil.rmtree, ("path",))
    shutil.move = _path_guard("shutil.move", shutil.move, ("src", "dst"))
    # subprocess bound fork_exec at import time, so patch its alias and the Popen hook as well;
    # multiprocessing and pty go through os.fork / fork_exec.
    # (private names typeshed does not declare, hence the targeted ignores)
    subprocess.Popen._execute_child = _deny(  # pyright: ignore[reportAttributeAccessIssue]
        "process creation", "subprocess.Popen")
    subprocess._fork_exec = _posixsubprocess.fork_exec = _deny(  # pyright: ignore[reportAttributeAccessIssue]
        "process creation", "fork_exec")

    real_kill, real_killpg, me = os.kill, os.killpg, os.getpid()

    def kill(pid, sig):
        if pid != me:
            _block("signal to another process", f"os.kill({pid!r}, {sig!r})")
        return real_kill(pid, sig)

    def killpg(pgid, sig):
        if pgid not in (0, os.getpgrp()):
            _block("signal to another process", f"os.killpg({pgid!r}, {sig!r})")
        return real_killpg(pgid, sig)

    os.kill = posix.kill = kill
    os.killpg = posix.killpg = killpg
    if hasattr(signal, "pidfd_send_signal"):
        signal.pidfd_send_signal = _deny("signal to another process", "pidfd_send_signal")


def _print_traceback(e):
    try:  # from the program's frame on: the runner's exec() frame is noise
        traceback.print_exception(type(e), e, e.__traceback__.tb_next)
    except BaseException:
        pass


def _run(program, memory_bytes):
    with _real_open(program, "rb") as f:
        source = f.read()
    try:
        code = compile(source, "program.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:  # ValueError: null bytes (Python < 3.12)
        line = getattr(e, "lineno", None)
        msg = f"{type(e).__name__}: {getattr(e, 'msg', None) or e}"
        _status({"kind": "syntax", "message": msg + (f" (line {line})" if line else "")})
        sys.stderr.write("".join(traceback.format_exception_only(type(e), e)))
        _finish(EXIT_SYNTAX)
    except MemoryError:
        os.write(STATUS_FD, b'{"kind": "memory"}\n')
        _finish(EXIT_MEMORY)
    # Memory last: everything above must be able to allocate.
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    _install_guard()
    sys.argv = [program]
    env = {"__name__": "__main__", "__file__": program, "__builtins__": builtins}
    outcome = None
    try:
        exec(code, env)
    except SandboxViolation as e:
        _print_traceback(e)
        outcome = EXIT_BLOCKED
    except MemoryError:
        outcome = EXIT_MEMORY  # reported below, once the program's data is released
    except BaseException as e:
        try:
            message = str(e)
        except BaseException:
            message = "<unprintable>"
        _print_traceback(e)
        _status({"kind": "error", "type": type(e).__name__, "message": message[:500]})
        outcome = EXIT_FAILED
    if outcome == EXIT_MEMORY:
        env.clear()  # drop what filled the memory so that reporting can allocate again
        os.write(STATUS_FD, b'{"kind": "memory"}\n')
        os.write(2, b"basinlab-sandbox: MemoryError (memory limit)\n")
    elif outcome is None:
        _status({"kind": "done"})
        outcome = 0
    _finish(outcome)


def main(argv: list[str]) -> None:
    """argv: [this file, program path, sandbox root, status fd, memory bytes, cpu seconds, file size bytes,
    optional process limit (RLIMIT_NPROC; 0 or absent: unchanged; set only in a user namespace, where
    the kernel counts the namespace's processes)]."""
    global ROOT, STATUS_FD
    program, ROOT = argv[1], os.path.realpath(argv[2])
    STATUS_FD, memory, cpu, fsize = (int(a) for a in argv[3:7])
    del sys.path[0]  # this file's own folder; the program sees the standard library only
    nproc = int(argv[7]) if len(argv) > 7 else 0
    if nproc > 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU first, SIGKILL a second later
    _run(program, memory)


if __name__ == "__main__":
    main(sys.argv)

"""The OS boundary around the sandbox's child: which isolation a run gets and the command that builds it.

`sandbox.run_code` runs its child Python inside one of three modes, chosen per run:

* "bwrap": bubblewrap (`/usr/bin/bwrap`, Debian's `bubblewrap`) puts the child in new user, mount,
  pid, network, ipc, uts and cgroup namespaces (`--unshare-all --unshare-user`), with no further
  user namespaces (`--disable-userns`, bubblewrap >= 0.8), no capabilities, its own session and
  `--die-with-parent`. Its root is an empty read-only tmpfs holding only: read-only binds of /usr, /bin, /sbin, /lib*,
  a few /etc files the dynamic linker and libc read, the interpreter's prefix and the child script;
  a fresh /proc of its own pid namespace; a minimal /dev (null, zero, random, urandom, tty); and the
  run's work folder, the only writable path. The network namespace has its own loopback only.
* "unshare": util-linux `unshare` makes the same namespaces (user, mount, pid, net, ipc, uts) and a
  shell inside them builds the same root with `mount` (the same binds, the root tmpfs remounted
  read-only), `pivot_root`s into it, detaches the old root and runs the child through `setpriv` with
  an empty capability bounding set and no_new_privs, so the program cannot remount anything. The
  shell stays pid 1 of the namespace; when it exits, the kernel kills every process left in it.
  The loopback device stays down; the program may make nested user namespaces, but mounts it got
  from this one stay locked (read-only) in them.
* "guard": no namespaces; the containment `sandbox` describes (limits, group kill, guard prelude).
  Chosen by "auto" only when neither tool works, with a warning (once per process) naming what is
  missing and how to get it.

In both namespace modes the number of processes (threads included) is capped at PIDS_LIMIT: by
RLIMIT_NPROC, which the kernel counts per user namespace for a non-root host user, and, where this
process may create a pids cgroup (as root with cgroup v1's pids hierarchy or a cgroup v2 tree with
the pids controller), by that cgroup's pids.max, since RLIMIT_NPROC does not bind host root mapped
into a user namespace. Where neither holds (root without a writable pids cgroup) only the wall-clock
timeout and the pid namespace's teardown end a fork bomb.

What the namespace modes still do not isolate: CPU time and memory are per-process limits
(RLIMIT_CPU, RLIMIT_AS), not a cgroup budget, so a program may use up to PIDS_LIMIT times them
until the timeout; reads of the bound system files (/usr, the interpreter) are allowed; there is no
seccomp filter, so the kernel's whole system-call surface is reachable (a kernel bug is an escape);
as root the sandbox's user is host root mapped into a user namespace, so a root-owned file bound
writable would be the program's to change (only the work folder is); and the status channel is an
open fd the program can write to, so a program can forge its own verdict (a judge, not a jail).

The mode is chosen by the `isolation` argument of `run_code` or the environment variable
BASINLAB_SANDBOX (bwrap | unshare | guard | auto; auto when unset): auto takes the first that works
of bwrap, unshare, guard. Asking for a mode that does not work here raises ValueError naming it,
why it does not work and the modes that do.
"""

from __future__ import annotations

import functools
import itertools
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings

__all__ = ["MODES", "ENV_VAR", "PIDS_LIMIT", "choose", "available", "missing", "command", "PidsCgroup",
           "pids_bounded"]

MODES = ("bwrap", "unshare", "guard")
ENV_VAR = "BASINLAB_SANDBOX"
PIDS_LIMIT = 64  # processes + threads per run in the namespace modes

# /etc files the dynamic linker, libc and the standard library read; the rest of /etc stays out.
_ETC_FILES = ("ld.so.cache", "ld.so.conf", "localtime", "passwd", "group", "nsswitch.conf", "hosts")
_ETC_DIRS = ("ld.so.conf.d",)
_DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_NS = ("user", "mnt", "pid", "net", "ipc", "uts")  # each must be new in the probe
_HOW_TO_GET = (
    "install bubblewrap (`apt-get install bubblewrap`; `.ci/run` does this as root) or allow "
    "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)"
)
_warned = False


def interpreter() -> str:
    """The Python the namespace modes run: the real binary behind sys.executable (a venv's python
    is a symlink; the child runs with -s -S and needs the standard library only)."""
    return os.path.realpath(sys.executable)


def interpreter_prefix() -> str:
    """The folder the namespace modes bind read-only for `interpreter()` and its standard library."""
    python = interpreter()
    base = os.path.realpath(sys.base_prefix)
    return base if python.startswith(base + os.sep) else os.path.dirname(os.path.dirname(python))


def _mounts(work: str, child: str) -> list[tuple]:
    """The sandbox's root, as (kind, *paths): ro-dir, ro-file, symlink, rw-dir, proc, dev."""
    ops: list[tuple] = []
    for d in _SYSTEM_DIRS:
        if os.path.islink(d):
            ops.append(("symlink", os.readlink(d), d))
        elif os.path.isdir(d):
            ops.append(("ro-dir", d))
    for name in _ETC_FILES:
        if os.path.isfile(os.path.join("/etc", name)):
            ops.append(("ro-file", os.path.join("/etc", name)))
    for name in _ETC_DIRS:
        if os.path.isdir(os.path.join("/etc", name)):
            ops.append(("ro-dir", os.path.join("/etc", name)))
    prefix = interpreter_prefix()
    if not any(prefix == d or prefix.startswith(d + os.sep) for d in _SYSTEM_DIRS):
        ops.append(("ro-dir", prefix))
    ops += [("ro-file", child), ("proc", "/proc"), ("dev", "/dev"), ("rw-dir", work)]
    return ops


def _tool(name):
    # pivot_root lives in sbin, which the scrubbed PATH leaves out.
    return shutil.which(name, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")


def _with_env(env, argv):
    return [_tool("env") or "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]


@functools.cache
def _bwrap_has(option):
    try:
        out = subprocess.run([_tool("bwrap") or "bwrap", "--help"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return option in (out.stdout + out.stderr).decode("utf-8", "replace").split()


def _bwrap(ops, work, argv, env):
    cmd = ["bwrap", "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
           "--hostname", "sandbox"]
    if _bwrap_has("--disable-userns"):  # bubblewrap >= 0.8
        cmd.append("--disable-userns")
    for kind, *paths in ops:
        if kind in ("ro-dir", "ro-file"):
            cmd += ["--ro-bind", paths[0], paths[0]]
        elif kind == "symlink":
            cmd += ["--symlink", paths[0], paths[1]]
        elif kind == "rw-dir":
            cmd += ["--bind", paths[0], paths[0]]
        elif kind == "proc":
            cmd += ["--proc", paths[0]]
        elif kind == "dev":
            cmd += ["--dev", paths[0]]
    # bwrap sets PWD after --chdir; `env -i` gives the program exactly `env`.
    return cmd + ["--remount-ro", "/", "--chdir", work, "--", *_with_env(env, argv)]


def _unshare(ops, work, argv, env, newroot):
    q = shlex.quote
    r = newroot
    lines = ["set -eu", f"mount -t tmpfs -o mode=0755 basinlab-sandbox {q(r)}"]
    for kind, *paths in ops:
        p = paths[-1]
        t = q(r + p)
        if kind == "ro-dir":
            lines += [f"mkdir -p {t}", f"mount --bind {q(p)} {t}", f"mount -o remount,bind,ro {t}"]
        elif kind == "ro-file":
            lines += [f"mkdir -p {q(r + os.path.dirname(p))}", f": > {t}", f"mount --bind {q(p)} {t}",
                      f"mount -o remount,bind,ro {t}"]
        elif kind == "symlink":
            lines += [f"mkdir -p {q(r + os.path.dirname(p))}", f"ln -s {q(paths[0])} {t}"]
        elif kind == "rw-dir":
            lines += [f"mkdir -p {t}", f"mount --bind {q(p)} {t}"]
        elif kind == "proc":
            lines += [f"mkdir -p {t}", f"mount -t proc proc {t}"]
        elif kind == "dev":
            lines += [f"mkdir -p {t}", f"mount -t tmpfs -o mode=0755 dev {t}"]
            for node in _DEV_NODES:
                if os.path.exists(f"/dev/{node}"):
                    lines += [f": > {t}/{node}", f"mount --bind /dev/{node} {t}/{node}"]
            lines += [f"ln -s /proc/self/fd {t}/fd", f"ln -s /proc/self/fd/0 {t}/stdin",
                      f"ln -s /proc/self/fd/1 {t}/stdout", f"ln -s /proc/self/fd/2 {t}/stderr"]
    lines += [
        f"mkdir -p {q(r)}/tmp {q(r)}/.old", f"mount -o remount,ro {q(r)}",
        f"cd {q(r)}", f"{q(_tool('pivot_root') or 'pivot_root')} . .old", "umount -l /.old", f"cd {q(work)}",
        # The shell stays pid 1 (signals from the kernel such as SIGXCPU reach a non-init child).
        "setpriv --bounding-set=-all --inh-caps=-all --no-new-privs -- " + " ".join(map(q, _with_env(env, argv))),
    ]
    return ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private", "--net", "--pid",
            "--fork", "--kill-child", "--ipc", "--uts", "--", "/bin/sh", "-c", "\n".join(lines)]


def command(mode: str, argv: list[str], *, env: dict[str, str], work: str, child: str, scratch: str) -> list[str]:
    """The command that runs `argv` (the child Python, by `interpreter()`) under `mode`, with exactly
    the environment `env` (guard: pass env to Popen).

    work: the only writable folder (also the working directory); child: the child script, bound
    read-only at its own path; scratch: an empty folder this process owns ("unshare" mounts the new
    root on it)."""
    if mode == "guard":
        return list(argv)
    ops = _mounts(work, child)
    if mode == "bwrap":
        return _bwrap(ops, work, argv, env)
    if mode == "unshare":
        return _unshare(ops, work, argv, env, scratch)
    raise ValueError(f"isolation must be one of {', '.join(MODES)}, got {mode!r}")


def signal_returncode(mode: str, returncode: int | None) -> int | None:
    """bwrap and the unshare shell exit with 128 + n when the child died of signal n; map that back
    to Popen's -n so that verdicts read the same in every mode."""
    if mode != "guard" and returncode is not None and 128 < returncode < 128 + signal.NSIG:
        return -(returncode - 128)
    return returncode


def _probe(mode: str) -> str | None:
    """None if `mode` runs a Python here; else why not."""
    tool = {"bwrap": "bwrap", "unshare": "unshare"}[mode]
    if _tool(tool) is None:
        return f"`{tool}` is not installed"
    for helper in ("setpriv", "pivot_root", "mount") if mode == "unshare" else ():
        if _tool(helper) is None:
            return f"`{helper}` (util-linux) is not installed"
    with tempfile.TemporaryDirectory(prefix="basinlab-sandbox-probe-") as top:
        work, scratch = os.path.join(top, "work"), os.path.join(top, "root")
        os.mkdir(work)
        os.mkdir(scratch)
        script = os.path.join(top, "probe.py")
        with open(script, "w") as f:
            f.write(f"import os\nopen('ok', 'w').write(' '.join(os.readlink('/proc/self/ns/' + n) for n in {_NS!r}))\n")
        argv = [interpreter(), "-s", "-S", "-B", script]
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        try:
            proc = subprocess.run(
                command(mode, argv, env=env, work=work, child=script, scratch=scratch), cwd=work,
                stdin=subprocess.DEVNULL, capture_output=True, timeout=30, start_new_session=True, env=env,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"`{tool}` failed to start: {e}"
        try:
            with open(os.path.join(work, "ok")) as f:
                seen = f.read().split()
        except OSError:
            seen = []
        mine = [os.readlink(f"/proc/self/ns/{n}") for n in _NS]
        if proc.returncode != 0 or len(seen) != len(_NS) or set(seen) & set(mine):
            err = " ".join(proc.stderr.decode("utf-8", "replace").split())[-300:]
            return f"`{tool}` did not run a Python in new namespaces (exit code {proc.returncode}: {err})"
    return None


@functools.cache
def missing(mode: str) -> str | None:
    """Why `mode` does not work here, or None if it does (probed once per process)."""
    if mode not in MODES:
        raise ValueError(f"isolation must be one of {', '.join(MODES)}, got {mode!r}")
    return None if mode == "guard" else _probe(mode)


def available() -> tuple[str, ...]:
    """The modes that work on this machine, strongest first (probed once per process)."""
    return tuple(m for m in MODES if missing(m) is None)


def choose(isolation: str | None = None) -> str:
    """The mode for a run: `isolation`, else $BASINLAB_SANDBOX, else "auto" (the strongest that works)."""
    global _warned
    source = "isolation"
    if isolation is None:
        isolation, source = os.environ.get(ENV_VAR, "").strip() or "auto", f"${ENV_VAR}"
    if not isinstance(isolation, str) or isolation not in MODES + ("auto",):
        raise ValueError(f"{source} must be one of {', '.join(MODES + ('auto',))}, got {isolation!r}")
    if isolation == "auto":
        mode = next(m for m in MODES if missing(m) is None)  # probes only as far as needed
        if mode == "guard" and not _warned:
            _warned = True
            why = "; ".join(f"{m}: {missing(m)}" for m in ("bwrap", "unshare"))
            warnings.warn(
                f"sandbox: no OS isolation available ({why}); model-written code runs under the "
                f"in-process guard only, which ctypes, setsid and the network get around. To get "
                f"isolation, {_HOW_TO_GET}.", RuntimeWarning, stacklevel=3,
            )
        return mode
    problem = missing(isolation)
    if problem is not None:
        raise ValueError(
            f"{source}={isolation!r} is not available here: {problem}. Available: "
            f"{', '.join(available())} (or auto). To get it, {_HOW_TO_GET}."
        )
    return isolation


# ----------------------------------------------------------------- pids cgroup (root only)

_cgroup_counter = itertools.count()


@functools.cache
def _pids_hierarchy() -> str | None:
    """A folder where this process may create a cgroup with a pids limit, or None."""
    try:
        with open("/proc/self/mounts") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return None
    for fields in mounts:
        if len(fields) < 4:
            continue
        where, fstype, opts = fields[1], fields[2], fields[3].split(",")
        if fstype == "cgroup" and "pids" in opts and os.access(where, os.W_OK):
            return where
        if fstype == "cgroup2" and os.access(where, os.W_OK):
            try:
                with open(os.path.join(where, "cgroup.subtree_control")) as f:
                    if "pids" in f.read().split():
                        return where
            except OSError:
                continue
    return None


def pids_bounded() -> bool:
    """Whether the namespace modes cap the number of processes here: by a pids cgroup, or by
    RLIMIT_NPROC, which binds any host user but root."""
    return _pids_hierarchy() is not None or os.geteuid() != 0


class PidsCgroup:
    """A fresh pids cgroup for one run (pids.max = limit), entered by the command's first process
    before it execs, so every process of the run is counted; on exit, whatever is left in it is
    killed and the cgroup removed. `prefix` is [] (and nothing happens) where no pids hierarchy is
    writable."""

    def __init__(self, limit: int = PIDS_LIMIT) -> None:
        self.limit, self.path, self.prefix = limit, None, []

    def __enter__(self) -> PidsCgroup:
        root = _pids_hierarchy()
        if root is not None:
            path = os.path.join(root, f"basinlab-sandbox-{os.getpid()}-{next(_cgroup_counter)}")
            try:
                os.mkdir(path)
                with open(os.path.join(path, "pids.max"), "w") as f:
                    f.write(str(self.limit))
            except OSError:
                self._remove(path)
            else:
                self.path = path
                self.prefix = ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', path]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.path is not None:
            self._remove(self.path)

    @staticmethod
    def _remove(path, within_s=5.0):
        deadline = time.monotonic() + within_s
        while True:
            try:
                with open(os.path.join(path, "cgroup.procs")) as f:
                    pids = [int(p) for p in f.read().split()]
            except OSError:
                pids = []
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                os.rmdir(path)
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return  # left behind, empty once the kernel has reaped the processes
                time.sleep(0.01)

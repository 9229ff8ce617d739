"""The kernel's stop button in the middle of notebook 01's sweep, then the cell run again (issue 12);
and the kernel's restart under notebook 01's live explorer (issue 29, last test).

What a user does, in a real Jupyter kernel: notebook 01's cells run in SMOKE mode up to the sweep
cell, the sweep cell starts, and once a block is in its store the kernel is interrupted with
``KernelManager.interrupt_kernel`` (SIGINT, exactly what JupyterLab's stop button sends). Then:

- the cell ended with KeyboardInterrupt, and the store's lock is free for another process;
- running the cell again completes, leaves every block stored before the interrupt untouched (same
  inode and mtime: read back, not recomputed) and writes only the missing ones;
- its Dataset has every direction, and the block computed after the resume holds the same numbers
  as a fresh sweep of that direction alone (same kernel, no store).

A cell inserted after the imports sets 3 directions (so the interrupt lands while blocks are still to
be computed) and one cheap capability. Run it alone with
``pytest -q tests/test_notebook_interrupt.py``.
"""

from __future__ import annotations

import fcntl
import os
import pathlib
import queue
import time

import nbformat
import pytest
from test_notebooks import with_smoke

pytestmark = pytest.mark.slow

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "01_most_case.ipynb"
SWEEP_CELL = "7f532a3b"  # ds = landscape(..., store=STORE + ".blocks", ...)
# After cell 2 (imports, SMOKE settings: 3 alphas, CHUNK = 3): 3 directions, one block each, and one
# capability (next-token accuracy, no generation) keep the three runs of the sweep short.
SHRINK = 'N_DIRECTIONS, BENCHMARKS = 3, ["pydoc"]'
TIMEOUT_S = 300


def run(kc, code: str, timeout: float = TIMEOUT_S) -> dict:
    """Execute ``code`` in the kernel and wait for its reply's content (status, ename, ...)."""
    msg_id = kc.execute(code)
    return reply(kc, msg_id, timeout)


def reply(kc, msg_id: str, timeout: float = TIMEOUT_S) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            msg = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no reply from the kernel within {timeout} s") from None
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg["content"]


def ok(content: dict, what: str) -> None:
    assert content["status"] == "ok", f"{what}: {content.get('ename')}: {content.get('evalue')}\n" + \
        "\n".join(content.get("traceback", []))[-3000:]


def blocks(store: pathlib.Path) -> dict[str, tuple[int, int]]:
    """{block file: (inode, mtime_ns)}; a rewritten file (atomic rename) gets a new inode."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in store.glob("*.npz")}


def lock_is_free(store: pathlib.Path) -> bool:
    with open(store / ".lock", "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return True


@pytest.fixture
def kernel(tmp_path):
    from jupyter_client.manager import start_new_kernel

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               JAX_PLATFORMS="cpu")
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=env, startup_timeout=120)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_stop_button_mid_sweep_then_rerun_resumes_from_the_store(kernel, tmp_path):
    km, kc = kernel
    nb = with_smoke(nbformat.read(NOTEBOOK, as_version=4))
    code = [c for c in nb.cells if c.cell_type == "code"]
    sweep_at = next(i for i, c in enumerate(code) if c.get("id") == SWEEP_CELL)
    sweep = code[sweep_at].source
    assert 'store=STORE + ".blocks"' in sweep, "notebook 01's sweep cell no longer writes a store"
    setup = [c.source for c in code[:sweep_at]]
    setup.insert(setup.index(next(s for s in setup if "import basinlab" in s)) + 1, SHRINK)
    for source in setup:
        ok(run(kc, source), f"cell before the sweep:\n{source}")
    store = tmp_path / "results" / "01_most_case_smoke.blocks"

    msg_id = kc.execute(sweep)
    deadline = time.monotonic() + TIMEOUT_S
    while not list(store.glob("block-*.npz")):
        assert time.monotonic() < deadline, f"no block in {store} after {TIMEOUT_S} s"
        time.sleep(0.05)
    km.interrupt_kernel()  # SIGINT: the stop button
    content = reply(kc, msg_id)
    assert content["status"] == "error" and content["ename"] == "KeyboardInterrupt", content
    assert lock_is_free(store), "the interrupted sweep still holds the store's lock"
    kept = blocks(store)
    total = 1 + 3  # base + one block per direction
    assert "base.npz" in kept and 2 <= len(kept) < total, sorted(kept)
    assert not list(store.glob(".*.tmp-*")), "the interrupt left a temporary file"

    # Right after an error ipykernel answers the requests already on its way with "aborted" (they
    # never ran); a user clicking run a moment later is not affected, so such a reply is retried.
    for _ in range(20):
        content = run(kc, sweep)
        if content["status"] != "aborted":
            break
        time.sleep(0.25)
    ok(content, "the sweep cell run again")
    after = blocks(store)
    assert len(after) == total, sorted(after)
    assert {name: after[name] for name in kept} == kept, "blocks stored before the interrupt were recomputed"

    # The last direction's block was computed after the resume: the same numbers as a fresh sweep
    # of that direction alone (a fresh sweep of all three would double the test's time).
    ok(run(kc, "from basinlab.directions._recipes import DirectionRecipe\n"
               "fresh = landscape(model, benchmarks, directions=[DirectionRecipe(seed=N_DIRECTIONS - 1)],"
               " alphas=alphas, chunk_size=CHUNK, progress=False)\n"
               "assert ds.sizes['direction'] == N_DIRECTIONS, ds.sizes\n"
               "for v in ('score', 'nll'):\n"
               "    np.testing.assert_array_equal(ds[v].isel(direction=-1), fresh[v].isel(direction=0), err_msg=v)\n"
               "    np.testing.assert_array_equal(ds['base_' + v], fresh['base_' + v], err_msg=v)\n"
               "assert not np.isnan(ds['score']).any()"),
       "the resumed Dataset against a fresh sweep's")


def test_live_explorer_after_a_kernel_restart_reads_its_points_from_the_store(kernel, tmp_path):
    """Notebook 01's last cell (the live explorer) evaluates its first point into its store; after the
    kernel's restart the same cells evaluate nothing: the explorer starts with the stored point, and
    the slider released at that sigma is a revisit."""
    km, kc = kernel
    nb = with_smoke(nbformat.read(NOTEBOOK, as_version=4))
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    sweep_at = next(i for i, c in enumerate(nb.cells) if c.get("id") == SWEEP_CELL)
    setup = [c.source for c in nb.cells[:sweep_at] if c.cell_type == "code"]
    # One capability, and no question (its answers are the browser test's): the store is what is tested.
    setup.insert(setup.index(next(s for s in setup if "import basinlab" in s)) + 1, SHRINK + '\nQUESTION = ""')
    live_cell = next(s for s in code if "bl.LiveExplorer(" in s)
    counts = "print(live.evaluations, live.store_reads, live.cache_hits, live.sigmas == [LIVE_SIGMA])"

    def session() -> list[str]:
        for source in [*setup, live_cell]:
            ok(run(kc, source), f"notebook 01 cell:\n{source}")
        msg_id = kc.execute(counts)
        printed = []
        while True:
            msg = kc.get_iopub_msg(timeout=TIMEOUT_S)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            if msg["parent_header"].get("msg_id") == msg_id and msg["content"].get("execution_state") == "idle":
                return "".join(printed).split()

    first = session()
    assert first[0] != "0" and first[1:] == ["0", "0", "True"], first  # evaluated: theta0 and 2 directions
    km.restart_kernel(now=True)
    kc.wait_for_ready(timeout=120)
    assert session() == ["0", "1", "1", "True"]  # restarted: read back from the store, then a revisit
    ok(run(kc, "live.slider.value = LIVE_SIGMA * 1.0000001  # a release: the worker thread takes it\n"
               "assert live.wait(60) and live.evaluations == 0 and live.cache_hits == 2, live.status.value"),
       "the slider released at the stored sigma")

"""The notebooks as a user sees them: JupyterLab in a real (headless) Chromium, driven by playwright.

A JupyterLab server is started on a free localhost port (token set, no browser of its own) over a
temporary folder holding SMOKE copies of the notebooks (``SMOKE = True`` injected after the
"parameters" cell, as in tests/test_notebooks.py). Each notebook is opened, Run All is clicked in the
Run menu, and once every code cell has an execution count the test checks, in the rendered page:

- no error output (the saved notebook's outputs) and no "Error displaying widget";
- every plotly figure is drawn with a non-zero size, its panel titles and axis titles do not overlap,
  and the explorer figure fills its output's width; a PNG screenshot of each is saved under the test's
  tmp folder and its path printed;
- the explorer's alpha slider, moved with the keyboard, moves the red marker and rewrites the table;
  for notebook 02 the run selector switches to another run's explorer;
- notebook 01's live explorer: its sigma slider released at a value never evaluated adds a point and
  changes the perturbed model's answer; released back at an evaluated value it evaluates nothing
  (the counters the widget shows).

Uses Debian's `chromium` (``.ci/run`` installs it with apt); playwright's own browsers are never
downloaded. Run it alone with ``pytest -q tests/test_browser.py -s`` (``-s`` shows the progress lines).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from test_notebooks import with_smoke

from basinlab.data._paths import data_root

pytestmark = pytest.mark.slow

REPO = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("BASINLAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
# Per notebook. SMOKE runs take well under a minute on a quiet machine; the margin is for a loaded one.
RUN_TIMEOUT_S = int(os.environ.get("BASINLAB_BROWSER_TIMEOUT", 480))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def playwright_api():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; .ci/run installs it as root)")
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install '.[test]'")


@pytest.fixture(scope="module")
def lab(tmp_path_factory, playwright_api):
    """(base URL, token, notebook folder) of a JupyterLab server over SMOKE copies of the notebooks."""
    root = tmp_path_factory.mktemp("lab")
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        nbformat.write(with_smoke(nbformat.read(path, as_version=4)), root / path.name)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               JUPYTER_RUNTIME_DIR=str(root / ".runtime"))
    log = open(root / "jupyterlab.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.user_settings_dir={root / '.settings'}", f"--LabApp.workspaces_dir={root / '.workspaces'}",
         "--LabApp.news_url=", "--ServerApp.terminals_enabled=False", *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log_text = (root / "jupyterlab.log").read_text()[-3000:]
                    raise AssertionError(f"JupyterLab did not start: {log_text}") from None
                time.sleep(0.5)
        yield url, token, root
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(playwright_api):
    with playwright_api.sync_playwright() as p:
        # Running as root (CI) needs --no-sandbox; the page is a local JupyterLab only.
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def playwright_errors():
    import playwright.sync_api

    return playwright.sync_api


def _say(capsys, text: str) -> None:
    with capsys.disabled():
        print(f"\n[browser] {text}", flush=True)


ALL_RAN = """() => {
  const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(e => e.textContent.trim());
  return prompts.length > 0 && prompts.every(t => /^\\[\\d+\\]:$/.test(t));
}"""

# Boxes of the text of every annotation (panel titles, shared axis titles, labels) of one figure.
ANNOTATION_BOXES = """gd => [...gd.querySelectorAll('g.annotation-text-g text')].filter(t => t.textContent.trim())
  .map(t => { const r = t.getBoundingClientRect();
              return {text: t.textContent, x0: r.left, x1: r.right, y0: r.top, y1: r.bottom}; })"""


def _run_all(page, url, token, name, tmp_path, capsys):
    # A workspace per notebook: the page shows this notebook alone, whatever an earlier page left open.
    page.goto(f"{url}/lab/workspaces/{pathlib.Path(name).stem}/tree/{name}?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
    # JupyterLab 4 asks which kernel to start (its default); a user clicks "Select" on the preferred one.
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    with contextlib.suppress(playwright_errors().TimeoutError):
        dialog.wait_for(timeout=10_000)
    if dialog.count():
        dialog.locator("button", has_text="Select").click()
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=180_000)
    news = page.locator(".jp-Notification-Toast", has_text="Jupyter news").locator("button", has_text="No")
    if news.count():  # the first-start question would cover part of the screenshots
        news.first.click()
    t0 = time.monotonic()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    try:
        page.wait_for_function(ALL_RAN, timeout=RUN_TIMEOUT_S * 1000, polling=500)
    except Exception:
        shot = tmp_path / f"{pathlib.Path(name).stem}-timeout.png"
        page.screenshot(path=str(shot), full_page=True)
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        raise AssertionError(f"{name}: Run All did not finish in {RUN_TIMEOUT_S} s; prompts {prompts}; "
                             f"page at {shot}") from None
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=60_000)
    _say(capsys, f"{name}: Run All finished in {time.monotonic() - t0:.0f} s")
    page.keyboard.press("Control+s")  # the saved outputs are read back below
    time.sleep(1.0)


def _shutdown_kernels(url, token):
    """Stop every kernel of the server (the previous notebook's would compete for the CPU)."""
    auth = {"Authorization": f"token {token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{url}/api/sessions", headers=auth)) as r:
        sessions = json.load(r)
    for session in sessions:
        req = urllib.request.Request(f"{url}/api/sessions/{session['id']}", method="DELETE", headers=auth)
        with contextlib.suppress(OSError), urllib.request.urlopen(req):
            pass


def _check_no_errors(page, url, token, name):
    text = page.locator(".jp-Notebook").inner_text()
    assert "Error displaying widget" not in text
    with urllib.request.urlopen(f"{url}/api/contents/{name}?token={token}&content=1") as r:
        nb = json.load(r)["content"]
    errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{name}: error outputs {[(e['ename'], e['evalue']) for e in errors]}"
    assert all(c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"), f"{name}: a cell did not run"


def _overlaps(boxes) -> list:
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if min(a["x1"], b["x1"]) - max(a["x0"], b["x0"]) > 1 and min(a["y1"], b["y1"]) - max(a["y0"], b["y0"]) > 1:
                out.append((a["text"], b["text"]))
    return out


def _check_figures(page, name, tmp_path, capsys) -> int:
    # JupyterLab's first-start question ("get notified about Jupyter news?") would cover the figures.
    page.add_style_tag(content=".Toastify, .jp-Notification-Toast { display: none !important; }")
    figures = page.locator(FIGURES)
    n = figures.count()
    assert n > 0, f"{name}: no plotly figure was rendered"
    for i in range(n):
        fig = figures.nth(i)
        fig.scroll_into_view_if_needed()
        fig.locator(".main-svg").first.wait_for(timeout=30_000)
        box = fig.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, f"{name} figure {i}: drawn at {box}"
        overlapping = _overlaps(fig.evaluate(ANNOTATION_BOXES))
        assert not overlapping, f"{name} figure {i}: titles overlap: {overlapping}"
        shot = tmp_path / f"{pathlib.Path(name).stem}-figure-{i}.png"
        fig.screenshot(path=str(shot))
        assert shot.stat().st_size > 5_000
        _say(capsys, f"screenshot {shot} ({box['width']:.0f} x {box['height']:.0f} px)")
    return n


# A figure returned by a cell is itself the output element; one inside a widget sits deeper.
FIGURES = ".jp-OutputArea-output.js-plotly-plot, .jp-OutputArea-output .js-plotly-plot"
MARKER_X = """gd => (gd.layout.shapes || []).filter(s => s.name === 'alpha-marker').map(s => s.x0)"""


def _explorer(page, index=0):
    """The index-th explorer (a widget box holding a figure and a slider): figure, slider handle, table."""
    box = page.locator(".jp-OutputArea-output .widget-vbox:has(.js-plotly-plot):has(.widget-slider)").nth(index)
    return (box.locator(".js-plotly-plot").first, box.locator(".widget-slider .noUi-handle").first,
            box.locator(".widget-html-content").last)


def _move_slider_by_keyboard(page, name):
    fig, handle, table = _explorer(page)
    fig.scroll_into_view_if_needed()
    # The figure fills the explorer's output (the cell's first output, which holds the widget).
    out_width = fig.evaluate("gd => gd.closest('.jp-CodeCell').querySelector("
                             "'.jp-OutputArea-child > .jp-OutputArea-output').getBoundingClientRect().width")
    assert fig.bounding_box()["width"] >= 0.9 * out_width, f"{name}: explorer figure narrower than its output"
    before_x, before_table = fig.evaluate(MARKER_X), table.inner_text()
    assert before_x, f"{name}: the explorer figure has no alpha marker"
    handle.focus()
    after_x = before_x
    for _ in range(3):  # on a log axis alpha = 0 is drawn at the smallest alpha > 0: one step may not move it
        text = table.inner_text()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("([el, t]) => el.innerText !== t", arg=[table.element_handle(), text], timeout=20_000)
        deadline = time.monotonic() + 5  # the figure is redrawn after the table
        while after_x == before_x and time.monotonic() < deadline:
            time.sleep(0.25)
            after_x = fig.evaluate(MARKER_X)
        if after_x != before_x:
            break
    assert after_x != before_x and len(set(after_x)) == 1 and after_x[0] > before_x[0], (before_x, after_x)
    assert "alpha = " in table.inner_text() and table.inner_text() != before_table
    return before_x[0], after_x[0]


def _counts(live) -> dict[str, int]:
    el = live.locator(".live-counts").first
    return {k: int(el.get_attribute(f"data-{k}") or -1) for k in ("evaluations", "cache-hits", "generations")}


def _release_live_slider(page, live, key, before):
    """Press `key` on the live explorer's slider (a release at the slider's end) and wait until the
    explorer is idle with counters other than `before`; returns (counters, status text, answer)."""
    live.locator(".widget-slider .noUi-handle:visible").first.focus()
    page.keyboard.press(key)
    page.wait_for_function(
        """([box, before]) => { const c = box.querySelector('.live-counts'), s = box.querySelector('.live-status');
           return c && s && s.dataset.state === 'idle' && (c.dataset.evaluations !== before.evaluations
                  || c.dataset.cacheHits !== before.hits); }""",
        arg=[live.element_handle(), {"evaluations": str(before["evaluations"]), "hits": str(before["cache-hits"])}],
        timeout=120_000)
    return _counts(live), live.locator(".live-status").inner_text(), live.locator(".answer-moved").inner_text()


def _drive_live_explorer(page, name, tmp_path, capsys):
    """Notebook 01's last cell: release the slider at a sigma never evaluated (a new point, a new
    answer), at another, then back at the first (the cached point: no evaluation)."""
    live = page.locator(".jp-OutputArea-output .widget-vbox:has(.live-status)").first  # the outermost: the explorer
    live.scroll_into_view_if_needed()
    start = _counts(live)
    answer0 = live.locator(".answer-moved").inner_text()
    assert start["evaluations"] >= 3 and start["generations"] == 2, f"{name}: {start}"
    assert answer0.strip() and live.locator(".answer-base").inner_text().strip(), f"{name}: no answers"
    points0 = live.locator(".live-status").inner_text()
    far, status, answer = _release_live_slider(page, live, "End", start)  # the range's end: far outside
    assert far["evaluations"] > start["evaluations"] and "2 point(s)" in status and "0.05" in status, (far, status)
    # The perturbed answer is regenerated after the point is shown: one more answer than at the start.
    page.wait_for_function("([box, g]) => Number(box.querySelector('.live-counts').dataset.generations) > g",
                           arg=[live.element_handle(), start["generations"]], timeout=60_000)
    answer = live.locator(".answer-moved").inner_text()
    assert answer != answer0, f"{name}: the perturbed answer did not change at the range's end: {answer!r}"
    near, status, _ = _release_live_slider(page, live, "Home", _counts(live))
    assert near["evaluations"] > far["evaluations"] and "3 point(s)" in status, (near, status)
    back, status, _ = _release_live_slider(page, live, "End", _counts(live))
    assert back["evaluations"] == near["evaluations"] and back["cache-hits"] == near["cache-hits"] + 1, (near, back)
    shot = tmp_path / "01_most_case-live-explorer.png"
    live.screenshot(path=str(shot))
    _say(capsys, f"01 live explorer: {points0[:60]!r}... -> new points at the range's ends, answer {answer0[:40]!r} "
                 f"-> {answer[:40]!r}; back at the end: cached ({back}); screenshot {shot}")


def test_notebook_01_in_chromium(lab, browser, tmp_path, capsys):
    url, token, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    with contextlib.closing(page):
        _run_all(page, url, token, "01_most_case.ipynb", tmp_path, capsys)
        _check_no_errors(page, url, token, "01_most_case.ipynb")
        n = _check_figures(page, "01_most_case.ipynb", tmp_path, capsys)
        assert n >= 2  # plots.curves and the SigmaExplorer
        a0, a1 = _move_slider_by_keyboard(page, "01_most_case.ipynb")
        _say(capsys, f"01: the slider moved alpha {a0:g} -> {a1:g}; marker and table followed")
        _drive_live_explorer(page, "01_most_case.ipynb", tmp_path, capsys)
    _shutdown_kernels(url, token)


def test_notebook_02_run_selector_in_chromium(lab, browser, tmp_path, capsys):
    if data_root() is None:
        pytest.skip("notebook 02 needs AdvBench: set BASINLAB_DATA to the shared data folder")
    url, token, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    with contextlib.closing(page):
        _run_all(page, url, token, "02_worst_case.ipynb", tmp_path, capsys)
        _check_no_errors(page, url, token, "02_worst_case.ipynb")
        _check_figures(page, "02_worst_case.ipynb", tmp_path, capsys)
        _move_slider_by_keyboard(page, "02_worst_case.ipynb")
        # The run selector swaps in another run's explorer, whose figure renders too.
        select = page.locator(".jp-OutputArea-output .widget-dropdown select").first
        options = select.locator("option").all_inner_texts()
        assert len(options) >= 2, options
        title_before = page.locator(".widget-vbox .js-plotly-plot .gtitle").last.text_content()  # SVG text
        select.select_option(label=options[-1])
        page.wait_for_function(
            "t => [...document.querySelectorAll('.widget-vbox .js-plotly-plot .gtitle')]"
            ".some(e => e.textContent !== t && e.getBoundingClientRect().width > 0)", arg=title_before, timeout=20_000)
        (tmp_path / "after-select").mkdir()
        _check_figures(page, "02_worst_case.ipynb", tmp_path / "after-select", capsys)
    _shutdown_kernels(url, token)

"""The live explorer: drag sigma anywhere and watch the model change, computed on demand.

``LiveExplorer(model, benchmarks, directions=2, store=..., tol=...)`` is a JupyterLab widget around
the landscape engine. Releasing its sigma slider (log or linear scale, no grid) or typing a sigma
evaluates every benchmark at theta0 + sigma * delta along each of the N Gaussian directions; the
point joins the curves (per direction, mean, band), Definition 4.1's basin size sigma* and its
interval are read off every point so far, and the point's per-item scores are one click away. A
prompt box asks the models: theta0's answer and the perturbed one side by side, following sigma.

- Every point runs through the engine's own steps (``plan_sweep``, ``run_blocks``, ``assemble``): the
  compiled program is reused (a new sigma is a traced value) and theta0 is evaluated once.
- Points are kept in memory and, with ``store``, in one resumable block store per sigma
  (``<store>/sigma=<value>``): a restarted kernel's explorer starts with every stored point, read
  back. sigma is rounded to 3 significant digits (the slider's readout), so revisits find them.
- Work runs on a worker thread; a new request supersedes a waiting one (the running point finishes
  and is kept: no computed result is thrown away); errors show in the widget, which stays usable.

Counters (also in the page): ``evaluations`` (compiled blocks: one per direction and point, and
theta0's once), ``store_reads``, ``cache_hits``, ``generations``. Every interaction is a method
too: ``evaluate(sigma)``, ``request(sigma)`` + ``wait()``, ``ask(prompt)``.
"""

from __future__ import annotations

import functools
import math
import pathlib
import re
import threading
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import xarray as xr

from basinlab import _live_html as html_view
from basinlab import _validate as validate
from basinlab.directions._point import perturbed
from basinlab.directions._recipes import DirectionRecipe
from basinlab.landscape._basecache import BaseScores
from basinlab.landscape._engine import BlockRunner, assemble, plan_sweep, run_blocks
from basinlab.landscape._options import SweepOptions, as_options
from basinlab.landscape._results import from_block_scores
from basinlab.landscape._store import BlockStore
from basinlab.models._model import Model
from basinlab.scoring._base import Benchmark
from basinlab.viz._widgets import SigmaExplorer

__all__ = ["SCALES", "LiveExplorer"]

SCALES = ("log", "linear")
DIGITS = 3  # sigma's significant digits: the slider's readout, and a store folder per value
_FOLDER = re.compile(r"^sigma=([0-9.eE+-]+)$")


class LiveExplorer(widgets.VBox):
    """Scores, basin size and the model's own answers at any sigma, evaluated when asked (module docstring).

    model: a basinlab Model. benchmarks: a Benchmark or a list. directions: a count N (Gaussian
    recipes of seeds 0..N-1 under `options`' normalization and filters, as ``landscape`` makes
    them) or a list of DirectionRecipe. sigma_range: (low, high) > 0, the slider's span. scale:
    "log" or "linear" (switchable in the widget). sigma: a first point evaluated at construction
    (None: none). tol: the basin size's tol (score units; None: no basin size). antithetic: evaluate
    -sigma and +sigma (the basin-size search's pairs; twice the work). store: a folder (None: memory
    only). prompt: the question asked of the models (editable in the widget; "" asks nothing).
    max_new_tokens: the answers' length. options: a SweepOptions (its store and progress are set here).
    background: run the slider's work on a worker thread (False: in the callback, e.g. scripts).
    """

    model: Model
    benchmarks: tuple[Benchmark, ...]
    options: SweepOptions
    recipes: tuple[DirectionRecipe, ...]
    tol: float | None
    antithetic: bool
    store: pathlib.Path | None
    max_new_tokens: int
    background: bool
    sigma_range: tuple[float, float]
    evaluations: int
    store_reads: int
    cache_hits: int
    generations: int
    slider: widgets.FloatLogSlider | widgets.FloatSlider
    scale: widgets.ToggleButtons
    sigma_box: widgets.Text
    status: widgets.HTML
    view: widgets.VBox
    direction: widgets.Dropdown
    prompt: widgets.Textarea
    ask_button: widgets.Button
    answers: widgets.HTML
    items: widgets.HTML
    items_button: widgets.ToggleButton
    children: Sequence[widgets.Widget]

    def __init__(self, model: Model, benchmarks: Benchmark | Sequence[Benchmark], directions: int | Sequence[
                 DirectionRecipe] = 2, *, sigma_range: tuple[float, float] = (1e-4, 0.05), scale: str = "log",
                 sigma: float | None = None, tol: float | None = None, antithetic: bool = False,
                 store: str | pathlib.Path | None = None, prompt: str = "", max_new_tokens: int = 32,
                 options: SweepOptions | None = None, background: bool = True) -> None:
        super().__init__()
        self.model = model
        self.benchmarks = (benchmarks,) if isinstance(benchmarks, Benchmark) else tuple(benchmarks)
        if not self.benchmarks or not all(isinstance(b, Benchmark) for b in self.benchmarks):
            raise TypeError(f"benchmarks must be a Benchmark or a non-empty list of them, got {benchmarks!r}")
        self.options = as_options(options, "LiveExplorer").reserve("LiveExplorer", ("store", "progress"))
        self.recipes = self._recipes(directions)
        lo, hi = (validate.finite(f"sigma_range[{i}]", x) for i, x in enumerate(sigma_range))
        if not 0 < lo < hi:
            raise ValueError(f"sigma_range must be (low, high) with 0 < low < high, got {tuple(sigma_range)!r}")
        validate.choice("scale", scale, SCALES)
        self.tol = None if tol is None else validate.nonnegative_scalar("tol", tol)
        self.antithetic = bool(antithetic)
        self.store = None if store is None else pathlib.Path(store)
        self.max_new_tokens = validate.positive_int("max_new_tokens", max_new_tokens)
        self.background = bool(background)
        self.sigma_range = (lo, hi)
        self.evaluations = self.store_reads = self.cache_hits = self.generations = 0
        self._points: dict[float, xr.Dataset] = {}
        self._zero: xr.Dataset | None = None  # theta0 as every direction's alpha = 0 point
        self._base = BaseScores()
        self._sigma: float | None = None
        self._answers: dict[tuple[str, int, float], str] = {}  # (prompt, direction or -1 for theta0, sigma)
        self._view: SigmaExplorer | None = None
        self._view_sigmas: list[float] = []  # the points the view was built over
        self._said = ""  # the last prompt asked: answers follow sigma once a question was asked
        self._syncing = False  # a slider moved from code must not request its value again
        self._status = ("", "idle")  # (text, "idle" | "busy" | "error") of the status line
        self._lock = threading.RLock()  # one engine call or generation at a time
        self._wake = threading.Condition()
        self._pending: float | None = None
        self._busy = False
        self._worker: threading.Thread | None = None

        self.slider = self._make_slider(scale, lo, hi)
        self.scale = widgets.ToggleButtons(options=list(SCALES), value=scale, description="scale",
                                           style={"button_width": "5em"})
        self.scale.observe(lambda change: self._rescale(change["new"]), names="value")
        self.sigma_box = widgets.Text(value="", placeholder="type a sigma, Enter", description="σ =",
                                      continuous_update=False, layout=widgets.Layout(width="16em"))
        self.sigma_box.observe(lambda change: self._typed(change["new"]), names="value")
        self.status = widgets.HTML()
        self.view = widgets.VBox()
        self.direction = widgets.Dropdown(options=[(f"direction {i} (seed {r.seed})", i) for i, r in
                                                   enumerate(self.recipes)], value=0, description="answers of")
        self.prompt = widgets.Textarea(value=prompt, placeholder="ask the perturbed model", rows=2,
                                       layout=widgets.Layout(width="min(100%, 42em)"))
        self.ask_button = widgets.Button(description="Ask", button_style="primary")
        self.ask_button.on_click(lambda _: self._submit(lambda: self.ask()))
        self.direction.observe(lambda _: self._direction_changed(), names="value")
        self.answers = widgets.HTML()
        self.items = widgets.HTML()
        self.items_button = widgets.ToggleButton(value=False, description="per-item scores",
                                                 tooltip="every item's score at this point, next to theta0's")
        self.items_button.observe(lambda _: self._render_items(), names="value")
        self._controls = widgets.HBox([self.slider, self.scale, self.sigma_box])
        self.children = [self._controls, self.status, self.view,
                         self.items_button, self.items,
                         widgets.HBox([self.prompt, self.ask_button, self.direction]), self.answers]
        self._say(f"move the slider (σ from {lo:g} to {hi:g}) or type a σ: each new value evaluates "
                  f"{len(self.benchmarks)} benchmark(s) along {len(self.recipes)} direction(s)")
        self._restore()
        if sigma is not None:
            self.evaluate(sigma)
            if prompt.strip():
                self.ask()

    # ------------------------------------------------------------------ public API

    @property
    def sigma(self) -> float | None:
        """The point shown (None before the first)."""
        return self._sigma

    @property
    def sigmas(self) -> list[float]:
        """Every sigma evaluated so far, ascending."""
        return sorted(self._points)

    @property
    def size(self) -> xr.Dataset | None:
        """Definition 4.1's basin size over every point so far (``ds.basin.size(tol)``): None without
        tol, before a point, or with one direction (no interval)."""
        return None if self._view is None else self._view.size

    @property
    def dataset(self) -> xr.Dataset | None:
        """The landscape Dataset of every point so far (alpha ascending), or None before the first."""
        with self._lock:
            if not self._points:
                return None
            # theta0 is the alpha = 0 point of every direction: the curves start there, and a basin's
            # edge is read walking out from it.
            assert self._zero is not None  # made with the first point
            parts = [self._zero] + [self._points[s] for s in sorted(self._points)]
            return xr.concat(parts, dim="alpha", data_vars="minimal", coords="minimal", compat="override",
                             join="override", combine_attrs="override").sortby("alpha")

    def evaluate(self, sigma: float) -> xr.Dataset:
        """Show sigma's point, evaluating it first if it is neither in memory nor in the store, and
        return its Dataset (alphas sigma, or -sigma and sigma). ValueError names a bad sigma."""
        sigma = self._check_sigma(sigma)
        with self._lock:
            if sigma in self._points:
                self.cache_hits += 1
            else:
                self._say(f"evaluating σ = {sigma:.{DIGITS}g} …", busy=True)
                self._points[sigma] = self._run(sigma)
            self._show(sigma)
            return self._points[sigma]

    def request(self, sigma: float) -> None:
        """Evaluate sigma on the worker thread (``background=False``: now); a request still waiting is
        replaced by this one. Bad input shows in the widget."""
        try:
            sigma = self._check_sigma(sigma)
        except ValueError as e:
            self._say(str(e), error=True)
            return
        if not self.background:
            self._guarded(lambda: self._evaluate_and_answer(sigma))
            return
        with self._wake:
            self._pending = sigma
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="LiveExplorer", daemon=True)
                self._worker.start()
            self._wake.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker has nothing pending or running; False on timeout."""
        with self._wake:
            return self._wake.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def ask(self, prompt: str | None = None) -> tuple[str, str | None]:
        """(theta0's answer, the answer at the current sigma along the selected direction) to `prompt`
        (default: the prompt box), chat-templated and greedy; the second is None before any point.
        ValueError names a prompt that is empty or too long for the model's context."""
        if prompt is not None:
            self.prompt.value = prompt
        text = self.prompt.value.strip()
        if not text:
            raise ValueError("the prompt is empty: type a question for the models")
        n = len(self.model.prompt_ids([text], True)[0])
        limit = self.model.spec.max_seq_len
        if n + self.max_new_tokens > limit:
            raise ValueError(f"the prompt is {n} tokens; with {self.max_new_tokens} new tokens that is over the "
                             f"model's context of {limit} tokens: shorten it")
        self._said = text
        i = int(self.direction.value or 0)
        with self._lock:
            base = self._answer(text, -1, 0.0)
            moved = None if self._sigma is None else self._answer(text, i, self._sigma)
        self._show_answers(text, base, moved, i)
        self._render_status()  # the generation counter
        return base, moved

    # ------------------------------------------------------------------ the engine

    def _recipes(self, directions: Any) -> tuple[DirectionRecipe, ...]:
        if isinstance(directions, (int, np.integer)) and not isinstance(directions, bool):
            return tuple(self.options.recipe(i) for i in range(validate.positive_int("directions", directions)))
        if isinstance(directions, Sequence) and directions and all(isinstance(r, DirectionRecipe) for r in directions):
            return tuple(directions)
        raise ValueError(f"directions must be a count or a list of DirectionRecipe (the explorer regenerates them "
                         f"for the answers), got {directions!r}")

    def _run(self, sigma: float) -> xr.Dataset:
        """One point through the engine's steps; the store (if any) is read back before anything runs."""
        alphas = [-sigma, sigma] if self.antithetic else [sigma]
        folder = None if self.store is None else self.store / f"sigma={sigma:.{DIGITS - 1}e}"
        plan = plan_sweep(self.model, self.benchmarks, list(self.recipes), alphas, None,
                          self.options.replace(store=folder, progress=False))
        runner, ran = BlockRunner(plan, self.model), [0]

        def counted(block):
            ran[0] += 1
            return runner(block)

        with BlockStore(folder, plan.sweep) as st:
            blocks, base = run_blocks(plan, counted, st, base_cache=self._base)
        self.evaluations += ran[0]
        self.store_reads += int(ran[0] == 0 and folder is not None)
        if self._zero is None:
            self._zero = from_block_scores(
                sweep=plan.sweep, benchmarks=list(plan.benchmarks), model=self.model, alphas=np.zeros(1), betas=None,
                n_directions=len(self.recipes), blocks={(d, 0): base for d in range(len(self.recipes))}, base=base,
                described=[list(e) for e in plan.described])
        return assemble(plan, self.model, blocks, base)

    def _restore(self) -> None:
        """The points a store already holds (another session's), read back without evaluating; a
        folder of another model, benchmark set or direction set is left alone and counted."""
        if self.store is None or not self.store.is_dir():
            return
        found = sorted(float(m.group(1)) for p in self.store.iterdir() if (m := _FOLDER.match(p.name)))
        skipped = 0
        for sigma in found:
            try:
                with self._lock:  # a folder a killed kernel left incomplete is completed here
                    self._points[sigma] = self._run(sigma)
            except ValueError:  # another sweep's blocks (resume refuses them by name)
                skipped += 1
        if self._points:
            self._show(self.sigmas[0])
        if found:
            self._say(f"read {len(found) - skipped} point(s) back from {self.store}"
                      + (f"; {skipped} folder(s) there hold another model's or benchmarks' points" if skipped else ""))

    # ------------------------------------------------------------------ the view

    def _show(self, sigma: float) -> None:
        """Rebuild the curves and table over every point (after a new point) or move their marker."""
        if self._view is None or self._view_sigmas != self.sigmas:  # a new point: the curves are redrawn
            ds = self.dataset
            assert ds is not None
            view = SigmaExplorer(ds, tol=self.tol or None, log_x=self.scale.value == "log")
            view.slider.layout.display = "none"  # sigma is this explorer's own slider
            self._view, self._view_sigmas = view, self.sigmas
            self.view.children = [view]
        self._view.set_alpha(sigma)
        self._sigma = sigma
        if abs(self.slider.value - sigma) > 1e-12 * sigma:
            self._syncing = True
            try:
                self.slider.value = sigma
            finally:
                self._syncing = False
        note = "" if self.size is None else "; the table's basin size σ* (Definition 4.1) is read off all of them"
        self._say(f"σ = {sigma:.{DIGITS}g}: {len(self._points)} point(s) so far{note}")
        self._render_items()

    def _render_items(self) -> None:
        """Every item's score at the current point and direction, next to theta0's (when shown)."""
        if not self.items_button.value or self._sigma is None or "item_score" not in self._points[self._sigma]:
            self.items.value = ""
            return
        ds, i = self._points[self._sigma], int(self.direction.value or 0)
        here = ds["item_score"].sel(alpha=self._sigma).isel(direction=i)
        assert self._zero is not None  # made with the first point
        base = self._zero["item_score"].isel(direction=0, alpha=0)  # theta0's item scores
        self.items.value = html_view.items(ds, base, here, f"σ = {self._sigma:.{DIGITS}g}, direction {i}")

    def _show_answers(self, prompt: str, base: str, moved: str | None, direction: int) -> None:
        where = "—" if self._sigma is None else f"θ0 + {self._sigma:.{DIGITS}g} δ{direction}"
        self.answers.value = html_view.answers(prompt, base, moved, where)

    def _answer(self, prompt: str, direction: int, sigma: float) -> str:
        key = (prompt, direction, sigma)
        if key not in self._answers:
            theta0 = self.model.params
            params = theta0 if direction < 0 else perturbed(theta0, self.recipes[direction], sigma)
            self._answers[key] = self.model.generate_text([prompt], self.max_new_tokens, chat=True, params=params)[0]
            self.generations += 1
        return self._answers[key]

    def _direction_changed(self) -> None:
        self._render_items()
        if self._said:  # answers follow the direction once a question was asked
            self._submit(lambda: self.ask())

    def _say(self, text: str, *, error: bool = False, busy: bool = False) -> None:
        self._status = (text, "error" if error else ("busy" if busy else "idle"))
        self._render_status()

    def _render_status(self) -> None:
        """The status line and the counters (in the page too: the browser test reads them)."""
        text, kind = self._status
        counts = {"evaluations": self.evaluations, "cache-hits": self.cache_hits, "store-reads": self.store_reads,
                  "generations": self.generations}
        self.status.value = html_view.status(text, kind, counts)

    # ------------------------------------------------------------------ widget callbacks and the worker

    def _make_slider(self, scale: str, lo: float, hi: float) -> widgets.FloatLogSlider | widgets.FloatSlider:
        start = self._sigma if self._sigma is not None else math.sqrt(lo * hi) if scale == "log" else (lo + hi) / 2
        if scale == "log":
            slider: Any = widgets.FloatLogSlider(value=start, base=10, min=math.log10(lo), max=math.log10(hi),
                                                 step=0.01, readout_format=".3g")
        else:
            slider = widgets.FloatSlider(value=start, min=lo, max=hi, step=(hi - lo) / 1000, readout_format=".3g")
        slider.description, slider.continuous_update = "σ", False  # evaluate on release, not while dragging
        slider.layout = widgets.Layout(width="min(100%, 36em)")
        slider.observe(lambda change: None if self._syncing else self.request(change["new"]), names="value")
        return slider

    def _rescale(self, scale: str) -> None:
        self.slider = self._make_slider(scale, *self.sigma_range)
        self._controls.children = [self.slider, self.scale, self.sigma_box]
        if self._points and self._sigma is not None:
            self._view = None  # redrawn on the new axis
            self._show(self._sigma)

    def _typed(self, text: str) -> None:
        try:
            value = float(text) if text.strip() else None
        except ValueError:
            self._say(f"σ must be a number, got {text.strip()!r}", error=True)
            return
        if value is not None:
            self.request(value)
            self.sigma_box.value = ""  # the status line says which sigma; the same value can be typed again

    def _check_sigma(self, sigma: Any) -> float:
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.integer, np.floating)):
            raise ValueError(f"sigma must be a number > 0, got {sigma!r}")
        if not math.isfinite(float(sigma)) or float(sigma) <= 0:
            raise ValueError(f"sigma must be finite and > 0 (the noise scale), got {float(sigma)!r}")
        return float(f"{float(sigma):.{DIGITS - 1}e}")  # the key of a point in memory and in the store

    def _evaluate_and_answer(self, sigma: float) -> None:
        self.evaluate(sigma)
        if self._said:
            self.ask()

    def _guarded(self, work) -> None:
        """Run `work`, showing any error in the widget instead of a dead cell or thread."""
        try:
            work()
        except Exception as e:  # noqa: BLE001 - every failure is shown; the explorer stays usable
            self._say(f"{type(e).__name__}: {e}", error=True)

    def _submit(self, work) -> None:
        if self.background:
            threading.Thread(target=self._guarded, args=(work,), daemon=True).start()
        else:
            self._guarded(work)

    def _work(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._pending is not None)
                sigma, self._pending, self._busy = float(self._pending or 0), None, True
            try:
                self._guarded(functools.partial(self._evaluate_and_answer, sigma))
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()

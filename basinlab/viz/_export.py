"""Save any basinlab figure to a file: interactive HTML, or PNG/SVG/PDF for a paper.

- :func:`save_figure` -- ``save_figure(fig, "fig.pdf")``: the format from the suffix (or ``format=``),
  written atomically (a temporary file in the same folder, then ``os.replace``), so a reader never sees
  half a figure and an interrupted export leaves the old file in place.
- :func:`batch`       -- ``with batch(): ...``: one Chromium for all the static exports inside (each
  export alone starts and stops one, about 3 s on a 2-core machine).
- :data:`FORMATS` -- html, png, svg, pdf, json.

Static formats are drawn by kaleido (the ``notebook`` extra), which drives a headless Chromium. When no
``BROWSER_PATH`` is set, the system's ``chromium`` (Debian's package; ``.ci/run`` installs it) is used,
so nothing downloads a browser. A figure laid out by ``basinlab.viz._panels`` (no fixed width) is drawn
``width`` px wide (default 1200) at ``scale`` (default 2: print resolution for PNG).

The atomic write is basinlab._atomicio's.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import plotly.graph_objects as go
from plotly.basedatatypes import BaseFigure

from basinlab import _atomicio as atomicio
from basinlab import _validate as validate

__all__ = ["FORMATS", "STATIC_FORMATS", "batch", "browser_path", "format_of", "save_figure"]

STATIC_FORMATS = ("png", "svg", "pdf")
FORMATS = ("html", *STATIC_FORMATS, "json")
DEFAULT_WIDTH = 1200


def browser_path() -> str | None:
    """The Chromium kaleido will use: $BROWSER_PATH, else `chromium` (or `chromium-browser`) on PATH."""
    return os.environ.get("BROWSER_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


def format_of(path: os.PathLike[str] | str, format: str | None = None) -> str:
    """The figure format for `path`: `format` if given, else its suffix (.htm -> html); checked."""
    path = pathlib.Path(path)
    if format is None:
        suffix = path.suffix.lower().lstrip(".")
        if not suffix:
            raise ValueError(f"cannot tell the format of {str(path)!r} (no suffix); give format=, one of {FORMATS}")
        format = "html" if suffix == "htm" else suffix
    return validate.choice("figure format", str(format).lower(), FORMATS)


def _kaleido():
    """kaleido, with BROWSER_PATH pointing at the system Chromium; clear errors when either is missing."""
    try:
        import kaleido
    except ImportError as e:
        raise ImportError("static figure export needs kaleido: pip install 'basinlab[notebook]'") from e
    browser = browser_path()
    if browser is None:
        raise FileNotFoundError("static figure export needs a Chromium for kaleido: install Debian's `chromium` "
                                "(apt-get install chromium) or set BROWSER_PATH to a Chrome/Chromium binary")
    os.environ.setdefault("BROWSER_PATH", browser)  # kaleido (choreographer) reads it
    return kaleido


@contextmanager
def batch() -> Iterator[None]:
    """Keep one kaleido Chromium running for the static exports inside the block."""
    kaleido = _kaleido()
    kaleido.start_sync_server(silence_warnings=True)
    try:
        yield
    finally:
        kaleido.stop_sync_server(silence_warnings=True)


def _render(fig: go.Figure, fmt: str, width: int | None, height: int | None, scale: float, cdn: bool) -> bytes:
    if fmt == "html":
        return fig.to_html(include_plotlyjs="cdn" if cdn else True, full_html=True).encode("utf-8")
    if fmt == "json":
        text = fig.to_json()
        assert text is not None  # None only when plotly writes to a file
        return text.encode("utf-8")
    _kaleido()
    w = width or fig.layout.width or DEFAULT_WIDTH
    with warnings.catch_warnings():  # plotly passes kaleido options that a running batch() server ignores
        warnings.filterwarnings("ignore", message="The kopts argument is ignored")
        return fig.to_image(format=fmt, width=int(w), height=height or fig.layout.height, scale=scale)


def save_figure(fig: go.Figure, path: os.PathLike[str] | str, format: str | None = None, *, width: int | None = None,
                height: int | None = None, scale: float = 2.0, cdn: bool = False) -> pathlib.Path:
    """Write `fig` (a plotly Figure or FigureWidget) to `path` as html | png | svg | pdf | json (default:
    from the suffix). width/height in px for the static formats (default: the figure's height and
    1200 px wide); scale multiplies the pixels of a PNG. cdn: HTML loads plotly.js from a CDN instead
    of embedding it. Creates the folder; returns the path written."""
    path = pathlib.Path(path)
    fmt = format_of(path, format)
    if width is not None:
        width = validate.positive_int("width", width)
    if height is not None:
        height = validate.positive_int("height", height)
    scale = float(validate.positive("scale", scale))
    if not isinstance(fig, BaseFigure):
        raise TypeError(f"save_figure needs a plotly Figure or FigureWidget, got {type(fig).__name__}")
    data = _render(fig, fmt, width, height, scale, cdn)  # before touching the file system
    path.parent.mkdir(parents=True, exist_ok=True)
    atomicio.write_bytes(path, data)
    return path

"""viz.export: figures saved atomically as HTML/JSON (fast) and PNG/SVG/PDF through kaleido and the
system Chromium (slow: one Chromium start), and `basinlab plot --format`."""

import os
import struct

import plotly.graph_objects as go
import pytest

from basinlab.cli import main
from basinlab.landscape._results import save
from basinlab.viz import _export as export
from basinlab.viz import _plots as plots


def small_figure():
    return go.Figure(go.Scatter(x=[0, 1, 2], y=[1, 0, 1], name="a"), layout=dict(height=300))


def test_html_and_json_are_written_atomically(tmp_path):
    out = export.save_figure(small_figure(), tmp_path / "sub" / "fig.html")
    assert out == tmp_path / "sub" / "fig.html" and "plotly" in out.read_text()[:200_000].lower()
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # not mkstemp's 0600
    js = export.save_figure(small_figure(), tmp_path / "fig.data", format="json")
    assert js.read_text().startswith("{")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.data", "sub"]  # no temporary file left


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "fig.html"
    path.write_text("old figure")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(export.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        export.save_figure(small_figure(), path)
    assert path.read_text() == "old figure"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.html"]


def test_bad_arguments_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match=r"unknown figure format 'jpg'; valid choices: 'html', 'png', 'svg', 'pdf'"):
        export.save_figure(small_figure(), tmp_path / "fig.jpg")
    with pytest.raises(ValueError, match="no suffix"):
        export.save_figure(small_figure(), tmp_path / "fig")
    with pytest.raises(ValueError, match="width"):
        export.save_figure(small_figure(), tmp_path / "fig.png", width=0)
    with pytest.raises(TypeError, match="plotly Figure or FigureWidget, got dict"):
        export.save_figure({"data": []}, tmp_path / "fig.html")
    assert list(tmp_path.iterdir()) == []


def test_missing_chromium_is_a_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("kaleido")
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(export.shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="apt-get install chromium"):
        export.save_figure(small_figure(), tmp_path / "fig.png")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow
def test_static_formats_and_the_plot_command(ds1, tmp_path, capsys):
    if export.browser_path() is None:
        pytest.skip("no chromium for kaleido (apt-get install chromium)")
    pytest.importorskip("kaleido")
    fig = plots.curves(ds1, tol=0.05)
    with export.batch():  # one Chromium for the three files
        png = export.save_figure(fig, tmp_path / "curves.png", width=1000, scale=1)
        svg = export.save_figure(fig, tmp_path / "curves.svg")
        pdf = export.save_figure(fig, tmp_path / "curves.pdf")
    assert png_size(png.read_bytes()) == (1000, fig.layout.height)
    assert "<svg" in svg.read_text()[:500] and "1200" in svg.read_text()[:500]  # the default width
    assert pdf.read_bytes()[:5] == b"%PDF-"
    save(ds1, tmp_path / "l.nc")
    assert main(["plot", str(tmp_path / "l.nc"), "--out", str(tmp_path / "f.pdf"), "--format", "pdf"]) == 0
    assert (tmp_path / "f.pdf").read_bytes()[:5] == b"%PDF-"
    assert "wrote" in capsys.readouterr().out


def test_plot_command_rejects_an_unknown_suffix(ds1, tmp_path, capsys):
    save(ds1, tmp_path / "l.nc")
    assert main(["plot", str(tmp_path / "l.nc"), "--out", str(tmp_path / "f.jpg")]) == 2
    assert "unknown figure format 'jpg'; valid choices: 'html', 'png', 'svg', 'pdf'" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "l.nc"), "--out", str(tmp_path / "f.htm")]) == 0
    assert main(["plot", str(tmp_path / "l.nc"), "--out", str(tmp_path / "noext")]) == 0  # HTML, as before
    assert "plotly" in (tmp_path / "noext").read_text()[:200_000].lower()

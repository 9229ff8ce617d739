"""Every notebook runs top to bottom in SMOKE mode (a tiny grid), as a user's kernel would run it."""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

from basinlab.data._paths import data_root

NOTEBOOKS = sorted((pathlib.Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
# These read AdvBench/GSM8K/tiny-shakespeare from $BASINLAB_DATA (01 skips a missing corpus itself).
NEEDS_DATA = {"02_worst_case", "03_sft_case", "05_go_optimizer", "06_pretraining_checkpoints"}
IN_BROWSER = {"01_most_case", "02_worst_case"}  # tests/test_browser.py runs these (Run All in chromium)


def browser_available() -> bool:
    """Whether tests/test_browser.py can run (Debian's chromium and playwright present)."""
    import importlib.util
    import os
    import shutil

    chromium = os.environ.get("BASINLAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return chromium is not None and importlib.util.find_spec("playwright") is not None


def with_smoke(nb):
    """Insert `SMOKE = True` right after the cell tagged "parameters" (papermill's convention)."""
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            nb.cells.insert(i + 1, nbformat.v4.new_code_cell("SMOKE = True"))
            return nb
    raise AssertionError("notebook has no cell tagged 'parameters'")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_mode(path, tmp_path):
    if path.stem in NEEDS_DATA and data_root() is None:
        pytest.skip(f"{path.name} needs the benchmark data: set BASINLAB_DATA to the shared data folder")
    if path.stem in IN_BROWSER and browser_available():
        pytest.skip(f"{path.name} runs in SMOKE mode in a real JupyterLab in tests/test_browser.py, with the "
                    f"same no-error check and the rendered widgets; running it here too would cost CI minutes")
    nb = with_smoke(nbformat.read(path, as_version=4))
    # execute() raises CellExecutionError at the first cell that fails (allow_errors is False), so a
    # notebook passes only if every cell ran; listing "error" outputs afterwards could never fail.
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has outputs"

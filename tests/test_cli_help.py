"""`basinlab --help` and every subcommand's `--help`: usage text and exit status 0, no model needed."""

import pathlib

import pytest

from basinlab.cli import main, parser


def _subcommands() -> list[str]:
    actions = [a for a in parser()._actions if a.dest == "command"]
    return sorted(actions[0].choices)


@pytest.mark.parametrize("argv", [["--help"]] + [[name, "--help"] for name in _subcommands()],
                         ids=lambda argv: " ".join(argv))
def test_every_help_exits_zero_with_usage(argv, capsys):
    """argparse formats help strings with %: a bare '%' in one used to crash `basinlab --help`."""
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: basinlab") and len(out.splitlines()) > 3, out


def test_console_script_help_runs_in_a_fresh_process():
    """The installed `basinlab` entry point, as a user types it."""
    import shutil
    import subprocess
    import sys

    exe = shutil.which("basinlab") or str(pathlib.Path(sys.executable).with_name("basinlab"))
    run = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "usage: basinlab" in run.stdout and "Traceback" not in run.stderr

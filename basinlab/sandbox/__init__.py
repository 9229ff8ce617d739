"""Running model-written code (HumanEval) in a child process under OS isolation: bubblewrap where
installed, else util-linux `unshare`, else an in-process guard with a warning. No JAX here.

    basinlab.sandbox.run_code("print(1)", timeout=5.0).stdout
"""

from basinlab.sandbox._isolation import MODES
from basinlab.sandbox._runner import ExecResult, check_program, judge_code, run_code

__all__ = ["MODES", "ExecResult", "check_program", "judge_code", "run_code"]

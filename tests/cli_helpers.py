"""Helpers shared by the tests that drive the ``mixbench`` command."""

from __future__ import annotations

import contextlib
import io

from mixbench import cli


def mixbench(*argv: str) -> tuple[int, str, str]:
    """Run ``mixbench`` in this process; returns (exit code, stdout, stderr). A run writes no report unless
    the test asks for one with ``--report``."""
    if argv and argv[0] == "run" and "--report" not in argv:
        argv = (*argv, "--no-report")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()

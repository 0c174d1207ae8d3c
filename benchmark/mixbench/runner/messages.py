"""How the runner's messages name paths and errors: one line of an error, a path as the user typed it, and
the error for a run directory that cannot be written."""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
from pathlib import Path

from mixbench.results import RunDirectoryError

REPORT_HINT = "mixbench report"


def display(path: str | os.PathLike) -> str:
    """``path`` relative to the CWD when inside it, shell-quoted."""
    path = Path(path)
    with contextlib.suppress(ValueError):
        path = path.relative_to(Path.cwd())
    return shlex.quote(str(path))


def first_line(text: str, limit: int = 300) -> str:
    """The first line of ``text``, cut to ``limit`` characters."""
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= limit else line[: limit - 3] + "..."


def duration(seconds: float) -> str:
    """``12.3 s``, ``4 min 05 s`` or ``1 h 02 min 03 s``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


def unwritable(path: Path, exc: OSError, out: Path) -> RunDirectoryError:
    """The error for a file of run directory ``out`` that cannot be written, with the fix for the cause."""
    where = exc.filename or path
    if exc.errno == errno.ENOSPC:
        fix = f"free space on that disk, then resume with `mixbench run --resume {display(out)}`"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = (
            f"make {display(out)} writable (chmod u+w), or copy it somewhere writable and resume it there; "
            "`mixbench report` reads a run without writing to it"
        )
    else:
        fix = f"fix that, then resume with `mixbench run --resume {display(out)}`"
    return RunDirectoryError(f"{where}: cannot be written ({exc.strerror or exc}); {fix}", path=where)

"""Where renderers write: output folders and files checked before anything is drawn.

A report's analysis takes seconds to minutes; a folder that turns out to be a file, or a disk that cannot
be written, must be said before that work, in one line that names the path and the fix, not as a
traceback after it. :func:`check_output_dir` and :func:`check_output_file` do that; :class:`OutputError`
is what they (and the renderers, for a write that fails half-way) raise.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["OutputError", "check_output_dir", "check_output_file", "unwritable"]


class OutputError(ValueError):
    """An output path that cannot be written. The message names the path and the fix.

    Parameters
    ----------
    message : str
        The whole message, already naming the path and what to do.
    path : str or PathLike
        The offending path.
    """

    def __init__(self, message: str, *, path: str | os.PathLike):
        super().__init__(message)
        self.path = str(path)


def unwritable(path: str | os.PathLike, exc: OSError, fix: str) -> OutputError:
    """The :class:`OutputError` for an ``OSError`` raised while creating or writing ``path``."""
    path = Path(path)
    if exc.errno == errno.ENOSPC:
        fix = f"free space on that disk, or {fix}"
    return OutputError(f"{path}: cannot be written ({exc.strerror or exc}); {fix}", path=path)


def _probe(folder: Path, fix: str) -> None:
    """Create and remove a file in ``folder``: the only sure test of writability (root ignores modes,
    a read-only mount or a full disk shows only on writing)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise unwritable(folder, exc, fix) from None


def _make_folder(folder: Path, fix: str) -> None:
    for parent in (folder, *folder.parents):  # the first part of the path that exists must be a folder
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{parent}: is a file, not a folder; {fix}", path=parent)
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unwritable(folder, exc, fix) from None
    _probe(folder, fix)


def check_output_dir(
    out_dir: str | os.PathLike,
    files: Sequence[str] = (),
    folders: Sequence[str] = (),
    fix: str = "give --out a folder that can be written (it is created if needed)",
) -> Path:
    """Create the output folder ``out_dir`` and check that ``files`` and ``folders`` can be written in it.

    Parameters
    ----------
    out_dir : path
        The folder (created with its parents if needed).
    files : names of the files to be written in it (each must not be a folder there)
    folders : names of sub-folders to be written in it (each created; must not be a file there)
    fix : what the user can do, ending every message

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    OutputError
        ``out_dir`` (or a part of its path) is a file, it cannot be created or written, a file to be
        written is a folder, or a sub-folder is a file.
    """
    out = Path(out_dir)
    _make_folder(out, fix)
    for name in files:
        if (out / name).is_dir():
            raise OutputError(f"{out / name}: is a folder where a file is to be written; remove it, or {fix}",
                              path=out / name)  # fmt: skip
    for name in folders:
        if (out / name).exists() and not (out / name).is_dir():
            raise OutputError(f"{out / name}: is a file where a folder is to be written; remove it, or {fix}",
                              path=out / name)  # fmt: skip
        _make_folder(out / name, fix)
    return out


def check_output_file(
    path: str | os.PathLike, suffixes: Sequence[str], option: str = "--out", example: str = "figure.png"
) -> Path:
    """Check that ``path`` is a file name with one of ``suffixes`` whose folder can be written.

    Parameters
    ----------
    path : path
        The file to be written (its folder is created if needed; an existing file is replaced).
    suffixes : accepted extensions with their dot, lower case (``(".png", ".pdf")``); upper case accepted
    option : the command-line option that named ``path``, for the messages
    example : a good value of ``option``, for the messages

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputError
        A missing or unsupported extension, a folder, or a folder that cannot be created or written.
    """
    path = Path(path)
    accepted = ", ".join(suffixes[:-1]) + f" or {suffixes[-1]}" if len(suffixes) > 1 else suffixes[0]
    fix = f"give {option} a file ending in {accepted} (e.g. {option} {example})"
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; {fix[:-1]}, or {option} {path / example})", path=path)
    if path.suffix.lower() not in suffixes:
        what = f"extension {path.suffix!r} is not supported" if path.suffix else "no extension"
        raise OutputError(f"{path}: {what}; {fix}", path=path)
    _make_folder(path.parent, f"give {option} a file in a folder that can be written")
    return path

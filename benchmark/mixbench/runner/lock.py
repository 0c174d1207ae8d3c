"""The run lock: ``<run>/.lock``, held by the one process that writes a run directory, so a second run
into the same directory is refused.

A :class:`filelock.FileLock` (flock on POSIX, LockFileEx on Windows): the operating system drops it when the
process dies, even by SIGKILL, so a killed run leaves no held lock. Who holds it (``pid N on HOST``) is
written beside it, in ``.lock.holder``, for the message that refuses a second run; both files are removed
at the end.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterator

from filelock import FileLock, Timeout

from mixbench.results import LOCK_FILE, ResultStore
from mixbench.results.files import LOCK_HOLDER_FILE
from mixbench.runner.config import ConfigError
from mixbench.runner.messages import display, unwritable


@contextlib.contextmanager
def run_lock(store: ResultStore) -> Iterator[None]:
    """Hold the run's lock for the run, so a second run into the same directory is refused.

    Creates the run directory (removed again at the end if nothing was written into it, e.g. when the dask
    scheduler was unreachable).

    Raises
    ------
    ConfigError
        Another process holds the lock.
    RunDirectoryError
        The directory or the lock file cannot be written.
    """
    created = not store.path.exists()
    try:
        store.path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unwritable(store.path, exc, store.path) from None
    try:
        with _held(store):
            yield
    finally:
        if created and not any(store.path.iterdir()):
            store.path.rmdir()


@contextlib.contextmanager
def _held(store: ResultStore) -> Iterator[None]:
    path, holder = store.path / LOCK_FILE, store.path / LOCK_HOLDER_FILE
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:  # before OSError: Timeout is a TimeoutError
        raise ConfigError(
            f"{display(store.path)} is being written by another mixbench run ({_holder(holder)}); wait for "
            "it to end, or run into another --out directory"
        ) from None
    except OSError as exc:
        raise unwritable(path, exc, store.path) from None
    try:
        try:
            holder.write_text(f"pid {os.getpid()} on {platform.node()}\n", encoding="utf-8")
        except OSError as exc:  # e.g. a full disk
            raise unwritable(holder, exc, store.path) from None
        try:
            yield
        finally:
            holder.unlink(missing_ok=True)
            if os.name != "nt":  # removed while held (no other process can take it in between); on Windows
                path.unlink(missing_ok=True)  # an open file cannot be removed: the release removes it
    finally:
        lock.release()


def _holder(path) -> str:
    """Who holds the lock, as its holder wrote it ("another process" when it cannot be read)."""
    try:
        return path.read_text(encoding="utf-8").strip() or "another process"
    except OSError:
        return "another process"

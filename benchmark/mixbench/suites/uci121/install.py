"""Installing the UCI-121 data: import from a folder or ``data_py.zip`` and download (fetch), every file
checked against the registry while it is copied and written atomically."""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import io
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pandas as pd

from mixbench.data import DataDirectoryError, DatasetError
from mixbench.suites.uci121.catalog import (
    dataset_files,
    expected_sha256,
    registry,
    registry_row,
    resolve_data_dir,
)
from mixbench.suites.uci121.verify import verify_dataset

__all__ = ["DEFAULT_URL", "fetch_data", "import_data"]

#: Where the SNN authors (Klambauer et al. 2017) publish the ``data_py`` archive of UCI-121.
DEFAULT_URL = "http://www.bioinf.jku.at/people/klambauer/data_py.zip"


def _unwritable(path: Path, exc: OSError) -> DataDirectoryError:
    where = Path(exc.filename) if exc.filename else path
    if where.name.startswith("."):  # a temporary file: name the file it was to become
        where = path
    if exc.errno == errno.ENOSPC:
        fix = (
            "free space on that disk (the UCI-121 data takes about 110 MB) and run the same command again; "
            "the files already installed are kept"
        )
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "make it writable, or give another --data-dir"
    elif exc.errno in (errno.ENOTDIR, errno.EEXIST):
        fix = "--data-dir must be a folder (it is created if needed); give another --data-dir"
    else:
        fix = "check that folder, or give another --data-dir"
    return DataDirectoryError(f"{where}: cannot be written ({exc.strerror or exc}); {fix}.", path=where)


def _check_writable_dir(target: Path) -> None:
    """Refuse a data directory that is a file, and create it (a clear error when that fails)."""
    if target.exists() and not target.is_dir():
        raise DataDirectoryError(
            f"{target}: is a file, not a folder; give --data-dir a folder (it is created if needed).",
            path=target,
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(target, exc) from None


# --- import and fetch -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Member:
    """One dataset file found in an import source."""

    dataset: str
    file: str
    where: str  # the folder (or zip prefix) holding the dataset folder, to detect duplicates
    open: Callable[[], io.BufferedIOBase]


def _zip_members(archive: zipfile.ZipFile, names: set[str]) -> tuple[list[_Member], int]:
    members, ignored = [], 0
    for info in archive.infolist():
        if info.is_dir():
            continue
        parts = PurePosixPath(info.filename).parts
        dataset = parts[-2] if len(parts) >= 2 else ""
        if parts[0] == "__MACOSX" or dataset not in names or parts[-1] not in dataset_files(dataset).values():
            ignored += 1  # e.g. the original archive's stray top-level abalone_py.dat
            continue
        opener = functools.partial(archive.open, info)
        members.append(_Member(dataset, parts[-1], "/".join(parts[:-2]) or "/", opener))
    return members, ignored


def _folder_members(source: Path, names: set[str]) -> tuple[list[_Member], int]:
    # PATH is one dataset folder, a folder of dataset folders, or a folder holding one (data_py/).
    if source.name in names:
        folders = [source]
    else:
        roots = [source] + sorted(p for p in source.iterdir() if p.is_dir() and p.name not in names)
        folders = [root / name for root in roots for name in sorted(names) if (root / name).is_dir()]
    members = []
    for folder in folders:
        for file in dataset_files(folder.name).values():
            path = folder / file
            if path.is_file():
                members.append(
                    _Member(folder.name, file, str(folder.parent), functools.partial(path.open, "rb"))
                )
    return members, 0


def _install(member: _Member, destination: Path, expected: str | None) -> bool:
    """Copy a member to ``destination`` atomically if its sha256 is ``expected`` (or unknown).

    A write that fails (full disk, read-only folder) raises :class:`DataDirectoryError`; the previous file,
    if any, stays.
    """
    digest = hashlib.sha256()
    # Not mkstemp: its 0600 mode would make the installed data unreadable to other users.
    temporary = destination.parent / f".{destination.name}.{os.getpid()}.part"
    try:
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            out = temporary.open("wb")
        except OSError as exc:
            raise _unwritable(destination, exc) from None
        with out, member.open() as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise _unwritable(destination, exc) from None
            try:
                out.flush()
            except OSError as exc:
                raise _unwritable(destination, exc) from None
        if expected is not None and digest.hexdigest() != expected:
            return False
        try:
            os.replace(temporary, destination)
        except OSError as exc:
            raise _unwritable(destination, exc) from None
        return True
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def import_data(
    path: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Copy UCI-121 datasets from a folder or ``data_py.zip`` into the data directory, verifying them.

    Every file is hashed while it is copied. A file whose sha256 differs from the registry is not
    installed (an existing good copy stays) and is reported; a file without a registry checksum
    (miniboone's features) is installed and then parsed. Files other than the datasets' four (such as
    the original archive's stray top-level ``abalone_py.dat``) are ignored.

    Parameters
    ----------
    path : str or PathLike
        A zip archive or folder holding ``<name>/`` dataset folders (directly or inside one top-level
        folder such as ``data_py/``), or a single ``<name>/`` folder.
    data_dir : str or PathLike, optional
        Destination; see :func:`resolve_data_dir`. Created if needed.
    progress : bool, default True
        Show a tqdm progress bar on stderr.

    Returns
    -------
    DataFrame of shape (n_found, 6)
        One row per dataset found in ``path``, sorted by name: ``name, status, detail, complete`` (its
        state in the data directory after the import, see :class:`DatasetStatus`), ``installed`` (number
        of files written) and ``rejected`` (files not written because their checksum differs).

    Raises
    ------
    DatasetError
        ``path`` does not exist, is not a zip or folder, holds no dataset, holds a dataset twice, or is
        the data directory itself.
    """
    from tqdm import tqdm

    source = Path(path).expanduser()
    target = resolve_data_dir(data_dir)
    if not source.exists():
        raise DatasetError(
            f"{source}: no such file or folder; give a folder of dataset folders or data_py.zip.", path=source
        )
    if source.is_dir() and target.is_dir() and source.resolve() == target.resolve():
        raise DatasetError(
            f"{source}: this is the data directory itself; import from another folder or a zip "
            "(`mixbench data verify` checks it in place).",
            path=source,
        )
    _check_writable_dir(target)
    names = set(registry()["name"])
    with contextlib.ExitStack() as stack:
        if source.is_dir():
            members, ignored = _folder_members(source, names)
        else:
            try:
                archive = stack.enter_context(zipfile.ZipFile(source))
            except (zipfile.BadZipFile, OSError) as exc:
                raise DatasetError(
                    f"{source}: not a readable zip archive ({exc}); "
                    "give data_py.zip or a folder of datasets.",
                    path=source,
                ) from exc
            members, ignored = _zip_members(archive, names)
        if not members:
            raise DatasetError(
                f"{source}: no UCI-121 dataset in it (expected <name>/<name>_py.dat, <name>/labels_py.dat, "
                f"... for registry names such as abalone/; {ignored} other file(s) ignored); give the folder "
                "or zip that holds the dataset folders.",
                path=source,
            )
        places: dict[str, set[str]] = {}
        for member in members:
            places.setdefault(member.dataset, set()).add(member.where)
        for dataset, where in places.items():
            if len(where) > 1:
                raise DatasetError(
                    f"{source}: dataset {dataset!r} occurs in {len(where)} places "
                    f"({', '.join(sorted(where))}); "
                    "give the folder that holds the copy to import as PATH.",
                    path=source,
                )
        installed: dict[str, int] = {}
        rejected: dict[str, list[str]] = {}
        for member in tqdm(members, desc="import", unit="file", disable=not progress):
            row = registry_row(member.dataset)
            kind = next(k for k, f in dataset_files(member.dataset).items() if f == member.file)
            if _install(member, target / member.dataset / member.file, expected_sha256(row, kind)):
                installed[member.dataset] = installed.get(member.dataset, 0) + 1
            else:
                rejected.setdefault(member.dataset, []).append(member.file)
    records = []
    for dataset in sorted(places):
        status = verify_dataset(dataset, target)
        bad = rejected.get(dataset, [])
        details = [f"not installed, checksum differs from the registry: {', '.join(bad)}"] if bad else []
        records.append(
            {
                "name": dataset,
                "status": status.status,
                "detail": "; ".join(details + ([status.detail] if status.detail else [])),
                "complete": status.complete,
                "installed": installed.get(dataset, 0),
                "rejected": ", ".join(bad),
            }
        )
    return pd.DataFrame.from_records(
        records, columns=["name", "status", "detail", "complete", "installed", "rejected"]
    )


def fetch_data(
    url: str = DEFAULT_URL,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> pd.DataFrame:
    """Download ``data_py.zip`` with a progress bar, then import it (see :func:`import_data`).

    Parameters
    ----------
    url : str, default :data:`DEFAULT_URL`
    data_dir : str or PathLike, optional
        Destination; see :func:`resolve_data_dir`. Created if needed.
    progress : bool, default True
        Show tqdm progress bars on stderr.
    timeout : float, default 60
        Seconds to wait for the server (per read).

    Returns
    -------
    DataFrame
        As :func:`import_data`. The download is deleted after a successful import; when the import
        fails it is kept as ``<data_dir>/data_py.zip`` (named in the error).
    """
    from tqdm import tqdm

    target = resolve_data_dir(data_dir)
    _check_writable_dir(target)
    try:
        handle, temporary = tempfile.mkstemp(dir=target, prefix=".data_py.", suffix=".zip.part")
    except OSError as exc:
        raise _unwritable(target, exc) from None
    download = Path(temporary)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc="data_py.zip",
                disable=not progress,
            )
            with bar:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
        size = download.stat().st_size
    except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors; a bad URL is a ValueError
        download.unlink(missing_ok=True)
        if getattr(exc, "errno", None) in (
            errno.ENOSPC,
            errno.EROFS,
            errno.EACCES,
        ):  # writing, not the network
            raise _unwritable(target / "data_py.zip", exc) from None
        if isinstance(exc, urllib.error.HTTPError):
            reason = f"HTTP {exc.code} {exc.reason}"
        else:
            reason = getattr(exc, "reason", exc)
        raise DatasetError(
            f"{url}: download failed ({reason}); check the URL and the network, or "
            "download data_py.zip some other way and run `mixbench data import data_py.zip`.",
            path=url,
        ) from exc
    if total is not None and size != total:
        download.unlink(missing_ok=True)
        raise DatasetError(
            f"{url}: the download stopped after {size} of {total} bytes; run `mixbench data fetch` again.",
            path=url,
        )
    try:
        table = import_data(download, target, progress=progress)
    except DatasetError as exc:
        kept = target / "data_py.zip"
        download.replace(kept)
        raise DatasetError(f"{exc} (the download is kept as {kept})", path=exc.path, line=exc.line) from exc
    download.unlink()
    return table

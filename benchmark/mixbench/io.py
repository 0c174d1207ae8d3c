"""Files on disk, written once: file digests, atomic writes and JSON conversion.

Every file of a run directory is written atomically (:func:`atomic_path`): to a temporary file in the same
directory (its name starts with :data:`TMP_PREFIX`), flushed to disk, then renamed over the final name with
:func:`os.replace`. A process killed at any moment (even SIGKILL) leaves either the previous complete file or
none, never a partial file under a final name.

This module imports nothing from mixbench, so every stage (data, suites, runner, results, report) can use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pyarrow is imported when a parquet file is written or read (data.py needs none)
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "PARQUET_METADATA_KEY",
    "TMP_PREFIX",
    "atomic_path",
    "jsonable",
    "parquet_metadata",
    "read_parquet_metadata",
    "sha256_file",
    "write_json_atomic",
    "write_parquet_atomic",
]

#: Temporary files of :func:`atomic_path` start with this; readers ignore them.
TMP_PREFIX = "."
#: The key of mixbench's metadata in a parquet file's schema metadata.
PARQUET_METADATA_KEY = b"mixbench"


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def jsonable(obj):
    """``obj`` as JSON reads it back: tuples and sets become lists, mapping keys strings."""
    return json.loads(json.dumps(obj, default=list))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success fsync it and rename it over ``path``.

    On any exception (KeyboardInterrupt included) the temporary file is removed and ``path`` is untouched,
    so a reader never sees a half-written file. The file gets the usual permissions (mkstemp's are
    owner-only).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:  # the data must be on disk before the rename makes it "final"
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def write_parquet_atomic(frame: pd.DataFrame, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write ``frame`` (without its index) to the parquet file ``path`` atomically.

    Parameters
    ----------
    frame : DataFrame
    path : str or PathLike
    metadata : dict, optional
        JSON-serialisable; stored in the file's schema metadata under ``mixbench``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if metadata is not None:
        merged = dict(table.schema.metadata or {})
        merged[PARQUET_METADATA_KEY] = json.dumps(metadata, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(merged)
    with atomic_path(Path(path)) as tmp:
        pq.write_table(table, tmp)


def write_json_atomic(obj, path: str | os.PathLike) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n"
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")


def parquet_metadata(schema: pa.Schema) -> dict:
    """The ``mixbench`` metadata of a schema ({} when there is none or it is not a JSON object)."""
    raw = (schema.metadata or {}).get(PARQUET_METADATA_KEY)
    try:
        meta = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def read_parquet_metadata(path: str | os.PathLike) -> dict:
    """The ``mixbench`` metadata of a parquet file written by :func:`write_parquet_atomic` ({} if none)."""
    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(PARQUET_METADATA_KEY)
    return json.loads(raw) if raw else {}

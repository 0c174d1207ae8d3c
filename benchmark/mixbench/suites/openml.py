"""``openml:ID``: an OpenML benchmark suite (``openml:99``, OpenML-CC18) or tasks (``openml:31,3,6``).

Read through the ``openml`` package (``pip install 'mixbench[openml]'``) from its local cache: the cache
root is ``--data-dir`` if given, else openml's own (``$OPENML_CACHE_DIR`` or ``~/.cache/openml``). One number
is a benchmark suite, several (or ``tasks=ID``) are task ids. Each task's own splits are used: split ``k`` is
repeat ``k // folds``, fold ``k % folds`` of the task's estimation procedure, whose training rows are split
once more, stratified and reproducibly (``validation_fraction`` of them, seed ``split_seed``), into training
and validation rows; the task's test rows are the test rows.

Features are preprocessed as in folder suites (:func:`mixbench.suites.folder.preprocess`): OpenML's
categorical columns one-hot encoded, numeric ones standardised, missing values imputed, fitted on the
training rows only.

A task that is not in the cache is downloaded (openml does that); when that fails (no network), its
tasks fail with a :class:`~mixbench.data.DatasetError` that says how to get it into the cache. The task list
of a benchmark suite is kept in ``<cache>/mixbench/openml-suite-<ID>.json`` once downloaded, since openml
does not cache suites.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from mixbench.data import Dataset, DatasetError
from mixbench.suites import Suite, SuiteError, sha256_file
from mixbench.suites.folder import preprocess

_INSTALL = "the openml package is needed for openml suites: pip install 'mixbench[openml]'"


def _openml(root: Path):
    try:
        import openml
    except ImportError:
        raise DatasetError(f"{_INSTALL}.") from None
    openml.config.set_root_cache_directory(str(root))
    return openml


class OpenMLSuite(Suite):
    """OpenML tasks read from the openml package's cache (see the module docstring)."""

    kind = "openml"
    default_options = {"validation_fraction": 0.25, "split_seed": 0}
    #: Split indices accepted; a task with fewer repeats x folds fails its extra splits with a named error.
    n_splits = 10

    def __init__(self, argument: str = "", data_dir=None, **options):
        text = argument.strip()
        explicit = text.startswith("tasks=")
        ids = text.removeprefix("tasks=").split(",")
        if not text or not all(re.fullmatch(r"\s*\d+\s*", i) for i in ids if i.strip()):
            raise SuiteError(
                f"openml:{argument}: give a benchmark suite id (openml:99) or task ids "
                "(openml:31,3,6, or openml:tasks=31 for one task)"
            )
        ids = [int(i) for i in ids if i.strip()]
        super().__init__(
            ",".join(map(str, ids)) if len(ids) > 1 or explicit else str(ids[0]), data_dir, **options
        )
        if explicit and len(ids) == 1:
            self.argument = f"tasks={ids[0]}"
        self.suite_id = None if explicit or len(ids) > 1 else ids[0]
        self._task_ids = None if self.suite_id is not None else ids
        fraction = self.options["validation_fraction"]
        if not isinstance(fraction, int | float) or not 0 < float(fraction) < 1:
            raise SuiteError(f"validation_fraction: {fraction!r} must be a number in (0, 1)")

    # --- where things are -------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir).expanduser().absolute()
        try:
            import openml
        except ImportError:
            raise DatasetError(f"{_INSTALL}.") from None
        return Path(openml.config._root_cache_directory).expanduser().absolute()

    @property
    def location(self) -> str:
        return str(self.root)

    def _cache(self) -> Path:
        """The server's folder inside the cache root (``org/openml/www`` for openml.org)."""
        openml = _openml(self.root)
        return Path(openml.config.get_cache_directory())

    def task_ids(self) -> list[int]:
        """The tasks of the suite (from the cache, else downloaded and kept)."""
        if self._task_ids is not None:
            return list(self._task_ids)
        kept = self.root / "mixbench" / f"openml-suite-{self.suite_id}.json"
        if kept.is_file():
            try:
                return [int(t) for t in json.loads(kept.read_text(encoding="utf-8"))["tasks"]]
            except (ValueError, KeyError, TypeError) as exc:
                raise DatasetError(
                    f"{kept}: not a task list ({exc}); delete it to download the suite again.", path=kept
                ) from None
        openml = _openml(self.root)
        try:
            tasks = [int(t) for t in openml.study.get_suite(self.suite_id).tasks]
        except Exception as exc:  # network errors come in many types (requests, openml, OSError)
            raise DatasetError(
                f"OpenML suite {self.suite_id}: its task list is not in the cache at {self.root} and could "
                f"not be downloaded ({type(exc).__name__}: {exc}); run once where there is network, or give "
                "the task ids: --suite openml:ID,ID,...",
                path=kept,
            ) from None
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(json.dumps({"suite": self.suite_id, "tasks": tasks}), encoding="utf-8")
        return tasks

    def _task_files(self, tid: int) -> tuple[Path, Path | None]:
        """(task folder, dataset folder or None) in the cache, read from task.xml without openml."""
        task_dir = self._cache() / "tasks" / str(tid)
        xml = task_dir / "task.xml"
        if not xml.is_file():
            return task_dir, None
        found = re.search(r"<oml:data_set_id>\s*(\d+)\s*<", xml.read_text(encoding="utf-8", errors="replace"))
        return task_dir, None if found is None else self._cache() / "datasets" / found.group(1)

    def _names(self) -> dict[str, int]:
        """Dataset name -> task id: the OpenML dataset's name where cached (``task-ID`` where not);
        a name shared by two tasks gets ``-task<ID>`` appended."""
        labels = {}
        for tid in self.task_ids():
            _, dataset_dir = self._task_files(tid)
            description = None if dataset_dir is None else dataset_dir / "description.xml"
            name = f"task-{tid}"
            if description is not None and description.is_file():
                found = re.search(
                    r"<oml:name>\s*([^<]+?)\s*<", description.read_text(encoding="utf-8", errors="replace")
                )
                if found:
                    name = found.group(1)
            labels[tid] = name
        counts = pd.Series(list(labels.values())).value_counts()
        return {(name if counts[name] == 1 else f"{name}-task{tid}"): tid for tid, name in labels.items()}

    def _tid(self, name: str) -> int:
        names = self._names()
        if name not in names:
            raise DatasetError(
                f"{self.spec}: no dataset {name!r}; `mixbench data list --suite {self.spec}` shows them.",
            )
        return names[name]

    # --- the interface ----------------------------------------------------------------------------------
    def datasets(self) -> list[str]:
        return list(self._names())

    def checksums(self, name: str) -> dict[str, str]:
        """sha256 of the task's and the dataset's cached files (openml's own pickles left out)."""
        tid = self._tid(name)
        task_dir, dataset_dir = self._task_files(tid)
        out = {}
        for folder, label in ((task_dir, f"tasks/{tid}"), (dataset_dir, None)):
            if folder is None or not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if (
                    path.is_file()
                    and ".pkl" not in path.name
                    and not path.name.endswith((".feather", ".tmp"))
                ):
                    out[f"{label or f'datasets/{folder.name}'}/{path.name}"] = sha256_file(path)
        return out

    def shape(self, name: str) -> tuple[int, int, int]:
        """From the cached ARFF or Parquet file when there is one (classes guessed as 2), else a guess."""
        try:
            _, dataset_dir = self._task_files(self._tid(name))
            if dataset_dir is not None:
                for path in dataset_dir.glob("*.pq"):
                    import pyarrow.parquet as pq

                    meta = pq.ParquetFile(path).metadata
                    return int(meta.num_rows), max(int(meta.num_columns) - 1, 1), 2
                arff = dataset_dir / "dataset.arff"
                if arff.is_file():
                    text = arff.read_bytes()
                    head, _, body = text.partition(b"@data")
                    n_features = max(head.lower().count(b"@attribute") - 1, 1)
                    return max(body.count(b"\n") - 1, 1), n_features, 2
        except (DatasetError, OSError):
            pass
        return 1000, 10, 2

    def _task(self, name: str):
        tid = self._tid(name)
        openml = _openml(self.root)
        try:
            task = openml.tasks.get_task(
                tid,
                download_splits=True,
                download_data=True,
                download_qualities=False,
                download_features_meta_data=False,
            )
        except Exception as exc:  # network errors come in many types (requests, openml, OSError)
            raise DatasetError(
                f"OpenML task {tid} ({name}): not in the cache at {self.root} and could not be downloaded "
                f"({type(exc).__name__}: {str(exc)[:200]}); download it where there is network "
                f"(python -c 'import openml; openml.tasks.get_task({tid}, download_splits=True, "
                "download_data=True)') and copy that cache here, or point --data-dir at a cache that has it.",
                path=self.root,
            ) from None
        if str(getattr(task.task_type_id, "name", "")) != "SUPERVISED_CLASSIFICATION":
            raise DatasetError(
                f"OpenML task {tid} ({name}) is a {task.task_type} task, not supervised classification; "
                "leave it out (--datasets '!NAME').",
                path=self.root,
            )
        return tid, task

    def _data(self, tid: int, name: str, task):
        """(features, target, categorical mask, column names) of a task's dataset, or a named error."""
        try:
            return task.get_dataset().get_data(target=task.target_name)
        except Exception as exc:  # a corrupt or partial cached file: openml / liac-arff raise many types
            raise DatasetError(
                f"OpenML task {tid} ({name}): its dataset {task.dataset_id} in the cache at {self.root} "
                f"cannot be read ({type(exc).__name__}: {str(exc)[:200]}); delete datasets/{task.dataset_id} "
                "from the cache and download it again.",
                path=self.root,
            ) from None

    def load(self, name: str, split: int = 0) -> Dataset:
        split = self.split_check(split)
        tid, task = self._task(name)
        repeats, folds, _ = task.get_split_dimensions()
        if split >= repeats * folds:
            raise DatasetError(
                f"OpenML task {tid} ({name}) has {repeats} x {folds} splits, so split {split} does not "
                f"exist; use --splits 0..{repeats * folds - 1}.",
                path=self.root,
            )
        repeat, fold = divmod(split, folds)
        train, test = task.get_train_test_split_indices(repeat=repeat, fold=fold, sample=0)
        frame, target, categorical_mask, columns = self._data(tid, name, task)
        classes = list(task.class_labels or pd.unique(target.dropna()))
        codes = pd.Categorical(target.astype(object), categories=classes).codes.astype(np.int64)
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            raise DatasetError(
                f"OpenML task {tid} ({name}), row {row + 1}: no class or a class outside the task's labels "
                f"{classes}; the dataset's target {task.target_name!r} needs a value in every row.",
                path=self.root,
            )
        train = np.sort(np.asarray(train, dtype=np.int64))
        test = np.sort(np.asarray(test, dtype=np.int64))
        rng = np.random.default_rng([int(self.options["split_seed"]), tid, split])
        fraction = float(self.options["validation_fraction"])
        validation = []
        for c in np.unique(codes[train]):
            rows = rng.permutation(train[codes[train] == c])
            take = min(math.floor(fraction * len(rows) + 0.5), len(rows) - 1)
            validation.append(rows[:take])
        validation = np.sort(np.concatenate(validation)).astype(np.int64)
        train = np.setdiff1d(train, validation).astype(np.int64)
        numeric = [c for c, cat in zip(columns, categorical_mask, strict=True) if not cat]
        categorical = [c for c, cat in zip(columns, categorical_mask, strict=True) if cat]
        X = preprocess(frame, numeric, categorical, train, f"OpenML task {tid} ({name})")
        return Dataset(
            name=name,
            X=X,
            y=codes,
            n_classes=len(classes),
            train=train,
            validation=validation,
            test=test,
            split=split,
            source=f"openml:task/{tid}",
            checksums=self.checksums(name),
        )

    def describe(self, name: str) -> dict:
        """Task, dataset, splits and preprocessing (loads the task from the cache, which warms it)."""
        tid, task = self._task(name)
        repeats, folds, _ = task.get_split_dimensions()
        frame, _, categorical_mask, columns = self._data(tid, name, task)
        n_categorical = int(np.sum(categorical_mask))
        missing = int(frame.isna().sum().sum())
        fraction = self.options["validation_fraction"]
        preprocessing = (
            f"OpenML task {tid} (dataset {task.dataset_id}), {len(frame)} rows, target {task.target_name!r}; "
            f"the task's {repeats} x {folds} train/test splits, {fraction:g} of each training part held out "
            f"for validation (stratified, seed {self.options['split_seed']}); "
            f"{len(columns) - n_categorical} numeric column(s) median-imputed and standardised; "
            f"{n_categorical} categorical column(s) mode-imputed and one-hot encoded; "
            f"{missing} missing value(s) (fitted on the training rows of each split)"
        )
        return {
            "task": tid,
            "dataset_id": int(task.dataset_id),
            "target": task.target_name,
            "splits": repeats * folds,
            "preprocessing": preprocessing,
        }

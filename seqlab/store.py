"""The run store: SQLite (runs, epochs, progress, summaries, workers) + one artifact folder per run.

Layout under the store's home (the entry points pass it: `--home`, else
`SEQLAB_HOME`, else `~/.seqlab`; see `default_home`):

    runs.db                 SQLite in WAL mode: readers never block the writer
    artifacts/<run_id>/     model.keras, vocabulary.json, meta.json, error.log,
                            attention_history.npz, tensorboard/ of one run
    cache/<name>/           caches kept with the store (vectorized ids: `cache_dir`)
    logs/                   worker logs (written by `seqlab.jobs`)

The store is the only owner of the artifact folders: it names their files
and hands out their paths (`model_path`, `vocabulary_path`, `error_log_path`,
`tensorboard_path`), reads and writes `meta.json` (`read_meta`, `write_meta`)
and a Transformer run's attention over training (`write_attention_history`,
`read_attention_history`), and says whether a run saved a model
(`has_model`). Nothing else builds an artifact path.

Several Streamlit sessions (threads) and worker processes share one store.
Every call opens its own short-lived connection, so a `RunStore` object holds
no connection and can be shared between threads (Streamlit caches one with
`st.cache_resource`). Every write is one transaction started with
`BEGIN IMMEDIATE` (it takes the write lock up front, so two writers queue on
the busy timeout instead of failing on a lock upgrade); a write that raises
rolls back whole, and a crash loses at most the epoch in progress.

A finished run's curves no longer change, so what they say (best epoch, best
and final validation figures, overfitting onset, timing: the analysis'
`curve_summary_table`) is computed once, in the transaction that finishes the
run, and kept in the `summaries` table; `summaries_frame` hands them out, so
the Compare page reads one row per run instead of every run's epochs. Every
write of runs or epochs also raises the store's `revision`, one number a page
reads to know whether what it derived from the runs still holds. A runs.db
that is not a database (overwritten, truncated) raises `DamagedStoreError`,
whose text names the file and how to recover, instead of SQLite's error.

Nothing here imports TensorFlow or Streamlit.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.metadata
import json
import math
import os
import platform
import re
import secrets
import shutil
import sqlite3
import tempfile
import threading
import zipfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from seqlab import __version__
from seqlab.analysis.tables import CURVE_SUMMARY_COLUMNS, CURVE_SUMMARY_RULES, curve_summary_table
from seqlab.config import RunConfig
from seqlab.workspaces import DEFAULT_WORKSPACE, Actor, PermissionDenied, check_workspace_name

STATUSES = ("queued", "running", "completed", "stopped", "diverged", "failed", "interrupted")
FINISHED_STATUSES = frozenset({"completed", "stopped", "diverged", "failed", "interrupted"})
METRIC_COLUMNS = ("loss", "accuracy", "val_loss", "val_accuracy", "seconds")
# What a run measured besides its epochs (columns of `runs`, fields of `RunRecord`,
# columns of `runs_frame`): test accuracy with the kept weights (the best
# validation epoch's when `train.restore_best`) and with the last epoch's, the
# epoch whose weights were kept, the one-off compile cost apart from the steady
# seconds per epoch, and the validation split's majority-class share (chance).
RESULT_COLUMNS = ("best_epoch", "test_accuracy_last", "compile_seconds", "seconds_per_epoch",
                  "majority_fraction")
RUN_COLUMNS = (
    "run_id", "label", "arch", "status", "group_id", "created_at", "started_at",
    "finished_at", "num_params", "test_loss", "test_accuracy", *RESULT_COLUMNS, "message",
    "dataset", *"workspace shared backend node study_id trial_number".split(),
)
# Where a run trained (`RunRecord.backend`): a worker process of this host, or a Ray task.
BACKENDS = ("local", "ray")
# Columns of the `summaries` table holding whole numbers (the rest are REAL).
SUMMARY_INTEGER_COLUMNS = ("epochs_run", "curve_best_epoch", "overfit_epoch")
# Runs whose missing summaries are computed in one write transaction, so filling in
# a large store's (after an upgrade) never holds the write lock for long.
SUMMARY_BATCH = 1000
BUSY_TIMEOUT_SECONDS = 10.0
DB_FILE = "runs.db"
ARTIFACTS_FOLDER = "artifacts"
CACHE_FOLDER = "cache"
# The files of a run's artifact folder.
MODEL_FILE = "model.keras"
VOCABULARY_FILE = "vocabulary.json"
META_FILE = "meta.json"
ERROR_LOG = "error.log"
# The attention of a Transformer run's probe texts after each epoch (`seqlab.attention.AttentionHistory`).
ATTENTION_HISTORY_FILE = "attention_history.npz"
# A run's TensorBoard event files: train/, validation/ and its settings (`training.TensorBoardWriter`).
TENSORBOARD_FOLDER = "tensorboard"
# Optuna journal files of hyperparameter searches (`RunStore.search_storage_path`).
SEARCH_FOLDER = "searches"
SEARCH_JOURNAL_SUFFIX = ".journal"
_RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class DamagedStoreError(OSError):
    """runs.db cannot be read as a seqlab store; the text names the file and how to recover."""


class RunNotFoundError(KeyError):
    """No run with that id in the store (a KeyError whose text reads cleanly)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such run"


@dataclass(frozen=True)
class RunRecord:
    """One run as stored: its recipe, status, timings, results and live progress.

    `progress` holds {"epoch": 1-based current epoch, "epochs": total, "batch",
    "batches", "phase": "loading data" | "vectorizing" | "building" |
    "compiling" | "training" | "validating" | "testing" | "saving",
    "phase_started_at": when that phase began (time.time())}; `versions` the
    package versions the run was recorded with.

    `test_accuracy` is measured with the weights the run kept (those of
    `best_epoch`, the lowest validation loss, when `train.restore_best`),
    `test_accuracy_last` with the last epoch's. `seconds_per_epoch` is the
    median of the steady epochs (all but the first) and `compile_seconds` the
    first epoch's extra time over it (tracing and XLA-compiling the training
    and evaluation steps); both are None for a run with fewer than two full
    epochs. `majority_fraction` is the validation split's largest class share:
    what always guessing that class scores.

    `workspace` owns the run (`seqlab.workspaces`); `shared` says the
    instructor shared it with the class. `backend` ("local" or "ray") and
    `node` say where it trained. `study_id` and `trial_number` tie a run to
    the hyperparameter search (`seqlab.search`) it is a trial of.
    """

    run_id: str
    status: str
    config: RunConfig
    created_at: float
    started_at: float | None
    finished_at: float | None
    group_id: str | None
    num_params: int | None
    test_loss: float | None
    test_accuracy: float | None
    best_epoch: int | None
    test_accuracy_last: float | None
    compile_seconds: float | None
    seconds_per_epoch: float | None
    majority_fraction: float | None
    message: str
    progress: dict
    versions: dict
    worker_pid: int | None
    heartbeat_at: float | None
    stop_requested: bool
    workspace: str = DEFAULT_WORKSPACE
    shared: bool = False
    backend: str = "local"
    node: str | None = None
    study_id: str | None = None
    trial_number: int | None = None

    @property
    def label(self) -> str:
        return self.config.label()

    @property
    def arch(self) -> str:
        return self.config.model.arch

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


# ------------------------------------------------------------------ schema
def _schema_v1(conn: sqlite3.Connection) -> None:
    conn.execute("""
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            config TEXT NOT NULL,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            group_id TEXT,
            num_params INTEGER,
            test_loss REAL,
            test_accuracy REAL,
            message TEXT NOT NULL DEFAULT '',
            progress TEXT NOT NULL DEFAULT '{}',
            versions TEXT NOT NULL DEFAULT '{}',
            worker_pid INTEGER,
            heartbeat_at REAL,
            stop_requested INTEGER NOT NULL DEFAULT 0
        )""")
    conn.execute("CREATE INDEX runs_by_status ON runs (status, created_at)")
    conn.execute("CREATE INDEX runs_by_group ON runs (group_id)")
    conn.execute("""
        CREATE TABLE epochs (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            loss REAL,
            accuracy REAL,
            val_loss REAL,
            val_accuracy REAL,
            seconds REAL,
            extra TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (run_id, epoch)
        )""")
    conn.execute("""
        CREATE TABLE workers (
            pid INTEGER PRIMARY KEY,
            started_at REAL NOT NULL,
            heartbeat_at REAL NOT NULL
        )""")


def _schema_v2(conn: sqlite3.Connection) -> None:
    """Adds the honest results (`RESULT_COLUMNS`) and says what older runs measured.

    Runs recorded before version 2 kept their last epoch's weights and
    measured test accuracy with them: that figure moves to
    `test_accuracy_last`, `best_epoch` is read from their curves (lowest
    validation loss, earliest on ties), `test_accuracy` stays only where the
    best epoch was the last one, and their config says `train.restore_best`
    false. Their seconds are left to `analysis.tables`, which reads them from
    the epochs.
    """
    for name, kind in (("best_epoch", "INTEGER"), ("test_accuracy_last", "REAL"),
                       ("compile_seconds", "REAL"), ("seconds_per_epoch", "REAL"),
                       ("majority_fraction", "REAL")):
        conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
    conn.execute("UPDATE runs SET test_accuracy_last = test_accuracy")
    conn.execute("""
        UPDATE runs SET best_epoch = (
            SELECT epoch FROM epochs WHERE epochs.run_id = runs.run_id AND val_loss IS NOT NULL
            ORDER BY val_loss, epoch LIMIT 1)""")
    conn.execute("""
        UPDATE runs SET test_accuracy = NULL WHERE best_epoch IS NOT NULL
            AND best_epoch < (SELECT MAX(epoch) FROM epochs WHERE epochs.run_id = runs.run_id)""")
    for run_id, text in conn.execute("SELECT run_id, config FROM runs").fetchall():
        try:
            config = json.loads(text)
            config.setdefault("train", {}).setdefault("restore_best", False)
        except (ValueError, AttributeError):
            continue  # unreadable: `_record` reports it
        conn.execute("UPDATE runs SET config = ? WHERE run_id = ?",
                     (json.dumps(config, sort_keys=True), run_id))


def _schema_v3(conn: sqlite3.Connection) -> None:
    """Adds `summaries` (what each finished run's curves say) and the store's `revision`.

    `summaries` holds `analysis.tables.CURVE_SUMMARY_COLUMNS` as of version 3
    and `rules`, the `CURVE_SUMMARY_RULES` a row was computed with. Runs that
    finished before version 3 get their row the first time
    `RunStore.summaries_frame` reads them, not here: this runs while
    `RunStore()` holds the write lock, and reading a large store's epochs
    would keep its workers waiting.

    `revision` is one number that every write of runs or epochs raises
    (`RunStore.revision`), so a page can keep what it derived from the runs
    until something changed.
    """
    conn.execute("CREATE TABLE revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)")
    # A random start: a store put in another's place (the old file moved aside) never
    # passes through the numbers a page kept for the old one.
    conn.execute("INSERT INTO revision (id, value) VALUES (1, ?)", (secrets.randbits(48),))
    conn.execute("""
        CREATE TABLE summaries (
            run_id TEXT PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
            rules INTEGER NOT NULL,
            epochs_run INTEGER NOT NULL,
            best_val_loss REAL,
            best_val_accuracy REAL,
            final_val_accuracy REAL,
            gap_final REAL,
            curve_best_epoch INTEGER,
            val_accuracy_at_best_epoch REAL,
            overfit_epoch INTEGER,
            curve_compile_seconds REAL,
            curve_seconds_per_epoch REAL
        )""")


def _schema_v4(conn: sqlite3.Connection) -> None:
    """Adds `step_losses`: each run's training loss every few steps (`RunStore.add_step_losses`).

    One row per recorded point: the global step (1-based over the whole run),
    its epoch and step within the epoch, the epoch's steps (so charts can put
    runs of other batch sizes on one fractional-epoch axis) and the loss (NULL
    where it was not finite). Runs recorded before version 4 have no rows;
    their per-epoch curves are unchanged. Deleting a run deletes its rows
    (the foreign key cascades).
    """
    conn.execute("""
        CREATE TABLE step_losses (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            global_step INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            step INTEGER NOT NULL,
            steps_per_epoch INTEGER NOT NULL,
            loss REAL,
            PRIMARY KEY (run_id, global_step)
        ) WITHOUT ROWID""")


def _schema_v5(conn: sqlite3.Connection) -> None:
    """Adds workspaces, where runs trained, and hyperparameter searches.

    Every run recorded before version 5 goes to the "default" workspace, not
    shared, trained "local"ly. `searches` holds one row per Optuna study
    (`seqlab.search`): its workspace and its spec (JSON); a run that is one
    of its trials names it in `study_id`, with Optuna's `trial_number`.
    """
    for name, kind in (("workspace", f"TEXT NOT NULL DEFAULT '{DEFAULT_WORKSPACE}'"),
                       ("shared", "INTEGER NOT NULL DEFAULT 0"),
                       ("backend", "TEXT NOT NULL DEFAULT 'local'"), ("node", "TEXT"),
                       ("study_id", "TEXT"), ("trial_number", "INTEGER")):
        conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
    conn.execute("CREATE INDEX runs_by_workspace ON runs (workspace, status, created_at)")
    conn.execute("CREATE INDEX runs_by_study ON runs (study_id, trial_number)")
    conn.execute("""
        CREATE TABLE searches (
            study_id TEXT PRIMARY KEY,
            workspace TEXT NOT NULL,
            created_at REAL NOT NULL,
            spec TEXT NOT NULL
        )""")


# MIGRATIONS[i] brings a database from schema version i to i + 1. To add a field
# later, append a function (e.g. `ALTER TABLE runs ADD COLUMN ... DEFAULT ...`);
# never edit one that has shipped.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _schema_v1, _schema_v2, _schema_v3, _schema_v4, _schema_v5)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, db_path: Path | str = DB_FILE) -> int:
    """Brings the schema up to `SCHEMA_VERSION`; call inside a write transaction.

    Args:
        conn: an open connection holding the write lock.
        db_path: named in the error message.

    Returns:
        The schema version found before migrating.

    Raises:
        ValueError: when the database was written by a newer seqlab.
    """
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise ValueError(
            f"{db_path}: schema version {found} was written by a newer seqlab; this one "
            f"understands up to {SCHEMA_VERSION}. Upgrade seqlab, or set SEQLAB_HOME to "
            f"another folder."
        )
    for version in range(found, SCHEMA_VERSION):
        MIGRATIONS[version](conn)
        conn.execute(f"PRAGMA user_version = {version + 1}")
    return found


def default_home() -> Path:
    """Returns `$SEQLAB_HOME`, or `~/.seqlab` when it is unset or empty.

    For the entry points only (the command line, `seqlab.ui`): everything
    below them is given the store, or a folder of it, and never reads the
    environment.
    """
    return Path(os.environ.get("SEQLAB_HOME") or "~/.seqlab").expanduser()


def pid_alive(pid: int) -> bool:
    """Returns whether process `pid` exists on this machine and is not a zombie."""
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    try:
        # A killed child its parent has not waited for stays a zombie that
        # os.kill still reaches; /proc tells (field 3, after the command name).
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Returns the versions of python, seqlab and the numeric packages, without importing them."""
    versions = {"python": platform.python_version(), "seqlab": __version__}
    for key, distributions in (
        ("numpy", ("numpy",)),
        ("pandas", ("pandas",)),
        ("tensorflow", ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tf-nightly")),
        ("keras", ("keras",)),
    ):
        for distribution in distributions:
            try:
                versions[key] = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return versions


def _new_id(prefix: str) -> str:
    # UTC so ids sort by creation time across daylight-saving changes.
    return f"{prefix}{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"


def _check_status(status: str, allowed: Iterable[str] = STATUSES) -> None:
    allowed = tuple(allowed)
    if status not in allowed:
        raise ValueError(f"status: received {status!r}, expected one of {', '.join(allowed)}")


def _metric(value: Any, name: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"metric {name}: received {value!r}, expected a number (or None when not measured)"
        ) from None


def _epoch_range_text(first: int | None, last: int | None, count: int) -> str:
    if not count:
        return "no epoch had finished"
    if count == 1:
        return f"epoch {first} kept"
    if last - first + 1 == count:
        return f"epochs {first}-{last} kept"
    return f"{count} epochs kept"


class RunStore:
    """Runs, their per-epoch metrics and artifacts, in SQLite under one folder.

    Safe to share between threads and processes: each call uses its own
    connection. Unknown run ids raise `RunNotFoundError` (a KeyError). The
    object keeps one thing between calls: the configs `runs_frame` parsed
    (a run's config is written once, when the run is recorded), under a lock.

    A store opened with `RunStore(home)` acts for the system (workers, the
    training path, tests): it sees and may change every run. `for_actor`
    returns the same store as one workspace sees it (`seqlab.workspaces`):
    every listing, frame and read keeps to the runs that actor may see, a
    run outside them is reported missing (as if it did not exist), new runs
    belong to the actor's workspace, and stop, delete and share refuse runs
    the actor does not own with `PermissionDenied`.
    """

    def __init__(self, home: str | Path):
        """Opens (creating when needed) the store in `home`.

        Args:
            home: the folder (an entry point's `--home`, or `default_home()`).

        Raises:
            ValueError: when runs.db was written by a newer seqlab.
            DamagedStoreError: when runs.db is not a readable SQLite database
                (overwritten, truncated, corrupted); its text says how to recover.
        """
        self.home = Path(home).expanduser().resolve()
        self.db_path = self.home / DB_FILE
        # `runs_frame`'s parsed configs: (run_id, created_at) -> `_config_entry`, and the
        # config columns of the last listing of every run, keyed by its runs in order.
        self._configs: dict[tuple[str, float], tuple] = {}
        self._config_frames: dict[tuple, pd.DataFrame] = {}
        self._config_lock = threading.Lock()
        self.actor: Actor | None = None  # None: the system (sees and may change every run)
        (self.home / ARTIFACTS_FOLDER).mkdir(parents=True, exist_ok=True)
        with self._read() as conn:
            # Persistent in the file; a no-op when it is already WAL.
            conn.execute("PRAGMA journal_mode = WAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            with self._write() as conn:
                migrate(conn, self.db_path)

    def __repr__(self) -> str:
        return f"RunStore({str(self.home)!r})" + (f".for_actor({self.actor!r})" if self.actor else "")

    def for_actor(self, actor: Actor | None) -> "RunStore":
        """Returns this store as `actor` sees it (None: the system's view, every run).

        The returned object shares this one's home and caches; it costs no
        database access, so a page may make one per rerun.

        Raises:
            ValueError: when `actor` is not a `seqlab.workspaces.Actor` or None.
        """
        if actor is not None and not isinstance(actor, Actor):
            raise ValueError(f"actor: received {type(actor).__name__}, expected a seqlab.workspaces.Actor or None")
        scoped = copy.copy(self)
        scoped.actor = actor
        return scoped

    @property
    def workspace(self) -> str:
        """The workspace new runs are recorded in: the actor's, else "default"."""
        return self.actor.workspace if self.actor is not None else DEFAULT_WORKSPACE

    def _visibility(self) -> tuple[str, list]:
        """The SQL condition on `runs` rows this store's actor may see ("" for all), and its parameters."""
        actor = self.actor
        if actor is None or actor.instructor:
            return "", []
        if actor.include_shared:
            return "(workspace = ? OR shared = 1)", [actor.workspace]
        return "workspace = ?", [actor.workspace]

    def _check_visible(self, run_id: str) -> None:
        """Raises `RunNotFoundError` when this store's actor may not see `run_id` (no-op for the system)."""
        condition, params = self._visibility()
        if not condition:
            return
        with self._read() as conn:
            row = conn.execute(f"SELECT 1 FROM runs WHERE run_id = ? AND {condition}",
                               [run_id, *params]).fetchone()
        if row is None:
            raise self._missing(run_id)

    def _check_owner(self, conn: sqlite3.Connection, run_id: str, action: str) -> sqlite3.Row:
        """Returns the run's row when this store's actor may `action` it.

        Raises:
            RunNotFoundError: when there is no such run, or the actor may not see it.
            PermissionDenied: when the actor sees it (shared) but does not own it.
        """
        row = conn.execute("SELECT status, workspace, shared FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        actor = self.actor
        if row is None or (actor is not None and not actor.instructor and row["workspace"] != actor.workspace
                           and not (actor.include_shared and row["shared"])):
            raise self._missing(run_id)
        if actor is not None and not actor.may_change(row["workspace"]):
            raise PermissionDenied(
                f"cannot {action} run {run_id}: it belongs to workspace {row['workspace']!r} and was shared "
                f"with the class; workspace {actor.workspace!r} may {action} only its own runs "
                f"(the instructor may {action} any)")
        return row

    def check(self) -> None:
        """Reads the schema once, so a damaged runs.db is reported before anything else is drawn.

        Raises:
            DamagedStoreError: when runs.db is not a readable SQLite database.
        """
        with self._read() as conn:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()

    # ------------------------------------------------------------ plumbing
    def damaged_message(self, error: BaseException) -> str:
        """Says, in one line, which file is damaged and how to get a working store back."""
        return damaged_store_message(self.db_path, error)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are begun explicitly (BEGIN IMMEDIATE).
        conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        # WAL + NORMAL survives a process crash; only power loss may drop the last commits.
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._reporting_damage():
            conn = self._connect()
            try:
                yield conn
            finally:
                conn.close()

    @contextlib.contextmanager
    def _write(self, *, revises: bool = True) -> Iterator[sqlite3.Connection]:
        """Yields a connection inside one write transaction: all of it commits, or none.

        Args:
            revises: raise the store's `revision` in the same transaction; only
                writes no page derives anything from (live progress, worker
                heartbeats) leave it.
        """
        with self._reporting_damage():
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                with conn:  # commit on success, roll back on any exception
                    yield conn
                    if revises:
                        conn.execute("UPDATE revision SET value = value + 1")
            finally:
                conn.close()

    def revision(self) -> int:
        """Returns a number that changes whenever runs or epochs are written through a RunStore.

        Live progress and heartbeats (`set_progress`, the worker table) leave
        it. What a page derives from `runs_frame` and `summaries_frame` stays
        right while it is unchanged; read it *before* those, so data newer
        than the number is never kept under it. It starts at a random number,
        so two stores (one moved aside and a new one in its place) do not
        share numbers.
        """
        with self._read() as conn:
            return conn.execute("SELECT value FROM revision").fetchone()[0]

    @contextlib.contextmanager
    def _reporting_damage(self) -> Iterator[None]:
        """Turns SQLite's "file is not a database" (and the like) into `DamagedStoreError`."""
        try:
            yield
        except sqlite3.DatabaseError as error:
            if not _is_damage(error):
                raise  # a lock timeout, a constraint: not the file's fault
            raise DamagedStoreError(self.damaged_message(error)) from None

    def _missing(self, run_id: str) -> RunNotFoundError:
        return RunNotFoundError(
            f"no run {run_id!r} in {self.db_path}; `python -m seqlab runs` lists them"
        )

    def _record(self, row: sqlite3.Row) -> RunRecord:
        config, note = _read_config(row["config"])
        message = row["message"]
        if note:
            message = f"{message}; {note}" if message else note
        return RunRecord(
            run_id=row["run_id"],
            status=row["status"],
            config=config,
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            group_id=row["group_id"],
            num_params=row["num_params"],
            test_loss=row["test_loss"],
            test_accuracy=row["test_accuracy"],
            **{name: row[name] for name in RESULT_COLUMNS},
            message=message,
            progress=_loads(row["progress"]),
            versions=_loads(row["versions"]),
            worker_pid=row["worker_pid"],
            heartbeat_at=row["heartbeat_at"],
            stop_requested=bool(row["stop_requested"]),
            workspace=row["workspace"],
            shared=bool(row["shared"]),
            backend=row["backend"],
            node=row["node"],
            study_id=row["study_id"],
            trial_number=row["trial_number"],
        )

    def _update_run(self, conn: sqlite3.Connection, run_id: str, sql: str, params: tuple) -> None:
        if conn.execute(sql, params).rowcount == 0:
            raise self._missing(run_id)

    # ---------------------------------------------------------------- runs
    def create_run(
        self,
        config: RunConfig,
        *,
        status: str = "queued",
        group_id: str | None = None,
        num_params: int | None = None,
        workspace: str | None = None,
        study_id: str | None = None,
        trial_number: int | None = None,
    ) -> str:
        """Records a new run with its recipe and the package versions.

        Args:
            config: the recipe (stored as JSON; not validated here).
            status: usually "queued"; tests and imports may record finished runs.
            group_id: the group (seed repeats) the run belongs to.
            num_params: the model's parameter count when already known.
            workspace: the owning workspace; only the system's store may name
                one (None: the actor's workspace, else "default").
            study_id: the search (`create_search`) this run is a trial of.
            trial_number: its Optuna trial number in that search.

        Returns:
            The new run id, e.g. "r20261129-015512-3f9a" (sorts by creation time).

        Raises:
            ValueError: for a status outside `STATUSES`, a config that is not a
                RunConfig, or a workspace that is not a valid name (or not the
                actor's own).
            PermissionDenied: when an actor's store is asked for another workspace.
        """
        _check_status(status)
        workspace = self._new_run_workspace(workspace)
        if not isinstance(config, RunConfig):
            raise ValueError(
                f"config: received {type(config).__name__}, expected a seqlab.config.RunConfig"
            )
        now = time.time()
        started = now if status != "queued" else None
        finished = now if status in FINISHED_STATUSES else None
        heartbeat = now if status == "running" else None
        progress = {"epoch": 0, "epochs": config.train.epochs}
        for _ in range(10):
            run_id = _new_id("r")
            try:
                with self._write() as conn:
                    conn.execute(
                        "INSERT INTO runs (run_id, status, config, created_at, started_at,"
                        " finished_at, group_id, num_params, progress, versions, heartbeat_at,"
                        " workspace, study_id, trial_number)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (run_id, status, config.to_json(), now, started, finished, group_id,
                         num_params, json.dumps(progress), json.dumps(package_versions()),
                         heartbeat, workspace, study_id, trial_number),
                    )
                    if finished is not None:
                        self._store_summaries(conn, [run_id])
                return run_id
            except sqlite3.IntegrityError:
                continue  # two runs in the same second drew the same suffix
        raise RuntimeError("could not draw a unique run id after 10 tries")

    def _new_run_workspace(self, workspace: str | None) -> str:
        """The workspace a new run (or search) is recorded in; see `create_run`."""
        if workspace is None:
            return self.workspace
        workspace = check_workspace_name(workspace)
        if self.actor is not None and not self.actor.may_change(workspace):
            raise PermissionDenied(f"workspace {self.actor.workspace!r} cannot record runs in workspace "
                                   f"{workspace!r}; leave workspace unset to use your own")
        return workspace

    def import_runs(self, runs: Iterable[dict[str, Any]]) -> list[str]:
        """Records finished runs with their epochs, all in one transaction (imports, benchmarks).

        Records what `create_run`, `add_epoch` for each epoch and `finish_run`
        would, summaries included, but in one transaction for all the runs:
        fast enough to fill a store with thousands, and all of them or none.

        Args:
            runs: one dict per run: "config" (a RunConfig), "status" (one of
                `FINISHED_STATUSES`), "epochs" (one metrics dict per epoch,
                epoch 1 first, as `add_epoch` takes them) and optionally
                "group_id", "num_params", "message", "majority_fraction",
                "workspace" (as `create_run` takes it) and `finish_run`'s results ("test_loss", "test_accuracy",
                "test_accuracy_last", "best_epoch", "compile_seconds",
                "seconds_per_epoch").

        Returns:
            The new run ids, in the order of `runs`.

        Raises:
            ValueError: for an unknown key, a status that is not a finished
                one, a config that is not a RunConfig, or a metric or result
                that is not a number; nothing is recorded then.
        """
        optional = {"group_id", "num_params", "message", "majority_fraction", "workspace", *_RESULT_ARGUMENTS}
        now, versions = time.time(), json.dumps(package_versions())
        checked = []
        for index, run in enumerate(runs):
            unknown = sorted(set(run) - {"config", "status", "epochs"} - optional)
            if unknown:
                raise ValueError(f"runs[{index}]: unknown key(s) {', '.join(unknown)}; expected config, "
                                 f"status, epochs and optionally {', '.join(sorted(optional))}")
            config, status = run.get("config"), run.get("status")
            if not isinstance(config, RunConfig):
                raise ValueError(f"runs[{index}] config: received {type(config).__name__}, "
                                 f"expected a seqlab.config.RunConfig")
            _check_status(status, [name for name in STATUSES if name in FINISHED_STATUSES])
            results = _checked_results(**{name: run.get(name) for name in _RESULT_ARGUMENTS})
            fraction = _metric(run.get("majority_fraction"), "majority_fraction")
            epochs = [(epoch, *(_metric(metrics.get(name), name) for name in METRIC_COLUMNS),
                       json.dumps({key: value for key, value in metrics.items() if key not in METRIC_COLUMNS}))
                      for epoch, metrics in enumerate(run.get("epochs") or (), start=1)]
            progress = json.dumps({"epoch": len(epochs), "epochs": config.train.epochs})
            row = (status, config.to_json(), now, now, now, run.get("group_id"), run.get("num_params"),
                   str(run.get("message") or ""), progress, versions, *results.values(), fraction,
                   self._new_run_workspace(run.get("workspace")))
            checked.append((row, epochs))
        run_ids: list[str] = []
        with self._write() as conn:
            for row, epochs in checked:
                for _ in range(100):
                    run_id = _new_id("r")
                    try:
                        conn.execute(
                            "INSERT INTO runs (run_id, status, config, created_at, started_at, finished_at,"
                            " group_id, num_params, message, progress, versions,"
                            f" {', '.join(_RESULT_ARGUMENTS)}, majority_fraction, workspace)"
                            f" VALUES ({', '.join('?' * (13 + len(_RESULT_ARGUMENTS)))})", (run_id, *row))
                        break
                    except sqlite3.IntegrityError:
                        continue  # thousands of runs in one second: another suffix
                else:
                    raise RuntimeError("could not draw a unique run id after 100 tries")
                conn.executemany(
                    "INSERT INTO epochs (run_id, epoch, loss, accuracy, val_loss, val_accuracy, seconds,"
                    " extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(run_id, *epoch) for epoch in epochs])
                run_ids.append(run_id)
            for start in range(0, len(run_ids), SUMMARY_BATCH):
                self._store_summaries(conn, run_ids[start:start + SUMMARY_BATCH])
        return run_ids

    def get_run(self, run_id: str) -> RunRecord:
        """Returns the record of `run_id`.

        Raises:
            RunNotFoundError: (a KeyError) when there is no such run (or this
                store's actor may not see it).
        """
        condition, params = self._visibility()
        with self._read() as conn:
            row = conn.execute(f"SELECT * FROM runs WHERE run_id = ?{' AND ' + condition if condition else ''}",
                               [run_id, *params]).fetchone()
        if row is None:
            raise self._missing(run_id)
        return self._record(row)

    def list_runs(
        self,
        *,
        statuses: Iterable[str] | None = None,
        group_id: str | None = None,
        limit: int | None = None,
        workspace: str | None = None,
        study_id: str | None = None,
    ) -> list[RunRecord]:
        """Returns the runs this store's actor may see, newest first.

        Args:
            statuses: keep only these statuses (None: all).
            group_id: keep only this group (None: all).
            limit: at most this many (None: all).
            workspace: keep only this workspace's runs (None: all visible).
            study_id: keep only this search's trials (None: all).

        Raises:
            ValueError: for an unknown status or a limit below 1.
        """
        sql, params = self._run_filter(statuses=statuses, group_id=group_id, workspace=workspace,
                                       study_id=study_id)
        sql = f"SELECT * FROM runs{sql} ORDER BY created_at DESC, rowid DESC"
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(f"limit: received {limit!r}, expected a whole number >= 1 or None")
            sql += f" LIMIT {limit}"
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [self._record(row) for row in rows]

    def _run_filter(
        self,
        *,
        run_ids: Iterable[str] | None = None,
        statuses: Iterable[str] | None = None,
        group_id: str | None = None,
        workspace: str | None = None,
        study_id: str | None = None,
    ) -> tuple[str, list]:
        """A WHERE clause on `run_id` and `runs` columns, always within what the actor may see."""
        clauses, params = [], []
        condition, visible = self._visibility()
        if condition:
            # A subquery on `run_id`, so the same clause serves epochs, step_losses and runs.
            clauses.append(f"run_id IN (SELECT run_id FROM runs WHERE {condition})")
            params.extend(visible)
        if workspace is not None:
            clauses.append("run_id IN (SELECT run_id FROM runs WHERE workspace = ?)")
            params.append(str(workspace))
        if study_id is not None:
            clauses.append("run_id IN (SELECT run_id FROM runs WHERE study_id = ?)")
            params.append(str(study_id))
        if run_ids is not None:
            run_ids = [run_ids] if isinstance(run_ids, str) else run_ids
            # One JSON parameter instead of one placeholder per id: no variable limit.
            clauses.append("run_id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps([str(run_id) for run_id in run_ids]))
        if statuses is not None:
            statuses = [statuses] if isinstance(statuses, str) else list(statuses)
            for status in statuses:
                _check_status(status)
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})" if statuses else "0")
            params.extend(statuses)
        if group_id is not None:
            clauses.append("group_id = ?")
            params.append(group_id)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def claim_next_run(self, worker_pid: int) -> RunRecord | None:
        """Atomically turns the next queued run into a running one owned by `worker_pid`.

        The queue is fair across workspaces (round-robin): the next run is the
        one whose workspace has the fewest runs ahead of it: its runs that
        started since the oldest waiting run was queued (finished ones
        included) or are still running, and its own earlier queued runs; the
        oldest first on ties. A student's tenth run waits behind everyone's
        first, even once their first has finished.
        Two workers calling at once never get the same run.

        Returns:
            The claimed run's record, or None when nothing is queued.
        """
        now = time.time()
        with self._write() as conn:
            row = conn.execute(_NEXT_QUEUED_RUN).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE runs SET status = 'running', worker_pid = ?, started_at = ?,"
                " heartbeat_at = ? WHERE run_id = ?",
                (worker_pid, now, now, row["run_id"]),
            )
            claimed = conn.execute("SELECT * FROM runs WHERE run_id = ?", (row["run_id"],)).fetchone()
        return self._record(claimed)

    def start_run(self, run_id: str, worker_pid: int) -> None:
        """Marks a queued run (or one created "running" with no owner) as run by `worker_pid`.

        Raises:
            RunNotFoundError: when there is no such run.
            ValueError: when the run is finished or already owned by a process.
        """
        now = time.time()
        with self._write() as conn:
            row = conn.execute(
                "SELECT status, worker_pid FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise self._missing(run_id)
            if not (row["status"] == "queued"
                    or (row["status"] == "running" and row["worker_pid"] is None)):
                owner = f" by process {row['worker_pid']}" if row["worker_pid"] else ""
                raise ValueError(
                    f"run {run_id} is {row['status']}{owner}; only a queued run can be started. "
                    f"Queue a new run instead."
                )
            conn.execute(
                "UPDATE runs SET status = 'running', worker_pid = ?, started_at = ?,"
                " heartbeat_at = ? WHERE run_id = ?",
                (worker_pid, now, now, run_id),
            )

    def set_progress(self, run_id: str, **progress: Any) -> None:
        """Merges `progress` (epoch, epochs, batch, batches, phase, ...) into the run's
        progress and refreshes its heartbeat; with no arguments it is a heartbeat.

        Raises:
            RunNotFoundError: when there is no such run.
        """
        with self._write(revises=False) as conn:
            row = conn.execute("SELECT progress FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise self._missing(run_id)
            merged = {**_loads(row["progress"]), **progress}
            conn.execute(
                "UPDATE runs SET progress = ?, heartbeat_at = ? WHERE run_id = ?",
                (json.dumps(merged), time.time(), run_id),
            )

    def set_num_params(self, run_id: str, num_params: int) -> None:
        """Records the model's parameter count.

        Raises:
            ValueError: when `num_params` is not a whole number >= 0.
            RunNotFoundError: when there is no such run.
        """
        if isinstance(num_params, bool) or not isinstance(num_params, int) or num_params < 0:
            raise ValueError(f"num_params: received {num_params!r}, expected a whole number >= 0")
        with self._write() as conn:
            self._update_run(conn, run_id, "UPDATE runs SET num_params = ? WHERE run_id = ?",
                             (num_params, run_id))

    def set_majority_fraction(self, run_id: str, fraction: float) -> None:
        """Records the validation split's largest class share (the accuracy of always guessing it).

        Raises:
            ValueError: when `fraction` is not a number from 0 to 1.
            RunNotFoundError: when there is no such run.
        """
        value = _metric(fraction, "majority_fraction")
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"majority_fraction: received {fraction!r}, expected a share from 0 to 1")
        with self._write() as conn:
            self._update_run(conn, run_id, "UPDATE runs SET majority_fraction = ? WHERE run_id = ?",
                             (value, run_id))

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        message: str = "",
        test_loss: float | None = None,
        test_accuracy: float | None = None,
        test_accuracy_last: float | None = None,
        best_epoch: int | None = None,
        compile_seconds: float | None = None,
        seconds_per_epoch: float | None = None,
    ) -> None:
        """Records how a run ended.

        Args:
            run_id: the run.
            status: one of `FINISHED_STATUSES`.
            message: one line shown beside the status (why it failed, ...).
            test_loss: loss on the test split with the kept weights, when measured.
            test_accuracy: accuracy on the test split with the kept weights
                (the best epoch's when `train.restore_best`), when measured.
            test_accuracy_last: the same with the last epoch's weights.
            best_epoch: the epoch whose weights were kept (lowest validation loss).
            compile_seconds: the one-off cost: the first epoch's extra seconds
                over `seconds_per_epoch`.
            seconds_per_epoch: the median of the steady epochs (all but the first).

        Raises:
            ValueError: for a status that is not a finished one, or a result that is not a number.
            RunNotFoundError: when there is no such run.
        """
        _check_status(status, [name for name in STATUSES if name in FINISHED_STATUSES])
        results = _checked_results(
            test_loss=test_loss, test_accuracy=test_accuracy, test_accuracy_last=test_accuracy_last,
            best_epoch=best_epoch, compile_seconds=compile_seconds, seconds_per_epoch=seconds_per_epoch)
        with self._write() as conn:
            self._update_run(
                conn, run_id,
                f"UPDATE runs SET status = ?, message = ?, {', '.join(f'{name} = ?' for name in results)},"
                " finished_at = ? WHERE run_id = ?",
                (status, str(message), *results.values(), time.time(), run_id),
            )
            self._store_summaries(conn, [run_id])

    def request_stop(self, run_id: str) -> None:
        """Asks a run to stop; a queued run is marked "stopped" at once (it never started).

        Finished runs are left as they are.

        Raises:
            RunNotFoundError: when there is no such run (or the actor may not see it).
            PermissionDenied: when the actor sees the run but does not own it.
        """
        with self._write() as conn:
            row = self._check_owner(conn, run_id, "stop")
            if row["status"] == "queued":
                conn.execute(
                    "UPDATE runs SET status = 'stopped', stop_requested = 1, finished_at = ?,"
                    " message = 'stopped before it started' WHERE run_id = ?",
                    (time.time(), run_id),
                )
                self._store_summaries(conn, [run_id])
            elif row["status"] == "running":
                conn.execute("UPDATE runs SET stop_requested = 1 WHERE run_id = ?", (run_id,))

    def is_stop_requested(self, run_id: str) -> bool:
        """Returns whether a stop was requested (one indexed read; call it every few batches).

        Raises:
            RunNotFoundError: when there is no such run.
        """
        with self._read() as conn:
            row = conn.execute(
                "SELECT stop_requested FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        if row is None:
            raise self._missing(run_id)
        return bool(row["stop_requested"])

    def mark_interrupted(self, run_id: str, message: str) -> None:
        """Marks an unfinished run "interrupted", appending which epochs were kept.

        `message` says why ("worker process 1234 died"); the stored message reads
        e.g. "worker process 1234 died; epochs 1-2 kept". Finished runs are left
        as they are.

        Raises:
            RunNotFoundError: when there is no such run.
        """
        with self._write() as conn:
            row = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise self._missing(run_id)
            if row["status"] not in FINISHED_STATUSES:
                self._interrupt(conn, run_id, message)

    def _interrupt(self, conn: sqlite3.Connection, run_id: str, reason: str) -> None:
        first, last, count = conn.execute(
            "SELECT MIN(epoch), MAX(epoch), COUNT(*) FROM epochs WHERE run_id = ?", (run_id,)
        ).fetchone()
        conn.execute(
            "UPDATE runs SET status = 'interrupted', message = ?, finished_at = ? WHERE run_id = ?",
            (f"{reason}; {_epoch_range_text(first, last, count)}", time.time(), run_id),
        )
        self._store_summaries(conn, [run_id])

    def delete_run(self, run_id: str) -> None:
        """Deletes a run's rows and its artifact folder.

        Raises:
            ValueError: when the run is running (stop it first).
            RunNotFoundError: when there is no such run (or the actor may not see it).
            PermissionDenied: when the actor sees the run but does not own it.
        """
        with self._write() as conn:
            row = self._check_owner(conn, run_id, "delete")
            if row["status"] == "running":
                raise ValueError(
                    f"run {run_id} is running; stop it first (Stop button, or "
                    f"seqlab.jobs.stop_run) and delete it once it has finished"
                )
            conn.execute("DELETE FROM summaries WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM epochs WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        folder = self.home / ARTIFACTS_FOLDER / run_id
        if _RUN_ID_PATTERN.fullmatch(run_id) and folder.is_dir():
            shutil.rmtree(folder)

    def set_shared(self, run_id: str, shared: bool) -> None:
        """Shares a run with the class (every workspace may then see it, read only), or stops sharing it.

        Raises:
            RunNotFoundError: when there is no such run.
            PermissionDenied: unless this store acts for the instructor (or the system).
        """
        if self.actor is not None and not self.actor.instructor:
            raise PermissionDenied(f"cannot share run {run_id}: only the instructor shares runs with the class "
                                   f"(workspace {self.actor.workspace!r} is not the instructor)")
        with self._write() as conn:
            self._update_run(conn, run_id, "UPDATE runs SET shared = ? WHERE run_id = ?",
                             (1 if shared else 0, run_id))

    def set_placement(self, run_id: str, backend: str, node: str | None) -> None:
        """Records where a run trains: `backend` ("local" or "ray") and the node (a host name or Ray node id).

        Raises:
            ValueError: for a backend outside `BACKENDS`.
            RunNotFoundError: when there is no such run.
        """
        if backend not in BACKENDS:
            raise ValueError(f"backend: received {backend!r}, expected one of {', '.join(BACKENDS)}")
        with self._write(revises=False) as conn:
            self._update_run(conn, run_id, "UPDATE runs SET backend = ?, node = ? WHERE run_id = ?",
                             (backend, None if node is None else str(node)[:200], run_id))

    def workspace_counts(self) -> dict[str, dict[str, int]]:
        """Returns {workspace: {status: runs}} over the runs this store's actor may see."""
        sql, params = self._run_filter()
        with self._read() as conn:
            rows = conn.execute(f"SELECT workspace, status, COUNT(*) FROM runs{sql} GROUP BY workspace, status",
                                params).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for workspace, status, count in rows:
            counts.setdefault(workspace, {})[status] = count
        return counts

    # ------------------------------------------------------------ searches
    def create_search(self, spec: dict[str, Any]) -> str:
        """Records a new hyperparameter search (an Optuna study) in the actor's workspace.

        Args:
            spec: what `seqlab.search` needs to run it again (JSON-able).

        Returns:
            The new study id, e.g. "s20261202-101500-3f9a".

        Raises:
            ValueError: when `spec` is not a JSON-able dict.
        """
        if not isinstance(spec, dict):
            raise ValueError(f"spec: received {type(spec).__name__}, expected a dict")
        text = json.dumps(spec, sort_keys=True)
        for _ in range(10):
            study_id = _new_id("s")
            try:
                with self._write() as conn:
                    conn.execute("INSERT INTO searches (study_id, workspace, created_at, spec) VALUES (?, ?, ?, ?)",
                                 (study_id, self.workspace, time.time(), text))
                return study_id
            except sqlite3.IntegrityError:
                continue
        raise RuntimeError("could not draw a unique study id after 10 tries")

    def get_search(self, study_id: str) -> dict[str, Any]:
        """Returns {"study_id", "workspace", "created_at", "spec"} of a search the actor may see.

        Raises:
            RunNotFoundError: when there is no such search (or the actor may not see it).
        """
        found = [search for search in self.list_searches() if search["study_id"] == study_id]
        if not found:
            raise RunNotFoundError(f"no search {study_id!r} in {self.db_path}; "
                                   f"`python -m seqlab search` starts one")
        return found[0]

    def list_searches(self) -> list[dict[str, Any]]:
        """Returns the searches the actor may see (its workspace's; the instructor's: all), newest first.

        A search counts as shared when any of its trials is.
        """
        actor = self.actor
        sql, params = "", []
        if actor is not None and not actor.instructor:
            sql, params = " WHERE workspace = ?", [actor.workspace]
            if actor.include_shared:
                sql += " OR study_id IN (SELECT study_id FROM runs WHERE shared = 1 AND study_id IS NOT NULL)"
        with self._read() as conn:
            rows = conn.execute(f"SELECT * FROM searches{sql} ORDER BY created_at DESC, rowid DESC",
                                params).fetchall()
        return [{"study_id": row["study_id"], "workspace": row["workspace"], "created_at": row["created_at"],
                 "spec": _loads(row["spec"])} for row in rows]

    def search_storage_path(self, study_id: str) -> Path:
        """Returns the Optuna journal file of a search (`searches/<study_id>.journal`; its folder is created).

        Optuna offers its `JournalStorage` over a file for several processes on
        one machine sharing a study, without a database server; each search
        has its own file beside runs.db.

        Raises:
            ValueError: for an id that is not a plain name.
        """
        if not isinstance(study_id, str) or not _RUN_ID_PATTERN.fullmatch(study_id):
            raise ValueError(f"study_id: received {study_id!r}, expected a study id such as s20261202-101500-3f9a")
        folder = self.home / SEARCH_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{study_id}{SEARCH_JOURNAL_SUFFIX}"

    # ----------------------------------------------------------- artifacts
    def artifact_dir(self, run_id: str) -> Path:
        """Returns `<home>/artifacts/<run_id>/`, created on demand.

        Raises:
            ValueError: for an id that is not a plain name (no slashes, no leading dot).
        """
        folder = self._artifact_folder(run_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def model_path(self, run_id: str) -> Path:
        """Returns where the run's Keras model is saved (`model.keras`; its folder is created).

        Raises:
            ValueError: for an id that is not a plain name.
        """
        return self.artifact_dir(run_id) / MODEL_FILE

    def vocabulary_path(self, run_id: str) -> Path:
        """Returns where the run's vocabulary is saved (`vocabulary.json`; its folder is created).

        Raises:
            ValueError: for an id that is not a plain name.
        """
        return self.artifact_dir(run_id) / VOCABULARY_FILE

    def error_log_path(self, run_id: str) -> Path:
        """Returns where a failed run's traceback is written (`error.log`; its folder is created).

        Raises:
            ValueError: for an id that is not a plain name.
        """
        return self.artifact_dir(run_id) / ERROR_LOG

    def tensorboard_path(self, run_id: str) -> Path:
        """Returns the folder of the run's TensorBoard event files (`tensorboard/`; its parent is created).

        Deleted with the run's artifact folder (`delete_run`).

        Raises:
            ValueError: for an id that is not a plain name.
        """
        return self.artifact_dir(run_id) / TENSORBOARD_FOLDER

    def has_model(self, run_id: str) -> bool:
        """Returns whether the run saved a model (creates nothing; False for a bad id or a run not visible)."""
        try:
            return (self._artifact_folder(run_id) / MODEL_FILE).is_file()
        except (ValueError, RunNotFoundError):
            return False

    def write_meta(self, run_id: str, meta: dict[str, Any]) -> None:
        """Writes the run's `meta.json` (class names, sizes, examples per split, ...).

        Args:
            run_id: the run.
            meta: JSON-able facts about the run's data and model.

        Raises:
            ValueError: for an id that is not a plain name.
        """
        (self.artifact_dir(run_id) / META_FILE).write_text(json.dumps(meta, indent=2))

    def read_meta(self, run_id: str) -> dict[str, Any] | None:
        """Returns the run's `meta.json`, or None when it is missing or unreadable (creates nothing).

        Raises:
            RunNotFoundError: when this store's actor may not see the run.
        """
        try:
            meta = json.loads((self._artifact_folder(run_id) / META_FILE).read_text())
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) else None

    def write_attention_history(self, run_id: str, arrays: dict[str, np.ndarray]) -> None:
        """Writes the run's `attention_history.npz`, replacing the last one at once.

        Written to a temporary file in the run's folder and renamed over the
        old one, so a page reading a run being trained sees the previous
        epoch's file or this one, never half of one.

        Args:
            run_id: the run.
            arrays: name -> NumPy array of numbers or strings, no objects
                (`seqlab.attention.AttentionHistory.to_arrays`).

        Raises:
            ValueError: for an id that is not a plain name, or an array of
                Python objects (it could only be read back with pickle).
        """
        values = {name: np.asarray(value) for name, value in arrays.items()}
        objects = [name for name, value in values.items() if value.dtype.hasobject]
        if objects:
            raise ValueError(
                f"attention history: received object arrays {', '.join(objects)}, expected "
                f"arrays of numbers or strings (np.str_), readable without pickle"
            )
        folder = self.artifact_dir(run_id)
        descriptor, temporary_name = tempfile.mkstemp(
            dir=folder, prefix=f".{ATTENTION_HISTORY_FILE}.", suffix=".tmp")
        temporary = Path(temporary_name)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                np.savez(handle, **values)
            os.replace(temporary, folder / ATTENTION_HISTORY_FILE)
        finally:
            temporary.unlink(missing_ok=True)

    def read_attention_history(self, run_id: str) -> dict[str, np.ndarray] | None:
        """Returns the arrays of the run's `attention_history.npz`, or None when it has none.

        None also for a missing or unreadable file and a bad id; creates nothing.

        Raises:
            RunNotFoundError: when this store's actor may not see the run.
        """
        try:
            path = self._artifact_folder(run_id) / ATTENTION_HISTORY_FILE
            with np.load(path, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            return None

    def cache_dir(self, name: str) -> Path:
        """Returns `<home>/cache/<name>/`, a cache kept with this store (created on demand).

        Args:
            name: the cache, e.g. "vectorized" (`seqlab.data.vectorize`).

        Raises:
            ValueError: for a name that is not a plain folder name.
        """
        if not isinstance(name, str) or not _RUN_ID_PATTERN.fullmatch(name):
            raise ValueError(f"cache name: received {name!r}, expected a plain folder name such as 'vectorized'")
        folder = self.home / CACHE_FOLDER / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _artifact_folder(self, run_id: str) -> Path:
        """The run's folder (not created); an actor's store first checks the actor may see the run.

        Raises:
            ValueError: for an id that is not a plain name.
            RunNotFoundError: when the actor may not see the run.
        """
        if not isinstance(run_id, str) or not _RUN_ID_PATTERN.fullmatch(run_id):
            raise ValueError(
                f"run_id: received {run_id!r}, expected a run id such as r20261129-015512-3f9a"
            )
        self._check_visible(run_id)
        return self.home / ARTIFACTS_FOLDER / run_id

    # -------------------------------------------------------------- epochs
    def add_epoch(self, run_id: str, epoch: int, metrics: dict[str, float]) -> None:
        """Records one epoch's metrics (re-adding an epoch replaces it).

        Args:
            run_id: the run.
            epoch: 1-based epoch number.
            metrics: loss, accuracy, val_loss, val_accuracy, seconds (None when
                not measured); other keys are kept too and come back from `epochs()`.

        Raises:
            ValueError: for an epoch below 1 or a metric that is not a number.
            RunNotFoundError: when there is no such run.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
            raise ValueError(f"epoch: received {epoch!r}, expected a whole number >= 1")
        known = [_metric(metrics.get(name), name) for name in METRIC_COLUMNS]
        extra = {key: value for key, value in metrics.items() if key not in METRIC_COLUMNS}
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT OR REPLACE INTO epochs (run_id, epoch, loss, accuracy, val_loss,"
                    " val_accuracy, seconds, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, epoch, *known, json.dumps(extra)),
                )
            except sqlite3.IntegrityError:  # the foreign key: no such run
                raise self._missing(run_id) from None
            conn.execute("UPDATE runs SET heartbeat_at = ? WHERE run_id = ? AND status = 'running'",
                         (time.time(), run_id))
            # Only a finished run has a summary: one added to later (an import, a
            # test) is summarized again; for a running run this deletes nothing.
            if conn.execute("DELETE FROM summaries WHERE run_id = ?", (run_id,)).rowcount:
                self._store_summaries(conn, [run_id])

    def epochs(self, run_id: str) -> list[dict]:
        """Returns the run's epochs in order: [{"epoch", "loss", "accuracy", "val_loss",
        "val_accuracy", "seconds", ...extra metrics}] (an unknown run has none)."""
        if self.actor is not None:
            try:
                self._check_visible(run_id)
            except RunNotFoundError:
                return []  # as for an unknown run
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch", (run_id,)
            ).fetchall()
        return [_epoch_dict(row) for row in rows]

    def epochs_frame(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Returns one row per run-epoch: run_id, epoch, loss, accuracy, val_loss,
        val_accuracy, seconds (+ one column per extra metric), in one query.

        Args:
            run_ids: the runs to include (None: all).
        """
        sql, params = self._run_filter(run_ids=run_ids)
        with self._read() as conn:
            return _epochs_frame(conn, f"SELECT {_EPOCH_SELECT} FROM epochs{sql} ORDER BY run_id, epoch",
                                 params)

    def runs_frame(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Returns one row per run (newest first), in one query.

        Columns: run_id, label, arch, status, group_id, created_at, started_at,
        finished_at, num_params, test_loss, test_accuracy, best_epoch,
        test_accuracy_last, compile_seconds, seconds_per_epoch,
        majority_fraction (see `RunRecord`), message, dataset, then every config
        field flattened ("data.sequence_length", "model.units", ..., "seed",
        "name").

        Args:
            run_ids: the runs to include (None: all).
        """
        sql, params = self._run_filter(run_ids=run_ids)
        with self._read() as conn:
            cursor = conn.cursor()
            cursor.row_factory = None  # plain tuples: thousands of rows
            cursor.execute("BEGIN")  # one snapshot for both reads
            rows = cursor.execute(
                f"SELECT {', '.join(_RUN_FRAME_COLUMNS)} FROM runs{sql}"
                " ORDER BY created_at DESC, rowid DESC", params).fetchall()
            keys = [(row[0], row[_CREATED_AT]) for row in rows]
            with self._config_lock:
                unread = [run_id for run_id, created_at in keys if (run_id, created_at) not in self._configs]
            texts = dict(cursor.execute(
                "SELECT run_id, config FROM runs WHERE run_id IN (SELECT value FROM json_each(?))",
                (json.dumps(unread),)).fetchall()) if unread else {}
            cursor.execute("COMMIT")
        # A run's config never changes once recorded: each one is parsed once per RunStore.
        parsed = {key: _config_entry(texts[key[0]]) for key in keys if key[0] in texts}
        with self._config_lock:
            self._configs.update(parsed)
            entries = [self._configs[key] for key in keys]
            if run_ids is None:  # every run was listed: forget the deleted ones
                for key in set(self._configs) - set(keys):
                    del self._configs[key]
            listing = tuple(keys) if run_ids is None else None
            config_frame = self._config_frames.get(listing) if listing is not None else None
            if config_frame is None:
                config_frame = pd.DataFrame.from_records([entry[3] for entry in entries],
                                                         columns=list(RunConfig().flat()))
                if listing is not None:
                    self._config_frames = {listing: config_frame}
        base = pd.DataFrame.from_records(rows, columns=list(_RUN_FRAME_COLUMNS))
        notes = [entry[4] for entry in entries]
        if any(notes):
            base["message"] = [f"{message}; {note}" if message and note else message or note
                               for message, note in zip(base["message"], notes)]
        base["label"], base["arch"], base["dataset"] = ([entry[index] for entry in entries] for index in range(3))
        frame = pd.concat([base[list(RUN_COLUMNS)], config_frame], axis=1)
        numeric = ("created_at", "started_at", "finished_at", "test_loss", "test_accuracy",
                   "test_accuracy_last", "compile_seconds", "seconds_per_epoch", "majority_fraction")
        return frame.astype({"num_params": "Int64", "best_epoch": "Int64", "trial_number": "Int64",
                             "shared": "bool",
                             **{name: "float64" for name in numeric}})

    # --------------------------------------------------------- step losses
    def add_step_losses(self, run_id: str, points: Iterable[dict[str, Any]]) -> None:
        """Records points of the run's training loss per step, all in one transaction.

        Called once per epoch by `seqlab.training.StepLossRecorder`, never per
        step. Re-adding a global step replaces its point.

        Args:
            run_id: the run.
            points: one dict per point: "global_step" (1-based over the whole
                run), "epoch" (1-based), "step" (batches done in that epoch,
                1-based), "steps_per_epoch" and "loss" (a number; None, NaN
                or inf are stored as NULL).

        Raises:
            ValueError: for a point missing a key, a step or epoch that is not
                a whole number >= 1, or a loss that is not a number.
            RunNotFoundError: when there is no such run.
        """
        rows = [_step_loss_row(index, point) for index, point in enumerate(points)]
        if not rows:
            return
        with self._write() as conn:
            try:
                conn.executemany(
                    "INSERT OR REPLACE INTO step_losses (run_id, global_step, epoch, step, steps_per_epoch,"
                    " loss) VALUES (?, ?, ?, ?, ?, ?)", [(run_id, *row) for row in rows])
            except sqlite3.IntegrityError:  # the foreign key: no such run
                raise self._missing(run_id) from None

    def step_losses_frame(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Returns the runs' recorded step losses, in one query.

        Args:
            run_ids: the runs to include (None: all).

        Returns:
            Columns run_id, global_step, epoch, step, steps_per_epoch (int64)
            and loss (float64, NaN where it was not finite), ordered by run_id
            and global_step; no rows for a run that recorded none.
        """
        sql, params = self._run_filter(run_ids=run_ids)
        with self._read() as conn:
            cursor = conn.cursor()
            cursor.row_factory = None  # plain tuples: thousands of rows
            rows = cursor.execute(
                f"SELECT {', '.join(_STEP_LOSS_COLUMNS)} FROM step_losses{sql} ORDER BY run_id, global_step",
                params).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=list(_STEP_LOSS_COLUMNS))
        return frame.astype({"run_id": "object", **{name: "int64" for name in _STEP_LOSS_COLUMNS[1:-1]},
                             "loss": "float64"})

    # ----------------------------------------------------------- summaries
    def summaries_frame(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Returns what each run's curves say: one row per run, without reading finished runs' epochs.

        A finished run's row is the one stored when it finished
        (`analysis.tables.curve_summary_table` of its epochs). A finished run
        without a current row (finished before schema version 3, or summarized
        under other `CURVE_SUMMARY_RULES`) is summarized now and its row
        stored, `SUMMARY_BATCH` runs per transaction. Queued and running runs
        are summarized from their epochs so far, and nothing is stored for them.

        Args:
            run_ids: the runs to include (None: all).

        Returns:
            Columns run_id and `CURVE_SUMMARY_COLUMNS` (see
            `curve_summary_table`), ordered by run_id; epochs_run,
            curve_best_epoch and overfit_epoch are Int64, the rest float64.
        """
        sql, params = self._run_filter(run_ids=run_ids)
        columns = ", ".join(f"summaries.{name}" for name in CURVE_SUMMARY_COLUMNS)
        with self._read() as conn:
            cursor = conn.cursor()
            cursor.row_factory = None  # plain tuples: thousands of rows
            rows = cursor.execute(
                f"SELECT runs.run_id, runs.status, summaries.rules, {columns}"
                f" FROM (SELECT run_id, status FROM runs{sql}) AS runs"
                " LEFT JOIN summaries ON summaries.run_id = runs.run_id", params,
            ).fetchall()
        stored, missing, live = [], [], []
        for row in rows:
            if row[1] not in FINISHED_STATUSES:
                live.append(row[0])
            elif row[2] == CURVE_SUMMARY_RULES:
                stored.append((row[0], *row[3:]))
            else:
                missing.append(row[0])
        parts = [_summary_frame(pd.DataFrame.from_records(stored, columns=["run_id", *CURVE_SUMMARY_COLUMNS]))]
        for start in range(0, len(missing), SUMMARY_BATCH):
            # No reader is ever handed a row of other rules (it gets what is computed here), so
            # storing these changes nothing a page derived: no new revision.
            with self._write(revises=False) as conn:
                parts.append(self._store_summaries(conn, missing[start:start + SUMMARY_BATCH]))
        if live:
            with self._read() as conn:
                parts.append(self._curve_summaries(conn, live))
        frame = pd.concat([part for part in parts if not part.empty] or parts[:1], ignore_index=True)
        return _summary_frame(frame.sort_values("run_id", kind="stable", ignore_index=True))

    @staticmethod
    def _curve_summaries(conn: sqlite3.Connection, run_ids: list[str]) -> pd.DataFrame:
        """`curve_summary_table` of these runs, read through `conn` (unknown ids are left out)."""
        ids = json.dumps(list(run_ids))
        runs = pd.DataFrame.from_records(
            [tuple(row) for row in conn.execute(
                "SELECT run_id, best_epoch FROM runs WHERE run_id IN (SELECT value FROM json_each(?))",
                (ids,))],
            columns=["run_id", "best_epoch"])
        epochs = _epochs_frame(
            conn, f"SELECT {_EPOCH_SELECT} FROM epochs WHERE run_id IN (SELECT value FROM json_each(?))"
                  " ORDER BY run_id, epoch", [ids])
        return _summary_frame(curve_summary_table(epochs, runs.astype({"best_epoch": "float64"})))

    def _store_summaries(self, conn: sqlite3.Connection, run_ids: list[str]) -> pd.DataFrame:
        """Summarizes these runs' curves and stores the rows; call inside the write transaction.

        Returns:
            The rows stored (`summaries_frame`'s columns).
        """
        frame = self._curve_summaries(conn, run_ids)
        integers = set(SUMMARY_INTEGER_COLUMNS)
        values = [
            (run_id, CURVE_SUMMARY_RULES,
             *(None if pd.isna(value) else int(value) if name in integers else float(value)
               for name, value in zip(CURVE_SUMMARY_COLUMNS, row)))
            for run_id, *row in frame[["run_id", *CURVE_SUMMARY_COLUMNS]].itertuples(index=False)
        ]
        conn.executemany(
            f"INSERT OR REPLACE INTO summaries (run_id, rules, {', '.join(CURVE_SUMMARY_COLUMNS)})"
            f" VALUES ({', '.join('?' * (len(CURVE_SUMMARY_COLUMNS) + 2))})", values)
        return frame

    # -------------------------------------------------------- dead workers
    def find_dead_runs(
        self, is_alive: Callable[[int], bool] | None = None, stale_after: float = 60.0
    ) -> list[str]:
        """Returns the running runs whose worker died or stopped sending heartbeats.

        Args:
            is_alive: pid -> bool (default: the process exists on this machine).
            stale_after: seconds without a heartbeat after which a run counts as dead.
        """
        with self._read() as conn:
            return [run_id for run_id, _ in self._dead_runs(conn, is_alive, stale_after)]

    def reap_dead_runs(
        self, is_alive: Callable[[int], bool] | None = None, stale_after: float = 60.0
    ) -> list[str]:
        """Marks dead runs (see `find_dead_runs`) "interrupted", keeping their epochs.

        The message reads e.g. "worker process 1234 died; epochs 1-2 kept".

        Returns:
            The ids of the runs marked.
        """
        if not self.find_dead_runs(is_alive, stale_after):
            return []  # the common case costs one read, no write lock
        with self._write() as conn:
            # Checked again under the write lock: a run may have finished meanwhile.
            dead = self._dead_runs(conn, is_alive, stale_after)
            for run_id, reason in dead:
                self._interrupt(conn, run_id, reason)
        return [run_id for run_id, _ in dead]

    @staticmethod
    def _dead_runs(
        conn: sqlite3.Connection, is_alive: Callable[[int], bool] | None, stale_after: float
    ) -> list[tuple[str, str]]:
        is_alive = is_alive or pid_alive
        now = time.time()
        dead = []
        for row in conn.execute(
            "SELECT run_id, worker_pid, heartbeat_at, started_at, created_at FROM runs"
            " WHERE status = 'running' ORDER BY created_at"
        ):
            pid = row["worker_pid"]
            last_sign = row["heartbeat_at"] or row["started_at"] or row["created_at"]
            who = f"worker process {pid}" if pid else "the process training it"
            if pid is not None and not is_alive(pid):
                dead.append((row["run_id"], f"{who} died"))
            elif now - last_sign > stale_after:
                dead.append((row["run_id"],
                             f"{who} stopped responding (no heartbeat for {now - last_sign:.0f} s)"))
        return dead

    # ------------------------------------------------------------- workers
    def register_worker(self, pid: int) -> None:
        """Records worker process `pid` as alive now."""
        now = time.time()
        with self._write(revises=False) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO workers (pid, started_at, heartbeat_at) VALUES (?, ?, ?)",
                (pid, now, now),
            )

    def worker_heartbeat(self, pid: int) -> None:
        """Refreshes worker `pid`'s heartbeat (registering it when it is unknown)."""
        now = time.time()
        with self._write(revises=False) as conn:
            conn.execute(
                "INSERT INTO workers (pid, started_at, heartbeat_at) VALUES (?, ?, ?)"
                " ON CONFLICT (pid) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                (pid, now, now),
            )

    def unregister_worker(self, pid: int) -> None:
        """Forgets worker `pid` (it is exiting)."""
        with self._write(revises=False) as conn:
            conn.execute("DELETE FROM workers WHERE pid = ?", (pid,))

    def live_workers(self, stale_after: float = 30.0) -> list[int]:
        """Returns the pids of registered workers that exist and sent a heartbeat recently."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT pid FROM workers WHERE heartbeat_at >= ? ORDER BY started_at",
                (time.time() - stale_after,),
            ).fetchall()
        return [row["pid"] for row in rows if pid_alive(row["pid"])]

    # -------------------------------------------------------------- groups
    def new_group_id(self) -> str:
        """Returns a fresh group id (for runs repeated over seeds), e.g. "g20261129-015512-3f9a"."""
        return _new_id("g")


# `finish_run`'s results, as columns of `runs` (`RESULT_COLUMNS` less majority_fraction,
# which is recorded before the run ends).
_RESULT_ARGUMENTS = ("test_loss", "test_accuracy", "test_accuracy_last", "best_epoch",
                     "compile_seconds", "seconds_per_epoch")
_EPOCH_SELECT = "run_id, epoch, " + ", ".join(METRIC_COLUMNS) + ", extra"


# The next run to train (`claim_next_run`): round-robin over workspaces. The queue's
# current wave began when its oldest waiting run was queued. A queued run's place is
# how many of its workspace's runs are ahead of it: those that started training since
# the wave began (finished or not) or are still running from before, plus its own
# earlier queued runs and itself. The lowest place goes first, the oldest on ties. A
# first run that already finished still counts, so a student's second run waits
# behind everyone's first; a run cancelled before it started never counts.
_NEXT_QUEUED_RUN = """
    WITH wave AS (SELECT MIN(created_at) AS began FROM runs WHERE status = 'queued')
    SELECT queued.run_id,
        (SELECT COUNT(*) FROM runs AS other WHERE other.workspace = queued.workspace
            AND other.status != 'queued' AND (other.started_at >= wave.began OR other.status = 'running'))
        + (SELECT COUNT(*) FROM runs AS other WHERE other.workspace = queued.workspace
            AND other.status = 'queued' AND (other.created_at < queued.created_at
                OR (other.created_at = queued.created_at AND other.rowid <= queued.rowid)))
        AS place
    FROM runs AS queued, wave WHERE queued.status = 'queued'
    ORDER BY place, queued.created_at, queued.rowid
    LIMIT 1"""

# What `runs_frame` reads from `runs` besides the config (which it parses once per run).
_RUN_FRAME_COLUMNS = ("run_id", "status", "group_id", "created_at", "started_at", "finished_at",
                      "num_params", "test_loss", "test_accuracy", *RESULT_COLUMNS, "message",
                      "workspace", "shared", "backend", "node", "study_id", "trial_number")
_CREATED_AT = _RUN_FRAME_COLUMNS.index("created_at")


def _read_config(text: str) -> tuple[RunConfig, str]:
    """A stored config, and "" or the note saying it was unreadable (then the defaults stand in)."""
    try:
        return RunConfig.from_json(text), ""
    except (ValueError, TypeError) as error:
        # Written by another seqlab version: keep the run listable.
        return RunConfig(), f"stored config unreadable ({' '.join(str(error).split())}); showing defaults"


def _config_entry(text: str) -> tuple[str, str, str, tuple, str]:
    """What `runs_frame` shows of a stored config: label, arch, dataset, `flat()` values, note."""
    config, note = _read_config(text)
    return config.label(), config.model.arch, config.data.dataset, tuple(config.flat().values()), note


_STEP_LOSS_COLUMNS = ("run_id", "global_step", "epoch", "step", "steps_per_epoch", "loss")


def _step_loss_row(index: int, point: dict[str, Any]) -> tuple:
    """One `add_step_losses` point checked, as (global_step, epoch, step, steps_per_epoch, loss).

    Raises:
        ValueError: for a missing key, a count that is not a whole number >= 1, or a
            loss that is not a number.
    """
    if not isinstance(point, dict):
        raise ValueError(f"step loss point {index}: received {type(point).__name__}, expected a dict "
                         f"with {', '.join(_STEP_LOSS_COLUMNS[1:])}")
    missing = [name for name in _STEP_LOSS_COLUMNS[1:] if name not in point]
    if missing:
        raise ValueError(f"step loss point {index}: missing {', '.join(missing)}; received keys "
                         f"{', '.join(map(str, point)) or '(none)'}")
    counts = []
    for name in _STEP_LOSS_COLUMNS[1:-1]:
        value = point[name]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"step loss point {index}: {name} received {value!r}, expected a whole number >= 1")
        counts.append(int(value))
    loss = _metric(point["loss"], "loss")
    return (*counts, loss if loss is not None and math.isfinite(loss) else None)


def _checked_results(**results: Any) -> dict[str, Any]:
    """`finish_run`'s results checked and made numbers, in `_RESULT_ARGUMENTS` order.

    Raises:
        ValueError: for a result that is not a number, or a best_epoch that is not a whole number >= 1.
    """
    best_epoch = results.get("best_epoch")
    if best_epoch is not None and (isinstance(best_epoch, bool) or not isinstance(best_epoch, int)
                                   or best_epoch < 1):
        raise ValueError(f"best_epoch: received {best_epoch!r}, expected a whole number >= 1 or None")
    return {name: best_epoch if name == "best_epoch" else _metric(results.get(name), name)
            for name in _RESULT_ARGUMENTS}


def _epochs_frame(conn: sqlite3.Connection, sql: str, params: list) -> pd.DataFrame:
    """The epochs a query selects (`_EPOCH_SELECT` columns) as `RunStore.epochs_frame` returns them.

    Built column by column: the Compare page and summaries read thousands of rows.
    """
    cursor = conn.cursor()
    cursor.row_factory = None
    rows = cursor.execute(sql, params).fetchall()
    base = ["run_id", "epoch", *METRIC_COLUMNS]
    frame = pd.DataFrame.from_records(rows, columns=[*base, "extra"])
    extra = frame.pop("extra")
    has_extra = (extra != "{}").to_numpy()
    if has_extra.any():
        parsed = pd.DataFrame.from_records([_loads(text) for text in extra[has_extra]],
                                           index=frame.index[has_extra])
        frame = frame.join(parsed.drop(columns=[name for name in parsed if name in base]))
    frame["epoch"] = frame["epoch"].astype("int64")
    return frame.astype({name: "float64" for name in METRIC_COLUMNS})


def _summary_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A summaries frame with `summaries_frame`'s columns and types (whole numbers as Int64)."""
    integers = set(SUMMARY_INTEGER_COLUMNS)
    frame = frame[["run_id", *CURVE_SUMMARY_COLUMNS]]
    return frame.astype({name: "Int64" if name in integers else "float64" for name in CURVE_SUMMARY_COLUMNS})


def damaged_store_message(db_path: Path | str, error: BaseException | str) -> str:
    """Returns the one-line report of a damaged runs.db: which file, what SQLite said, how to recover.

    Args:
        db_path: the store's runs.db.
        error: what SQLite raised (or its text).
    """
    path = Path(db_path)
    reason = " ".join(str(error).split()) or "unreadable"
    return (f"the run store {path} is damaged or is not a seqlab database ({reason}). To recover: "
            f"stop the app and its workers, move the file aside (mv {path} {path}.damaged, and "
            f"{path.name}-wal / {path.name}-shm beside it if present) and seqlab starts an empty "
            f"store there (run folders under {path.parent / ARTIFACTS_FOLDER} stay on disk); "
            f"`sqlite3 {path}.damaged .recover | sqlite3 {path}` may bring runs back; or point "
            f"SEQLAB_HOME (or --home) at another folder.")


def _is_damage(error: sqlite3.DatabaseError) -> bool:
    """Whether SQLite's error says the file itself is unusable (not a lock or a constraint)."""
    text = str(error).lower()
    return type(error) is sqlite3.DatabaseError or any(
        words in text for words in ("not a database", "malformed", "unable to open database"))


def _loads(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _epoch_dict(row: sqlite3.Row) -> dict:
    record = {"epoch": row["epoch"], **{name: row[name] for name in METRIC_COLUMNS}}
    if row["extra"] != "{}":
        record.update(_loads(row["extra"]))
    return record

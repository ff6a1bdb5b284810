"""The run store: SQLite (runs, epochs, progress, workers) + one artifact folder per run.

Layout under the store's home (the entry points pass it: `--home`, else
`SEQLAB_HOME`, else `~/.seqlab`; see `default_home`):

    runs.db                 SQLite in WAL mode: readers never block the writer
    artifacts/<run_id>/     model.keras, vocabulary.json, meta.json, error.log of one run
    cache/<name>/           caches kept with the store (vectorized ids: `cache_dir`)
    logs/                   worker logs (written by `seqlab.jobs`)

The store is the only owner of the artifact folders: it names their files
and hands out their paths (`model_path`, `vocabulary_path`, `error_log_path`),
reads and writes `meta.json` (`read_meta`, `write_meta`) and says whether a
run saved a model (`has_model`). Nothing else builds an artifact path.

Several Streamlit sessions (threads) and worker processes share one store.
Every call opens its own short-lived connection, so a `RunStore` object holds
no connection and can be shared between threads (Streamlit caches one with
`st.cache_resource`). Every write is one transaction started with
`BEGIN IMMEDIATE` (it takes the write lock up front, so two writers queue on
the busy timeout instead of failing on a lock upgrade); a write that raises
rolls back whole, and a crash loses at most the epoch in progress. A runs.db
that is not a database (overwritten, truncated) raises `DamagedStoreError`,
whose text names the file and how to recover, instead of SQLite's error.

Nothing here imports TensorFlow or Streamlit.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import json
import os
import platform
import re
import secrets
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pandas as pd

from seqlab import __version__
from seqlab.config import RunConfig

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
    "dataset",
)
BUSY_TIMEOUT_SECONDS = 10.0
DB_FILE = "runs.db"
ARTIFACTS_FOLDER = "artifacts"
CACHE_FOLDER = "cache"
# The files of a run's artifact folder.
MODEL_FILE = "model.keras"
VOCABULARY_FILE = "vocabulary.json"
META_FILE = "meta.json"
ERROR_LOG = "error.log"
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


# MIGRATIONS[i] brings a database from schema version i to i + 1. To add a field
# later, append a function (e.g. `ALTER TABLE runs ADD COLUMN ... DEFAULT ...`);
# never edit one that has shipped.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_schema_v1, _schema_v2)
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
    connection. Unknown run ids raise `RunNotFoundError` (a KeyError).
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
        (self.home / ARTIFACTS_FOLDER).mkdir(parents=True, exist_ok=True)
        with self._read() as conn:
            # Persistent in the file; a no-op when it is already WAL.
            conn.execute("PRAGMA journal_mode = WAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            with self._write() as conn:
                migrate(conn, self.db_path)

    def __repr__(self) -> str:
        return f"RunStore({str(self.home)!r})"

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
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Yields a connection inside one write transaction: all of it commits, or none."""
        with self._reporting_damage():
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                with conn:  # commit on success, roll back on any exception
                    yield conn
            finally:
                conn.close()

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
        message = row["message"]
        try:
            config = RunConfig.from_json(row["config"])
        except (ValueError, TypeError) as error:
            # Written by another seqlab version: keep the run listable.
            config = RunConfig()
            note = f"stored config unreadable ({' '.join(str(error).split())}); showing defaults"
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
    ) -> str:
        """Records a new run with its recipe and the package versions.

        Args:
            config: the recipe (stored as JSON; not validated here).
            status: usually "queued"; tests and imports may record finished runs.
            group_id: the group (seed repeats) the run belongs to.
            num_params: the model's parameter count when already known.

        Returns:
            The new run id, e.g. "r20261129-015512-3f9a" (sorts by creation time).

        Raises:
            ValueError: for a status outside `STATUSES` or a config that is not a RunConfig.
        """
        _check_status(status)
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
                        " finished_at, group_id, num_params, progress, versions, heartbeat_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (run_id, status, config.to_json(), now, started, finished, group_id,
                         num_params, json.dumps(progress), json.dumps(package_versions()),
                         heartbeat),
                    )
                return run_id
            except sqlite3.IntegrityError:
                continue  # two runs in the same second drew the same suffix
        raise RuntimeError("could not draw a unique run id after 10 tries")

    def get_run(self, run_id: str) -> RunRecord:
        """Returns the record of `run_id`.

        Raises:
            RunNotFoundError: (a KeyError) when there is no such run.
        """
        with self._read() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise self._missing(run_id)
        return self._record(row)

    def list_runs(
        self,
        *,
        statuses: Iterable[str] | None = None,
        group_id: str | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Returns runs, newest first.

        Args:
            statuses: keep only these statuses (None: all).
            group_id: keep only this group (None: all).
            limit: at most this many (None: all).

        Raises:
            ValueError: for an unknown status or a limit below 1.
        """
        sql, params = self._run_filter(statuses=statuses, group_id=group_id)
        sql = f"SELECT * FROM runs{sql} ORDER BY created_at DESC, rowid DESC"
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(f"limit: received {limit!r}, expected a whole number >= 1 or None")
            sql += f" LIMIT {limit}"
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [self._record(row) for row in rows]

    @staticmethod
    def _run_filter(
        *,
        run_ids: Iterable[str] | None = None,
        statuses: Iterable[str] | None = None,
        group_id: str | None = None,
    ) -> tuple[str, list]:
        clauses, params = [], []
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
        """Atomically turns the oldest queued run into a running one owned by `worker_pid`.

        Two workers calling at once never get the same run.

        Returns:
            The claimed run's record, or None when nothing is queued.
        """
        now = time.time()
        with self._write() as conn:
            row = conn.execute(
                "SELECT run_id FROM runs WHERE status = 'queued'"
                " ORDER BY created_at, rowid LIMIT 1"
            ).fetchone()
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
        with self._write() as conn:
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
        if best_epoch is not None and (isinstance(best_epoch, bool) or not isinstance(best_epoch, int)
                                       or best_epoch < 1):
            raise ValueError(f"best_epoch: received {best_epoch!r}, expected a whole number >= 1 or None")
        with self._write() as conn:
            self._update_run(
                conn, run_id,
                "UPDATE runs SET status = ?, message = ?, test_loss = ?, test_accuracy = ?,"
                " test_accuracy_last = ?, best_epoch = ?, compile_seconds = ?,"
                " seconds_per_epoch = ?, finished_at = ? WHERE run_id = ?",
                (status, str(message), _metric(test_loss, "test_loss"),
                 _metric(test_accuracy, "test_accuracy"),
                 _metric(test_accuracy_last, "test_accuracy_last"), best_epoch,
                 _metric(compile_seconds, "compile_seconds"),
                 _metric(seconds_per_epoch, "seconds_per_epoch"), time.time(), run_id),
            )

    def request_stop(self, run_id: str) -> None:
        """Asks a run to stop; a queued run is marked "stopped" at once (it never started).

        Finished runs are left as they are.

        Raises:
            RunNotFoundError: when there is no such run.
        """
        with self._write() as conn:
            row = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise self._missing(run_id)
            if row["status"] == "queued":
                conn.execute(
                    "UPDATE runs SET status = 'stopped', stop_requested = 1, finished_at = ?,"
                    " message = 'stopped before it started' WHERE run_id = ?",
                    (time.time(), run_id),
                )
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

    def delete_run(self, run_id: str) -> None:
        """Deletes a run's rows and its artifact folder.

        Raises:
            ValueError: when the run is running (stop it first).
            RunNotFoundError: when there is no such run.
        """
        with self._write() as conn:
            row = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise self._missing(run_id)
            if row["status"] == "running":
                raise ValueError(
                    f"run {run_id} is running; stop it first (Stop button, or "
                    f"seqlab.jobs.stop_run) and delete it once it has finished"
                )
            conn.execute("DELETE FROM epochs WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        folder = self.home / ARTIFACTS_FOLDER / run_id
        if _RUN_ID_PATTERN.fullmatch(run_id) and folder.is_dir():
            shutil.rmtree(folder)

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

    def has_model(self, run_id: str) -> bool:
        """Returns whether the run saved a model (creates nothing; False for a bad id)."""
        try:
            return (self._artifact_folder(run_id) / MODEL_FILE).is_file()
        except ValueError:
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
        """Returns the run's `meta.json`, or None when it is missing or unreadable (creates nothing)."""
        try:
            meta = json.loads((self._artifact_folder(run_id) / META_FILE).read_text())
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) else None

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
        if not isinstance(run_id, str) or not _RUN_ID_PATTERN.fullmatch(run_id):
            raise ValueError(
                f"run_id: received {run_id!r}, expected a run id such as r20261129-015512-3f9a"
            )
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

    def epochs(self, run_id: str) -> list[dict]:
        """Returns the run's epochs in order: [{"epoch", "loss", "accuracy", "val_loss",
        "val_accuracy", "seconds", ...extra metrics}] (an unknown run has none)."""
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
            rows = conn.execute(
                f"SELECT * FROM epochs{sql} ORDER BY run_id, epoch", params
            ).fetchall()
        columns = ["run_id", "epoch", *METRIC_COLUMNS]
        records = []
        for row in rows:
            record = _epoch_dict(row)
            record["run_id"] = row["run_id"]
            columns.extend(key for key in record if key not in columns)
            records.append(record)
        frame = pd.DataFrame.from_records(records, columns=columns)
        frame["epoch"] = frame["epoch"].astype("int64")
        return frame.astype({name: "float64" for name in METRIC_COLUMNS})

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
            rows = conn.execute(
                f"SELECT * FROM runs{sql} ORDER BY created_at DESC, rowid DESC", params
            ).fetchall()
        config_columns = list(RunConfig().flat())
        records = []
        for row in rows:
            record = self._record(row)
            records.append({
                "run_id": record.run_id, "label": record.label, "arch": record.arch,
                "status": record.status, "group_id": record.group_id,
                "created_at": record.created_at, "started_at": record.started_at,
                "finished_at": record.finished_at, "num_params": record.num_params,
                "test_loss": record.test_loss, "test_accuracy": record.test_accuracy,
                **{name: getattr(record, name) for name in RESULT_COLUMNS},
                "message": record.message, "dataset": record.config.data.dataset,
                **record.config.flat(),
            })
        frame = pd.DataFrame.from_records(records, columns=[*RUN_COLUMNS, *config_columns])
        numeric = ("created_at", "started_at", "finished_at", "test_loss", "test_accuracy",
                   "test_accuracy_last", "compile_seconds", "seconds_per_epoch", "majority_fraction")
        return frame.astype({"num_params": "Int64", "best_epoch": "Int64",
                             **{name: "float64" for name in numeric}})

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
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO workers (pid, started_at, heartbeat_at) VALUES (?, ?, ?)",
                (pid, now, now),
            )

    def worker_heartbeat(self, pid: int) -> None:
        """Refreshes worker `pid`'s heartbeat (registering it when it is unknown)."""
        now = time.time()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO workers (pid, started_at, heartbeat_at) VALUES (?, ?, ?)"
                " ON CONFLICT (pid) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                (pid, now, now),
            )

    def unregister_worker(self, pid: int) -> None:
        """Forgets worker `pid` (it is exiting)."""
        with self._write() as conn:
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

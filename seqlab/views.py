"""What each page shows, computed from the store and the data (no Streamlit).

The pages stay thin: they read widgets, call one function here (or in
`seqlab.analysis` / `seqlab.charts`) and place the result. Everything here is
testable without a browser and imports no TensorFlow at import time; only
`tokenization_view` loads it (through `seqlab.data.vectorize`).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from seqlab import analysis
from seqlab.config import RECURRENT_ARCHITECTURES, DataConfig, RunConfig
from seqlab.store import FINISHED_STATUSES, RunRecord, RunStore

UPLOAD_FOLDER = "uploads"
UPLOAD_NOTE = ".note"  # <sha256>.note: JSON about the upload (".json" would clash with .json uploads)
UPLOAD_SUFFIXES = (".csv.gz", ".tsv.gz", ".jsonl.gz", ".csv", ".tsv", ".jsonl", ".json", ".txt")
DATASET_TITLES = {
    "toy": "Toy sentiment (a few dozen sentences)",
    "synthetic-longrange": "Synthetic: long-range cue",
    "synthetic-variable": "Synthetic: variable length",
    "imdb": "IMDB movie reviews",
}
ACTIVE_STATUSES = ("queued", "running")
# Rough seconds per (training example x token) per epoch on a 2-core CPU, train
# and validation passes included (measured on synthetic-longrange, T=60, default
# sizes); used until the store holds a completed run of the same architecture.
ROUGH_SECONDS_PER_TOKEN = {
    "lstm": 8e-6, "gru": 7e-6, "bilstm": 1.5e-5, "bigru": 1.2e-5,
    "transformer": 5e-5, "baseline": 2e-6,
}
ROUGH_STARTUP_SECONDS = 15.0  # building, tracing and compiling before the first epoch ends
# Vectorizer slots that are not words: padding ("") and unknown ("[UNK]").
SPECIAL_TOKENS = 2
MEASURED_RUNS = 5
DEFAULT_COMPARED = 5
# Most telling first: a narrow page shows these and scrolls to the rest.
RECENT_COLUMNS = ["label", "status", "progress", "best_val_accuracy", "test_accuracy", "dataset",
                  "created", "run_id"]
# Sequence lengths that keep (nearly) every text whole at a small cost; synthetic
# tasks take their own length, uploaded files a percentile of theirs.
SUGGESTED_SEQUENCE_LENGTHS = {"toy": 16, "imdb": 200}
SUGGESTED_LENGTH_PERCENTILE = 95
MAX_SUGGESTED_LENGTH = 400


# ------------------------------------------------------------------ texts
def parse_texts(text: str) -> list[str]:
    """Returns the non-empty lines of a text area, stripped (one text per line)."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


# ---------------------------------------------------------------- uploads
@dataclass(frozen=True)
class Upload:
    """A validated user file kept under `$SEQLAB_HOME/uploads/`."""

    path: Path
    filename: str
    num_texts: int
    class_names: tuple[str, ...]

    @property
    def title(self) -> str:
        return f"Your file: {self.filename} ({self.num_texts:,} texts)"


def upload_suffix(filename: str) -> str:
    """Returns the file's format suffix (".csv", ".jsonl.gz", ...).

    Raises:
        DatasetError: for a name without a supported suffix.
    """
    from seqlab.data import DatasetError

    lowered = filename.lower()
    for suffix in UPLOAD_SUFFIXES:
        if lowered.endswith(suffix):
            return suffix
    raise DatasetError(
        f"{filename}: received a file named {filename!r}, expected a .csv, .tsv, .jsonl "
        f"(or .txt/.json, optionally .gz) file; rename it or save it in one of those formats"
    )


def save_upload(
    home: str | Path, filename: str, content: bytes, text_column: str = "", label_column: str = ""
) -> Upload:
    """Validates an uploaded file and keeps it as `<home>/uploads/<sha256><suffix>`.

    The same bytes always land at the same path, so re-uploading is free and a
    run's `data.dataset` can point at the file for as long as the store lives.

    Args:
        home: the store folder (`RunStore.home`).
        filename: the name the user uploaded (its suffix picks the format).
        content: the file's bytes.
        text_column: name or 0-based number of the text column; empty = detect.
        label_column: name or 0-based number of the label column; empty = detect.

    Returns:
        The saved `Upload`.

    Raises:
        DatasetError: the content cannot be read as labelled texts; the
            message names the line and the fix. Nothing is saved then.
    """
    from seqlab.data import read_text_table

    suffix = upload_suffix(filename)
    texts, _, class_names = read_text_table(content, filename, text_column, label_column)
    folder = Path(home) / UPLOAD_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(content).hexdigest()
    path = folder / f"{digest}{suffix}"
    if not path.exists():
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(content)
        partial.replace(path)  # atomic: a reader never sees half a file
    upload = Upload(path, Path(filename).name, len(texts), tuple(class_names))
    path.with_name(f"{digest}{UPLOAD_NOTE}").write_text(json.dumps({
        "filename": upload.filename, "num_texts": upload.num_texts,
        "class_names": list(upload.class_names),
    }))
    return upload


def list_uploads(home: str | Path) -> list[Upload]:
    """Returns the saved uploads, newest first (files without a readable note are skipped)."""
    folder = Path(home) / UPLOAD_FOLDER
    if not folder.is_dir():
        return []
    uploads = []
    for note in folder.glob(f"*{UPLOAD_NOTE}"):
        data_files = [p for p in folder.glob(f"{note.stem}.*")
                      if p != note and not p.name.endswith(".partial")]
        try:
            info = json.loads(note.read_text())
            uploads.append((note.stat().st_mtime, Upload(
                data_files[0], str(info["filename"]), int(info["num_texts"]),
                tuple(info["class_names"]))))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            continue
    return [upload for _, upload in sorted(uploads, key=lambda item: -item[0])]


def dataset_options(home: str | Path, imdb_found: bool) -> dict[str, str]:
    """Returns the datasets a user can pick: `data.dataset` value -> title.

    IMDB is listed only when a local copy was found; uploads follow the
    built-in datasets.
    """
    options = {name: title for name, title in DATASET_TITLES.items()
               if name != "imdb" or imdb_found}
    options.update({str(upload.path): upload.title for upload in list_uploads(home)})
    return options


def dataset_title(dataset: str, options: dict[str, str] | None = None) -> str:
    """Returns a readable name for a `data.dataset` value."""
    if options and dataset in options:
        return options[dataset]
    return DATASET_TITLES.get(dataset, Path(dataset).name)


def dataset_name(dataset: str) -> str:
    """Returns a short name for tables: a built-in's name, or an upload's original file name."""
    if dataset in DATASET_TITLES:
        return dataset
    path = Path(dataset)
    try:
        # Uploads are stored as <sha256><suffix>; the note beside them keeps the name the user gave.
        return str(json.loads(path.parent.joinpath(path.name.split(".")[0] + UPLOAD_NOTE).read_text())["filename"])
    except (OSError, ValueError, KeyError, TypeError):
        return path.name


def is_synthetic(dataset: str) -> bool:
    """Whether a `data.dataset` value names a synthetic task (whose texts are `synthetic_length` long)."""
    from seqlab.data.synthetic import TASKS

    return dataset in TASKS


def suggested_data_settings(dataset: str, *, synthetic_length: int = DataConfig.synthetic_length,
                            text_column: str = "", label_column: str = "") -> dict[str, int]:
    """Returns data settings that suit a dataset, for the Data page and the Train form to start from.

    The sequence length keeps (nearly) every text whole without padding
    most of each example: 16 for the toy sentences (10 tokens at most), a
    synthetic task's own `synthetic_length`, 200 for IMDB reviews (the usual
    cut), and for a file the 95th percentile of its texts' token counts,
    rounded up and at most 400.

    Args:
        dataset: a `data.dataset` value (a built-in name or a file path).
        synthetic_length: tokens per example of the synthetic tasks.
        text_column: a file's text column (empty = detect).
        label_column: a file's label column (empty = detect).

    Returns:
        {"sequence_length": int}.

    Raises:
        DatasetError: a file that cannot be read as labelled texts.
    """
    if dataset in SUGGESTED_SEQUENCE_LENGTHS:
        return {"sequence_length": SUGGESTED_SEQUENCE_LENGTHS[dataset]}
    if is_synthetic(dataset):
        return {"sequence_length": int(synthetic_length)}
    from seqlab.data import load_dataset

    config = DataConfig(dataset=dataset, text_column=text_column, label_column=label_column)
    lengths = lengths_table(load_dataset(config, seed=0))["length"].to_numpy()
    percentile = math.ceil(float(np.percentile(lengths, SUGGESTED_LENGTH_PERCENTILE))) if lengths.size else 2
    # At least 2: the smallest length `RunConfig.validate` accepts.
    return {"sequence_length": int(min(max(percentile, 2), MAX_SUGGESTED_LENGTH))}


# ------------------------------------------------------------ data page
def data_config(values: dict) -> DataConfig:
    """Returns a validated `DataConfig` from `{"sequence_length": 40, ...}` (data fields only).

    Raises:
        ValueError: naming the field, the value received and what is allowed.
    """
    config = RunConfig().with_overrides({f"data.{name}": value for name, value in values.items()})
    return config.validate().data


def label_counts_table(dataset) -> pd.DataFrame:
    """Returns texts per split and class: columns split, label (class name), count."""
    rows = []
    for split, (_, labels) in dataset.splits().items():
        counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=dataset.num_classes)
        rows += [{"split": split, "label": name, "count": int(count)}
                 for name, count in zip(dataset.class_names, counts)]
    return pd.DataFrame(rows, columns=["split", "label", "count"])


def lengths_table(dataset) -> pd.DataFrame:
    """Returns the token count of every text: columns split, length."""
    from seqlab.data import token_lengths

    frames = [pd.DataFrame({"split": split, "length": token_lengths(texts)})
              for split, (texts, _) in dataset.splits().items()]
    return pd.concat(frames, ignore_index=True)


def truncation_summary(lengths: pd.DataFrame, sequence_length: int) -> str:
    """Returns one sentence on the tokens `sequence_length` keeps and the texts it pads.

    The share of texts cut is left to the length histogram, which marks it
    at its red line.
    """
    values = lengths["length"].to_numpy()
    if values.size == 0:
        return "No texts."
    kept = float(np.minimum(values, sequence_length).sum() / max(values.sum(), 1))
    padded = float((values < sequence_length).mean())
    return (f"At {sequence_length} tokens per text, {kept:.0%} of all tokens are kept and "
            f"{padded:.0%} of texts get padding.")


def tokenization_view(dataset, config, num_examples: int = 4) -> pd.DataFrame:
    """Returns tokens, ids, padding and mask of the first training texts (loads TensorFlow).

    The vocabulary is adapted on the training texts exactly as for a run.

    Returns:
        `seqlab.data.vectorize.tokenization_table(...)` plus a `text` column.
    """
    from seqlab.data.vectorize import tokenization_table, vectorize

    vocabulary = vectorize(dataset, config).vocabulary
    texts = list(dataset.train_texts[:num_examples])
    table = tokenization_table(texts, vocabulary, config)
    return table.assign(text=[texts[i] for i in table["example"]])


# ----------------------------------------------------------- train page
def estimate_vocabulary_size(config: RunConfig, dataset=None) -> int:
    """Returns the vocabulary a run will have: `data.vocabulary_size`, or fewer for small sets.

    Counting the distinct words of a large corpus is slow, so IMDB (and a
    missing dataset) takes `data.vocabulary_size` as it is.
    """
    limit = config.data.vocabulary_size
    if dataset is None or config.data.dataset == "imdb":
        return limit
    from seqlab.data import split_tokens

    words: set[str] = set()
    for text in dataset.train_texts:
        words.update(split_tokens(text))
    return min(limit, len(words) + SPECIAL_TOKENS)


@dataclass(frozen=True)
class SizeEstimate:
    """What a run will cost before it starts."""

    num_params: int
    vocabulary_size: int
    num_classes: int
    num_train: int
    seconds: float
    basis: str  # how `seconds` was estimated, in words


@dataclass(frozen=True)
class Speed:
    """How fast an architecture trains here: a one-off start-up cost plus a rate."""

    seconds_per_token: float  # per training example x token x epoch, steady state
    startup_seconds: float  # extra time of the first epoch (graph tracing, XLA compile)
    basis: str


def size_estimate(store: RunStore, config: RunConfig, dataset) -> SizeEstimate:
    """Counts the run's parameters (no TensorFlow) and estimates its training time.

    Raises:
        ValueError: for sizes the model builder refuses.
    """
    from seqlab.models import count_parameters

    vocabulary_size = estimate_vocabulary_size(config, dataset)
    num_classes = dataset.num_classes
    num_train = len(dataset.train_texts)
    num_params = count_parameters(
        config.model, vocabulary_size=vocabulary_size,
        sequence_length=config.data.sequence_length, num_classes=num_classes,
    )
    speed = training_speed(store, config.model.arch)
    tokens = num_train * config.data.sequence_length * config.train.epochs
    seconds = speed.startup_seconds + speed.seconds_per_token * tokens
    return SizeEstimate(num_params, vocabulary_size, num_classes, num_train, seconds, speed.basis)


def training_speed(store: RunStore, arch: str) -> Speed:
    """Measures `arch`'s speed on up to `MEASURED_RUNS` recent completed runs in the store.

    Falls back to `ROUGH_SECONDS_PER_TOKEN` and `ROUGH_STARTUP_SECONDS` when
    the store has no completed run of that architecture; `basis` says which.
    """
    measured = []
    for record in store.list_runs(statuses=["completed"], limit=50):
        if record.arch != arch:
            continue
        speed = _measured_speed(store, record)
        if speed is not None:
            measured.append(speed)
        if len(measured) == MEASURED_RUNS:
            break
    if not measured:
        return Speed(ROUGH_SECONDS_PER_TOKEN.get(arch, 5e-6), ROUGH_STARTUP_SECONDS,
                     f"a rough constant for {arch} (no completed {arch} run yet)")
    rates, startups = zip(*measured)
    runs = "run" if len(measured) == 1 else "runs"
    return Speed(float(np.median(rates)), float(np.median(startups)),
                 f"measured on {len(measured)} completed {arch} {runs} in this store")


def _measured_speed(store: RunStore, record: RunRecord) -> tuple[float, float] | None:
    """Returns (seconds per example x token, start-up seconds) of a completed run."""
    seconds = [e["seconds"] for e in store.epochs(record.run_id) if e.get("seconds")]
    meta_path = store.home / "artifacts" / record.run_id / "meta.json"
    try:
        num_train = int(json.loads(meta_path.read_text())["examples"]["train"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not seconds or num_train < 1:
        return None
    # The first epoch also traces and compiles the model: count that once, not per epoch.
    steady = float(np.median(seconds[1:])) if len(seconds) > 1 else seconds[0]
    return steady / (num_train * record.config.data.sequence_length), max(seconds[0] - steady, 0.0)


def duration_text(seconds: float) -> str:
    """Returns "about 40 s", "about 3 min" or "about 1.5 h"."""
    if not math.isfinite(seconds):
        return "unknown"
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def queue_groups(store: RunStore, groups: Sequence[Sequence[RunConfig]]) -> list[str]:
    """Queues runs, each list of several configs as one seed group, and makes sure a worker runs them.

    Every config is validated first, so a bad one queues nothing.

    Returns:
        The new run ids, in order.

    Raises:
        ValueError: naming the invalid config.
    """
    from seqlab import jobs

    for configs in groups:
        for config in configs:
            config.validate()
    run_ids = []
    for configs in groups:
        group_id = store.new_group_id() if len(configs) > 1 else None
        run_ids += jobs.queue_runs(store, list(configs), group_id=group_id, start_worker=False)
    jobs.ensure_worker(store)
    return run_ids


def sweep_values(field: str, text: str) -> list:
    """Parses the comma-separated values of a sweep, typed like `field` ("20, 60, 120" -> [20, 60, 120]).

    Raises:
        ValueError: fewer than two values, a repeated one, or a value the field cannot take.
    """
    from seqlab.experiments import parse_vary

    try:
        return parse_vary(f"{field}={text}")[1]
    except ValueError as error:
        # parse_vary speaks to the command line; here the values come from a text box.
        raise ValueError(str(error).replace("--vary", "values to try for", 1)) from None


def sweep_groups(config: RunConfig, archs: Sequence[str], field: str, values: Sequence,
                 num_seeds: int) -> list[list[RunConfig]]:
    """Plans a sweep from the form's config: one list (a seed group) per architecture and value.

    Raises:
        ValueError: no architecture, or an invalid point (named).
    """
    from seqlab.experiments import plan_sweep

    if not archs:
        raise ValueError("architectures: received none, expected at least one; pick them in the sweep section")
    groups: dict[tuple, list[RunConfig]] = {}
    for planned in plan_sweep(config, list(archs), field, list(values), num_seeds):
        groups.setdefault((planned.arch, planned.value), []).append(planned.config)
    return list(groups.values())


BUDGET_TOLERANCE = 0.1  # a fit further than this share from the target is reported as missed


@dataclass(frozen=True)
class BudgetFit:
    """A config whose width was set to come nearest a parameter budget."""

    config: RunConfig
    field: str  # the width setting, e.g. "model.units"
    num_params: int
    target: int

    @property
    def width(self) -> int:
        return getattr(self.config.model, self.field.partition(".")[2])

    @property
    def missed(self) -> bool:
        """The width alone could not bring the count within `BUDGET_TOLERANCE` of the target."""
        return abs(self.num_params - self.target) > BUDGET_TOLERANCE * self.target

    @property
    def text(self) -> str:
        text = f"{self.config.model.arch} with {self.field} = {self.width}: {self.num_params:,} parameters"
        if self.missed:
            text += (" (as near as its width can get; change data.vocabulary_size or "
                     "model.embedding_dim to move the embedding's share)")
        return text


def fit_to_budget(config: RunConfig, target: int, dataset) -> BudgetFit:
    """Sizes `config`'s width (units, ff_dim or embedding_dim) to about `target` parameters.

    Uses the run's estimated vocabulary and `seqlab.models.count_parameters` (no TensorFlow).

    Raises:
        ValueError: a target that is not a positive whole number, or invalid sizes.
    """
    from seqlab.models import count_parameters

    sizes = dict(vocabulary_size=estimate_vocabulary_size(config, dataset),
                 sequence_length=config.data.sequence_length, num_classes=dataset.num_classes)
    model = analysis.size_to_parameters(config.model, target, count=count_parameters, **sizes)
    field = f"model.{analysis.WIDTH_FIELDS[model.arch][0]}"
    sized = config.with_overrides({field: getattr(model, field.partition(".")[2])})
    return BudgetFit(sized, field, count_parameters(model, **sizes), int(target))


def budget_fits(config: RunConfig, target: int, dataset, archs: Sequence[str]) -> list[BudgetFit]:
    """Returns `config` as each architecture in `archs`, each sized to about `target` parameters.

    Raises:
        ValueError: no architecture, a bad target, or invalid sizes.
    """
    if not archs:
        raise ValueError("architectures: received none, expected at least one; pick them in the budget section")
    return [fit_to_budget(config.with_overrides({"model.arch": arch}), target, dataset) for arch in archs]


# ------------------------------------------------------------ live runs
@dataclass(frozen=True)
class RunProgress:
    """How far one run is, for two progress bars."""

    epoch_fraction: float
    run_fraction: float
    epoch_text: str
    run_text: str


def run_progress(record: RunRecord) -> RunProgress:
    """Returns the epoch and run progress of a queued or running run."""
    progress = record.progress or {}
    epochs = int(progress.get("epochs") or record.config.train.epochs or 1)
    if record.status == "queued":
        return RunProgress(0.0, 0.0, "waiting for the worker", f"queued: {epochs} epochs")
    epoch = int(progress.get("epoch") or 0)
    batch, batches = int(progress.get("batch") or 0), int(progress.get("batches") or 0)
    phase = progress.get("phase") or "starting"
    within = batch / batches if batches else 0.0
    within = min(max(within, 0.0), 1.0)
    done = min(max((max(epoch, 1) - 1 + within) / epochs, 0.0), 1.0) if epoch else 0.0
    if phase == "training" and epoch:
        epoch_text = f"epoch {epoch}/{epochs}: batch {batch}/{batches or '?'}"
        if progress.get("loss") is not None:
            epoch_text += f", loss {progress['loss']:.4f}"
    else:
        epoch_text = str(phase)
    return RunProgress(within if phase == "training" else 0.0, done, epoch_text,
                       f"{record.label}: {done:.0%} of {epochs} epochs")


@dataclass
class LiveBoard:
    """The Train page's live part: active runs, the latest finished run, recent runs.

    `curves` maps run_id -> that run's `analysis.curves_table` rows, for the
    active runs and the latest finished one.
    """

    active: list[RunRecord]
    latest: RunRecord | None
    curves: dict[str, pd.DataFrame]
    recent: pd.DataFrame


def live_board(store: RunStore, recent: int = 5) -> LiveBoard:
    """Reads queued/running runs, the latest finished runs and their curves so far.

    A fixed number of queries whatever the number of runs.
    """
    active = list(reversed(store.list_runs(statuses=ACTIVE_STATUSES)))  # next to train first
    finished = store.list_runs(statuses=FINISHED_STATUSES, limit=recent)
    latest = finished[0] if finished else None
    ids = [record.run_id for record in active + finished]
    epochs = store.epochs_frame(ids) if ids else None
    curves: dict[str, pd.DataFrame] = {}
    shown = [record.run_id for record in active] + ([latest.run_id] if latest else [])
    if shown:
        table = analysis.curves_table(epochs[epochs["run_id"].isin(shown)], store.runs_frame(shown))
        curves = {run_id: frame.reset_index(drop=True) for run_id, frame in table.groupby("run_id")}
    return LiveBoard(active, latest, curves, runs_table(finished, epochs))


# --------------------------------------------------------------- runs
def recent_runs_table(
    store: RunStore, limit: int = 10, statuses: Sequence[str] | None = None
) -> pd.DataFrame:
    """Returns the latest runs as `runs_table` rows (two queries)."""
    records = store.list_runs(statuses=statuses, limit=limit)
    return runs_table(records, store.epochs_frame([r.run_id for r in records]) if records else None)


def runs_table(records: Sequence[RunRecord], epochs: pd.DataFrame | None) -> pd.DataFrame:
    """Returns one row per run for a small table, `RECENT_COLUMNS`: label, status,
    progress ("3/5 epochs"), best_val_accuracy, test_accuracy, dataset (short
    name), created (UTC), run_id.

    Args:
        records: the runs, in the order to show.
        epochs: `store.epochs_frame(...)` holding at least these runs' epochs.
    """
    if not records:
        return pd.DataFrame(columns=RECENT_COLUMNS)
    best = epochs.groupby("run_id")["val_accuracy"].max()
    done = epochs.groupby("run_id")["epoch"].max()
    rows = []
    for record in records:
        rows.append({
            "run_id": record.run_id,
            "label": record.label,
            "dataset": dataset_name(record.config.data.dataset),
            "status": record.status,
            "progress": f"{int(done.get(record.run_id, 0))}/{record.config.train.epochs} epochs",
            "best_val_accuracy": float(best.get(record.run_id, np.nan)),
            "test_accuracy": record.test_accuracy,
            "created": time.strftime("%Y-%m-%d %H:%M", time.gmtime(record.created_at)),
        })
    return pd.DataFrame(rows, columns=RECENT_COLUMNS)


def model_runs(store: RunStore, arch: str | None = None) -> dict[str, str]:
    """Returns finished runs that saved a model (newest first): run_id -> "label (run_id)".

    Args:
        arch: keep only this architecture (e.g. "transformer").
    """
    from seqlab.training import MODEL_FILE

    found = {}
    for record in store.list_runs(statuses=FINISHED_STATUSES):
        if arch is not None and record.arch != arch:
            continue
        if (store.home / "artifacts" / record.run_id / MODEL_FILE).is_file():
            found[record.run_id] = f"{record.label} · {dataset_title(record.config.data.dataset)} ({record.run_id})"
    return found


# -------------------------------------------------------------- compare
GROUP_PREFIX = "group:"  # a selection item naming a whole seed group instead of one run
VERDICT_METRICS = {
    "best_val_accuracy": "best validation accuracy",
    "final_val_accuracy": "final validation accuracy",
    "test_accuracy": "test accuracy",
}
VERDICT_NEEDS_TWO = ("Select exactly two runs or seed groups above to see whether their difference "
                     "is larger than the seed-to-seed noise (currently {count} selected).")
GROUP_COLUMNS = ["label", "arch", "n_runs", "best_val_accuracy", "final_val_accuracy",
                 "test_accuracy", "seconds_per_epoch"]
OVERFITTING_COLUMNS = ["run_id", "label", "arch", "epochs_run", "best_epoch", "best_val_accuracy",
                       "overfit_epoch", "gap_final", "explanation"]


@dataclass
class CompareData:
    """All runs and epochs, read once per page run, and the tables derived from them.

    The Compare page selects *items*: a run id, or `GROUP_PREFIX + group_id`
    for a seed group drawn as one mean curve with a band.
    """

    runs: pd.DataFrame
    epochs: pd.DataFrame

    @cached_property
    def summary(self) -> pd.DataFrame:
        """`analysis.run_summary_table` of every run (newest first)."""
        return analysis.run_summary_table(self.epochs, self.runs)

    @cached_property
    def curves(self) -> pd.DataFrame:
        """`analysis.curves_table` of every run (labels unique over the whole store)."""
        return analysis.curves_table(self.epochs, self.runs)

    @cached_property
    def group_members(self) -> dict[str, list[str]]:
        """group_id -> the group's run ids, newest first."""
        grouped = self.runs.dropna(subset=["group_id"])
        return {group: list(ids) for group, ids in grouped.groupby("group_id", sort=False)["run_id"]}

    @cached_property
    def labels(self) -> dict[str, str]:
        """Item -> its unique label (run label with seed, or group label)."""
        labels = dict(zip(self.summary["run_id"], self.summary["label"]))
        groups = self.summary.dropna(subset=["group_id"]).drop_duplicates("group_id")
        labels.update({GROUP_PREFIX + g: str(name) for g, name in zip(groups["group_id"], groups["group_label"])})
        return labels

    @cached_property
    def options(self) -> dict[str, str]:
        """Item -> text for the selection, newest first; a group comes just before its newest run."""
        options: dict[str, str] = {}
        for run_id, group_id in zip(self.runs["run_id"], self.runs["group_id"]):
            if isinstance(group_id, str) and GROUP_PREFIX + group_id not in options:
                count = len(self.group_members[group_id])
                options[GROUP_PREFIX + group_id] = f"{self.labels[GROUP_PREFIX + group_id]} · seed group of {count} runs"
            options[run_id] = f"{self.labels[run_id]} ({run_id})"
        return options

    @property
    def default_selection(self) -> list[str]:
        """The latest finished runs, a seed group counting once, at most `DEFAULT_COMPARED`."""
        finished = self.runs[self.runs["status"].isin(FINISHED_STATUSES)]
        items = [GROUP_PREFIX + group if isinstance(group, str) else run_id
                 for run_id, group in zip(finished["run_id"], finished["group_id"])]
        return list(dict.fromkeys(items))[:DEFAULT_COMPARED]

    def members(self, item: str) -> list[str]:
        """Returns the run ids an item stands for (one run, or a group's runs)."""
        if item.startswith(GROUP_PREFIX):
            return self.group_members.get(item[len(GROUP_PREFIX):], [])
        return [item]

    def expand(self, items: Sequence[str]) -> list[str]:
        """Returns the run ids of the items, each once, in order."""
        return list(dict.fromkeys(run_id for item in items for run_id in self.members(item)))


def load_compare(store: RunStore) -> CompareData:
    """Reads every run and every epoch: two queries, however many runs there are."""
    return CompareData(store.runs_frame(), store.epochs_frame())


# The Compare page's run table: the outcome first, then the settings, the id last.
COMPARE_RUN_COLUMNS = [
    "status", "label", "size", "num_params", "seconds_per_epoch", "best_val_accuracy",
    "final_val_accuracy", "test_accuracy", "best_epoch", "epochs_run", "dataset",
    "data.sequence_length", "model.embedding_dim", "model.num_layers", "train.learning_rate",
    "train.batch_size", "run_id",
]


def model_size_text(arch: str, *, units: int, num_heads: int, ff_dim: int, embedding_dim: int) -> str:
    """Says how wide a model is in the terms of its architecture.

    Returns:
        "32 units" (recurrent), "2 heads, ff 64" (transformer) or "32-d"
        (baseline: the embedding is all it has).
    """
    if arch in RECURRENT_ARCHITECTURES:
        return f"{int(units)} units"
    if arch == "transformer":
        return f"{int(num_heads)} heads, ff {int(ff_dim)}"
    return f"{int(embedding_dim)}-d"


def compare_runs_table(data: CompareData) -> pd.DataFrame:
    """Returns the Compare page's run table: one row per run, `COMPARE_RUN_COLUMNS` in order.

    `size` says the width that applies to each architecture (units only for
    recurrent models); `dataset` is the short name (`dataset_name`).
    """
    summary = data.summary
    sizes = [model_size_text(arch, units=units, num_heads=heads, ff_dim=ff_dim, embedding_dim=embedding)
             for arch, units, heads, ff_dim, embedding in zip(
                 summary["arch"], summary["model.units"], summary["model.num_heads"],
                 summary["model.ff_dim"], summary["model.embedding_dim"])]
    names = {name: dataset_name(str(name)) for name in summary["dataset"].unique()}
    table = summary.assign(size=sizes, dataset=summary["dataset"].map(names))
    return table[[column for column in COMPARE_RUN_COLUMNS if column in table]].reset_index(drop=True)


def sentence_list(labels: Sequence[str], sentences: Sequence[str]) -> str:
    """Returns Markdown bullets "- **label**: sentence", one per run (labels escaped)."""
    return "\n".join(f"- **{_markdown_escaped(str(label))}**: {sentence}"
                     for label, sentence in zip(labels, sentences))


def _markdown_escaped(text: str) -> str:
    # A run name is the user's text: its * _ ` [ ] must not turn into formatting or links.
    for character in "\\`*_[]":
        text = text.replace(character, "\\" + character)
    return text


def groups_view(data: CompareData) -> pd.DataFrame:
    """Returns one row per seed group: label, arch, n_runs and "mean ± std" texts of its metrics."""
    return analysis.group_summary_table(data.summary)[GROUP_COLUMNS]


@dataclass
class CompareView:
    """What the Compare page draws for the selected runs and groups.

    Each table is computed when first read, so a tab that is not open costs nothing.

    Args:
        data: `load_compare(store)`.
        selected: items (run ids and `GROUP_PREFIX + group_id`).
        show_individual: also draw the runs of selected groups one by one.
        patience: the early-stopping patience to replay.
    """

    data: CompareData
    selected: list[str]
    show_individual: bool = False
    patience: int = 2

    @cached_property
    def run_ids(self) -> list[str]:
        """Every selected run, group members included."""
        return self.data.expand(self.selected)

    @cached_property
    def groups(self) -> list[str]:
        """The group ids of the selected groups."""
        return [item[len(GROUP_PREFIX):] for item in self.selected if item.startswith(GROUP_PREFIX)]

    @cached_property
    def all_curves(self) -> pd.DataFrame:
        """`analysis.curves_table` rows of every selected run."""
        return self.data.curves[self.data.curves["run_id"].isin(self.run_ids)]

    @cached_property
    def curves(self) -> pd.DataFrame:
        """The curves of the runs drawn one by one (group members only when asked for)."""
        grouped = {run_id for group in self.groups for run_id in self.data.group_members.get(group, [])}
        one_by_one = [run_id for run_id in self.run_ids
                      if self.show_individual or run_id not in grouped or run_id in self.selected]
        return self.all_curves[self.all_curves["run_id"].isin(one_by_one)]

    @cached_property
    def group_curves(self) -> pd.DataFrame:
        """`analysis.group_curves_table` of the selected groups."""
        return analysis.group_curves_table(self.all_curves[self.all_curves["group_id"].isin(self.groups)])

    @property
    def _epochs(self) -> pd.DataFrame:
        return self.data.epochs[self.data.epochs["run_id"].isin(self.run_ids)]

    @cached_property
    def gap(self) -> pd.DataFrame:
        # Labels come from all runs, so a run is named the same in every chart and table.
        return analysis.gap_table(self._epochs, self.data.runs)

    @cached_property
    def overfitting(self) -> pd.DataFrame:
        summary = self.data.summary
        return overfitting_table(summary[summary["run_id"].isin(self.run_ids)])

    @cached_property
    def early_stopping(self) -> pd.DataFrame:
        return analysis.early_stopping_table(self._epochs, self.data.runs, [self.patience])


def compare_view(data: CompareData, selected: Sequence[str], *, show_individual: bool = False,
                 patience: int = 2) -> CompareView:
    """Returns the (lazily computed) curves, bands, gap and replay of a selection; no query."""
    return CompareView(data, list(selected), show_individual, int(patience))


def overfitting_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Returns `OVERFITTING_COLUMNS` of summary rows, with each run's curves explained in words."""
    rows = summary.assign(explanation=[_overfitting_sentence(row) for row in summary.itertuples(index=False)])
    return rows[OVERFITTING_COLUMNS].reset_index(drop=True)


def _overfitting_sentence(row) -> str:
    epochs_run, best = int(row.epochs_run), row.best_epoch
    if epochs_run == 0 or pd.isna(best):
        return "no epoch with a validation loss recorded yet"
    gap = "" if pd.isna(row.gap_final) else f"; final gap (val − train loss) {row.gap_final:.3f}"
    if not pd.isna(row.overfit_epoch):
        return (f"validation loss was lowest at epoch {int(best)}, then rose while training loss "
                f"kept falling: overfitting after epoch {int(row.overfit_epoch)}{gap}")
    if int(best) == epochs_run and epochs_run > 1:
        return f"validation loss was still falling at the last epoch ({epochs_run}): more epochs may help{gap}"
    return f"best epoch {int(best)} of {epochs_run}; no clear overfitting{gap}"


@dataclass
class Verdict:
    """Whether two selected runs or groups differ beyond seed noise."""

    sentence: str
    significant: bool | None  # None: too few seeds to tell
    table: pd.DataFrame  # one row per side: label, runs, mean, std, min, max
    result: dict  # `analysis.compare_groups(...)`


def verdict_view(data: CompareData, selected: Sequence[str], metric: str = "best_val_accuracy",
                 method: str = "welch") -> Verdict | None:
    """Compares the metric of two selected items (runs or seed groups); None unless exactly two.

    Raises:
        ValueError: on an unknown metric or method.
    """
    if metric not in VERDICT_METRICS:
        raise ValueError(f"metric: received {metric!r}, expected one of {', '.join(VERDICT_METRICS)}")
    if len(selected) != 2:
        return None
    values = data.summary.set_index("run_id")[metric]
    sides = [(data.labels.get(item, item), values.reindex(data.members(item)).dropna()) for item in selected]
    result = analysis.compare_groups(sides[0][1], sides[1][1], metric_name=VERDICT_METRICS[metric],
                                     labels=(sides[0][0], sides[1][0]), method=method)
    table = pd.DataFrame([{"run or group": label, "runs": len(side), "mean": side.mean(),
                           "std": side.std(), "min": side.min(), "max": side.max()}
                          for label, side in sides])
    return Verdict(result["verdict"], result["significant"], table, result)


def completed_summary(data: CompareData) -> pd.DataFrame:
    """Returns the summary rows of completed runs that recorded a validation accuracy."""
    summary = data.summary
    return summary[summary["status"].isin(analysis.COMPLETED_STATUSES) & summary["best_val_accuracy"].notna()]


def budget_datasets(data: CompareData) -> list[str]:
    """Returns the datasets of completed runs, the most recently used first."""
    return list(dict.fromkeys(completed_summary(data)["dataset"]))


def budget_table(data: CompareData, dataset: str) -> pd.DataFrame:
    """Returns the completed runs on one dataset (the Budgets tab's points)."""
    done = completed_summary(data)
    return done[done["dataset"] == dataset].reset_index(drop=True)


def pareto_labels(table: pd.DataFrame, x: str, y: str) -> list[str]:
    """Returns the labels of the runs on the Pareto front (cheapest first)."""
    data = table.dropna(subset=[x, y])
    if data.empty:
        return []
    return data[analysis.pareto_front(data, x, y)].sort_values(x)["label"].tolist()


@dataclass(frozen=True)
class SweepFamily:
    """Completed runs that differ only in one setting (plus architecture and seed)."""

    field: str
    run_ids: tuple[str, ...]
    title: str


def sweep_families(summary: pd.DataFrame, field: str) -> list[SweepFamily]:
    """Returns `analysis.sweep_families` over `field`, each with a title, the largest first."""
    rows = summary.set_index("run_id", drop=False)
    families = []
    for run_ids in analysis.sweep_families(summary, field):
        part = rows.loc[run_ids]
        archs = ", ".join(dict.fromkeys(part["arch"]))
        shown = ", ".join(f"{value:g}" if isinstance(value, (int, float)) else str(value)
                          for value in sorted(part[field].unique()))
        title = (f"{dataset_title(part['data.dataset'].iloc[0])} · {archs} · {field} = {shown} · "
                 f"{len(part)} runs of {part['train.epochs'].iloc[0]} epochs")
        families.append(SweepFamily(field, tuple(run_ids), title))
    return families


def sweep_fields(summary: pd.DataFrame) -> list[str]:
    """Returns the sweepable settings some completed runs were swept over."""
    from seqlab.experiments import SWEEPABLE

    return [field for field in SWEEPABLE if analysis.sweep_families(summary, field)]


def sweep_view(data: CompareData, family: SweepFamily) -> pd.DataFrame:
    """Returns `analysis.sweep_table` of one sweep family."""
    summary = data.summary
    return analysis.sweep_table(summary[summary["run_id"].isin(family.run_ids)], family.field)


def advice_lines(data: CompareData) -> list[str]:
    """Returns the "which architecture?" sentences drawn from every completed run."""
    return analysis.advice(data.summary, data.curves)


def delete_runs(store: RunStore, run_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Deletes runs and their artifacts; returns (deleted ids, messages for those kept)."""
    deleted, problems = [], []
    for run_id in run_ids:
        try:
            store.delete_run(run_id)
            deleted.append(run_id)
        except (KeyError, ValueError) as error:
            problems.append(str(error.args[0]) if error.args else str(error))
    return deleted, problems


def curves_csv(curves: pd.DataFrame) -> bytes:
    """Returns the curves table as UTF-8 CSV bytes (for a download button)."""
    return curves.to_csv(index=False).encode("utf-8")


# ------------------------------------------------------------ attention
def attention_heads(attention: pd.DataFrame) -> list[str]:
    """Returns the heads of an attention table as text, in order, "mean" last."""
    heads = sorted({str(head) for head in attention["head"]} - {"mean"}, key=lambda h: (len(h), h))
    return heads + ["mean"]


def no_attention_message(store: RunStore, run_id: str) -> str:
    """Says why run `run_id` (e.g. from a link) has no attention map to show."""
    try:
        record = store.get_run(run_id)
    except KeyError:
        return f"There is no run {run_id!r} in this store; pick a transformer run below."
    if record.arch != "transformer":
        return (f"Run {run_id} ({record.label}) uses the {record.arch} architecture, which has no "
                f"attention layers. Attention maps exist for transformer runs only.")
    return (f"Run {run_id} ({record.label}) has no saved model yet (status {record.status}); "
            f"a model is saved when a run completes or is stopped.")


# -------------------------------------------------------------- predict
def prediction_summary_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """Returns one row per text and run: text, run (label), predicted class, probability."""
    picked = predictions[predictions["predicted"].astype(bool)]
    table = picked.rename(columns={"label": "run", "class_name": "predicted_class"})
    return table[["text", "run", "run_id", "predicted_class", "probability"]].reset_index(drop=True)


def prediction_errors(predictions: pd.DataFrame) -> list[str]:
    """Returns the messages of runs that could not predict."""
    errors = predictions["error"].dropna() if "error" in predictions else []
    return [str(message) for message in dict.fromkeys(errors)]


def predictions_for_text(predictions: pd.DataFrame, text: str) -> pd.DataFrame:
    """Returns the rows of one text (for a per-text probability chart)."""
    return predictions[predictions["text"] == text].reset_index(drop=True)


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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from seqlab import analysis
from seqlab.config import BUILTIN_DATASETS, DataConfig, RunConfig
from seqlab.store import FINISHED_STATUSES, RunRecord, RunStore

UPLOAD_FOLDER = "uploads"
UPLOAD_SUFFIXES = (".csv.gz", ".tsv.gz", ".jsonl.gz", ".csv", ".tsv", ".jsonl", ".json", ".txt")
DATASET_TITLES = {
    "toy": "Toy sentiment (a few dozen sentences)",
    "synthetic-longrange": "Synthetic: long-range cue",
    "synthetic-variable": "Synthetic: variable length",
    "imdb": "IMDB movie reviews",
}
ACTIVE_STATUSES = ("queued", "running")
# Rough seconds per (training example x token) per epoch on a 2-core CPU, train
# and validation passes included; used until the store holds a completed run
# of the same architecture to measure from.
ROUGH_SECONDS_PER_TOKEN = {
    "lstm": 6e-6, "gru": 5e-6, "bilstm": 1.2e-5, "bigru": 1e-5,
    "transformer": 4e-6, "baseline": 5e-7,
}
# Vectorizer slots that are not words: padding ("") and unknown ("[UNK]").
SPECIAL_TOKENS = 2
MEASURED_RUNS = 5
DEFAULT_COMPARED = 5
RECENT_COLUMNS = ["run_id", "label", "dataset", "status", "progress", "best_val_accuracy",
                  "test_accuracy", "created"]


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
    path.with_name(f"{digest}.json").write_text(json.dumps({
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
    for note in folder.glob("*.json"):
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
    """Returns one sentence on how much `sequence_length` cuts and pads."""
    values = lengths["length"].to_numpy()
    if values.size == 0:
        return "No texts."
    longer = float((values > sequence_length).mean())
    kept = float(np.minimum(values, sequence_length).sum() / max(values.sum(), 1))
    padded = float((values < sequence_length).mean())
    return (f"{longer:.0%} of texts are longer than {sequence_length} tokens and get cut; "
            f"{kept:.0%} of all tokens are kept; {padded:.0%} of texts get padding.")


def tokenization_view(dataset, config, num_examples: int = 4) -> pd.DataFrame:
    """Returns tokens, ids, padding and mask of the first training texts (loads TensorFlow).

    The vocabulary is adapted on the training texts exactly as for a run.

    Returns:
        `seqlab.data.vectorize.tokenization_table(...)` plus a `text` column and
        a `token_id` column (the id), as `charts.tokens_chart` reads it.
    """
    from seqlab.data.vectorize import tokenization_table, vectorize

    vocabulary = vectorize(dataset, config).vocabulary
    texts = list(dataset.train_texts[:num_examples])
    table = tokenization_table(texts, vocabulary, config)
    return table.assign(token_id=table["id"], text=[texts[i] for i in table["example"]])


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


def size_estimate(store: RunStore, config: RunConfig, dataset) -> SizeEstimate:
    """Counts the run's parameters (no TensorFlow) and estimates its training time.

    The time comes from seconds per (example x token) of up to the last
    `MEASURED_RUNS` completed runs of the same architecture in the store, else
    from a rough constant per architecture; `basis` says which.

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
    per_token, basis = seconds_per_token(store, config.model.arch)
    seconds = per_token * num_train * config.data.sequence_length * config.train.epochs
    return SizeEstimate(num_params, vocabulary_size, num_classes, num_train, seconds, basis)


def seconds_per_token(store: RunStore, arch: str) -> tuple[float, str]:
    """Returns (seconds per training example x token per epoch, how it was found)."""
    rates = []
    for record in store.list_runs(statuses=["completed"], limit=50):
        if record.arch != arch:
            continue
        rate = _measured_rate(store, record)
        if rate is not None:
            rates.append(rate)
        if len(rates) == MEASURED_RUNS:
            break
    if rates:
        runs = "run" if len(rates) == 1 else "runs"
        return float(np.median(rates)), f"measured on {len(rates)} completed {arch} {runs} in this store"
    return ROUGH_SECONDS_PER_TOKEN.get(arch, 5e-6), f"a rough constant for {arch} (no completed {arch} run yet)"


def _measured_rate(store: RunStore, record: RunRecord) -> float | None:
    seconds = [e["seconds"] for e in store.epochs(record.run_id) if e.get("seconds")]
    meta_path = store.home / "artifacts" / record.run_id / "meta.json"
    try:
        num_train = int(json.loads(meta_path.read_text())["examples"]["train"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not seconds or num_train < 1:
        return None
    # The median leaves out the first epoch's compile time when there are several.
    return float(np.median(seconds)) / (num_train * record.config.data.sequence_length)


def duration_text(seconds: float) -> str:
    """Returns "about 40 s", "about 3 min" or "about 1.5 h"."""
    if not math.isfinite(seconds):
        return "unknown"
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def seed_configs(config: RunConfig, repeats: int) -> list[RunConfig]:
    """Returns `repeats` copies of `config` with seeds seed, seed+1, ... (one for 1)."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats: received {repeats!r}, expected a whole number >= 1")
    return [config.with_overrides({"seed": config.seed + index}) for index in range(repeats)]


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
    """Returns one row per run for a small table: run_id, label, dataset, status,
    progress ("3/5 epochs"), best_val_accuracy, test_accuracy, created (UTC).

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
            "dataset": dataset_title(record.config.data.dataset),
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
@dataclass
class CompareData:
    """All runs and epochs, read once per page run."""

    runs: pd.DataFrame
    epochs: pd.DataFrame

    @property
    def options(self) -> dict[str, str]:
        """run_id -> "label (run_id)", newest first."""
        return {row.run_id: f"{row.label} ({row.run_id})" for row in self.runs.itertuples()}

    @property
    def default_selection(self) -> list[str]:
        """The latest finished runs, at most `DEFAULT_COMPARED`."""
        finished = self.runs[self.runs["status"].isin(FINISHED_STATUSES)]
        return finished["run_id"].head(DEFAULT_COMPARED).tolist()


def load_compare(store: RunStore) -> CompareData:
    """Reads every run and every epoch: two queries, however many runs there are."""
    return CompareData(store.runs_frame(), store.epochs_frame())


SUMMARY_COLUMNS = [
    "run_id", "label", "arch", "status", "dataset", "model.units", "model.num_heads",
    "model.num_layers", "model.embedding_dim", "data.sequence_length", "train.learning_rate",
    "train.batch_size", "num_params", "seconds_per_epoch", "best_epoch", "best_val_accuracy",
    "final_val_accuracy", "test_accuracy",
]


def summary_view(data: CompareData) -> pd.DataFrame:
    """Returns the Compare page's run table: `analysis.run_summary_table` cut to `SUMMARY_COLUMNS`."""
    summary = analysis.run_summary_table(data.epochs, data.runs)
    return summary[[column for column in SUMMARY_COLUMNS if column in summary]]


@dataclass
class CompareView:
    """What the Compare page draws for the selected runs."""

    curves: pd.DataFrame
    gap: pd.DataFrame
    early_stopping: pd.DataFrame


def compare_view(data: CompareData, selected: Sequence[str],
                 patiences: Sequence[int] = (1, 2, 3)) -> CompareView:
    """Builds the curves, gap and early-stopping replay of the selected runs (no query)."""
    selected = list(selected)
    runs = data.runs[data.runs["run_id"].isin(selected)]
    epochs = data.epochs[data.epochs["run_id"].isin(selected)]
    return CompareView(
        curves=analysis.curves_table(epochs, runs),
        gap=analysis.gap_table(epochs, runs),
        early_stopping=analysis.early_stopping_table(epochs, runs, patiences),
    )


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
        return (f"Run {run_id} ({record.label}) is a {record.arch} run: it has no attention "
                f"layers. Attention maps exist for transformer runs only; pick one below.")
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


def is_builtin(dataset: str) -> bool:
    """Returns whether `data.dataset` names a built-in dataset (not a file)."""
    return dataset in BUILTIN_DATASETS

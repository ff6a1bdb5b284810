"""Limits a classroom server sets per workspace: runs in the queue, work per run, upload size.

One student must not fill the queue or the disk for thirty others. The
server sets the limits in its environment (unset: no limit):

    SEQLAB_MAX_QUEUED       runs one workspace may have queued or running at once
    SEQLAB_MAX_RUN_WORK     training examples x epochs one run may ask for
    SEQLAB_MAX_UPLOAD_MB    megabytes one uploaded file may have

`check_queue` is called by `seqlab.jobs` before anything is recorded, and
`save_upload_within_limits` checks a file's size before saving it; a refusal
raises `QuotaExceeded` (a ValueError, so every entry point already shows it
as one line) saying which limit, its value and when to try again. The
instructor (and the system's own store) is never limited.

Nothing here imports Streamlit or TensorFlow.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from seqlab.config import TASK_NUM_EXAMPLES, RunConfig
from seqlab.data.toy import TOY_SIZE
from seqlab.data.uploads import Upload, save_upload, upload_size

MAX_QUEUED_VARIABLE = "SEQLAB_MAX_QUEUED"
MAX_RUN_WORK_VARIABLE = "SEQLAB_MAX_RUN_WORK"
MAX_UPLOAD_VARIABLE = "SEQLAB_MAX_UPLOAD_MB"
# Training examples of the built-in sources when the config does not say (IMDB's train split).
IMDB_TRAIN_EXAMPLES = 25_000


class QuotaExceeded(ValueError):
    """A request over one of the server's limits; the text names the limit, its value and when to try again."""


@dataclass(frozen=True)
class Limits:
    """The server's limits (None: no limit).

    Attributes:
        max_queued: runs one workspace may have queued or running at once.
        max_run_work: training examples x epochs one run may ask for.
        max_upload_mb: megabytes one uploaded file may have.
    """

    max_queued: int | None = None
    max_run_work: int | None = None
    max_upload_mb: float | None = None

    @classmethod
    def from_environment(cls) -> "Limits":
        """Reads the limits from `SEQLAB_MAX_QUEUED`, `SEQLAB_MAX_RUN_WORK` and `SEQLAB_MAX_UPLOAD_MB`.

        Raises:
            ValueError: for a value that is not a positive number, naming the variable.
        """
        return cls(max_queued=_setting(MAX_QUEUED_VARIABLE, int),
                   max_run_work=_setting(MAX_RUN_WORK_VARIABLE, int),
                   max_upload_mb=_setting(MAX_UPLOAD_VARIABLE, float))


def run_work(config: RunConfig) -> tuple[int, int]:
    """Returns (training examples, examples x epochs) a run asks for, estimated without loading data.

    Synthetic tasks make `data.num_examples` texts, IMDB `data.subset` reviews
    (or its whole train split), the toy set its fixed size; a file counts its
    texts when its upload note says how many (else 0: not limited).
    """
    dataset = config.data.dataset
    if dataset == "imdb":
        examples = config.data.subset or IMDB_TRAIN_EXAMPLES
    elif dataset == "toy":
        examples = TOY_SIZE
    elif dataset.startswith("synthetic"):
        examples = config.data.num_examples or TASK_NUM_EXAMPLES
    else:
        examples = upload_size(dataset) or 0
        if config.data.subset:
            examples = min(examples, config.data.subset) if examples else config.data.subset
    return examples, examples * config.train.epochs


def check_queue(store, configs: list[RunConfig], limits: Limits | None = None) -> None:
    """Refuses to queue `configs` for the store's actor when a limit would be passed.

    Args:
        store: the `RunStore` as the actor sees it (`for_actor`); the system's
            store and the instructor's are never limited.
        configs: the runs about to be queued.
        limits: the limits (None: `Limits.from_environment()`).

    Raises:
        QuotaExceeded: naming the limit, its value and when to try again.
    """
    actor = store.actor
    if actor is None or actor.instructor:
        return
    limits = limits or Limits.from_environment()
    if limits.max_run_work is not None:
        for config in configs:
            examples, work = run_work(config)
            if work > limits.max_run_work:
                raise QuotaExceeded(
                    f"limit {MAX_RUN_WORK_VARIABLE}: this run asks for {work:,} examples x epochs "
                    f"({examples:,} training examples x {config.train.epochs} epochs); the server allows "
                    f"{limits.max_run_work:,} per run. Lower train.epochs or data.subset / "
                    f"data.num_examples and queue it again.")
    if limits.max_queued is not None:
        active = store.list_runs(statuses=["queued", "running"], workspace=actor.workspace)
        if len(active) + len(configs) > limits.max_queued:
            raise QuotaExceeded(
                f"limit {MAX_QUEUED_VARIABLE}: workspace {actor.workspace!r} has {len(active)} run(s) queued "
                f"or running and asked for {len(configs)} more; the server allows {limits.max_queued} at once. "
                f"Try again {_when_free(active)}, or stop a queued run.")


def check_upload(size_bytes: int, workspace: str | None, instructor: bool = False,
                 limits: Limits | None = None) -> None:
    """Refuses an uploaded file larger than the server allows.

    Args:
        size_bytes: the file's size.
        workspace: who uploads (None: the system, never limited).
        instructor: the instructor is never limited.
        limits: the limits (None: `Limits.from_environment()`).

    Raises:
        QuotaExceeded: naming the limit, its value and what to do.
    """
    if workspace is None or instructor:
        return
    limits = limits or Limits.from_environment()
    if limits.max_upload_mb is not None and size_bytes > limits.max_upload_mb * 1e6:
        raise QuotaExceeded(
            f"limit {MAX_UPLOAD_VARIABLE}: the file has {size_bytes / 1e6:,.1f} MB; the server allows "
            f"{limits.max_upload_mb:g} MB per upload. Upload a smaller sample of it (fewer rows) instead.")


def save_upload_within_limits(store, filename: str, content: bytes, text_column: str = "",
                              label_column: str = "", limits: Limits | None = None) -> Upload:
    """Saves an uploaded file in the store's workspace (`seqlab.data.uploads.save_upload`) if its size is allowed.

    Args:
        store: the `RunStore` as the uploader sees it (`for_actor`).
        filename: the name the user uploaded.
        content: the file's bytes.
        text_column: name or 0-based number of the text column; empty = detect.
        label_column: name or 0-based number of the label column; empty = detect.
        limits: the limits (None: `Limits.from_environment()`).

    Returns:
        The saved `Upload`.

    Raises:
        QuotaExceeded: the file is larger than the server allows; nothing is saved.
        DatasetError: the content cannot be read as labelled texts; nothing is saved.
    """
    actor = store.actor
    check_upload(len(content), None if actor is None else actor.workspace,
                 bool(actor and actor.instructor), limits)
    return save_upload(store.home, filename, content, text_column, label_column, workspace=store.workspace)


def _when_free(active) -> str:
    """When the earliest of a workspace's running runs should end, from its progress so far."""
    now, ends = time.time(), []
    for record in active:
        epoch, epochs = record.progress.get("epoch") or 0, record.progress.get("epochs") or 0
        if record.status == "running" and record.started_at and epoch and epochs:
            elapsed = now - record.started_at
            ends.append(elapsed * epochs / epoch - elapsed)
    if not ends:
        return "when one of them has finished"
    seconds = max(min(ends), 0.0)
    return (f"in about {seconds / 60:.0f} min, when your earliest run should finish" if seconds >= 90
            else f"in about {seconds:.0f} s, when your earliest run should finish")


def _setting(variable: str, kind):
    text = os.environ.get(variable, "").strip()
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or value <= 0:
        raise ValueError(f"{variable}: received {text!r}, expected a positive "
                         f"{'whole number' if kind is int else 'number'} (or leave it unset for no limit)")
    return value

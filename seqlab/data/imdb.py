"""IMDB movie reviews (aclImdb v1) from a local copy, the Keras cache or a download.

Where the reviews come from, first found wins (design decision 6):

1. `SEQLAB_IMDB`, naming
   a. a folder with `train.csv.gz` and `test*.csv.gz` (columns `label`, `text`,
      optionally `review_id`, `rating`), as in the project's shared copy;
   b. an `aclImdb` folder (`train/pos`, `train/neg`, `test/pos`, `test/neg`
      of `*.txt`) or a folder containing one;
   c. an `aclImdb_v1.tar.gz` file (or a folder holding one), read member by
      member without unpacking it.
2. The Keras cache, `$KERAS_HOME/datasets` (default `~/.keras/datasets`):
   the same three layouts, or `imdb.npz` + `imdb_word_index.json` as
   `keras.datasets.imdb` downloads them. That `.npz` holds pickled object
   arrays, so it is loaded only when its SHA-256 is the official one (the
   hash `keras.datasets.imdb.load_data` pins); its texts are rebuilt from
   word ids, so they are already lowercase and without punctuation.
3. Keras's download of the official tarball into that cache.

Offline with no copy, `load_imdb` raises `DatasetError` saying what to
download and where to put it.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqlab.config import DataConfig
from seqlab.data.texts import DatasetError, TextDataset, clean_html, describe, stratified_split

CLASS_NAMES = ("negative", "positive")
ENV_VAR = "SEQLAB_IMDB"
OFFICIAL_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
TARBALL_NAME = "aclImdb_v1.tar.gz"
TARBALL_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
# The file_hash keras.datasets.imdb.load_data pins for imdb.npz (Keras 3 source).
IMDB_NPZ_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
_MEMBER = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_KIND_NAMES = {
    "csv": "CSV files",
    "folder": "aclImdb folder",
    "tar": "aclImdb_v1.tar.gz",
    "npz": "Keras imdb.npz",
}


@dataclass(frozen=True)
class ImdbStatus:
    """Whether IMDB can be loaded without a download, for the home page."""

    found: bool
    source: str
    message: str


@dataclass(frozen=True)
class _Copy:
    kind: str  # one of _KIND_NAMES
    path: Path
    origin: str  # "SEQLAB_IMDB", "Keras cache" or "Keras download"


# ----------------------------------------------------------- locating
def keras_datasets_dir() -> Path:
    """Returns the folder where Keras caches datasets ($KERAS_HOME/datasets)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def _acl_folder(folder: Path) -> Path | None:
    """Returns the aclImdb folder at, in, or one level below `folder`."""
    candidates = [folder, folder / "aclImdb"]
    if folder.is_dir():
        candidates += sorted(folder.glob("*/aclImdb"))
    for candidate in candidates:
        if all((candidate / split / label).is_dir() for split in ("train", "test") for label in ("pos", "neg")):
            return candidate
    return None


def _find_copy(path: Path, origin: str) -> _Copy | None:
    """Recognizes a copy at `path` by existence checks only."""
    if path.is_file():
        name = path.name.lower()
        if name.endswith((".tar.gz", ".tgz")):
            return _Copy("tar", path, origin)
        if name.endswith(".npz") and (path.parent / "imdb_word_index.json").is_file():
            return _Copy("npz", path, origin)
        return None
    if not path.is_dir():
        return None
    if (path / "train.csv.gz").is_file() and _test_csv(path) is not None:
        return _Copy("csv", path, origin)
    acl = _acl_folder(path)
    if acl is not None:
        return _Copy("folder", acl, origin)
    if (path / TARBALL_NAME).is_file():
        return _Copy("tar", path / TARBALL_NAME, origin)
    if (path / "imdb.npz").is_file() and (path / "imdb_word_index.json").is_file():
        return _Copy("npz", path / "imdb.npz", origin)
    return None


def _test_csv(folder: Path) -> Path | None:
    if (folder / "test.csv.gz").is_file():
        return folder / "test.csv.gz"
    matches = sorted(folder.glob("test*.csv.gz"))
    return matches[0] if matches else None


def _local_copies() -> tuple[list[_Copy], list[str]]:
    """Returns the copies found (in priority order) and notes on what was checked."""
    copies, notes = [], []
    env_value = os.environ.get(ENV_VAR, "").strip()
    if env_value:
        path = Path(env_value).expanduser()
        found = _find_copy(path, ENV_VAR)
        if found is not None:
            copies.append(found)
        elif not path.exists():
            notes.append(f"{ENV_VAR}={env_value} does not exist")
        else:
            notes.append(f"{ENV_VAR}={env_value} holds no IMDB copy in a known layout")
    else:
        notes.append(f"{ENV_VAR} is not set")
    cache = keras_datasets_dir()
    found = _find_copy(cache, "Keras cache")
    if found is not None:
        copies.append(found)
    else:
        notes.append(f"no copy in the Keras cache {cache}")
    return copies, notes


def _instructions() -> str:
    return (
        f"To use IMDB offline, download {OFFICIAL_URL} (about 84 MB) and either "
        f"place it at {keras_datasets_dir() / TARBALL_NAME}, or set the environment "
        f"variable {ENV_VAR} to that file, to the folder where you unpacked it "
        f"(it contains aclImdb/), or to a folder with train.csv.gz and test.csv.gz "
        f"(columns label, text)."
    )


def imdb_status() -> ImdbStatus:
    """Says whether IMDB is available locally, checking only that files exist.

    Returns:
        `ImdbStatus(found, source, message)`; `message` is one sentence for
        the home page (where the copy is, or how to get one).
    """
    copies, _ = _local_copies()
    if not copies:
        return ImdbStatus(
            False, "",
            "No local IMDB copy; an IMDB run will try Keras's download (needs internet). "
            + _instructions(),
        )
    copy = copies[0]
    note = " (used if its SHA-256 is the official one)" if copy.kind == "npz" else ""
    return ImdbStatus(
        True, str(copy.path),
        f"IMDB found: {_KIND_NAMES[copy.kind]} at {copy.path} (from {copy.origin}){note}.",
    )


# ------------------------------------------------------------ reading
def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_mtime_ns, info.st_size


@functools.lru_cache(maxsize=2)
def _read_copy(kind: str, path_text: str, stamp: tuple[int, int]) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Reads a copy into (train, test) frames with columns review_id, rating, label, text.

    Cached per path and modification stamp; callers must not modify the frames.
    Returns None for an `.npz` whose hash is not the official one.
    """
    del stamp  # part of the cache key only
    path = Path(path_text)
    if kind == "csv":
        return _read_csv_folder(path)
    if kind == "folder":
        return _read_acl_folder(path)
    if kind == "tar":
        return _read_tarball(path)
    return _read_npz(path)


def _read_csv_folder(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = []
    for path in (folder / "train.csv.gz", _test_csv(folder)):
        try:
            frame = pd.read_csv(path)
        except Exception as error:  # pandas raises many types for a bad file
            raise DatasetError(f"IMDB: cannot read {path}: {error}; expected a gzip CSV "
                               f"with columns label, text") from None
        missing = {"label", "text"} - set(frame.columns)
        if missing:
            raise DatasetError(
                f"IMDB: {path} lacks column(s) {', '.join(sorted(missing))}; found "
                f"{', '.join(map(str, frame.columns))}; expected label (0/1) and text"
            )
        if not frame["label"].isin([0, 1]).all():
            raise DatasetError(f"IMDB: {path} has labels other than 0 and 1 in column 'label'")
        if "review_id" not in frame:
            frame["review_id"] = np.arange(len(frame))
        if "rating" not in frame:
            frame["rating"] = -1
        frame["text"] = frame["text"].fillna("").astype(str)
        frames.append(frame[["review_id", "rating", "label", "text"]])
    return frames[0], frames[1]


def _frame(rows: list[tuple[int, int, int, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["review_id", "rating", "label", "text"])
    return frame.sort_values(["label", "review_id"], kind="stable").reset_index(drop=True)


def _read_acl_folder(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    splits = {}
    for split in ("train", "test"):
        rows = []
        for label, label_name in enumerate(("neg", "pos")):
            for path in sorted((folder / split / label_name).glob("*.txt")):
                match = _MEMBER.search(f"{split}/{label_name}/{path.name}")
                review_id, rating = (int(match.group(3)), int(match.group(4))) if match else (len(rows), -1)
                try:
                    text = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as error:
                    raise DatasetError(f"IMDB: cannot read {path}: {error}") from None
                rows.append((review_id, rating, label, text))
        splits[split] = _frame(rows)
    _require_both_labels(splits, folder)
    return splits["train"], splits["test"]


def _read_tarball(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows: dict[str, list] = {"train": [], "test": []}
    try:
        # Stream mode: one pass over the gzip, nothing written to disk.
        with tarfile.open(path, mode="r|gz") as archive:
            for member in archive:
                match = _MEMBER.search(member.name)
                if match is None or not member.isfile():
                    continue
                handle = archive.extractfile(member)
                text = handle.read().decode("utf-8", errors="replace")
                split, label_name, review_id, rating = match.groups()
                rows[split].append((int(review_id), int(rating), int(label_name == "pos"), text))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DatasetError(
            f"IMDB: {path} is not a readable .tar.gz ({error}); download {OFFICIAL_URL} again"
        ) from None
    splits = {split: _frame(split_rows) for split, split_rows in rows.items()}
    _require_both_labels(splits, path)
    return splits["train"], splits["test"]


def _read_npz(path: Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != IMDB_NPZ_SHA256:
        return None
    # Safe to unpickle: these exact bytes are the official Keras file.
    arrays = np.load(io.BytesIO(content), allow_pickle=True)
    word_index = json.loads((path.parent / "imdb_word_index.json").read_text(encoding="utf-8"))
    words = {rank: word for word, rank in word_index.items()}
    splits = []
    for split in ("train", "test"):
        sequences, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        rows = [
            (i, -1, int(label), " ".join(words[w] for w in sequence if w in words))
            for i, (sequence, label) in enumerate(zip(sequences, labels))
        ]
        splits.append(_frame(rows))
    return splits[0], splits[1]


def _require_both_labels(splits: dict[str, pd.DataFrame], path: Path) -> None:
    for split, frame in splits.items():
        if set(frame["label"]) != {0, 1}:
            raise DatasetError(
                f"IMDB: {path} has no positive and negative reviews under {split}/pos and "
                f"{split}/neg; expected the aclImdb layout ({split}/pos/*.txt, {split}/neg/*.txt)"
            )


def _download(notes: list[str]) -> _Copy | None:
    try:
        import keras

        cache = keras_datasets_dir()
        path = keras.utils.get_file(
            TARBALL_NAME, OFFICIAL_URL, file_hash=TARBALL_MD5,
            cache_dir=str(cache.parent), cache_subdir=cache.name,
        )
    except Exception as error:  # offline gives URLError, others give other types
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        notes.append(f"the download from {OFFICIAL_URL} failed ({reason})")
        return None
    return _Copy("tar", Path(path), "Keras download")


# ---------------------------------------------------------- selecting
def _balanced(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Draws `count` indices, half per label (as far as each label allows)."""
    wanted = {0: count // 2, 1: count - count // 2}
    chosen = []
    for label, size in wanted.items():
        indices = np.flatnonzero(labels == label)
        chosen.append(rng.choice(indices, size=min(size, len(indices)), replace=False))
    return rng.permutation(np.concatenate(chosen))


def load_imdb(config: DataConfig, seed: int) -> TextDataset:
    """Loads IMDB reviews, drawing a balanced subset with `seed` when asked.

    Args:
        config: `subset` > 0 draws that many training reviews (and a test set
            of the same size, or all there are) balanced by label; 0 keeps
            all. `validation_fraction` of the training reviews is held out.
        seed: fixes the subset and the split.

    Returns:
        The `TextDataset`; `<br />` tags are gone and HTML entities unescaped.

    Raises:
        DatasetError: no copy can be found or downloaded (the message says
            what to download and where to put it), or a copy is unreadable.
    """
    copies, notes = _local_copies()
    for copy in copies + [None]:
        if copy is None:
            copy = _download(notes)
            if copy is None:
                break
        frames = _read_copy(copy.kind, str(copy.path), _stamp(copy.path))
        if frames is None:
            notes.append(f"{copy.path} is not the official imdb.npz (SHA-256 differs), so it was not loaded")
            continue
        return _select(frames, copy, config, seed)
    raise DatasetError(
        "IMDB is not available on this machine and could not be downloaded. "
        + _instructions() + " Checked: " + "; ".join(notes) + "."
    )


def _select(frames: tuple[pd.DataFrame, pd.DataFrame], copy: _Copy, config: DataConfig, seed: int) -> TextDataset:
    train_frame, test_frame = frames
    rng = np.random.default_rng(seed)
    train_labels_all = train_frame["label"].to_numpy(np.int64)
    test_labels_all = test_frame["label"].to_numpy(np.int64)
    if config.subset > 0:
        train_rows = _balanced(train_labels_all, config.subset, rng)
        test_rows = _balanced(test_labels_all, min(config.subset, len(test_frame)), rng)
    else:
        train_rows = rng.permutation(len(train_frame))
        test_rows = np.arange(len(test_frame))
    train_texts = [clean_html(t) for t in train_frame["text"].to_numpy()[train_rows]]
    train_labels = train_labels_all[train_rows]
    train, validation = stratified_split(train_labels, (config.validation_fraction,), rng)
    source = f"{copy.path} ({copy.origin})"
    return TextDataset(
        name="imdb",
        class_names=CLASS_NAMES,
        train_texts=[train_texts[i] for i in train],
        train_labels=train_labels[train],
        val_texts=[train_texts[i] for i in validation],
        val_labels=train_labels[validation],
        test_texts=[clean_html(t) for t in test_frame["text"].to_numpy()[test_rows]],
        test_labels=test_labels_all[test_rows],
        source=source,
        description=describe("IMDB", len(train), len(validation), len(test_rows), "reviews", source),
    )

"""Files users upload: validated, kept by content hash under `<home>/uploads/`.

The same bytes always land at the same path (`<sha256><suffix>`), so a run's
`data.dataset` can point at the file for as long as the store lives; a
`<sha256>.note` beside it keeps the name the user gave, what was read and
the workspaces that uploaded it: each workspace lists only its own uploads
(the same file uploaded by two workspaces is kept once and listed for both).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from seqlab.config import DATA_FILE_FORMATS, DATA_FILE_SUFFIXES, GZIP_SUFFIX
from seqlab.data import DatasetError, read_text_table
from seqlab.workspaces import DEFAULT_WORKSPACE

UPLOAD_FOLDER = "uploads"


UPLOAD_NOTE = ".note"  # <sha256>.note: JSON about the upload (".json" would clash with .json uploads)


# What a file picker may offer: every readable format, and gzip.
UPLOAD_TYPES = tuple(suffix.lstrip(".") for suffix in DATA_FILE_FORMATS) + (GZIP_SUFFIX.lstrip("."),)


@dataclass(frozen=True)
class Upload:
    """A validated user file kept under `<home>/uploads/`."""

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
    lowered = filename.lower()
    for suffix in DATA_FILE_SUFFIXES:
        if lowered.endswith(suffix):
            return suffix
    raise DatasetError(
        f"{filename}: received a file named {filename!r}, expected a .csv, .tsv, .jsonl "
        f"(or .txt/.json, optionally .gz) file; rename it or save it in one of those formats"
    )


def save_upload(
    home: str | Path, filename: str, content: bytes, text_column: str = "", label_column: str = "",
    *, workspace: str | None = None,
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
        workspace: the workspace uploading it (None: the system, e.g. tests
            and benchmarks; listed as the "default" workspace's). The size
            limit of a classroom server is checked first by
            `seqlab.quotas.save_upload_within_limits`, which the app calls.

    Returns:
        The saved `Upload`.

    Raises:
        DatasetError: the content cannot be read as labelled texts; the
            message names the line and the fix. Nothing is saved then.
    """
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
    note = path.with_name(f"{digest}{UPLOAD_NOTE}")
    owners = set(_note_workspaces(note)) if note.exists() else set()
    owners.add(workspace or DEFAULT_WORKSPACE)
    note.write_text(json.dumps({
        "filename": upload.filename, "num_texts": upload.num_texts,
        "class_names": list(upload.class_names), "workspaces": sorted(owners),
    }))
    return upload


def _note_workspaces(note: Path) -> list[str]:
    """The workspaces an upload's note lists (notes written before workspaces: "default")."""
    try:
        owners = json.loads(note.read_text()).get("workspaces")
    except (OSError, ValueError, AttributeError):
        return []
    return [str(name) for name in owners] if isinstance(owners, list) else [DEFAULT_WORKSPACE]


def upload_size(path: str | Path) -> int | None:
    """Returns how many texts the upload at `path` holds, from its note (None for a file that is not an upload)."""
    try:
        return int(_note_of(path)["num_texts"])
    except (KeyError, TypeError, ValueError):
        return None


def list_uploads(home: str | Path, workspace: str | None = None) -> list[Upload]:
    """Returns the saved uploads, newest first (files without a readable note are skipped).

    Args:
        home: the store folder.
        workspace: list only this workspace's uploads (None: every upload, as the instructor sees them).
    """
    folder = Path(home) / UPLOAD_FOLDER
    if not folder.is_dir():
        return []
    uploads = []
    for note in folder.glob(f"*{UPLOAD_NOTE}"):
        if workspace is not None and workspace not in _note_workspaces(note):
            continue
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


def upload_name(path: str | Path) -> str | None:
    """Returns the file name the user gave an upload at `path`, or None for a file that is not an upload."""
    try:
        return str(_note_of(path)["filename"])
    except (KeyError, TypeError):
        return None


def _note_of(path: str | Path):
    """The JSON of the note beside an upload's file, or None when there is none or it is unreadable."""
    path = Path(path)
    try:
        # Uploads are stored as <sha256><suffix>; the note beside them keeps what the user gave.
        return json.loads(path.parent.joinpath(path.name.split(".")[0] + UPLOAD_NOTE).read_text())
    except (OSError, ValueError):
        return None

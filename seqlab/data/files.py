"""A user's own labelled texts: CSV, TSV or JSON Lines (optionally gzipped).

The file needs a text column and a label column. CSV/TSV files start with a
header row; `.txt` is read as TSV; `.json` may be JSON Lines or one array of
objects. Columns are given by name or 0-based number, or detected: common
names first (text/review/sentence/content..., label/sentiment/class/target/
category...), else the longer of exactly two columns is the text. Labels may
be strings or numbers; class ids follow the sorted class names (numeric order
when every label is an integer).

The readable suffixes are `seqlab.config.DATA_FILE_FORMATS` (each also gzipped,
as listed in `DATA_FILE_SUFFIXES`), the one list dataset validation and
uploads also use.

Every problem raises `DatasetError` naming the file, the line where there is
one (as an editor numbers it) and how to fix it. Nothing is ever unpickled.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from seqlab.config import BUILTIN_DATASETS, DATA_FILE_FORMATS, GZIP_SUFFIX, DataConfig
from seqlab.data.texts import DatasetError, TextDataset, dataset_from_pool

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_TEXT_CHARACTERS = 100_000
MAX_ROWS = 1_000_000
MAX_CLASSES = 100
TEXT_NAMES = ("text", "review", "sentence", "content", "comment", "document", "body", "message", "tweet")
LABEL_NAMES = ("label", "sentiment", "class", "target", "category", "labels", "y")

# (where, values): where is "line 7" (or "item 3" in a JSON array); values is
# a list (CSV/TSV, in header order) or a dict (JSON).
_Record = tuple[str, Any]


def read_text_table(
    source: bytes | str | Path,
    filename: str = "",
    text_column: str = "",
    label_column: str = "",
) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """Reads labelled texts from a CSV, TSV or JSONL file or its bytes.

    Args:
        source: the file's bytes (e.g. an upload), or a path (str or Path).
        filename: the name the user knows the file by; its extension picks the
            format (.csv, .tsv, .txt, .jsonl, .json, each optionally .gz).
            Defaults to the path's name.
        text_column: name or 0-based number; empty = detect.
        label_column: name or 0-based number; empty = detect.

    Returns:
        (texts, labels (N,) int64, class_names) where label `i` is
        `class_names[i]`.

    Raises:
        DatasetError: naming the problem, the line where there is one, and
            the fix.
    """
    if isinstance(source, (bytes, bytearray)):
        content = bytes(source)
        filename = filename or "uploaded file"
    else:
        path = Path(source).expanduser()
        filename = filename or path.name
        content = _read_path(path, filename)
    file_format = _format(filename)
    content = _maybe_gunzip(content, filename)
    _check_size(len(content), filename)
    text = _decode(content, filename)
    if not text.strip():
        raise DatasetError(f"{filename}: the file is empty; expected a header row and labelled texts")
    if file_format == "jsonl":
        columns, records = _parse_json(text, filename)
    else:
        columns, records = _parse_delimited(text, filename, "," if file_format == "csv" else "\t")
    if not records:
        found = f"a header ({', '.join(columns)}) but " if columns else ""
        raise DatasetError(
            f"{filename}: the file has {found}no rows of data; expected one labelled text per row"
        )
    text_name, label_name = _resolve_columns(columns, records, text_column, label_column, filename)
    return _extract(columns, records, text_name, label_name, filename)


def load_file(config: DataConfig, seed: int) -> TextDataset:
    """Loads the file named by `config.dataset` and splits it with `seed`.

    Raises:
        DatasetError: the file is missing or malformed.
    """
    path = Path(config.dataset).expanduser()
    if not path.is_file():
        raise DatasetError(
            f"data.dataset: received {config.dataset!r}, which is not a built-in dataset "
            f"({', '.join(BUILTIN_DATASETS)}) nor an existing file (looked in {os.getcwd()}); "
            f"give one of those names or the path to a .csv/.tsv/.jsonl file"
        )
    texts, labels, class_names = read_text_table(path, path.name, config.text_column, config.label_column)
    source = str(path.resolve())
    return dataset_from_pool(
        path.name, path.name, class_names, texts, labels, config,
        np.random.default_rng(seed), source=source, noun="texts",
    )


# ------------------------------------------------------------ bytes in
def _read_path(path: Path, filename: str) -> bytes:
    if not path.is_file():
        raise DatasetError(f"{filename}: file not found at {path}; check the path")
    _check_size(path.stat().st_size, filename)
    return path.read_bytes()


def _format(filename: str) -> str:
    name = filename.lower()
    if name.endswith(GZIP_SUFFIX):
        name = name[:-len(GZIP_SUFFIX)]
    suffix = os.path.splitext(name)[1]
    if suffix not in DATA_FILE_FORMATS:
        raise DatasetError(
            f"{filename}: unsupported file type {suffix or '(none)'!r}; expected "
            f"{', '.join(DATA_FILE_FORMATS)} (optionally gzipped as {GZIP_SUFFIX})"
        )
    return DATA_FILE_FORMATS[suffix]


def _maybe_gunzip(content: bytes, filename: str) -> bytes:
    if not content.startswith(b"\x1f\x8b"):
        return content
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(content)) as stream:
            return stream.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError) as error:
        raise DatasetError(f"{filename}: looks gzipped but cannot be unpacked ({error}); "
                           f"save it again or upload it uncompressed") from None


def _check_size(size: int, filename: str) -> None:
    if size > MAX_FILE_BYTES:
        raise DatasetError(
            f"{filename}: {size / 2**20:,.0f} MB is too large; the limit is "
            f"{MAX_FILE_BYTES // 2**20} MB; use a sample of the rows"
        )


def _decode(content: bytes, filename: str) -> str:
    offset = len(codecs.BOM_UTF8) if content.startswith(codecs.BOM_UTF8) else 0
    try:
        return content[offset:].decode("utf-8")
    except UnicodeDecodeError as error:
        position = offset + error.start
        line = content[:position].count(b"\n") + 1
        raise DatasetError(
            f"{filename}: line {line} (byte offset {position}) holds bytes "
            f"{content[position:position + 4]!r} that are not UTF-8; expected UTF-8 text; "
            f"save the file as UTF-8 (in Excel: 'CSV UTF-8')"
        ) from None


# -------------------------------------------------------------- parsing
def _parse_delimited(text: str, filename: str, delimiter: str) -> tuple[list[str], list[_Record]]:
    kind = "comma" if delimiter == "," else "tab"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns: list[str] | None = None
    records: list[_Record] = []
    last_line = 0
    try:
        for values in reader:
            start_line, last_line = last_line + 1, reader.line_num
            if not values or all(not v.strip() for v in values):
                continue
            if columns is None:
                columns = [v.strip() for v in values]
                continue
            if len(values) != len(columns):
                raise DatasetError(
                    f"{filename}: line {start_line} has {len(values)} {kind}-separated fields "
                    f"but the header has {len(columns)} ({', '.join(columns)}); put texts that "
                    f"contain {kind}s or line breaks in double quotes"
                )
            records.append((f"line {start_line}", values))
            if len(records) > MAX_ROWS:
                raise DatasetError(_too_many_rows(filename))
    except csv.Error as error:
        problem = str(error)
        if "field larger than field limit" in problem:
            problem = (f"a field longer than {csv.field_size_limit():,} characters "
                       f"(texts may have at most {MAX_TEXT_CHARACTERS:,})")
        raise DatasetError(f"{filename}: line {last_line + 1}: {problem}; expected a well-formed "
                           f"{'CSV' if delimiter == ',' else 'TSV'} file") from None
    return columns or [], records


def _parse_json(text: str, filename: str) -> tuple[list[str], list[_Record]]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as error:
            raise DatasetError(f"{filename}: line {error.lineno}: malformed JSON ({error.msg}); "
                               f"expected one array of objects or one object per line") from None
        located = [(f"item {i}", item) for i, item in enumerate(items, start=1)]
    else:
        located = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                located.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as error:
                raise DatasetError(
                    f"{filename}: line {number}: malformed JSON ({error.msg} at column {error.colno}); "
                    f"expected one JSON object per line such as {{\"text\": \"...\", \"label\": \"...\"}}"
                ) from None
            if len(located) > MAX_ROWS:
                raise DatasetError(_too_many_rows(filename))
    columns: dict[str, None] = {}
    for where, item in located:
        if not isinstance(item, dict):
            raise DatasetError(f"{filename}: {where}: received {type(item).__name__}, expected a JSON "
                               f"object such as {{\"text\": \"...\", \"label\": \"...\"}}")
        columns.update(dict.fromkeys(item))
    if len(located) > MAX_ROWS:
        raise DatasetError(_too_many_rows(filename))
    return list(columns), located


def _too_many_rows(filename: str) -> str:
    return f"{filename}: more than {MAX_ROWS:,} rows; the limit is {MAX_ROWS:,}; use a sample of the rows"


# -------------------------------------------------------------- columns
def _resolve_columns(
    columns: list[str], records: list[_Record], text_column: str, label_column: str, filename: str
) -> tuple[str, str]:
    text_name = _named_column(text_column, columns, "text", filename) if text_column.strip() else None
    label_name = _named_column(label_column, columns, "label", filename) if label_column.strip() else None
    if text_name is None:
        text_name = _detect(columns, TEXT_NAMES, exclude=label_name)
    if label_name is None:
        label_name = _detect(columns, LABEL_NAMES, exclude=text_name)
    if (text_name is None or label_name is None) and len(columns) == 2:
        if text_name is None and label_name is None:
            lengths = [_mean_length(records, columns, c) for c in columns]
            text_name = columns[int(np.argmax(lengths))]
        label_name = label_name or next(c for c in columns if c != text_name)
        text_name = text_name or next(c for c in columns if c != label_name)
    if text_name is None or label_name is None:
        missing = "text" if text_name is None else "label"
        raise DatasetError(
            f"{filename}: cannot tell which column holds the {missing}; columns found: "
            f"{', '.join(columns)}; name it '{missing}' or set data.{missing}_column to its name "
            f"or 0-based number"
        )
    if text_name == label_name:
        raise DatasetError(f"{filename}: the text and label columns are both {text_name!r}; "
                           f"set data.text_column and data.label_column to different columns")
    return text_name, label_name


def _named_column(spec: str, columns: list[str], role: str, filename: str) -> str:
    spec = spec.strip()
    if spec in columns:
        return spec
    lowered = [c.lower() for c in columns]
    if spec.lower() in lowered:
        return columns[lowered.index(spec.lower())]
    if spec.isdigit() and int(spec) < len(columns):
        return columns[int(spec)]
    raise DatasetError(
        f"{filename}: {role} column {spec!r} not found; columns found: {', '.join(columns)}; "
        f"set data.{role}_column to one of them or to its 0-based number (0 to {len(columns) - 1})"
    )


def _detect(columns: list[str], names: tuple[str, ...], exclude: str | None) -> str | None:
    by_name = {c.strip().lower(): c for c in reversed(columns) if c != exclude}
    return next((by_name[name] for name in names if name in by_name), None)


def _mean_length(records: list[_Record], columns: list[str], column: str) -> float:
    sample = [_value(values, columns, column) for _, values in records[:1000]]
    return float(np.mean([len(str(v)) for v in sample if v is not None] or [0]))


def _value(values: Any, columns: list[str], column: str) -> Any:
    if isinstance(values, dict):
        return values.get(column)
    return values[columns.index(column)]


# ------------------------------------------------------------ extracting
def _extract(
    columns: list[str], records: list[_Record], text_name: str, label_name: str, filename: str
) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    text_index = columns.index(text_name)
    label_index = columns.index(label_name)
    texts, raw_labels = [], []
    for where, values in records:
        if isinstance(values, dict):
            text, label = values.get(text_name), values.get(label_name)
        else:
            text, label = values[text_index], values[label_index]
        text = "" if text is None else str(text)
        if not text.strip():
            raise DatasetError(f"{filename}: {where}: empty text in column {text_name!r}; "
                               f"remove the row or fill in its text")
        if len(text) > MAX_TEXT_CHARACTERS:
            raise DatasetError(
                f"{filename}: {where}: the text has {len(text):,} characters; the limit is "
                f"{MAX_TEXT_CHARACTERS:,}; is {text_name!r} really the text column? Shorten or split it"
            )
        label_text = _label_text(label)
        if not label_text:
            raise DatasetError(f"{filename}: {where}: empty label in column {label_name!r}; "
                               f"remove the row or fill in its label")
        texts.append(text)
        raw_labels.append(label_text)
    class_names = _sorted_classes(set(raw_labels))
    if len(class_names) < 2:
        raise DatasetError(
            f"{filename}: column {label_name!r} has only one class ({class_names[0]!r}); a "
            f"classifier needs at least two; check the label column or add examples of other classes"
        )
    if len(class_names) > MAX_CLASSES:
        raise DatasetError(
            f"{filename}: column {label_name!r} has {len(class_names):,} different values; at most "
            f"{MAX_CLASSES} classes are supported; is it really the label column? Columns found: "
            f"{', '.join(columns)}"
        )
    ids = {name: i for i, name in enumerate(class_names)}
    return texts, np.array([ids[label] for label in raw_labels], dtype=np.int64), class_names


def _label_text(label: Any) -> str:
    """Turns a label value into its class name ("" when missing)."""
    if label is None:
        return ""
    if isinstance(label, bool):
        return str(label).lower()
    if isinstance(label, float):
        if math.isnan(label):
            return ""
        return str(int(label)) if label.is_integer() else str(label)
    return str(label).strip()


def _sorted_classes(names: set[str]) -> tuple[str, ...]:
    def as_integer(name: str) -> int | None:
        try:
            return int(name)
        except ValueError:
            return None

    if all(as_integer(n) is not None for n in names):
        return tuple(sorted(names, key=int))
    return tuple(sorted(names))

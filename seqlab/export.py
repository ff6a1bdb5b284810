"""Taking a run away: its model as a `.zip`, and a standalone Keras script that trains it again.

`export_model` / `model_bytes` pack a run's saved model (`model.keras`), its
vocabulary (`vocabulary.json`), `run.json` (the recipe, class names and input
settings) and a short `README.txt` into one `.zip`. The model loads with
`keras.saving.load_model(..., safe_mode=True)` once seqlab's layers are
registered (`from seqlab.models import load_model` does both); a recurrent
model uses stock Keras layers only and loads without seqlab.

`export_script` / `script_for_run` write one self-contained Python file that
rebuilds the run's model from stock Keras layers, reads a CSV (or the IMDB
CSV copy), applies the run's hyperparameters, trains with plain `model.fit`
and prints `validation accuracy: 0.873` as its last line. It imports nothing
from seqlab. Every value of the recipe enters the script as `repr()` of a
number, a bool or a string, never pasted as code, and the result is parsed
before it is returned, so a run name with quotes or line breaks cannot break
or inject code.

`dataset_csv` writes a run's dataset (built-in ones included) as the CSV the
script reads, with a `split` column so the script trains on the run's split.

The store alone names artifact files: everything here reads them through
`RunStore.model_path`, `vocabulary_path`, `has_model` and `read_meta`.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import math
import os
import re
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from seqlab.config import (
    BIDIRECTIONAL_ARCHITECTURES, BUILTIN_DATASETS, RECURRENT_ARCHITECTURES, RunConfig,
)
from seqlab.store import RunStore

# The names of the files inside an exported archive.
ARCHIVE_MODEL = "model.keras"
ARCHIVE_VOCABULARY = "vocabulary.json"
ARCHIVE_RUN = "run.json"
ARCHIVE_README = "README.txt"
# The Keras layer class of each recurrent architecture.
_RECURRENT_LAYERS = {"lstm": "LSTM", "bilstm": "LSTM", "gru": "GRU", "bigru": "GRU", "rnn": "SimpleRNN"}
# What each architecture is, in the script's docstring.
_DESCRIPTIONS = {
    "lstm": "an LSTM", "gru": "a GRU", "rnn": "a SimpleRNN (no gates)", "bilstm": "a bidirectional LSTM",
    "bigru": "a bidirectional GRU", "transformer": "a Transformer encoder",
    "baseline": "a bag-of-embeddings baseline",
}
# keras.layers.Embedding's default initializer draws from [-LIMIT, LIMIT]
# (as seqlab.models.transformer.EMBEDDING_INIT_LIMIT, which imports Keras).
_EMBEDDING_INIT_LIMIT = 0.05


# ------------------------------------------------------------------ the model
def archive_name(run_id: str) -> str:
    """Returns the file name an exported model archive is offered under, e.g. `r2026...-3f9a-model.zip`."""
    return f"{run_id}-model.zip"


def script_name(run_id: str) -> str:
    """Returns the file name an exported training script is offered under, e.g. `train_r2026...-3f9a.py`."""
    return f"train_{run_id}.py"


def model_bytes(store: RunStore, run_id: str) -> bytes:
    """Returns a run's exported model archive (a `.zip`) as bytes, for a download button.

    The archive holds `model.keras`, `vocabulary.json`, `run.json` and
    `README.txt`. The same files give the same bytes (entries are dated by
    the model file), so a page may cache them by the run's model version.

    Args:
        store: the run store.
        run_id: a run that saved a model (completed or stopped).

    Returns:
        The `.zip` file's bytes.

    Raises:
        KeyError: (`seqlab.store.RunNotFoundError`) for an unknown run id.
        ValueError: when the run has no saved model or vocabulary.
    """
    record = store.get_run(run_id)  # raises RunNotFoundError (a KeyError) first
    if not store.has_model(run_id):
        raise ValueError(
            f"run {run_id} ({record.label}) has no saved model to export: its status is "
            f"{record.status}; a model is saved when a run completes or is stopped"
        )
    model_path = store.model_path(run_id)
    vocabulary_path = store.vocabulary_path(run_id)
    try:
        model = model_path.read_bytes()
        vocabulary = vocabulary_path.read_bytes()
        dated = time.localtime(model_path.stat().st_mtime)[:6]
    except OSError as error:
        raise ValueError(
            f"run {run_id} ({record.label}): its saved files cannot be read ({error}); "
            f"expected {model_path.name} and {vocabulary_path.name}; train the run again"
        ) from None
    meta = store.read_meta(run_id) or {}
    class_names = [str(name) for name in meta.get("class_names") or []]
    run = {
        "run_id": run_id, "label": record.label, "status": record.status,
        "class_names": class_names, "sequence_length": record.config.data.sequence_length,
        "truncation": record.config.data.truncation, "padding": record.config.data.padding,
        "test_accuracy": record.test_accuracy, "config": record.config.to_dict(),
        "versions": record.versions,
    }
    readme = _readme(run_id, record.label, record.config, class_names)
    buffer = io.BytesIO()
    # Dated by the model file, so exporting the same files twice gives the same bytes.
    dated = max(dated, (1980, 1, 1, 0, 0, 0))  # the earliest date a zip can hold
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in ((ARCHIVE_README, readme.encode("utf-8")), (ARCHIVE_MODEL, model),
                              (ARCHIVE_VOCABULARY, vocabulary),
                              (ARCHIVE_RUN, json.dumps(run, indent=2).encode("utf-8"))):
            entry = zipfile.ZipInfo(name, date_time=dated)
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, content)
    return buffer.getvalue()


def export_model(store: RunStore, run_id: str, path: str | os.PathLike) -> Path:
    """Writes a run's model, vocabulary and a README into one `.zip` file.

    Args:
        store: the run store.
        run_id: a run that saved a model (completed or stopped).
        path: the `.zip` file to write, or an existing folder to write
            `archive_name(run_id)` into. An existing file is replaced.

    Returns:
        The path of the written archive.

    Raises:
        KeyError: (`seqlab.store.RunNotFoundError`) for an unknown run id.
        ValueError: when the run has no saved model, or `path`'s folder does
            not exist.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        target = target / archive_name(run_id)
    if not target.parent.is_dir():
        raise ValueError(
            f"export path: received {str(path)!r}, whose folder {str(target.parent)!r} does not "
            f"exist; expected a .zip file in an existing folder (create the folder first)"
        )
    content = model_bytes(store, run_id)
    # Through a temporary file, so a reader never finds half an archive.
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


def _readme(run_id: str, label: str, config: RunConfig, class_names: list[str]) -> str:
    """The archive's README.txt: what the files are, how to load the model, what it reads."""
    data, arch = config.data, config.model.arch
    one_line = " ".join(str(label).split())
    if len(class_names) == 2:
        output = (f"(batch, 1): the sigmoid probability of class 1 ({class_names[1]!r}); "
                  f"class 0 is {class_names[0]!r}")
    elif class_names:
        output = f"(batch, {len(class_names)}): softmax probabilities of the classes {class_names}"
    else:
        output = "(batch, 1) sigmoid probability for 2 classes, else (batch, C) softmax"
    kept = "the last" if data.truncation == "pre" else "the first"
    padded = "end" if data.padding == "post" else "start"
    if arch in RECURRENT_ARCHITECTURES:
        without_seqlab = ("  This model has stock Keras layers only, so it also loads without seqlab:\n"
                          "    model = keras.saving.load_model(\"model.keras\", safe_mode=True)")
    else:
        without_seqlab = ("  This model has seqlab's own layers: import seqlab.models first (as above),\n"
                          "  then keras.saving.load_model(\"model.keras\", safe_mode=True) loads it.")
    return f"""seqlab run {run_id}: {one_line}
Architecture: {arch}; exported by seqlab.

Files
  model.keras       the trained Keras 3 model
  vocabulary.json   {{"vocabulary": [...]}}: token i has id i; id 0 is padding (""), id 1 unknown ("[UNK]")
  run.json          the run's recipe (config), class names and input settings

Loading (Python, Keras 3)
  from seqlab.models import load_model      # registers seqlab's layers, then loads
  model = load_model("model.keras")         # keras.saving.load_model(..., safe_mode=True)
{without_seqlab}

Input: (batch, T) int32 token ids, T = {data.sequence_length}
  1. standardize each text: lowercase, turn "<br />" into a space, delete the
     characters !"#$%&()*+,-./:;<=>?@[\\]^_`{{|}}~' and split on whitespace;
  2. look each token up in vocabulary.json (unknown tokens: 1);
  3. keep {kept} {data.sequence_length} tokens of a longer text (truncation "{data.truncation}");
  4. pad with 0 at the {padded} up to {data.sequence_length} ids (padding "{data.padding}").
  seqlab's Vectorizer does exactly this:
    import json
    from seqlab.config import RunConfig
    from seqlab.data.vectorize import Vectorizer
    config = RunConfig.from_dict(json.load(open("run.json"))["config"])
    vectorizer = Vectorizer.load("vocabulary.json", config.data)
    probabilities = model.predict(vectorizer.encode(["a wonderful film"]))

Output: {output}
"""


# ----------------------------------------------------------------- the script
def script_for_run(store: RunStore, run_id: str) -> str:
    """Returns the standalone training script of a recorded run (see `export_script`).

    Args:
        store: the run store.
        run_id: any recorded run (it need not have finished).

    Returns:
        The script's text.

    Raises:
        KeyError: (`seqlab.store.RunNotFoundError`) for an unknown run id.
        ValueError: when the run's recipe is invalid.
    """
    record = store.get_run(run_id)
    return export_script(record.config, run_id=run_id)


def export_script(config: RunConfig, *, run_id: str = "", imdb_used: bool | None = None) -> str:
    """Returns one self-contained Python file that trains the run's model with stock Keras.

    The file reads `--data` (a CSV, TSV or JSON Lines file with a text and a
    label column, optionally gzipped and with a `split` column; default: the
    file the run read, or for an IMDB run the `train.csv.gz`/`test.csv.gz`
    copy in `$SEQLAB_IMDB`, `./imdb` or `../shared/data/imdb`), cleans and
    splits the texts as seqlab does, builds the model from stock Keras layers,
    trains it with `model.fit` for `--epochs` (default the run's) and ends by
    printing `validation accuracy: 0.873`. Run it as
    `python exported.py --data reviews.csv [--epochs N]`.

    Args:
        config: the run's recipe.
        run_id: named in the script's header (empty for a recipe not yet run).
        imdb_used: whether the run read IMDB; None: `config.data.dataset == "imdb"`.

    Returns:
        The script's text (valid Python: it is parsed before it is returned).

    Raises:
        ValueError: when `config` is invalid (`RunConfig.validate`'s message).
        RuntimeError: if the generated text is not valid Python (a bug in this module).
    """
    if not isinstance(config, RunConfig):
        raise ValueError(f"config: received {type(config).__name__}, expected a seqlab RunConfig "
                         f"(seqlab.config.default_config(...) makes one)")
    config.validate()
    data, model, train = config.data, config.model, config.train
    arch = model.arch
    if imdb_used is None:
        imdb_used = data.dataset == "imdb"
    builtin = data.dataset if not imdb_used and not _is_file_dataset(data.dataset) else None
    label = config.label()
    values: dict[str, Any] = {
        "RUN_ID": run_id, "RUN_LABEL": label, "ARCHITECTURE": arch,
        "DEFAULT_DATA": data.dataset if _is_file_dataset(data.dataset) else None,
        "USES_IMDB": bool(imdb_used), "BUILTIN_DATASET": builtin,
        "IMDB_SUBSET": data.subset, "TEXT_COLUMN": data.text_column, "LABEL_COLUMN": data.label_column,
        "VALIDATION_FRACTION": data.validation_fraction, "TEST_FRACTION": data.test_fraction,
        "VOCABULARY_SIZE": data.vocabulary_size, "SEQUENCE_LENGTH": data.sequence_length,
        "TRUNCATION": data.truncation, "PADDING": data.padding,
        "EMBEDDING_DIM": model.embedding_dim, "USE_MASK": model.use_mask,
        "DROPOUT_RATE": model.dropout_rate, "UNITS": model.units, "NUM_LAYERS": model.num_layers,
        "RECURRENT_DROPOUT_RATE": model.recurrent_dropout_rate, "MERGE_MODE": model.merge_mode,
        "NUM_HEADS": model.num_heads, "KEY_DIM": model.key_dim, "FF_DIM": model.ff_dim,
        "POOLING": model.pooling, "POSITION_EMBEDDING": model.position_embedding,
        "EMBEDDING_SCALE": _embedding_scale(model.scale_embeddings, model.position_embedding),
        "EPOCHS": train.epochs, "BATCH_SIZE": train.batch_size, "OPTIMIZER": train.optimizer,
        "LEARNING_RATE": train.learning_rate, "KEEP_BEST_EPOCH": train.restore_best,
        "SEED": config.seed,
    }
    if arch in RECURRENT_ARCHITECTURES:
        family, model_code = "recurrent", _RECURRENT_MODEL.replace(
            "<<LAYER>>", _RECURRENT_LAYERS[arch])
        if arch in BIDIRECTIONAL_ARCHITECTURES:
            model_code = model_code.replace("<<BIDIRECTIONAL>>", _BIDIRECTIONAL_WRAP)
        else:
            model_code = model_code.replace("<<BIDIRECTIONAL>>", "")
    elif arch == "transformer":
        family, model_code = "transformer", _TRANSFORMER_MODEL
    else:
        family, model_code = "baseline", _BASELINE_MODEL
    constants = "\n".join(
        f"{name} = {_literal(values[name])}{'  # ' + comment if comment else ''}"
        for name, comment, families in _CONSTANTS if family in families
        and (name != "MERGE_MODE" or arch in BIDIRECTIONAL_ARCHITECTURES)
    )
    pieces = {
        "DESCRIPTION": _DESCRIPTIONS[arch],
        "SOURCE": (f"as seqlab run {_docstring_text(run_id)} did" if run_id
                   else "from a seqlab recipe not yet run"),
        "RUN_LABEL_TEXT": _docstring_text(label),
        "DIFFERENCES": _DIFFERENCES[family],
        "CONSTANTS": constants,
        "MODEL_CODE": model_code.strip("\n"),
    }
    # One pass: a value that contains "<<...>>" is never expanded again.
    script = re.sub(r"<<([A-Z_]+)>>", lambda match: pieces[match.group(1)], _SCRIPT)
    try:
        ast.parse(script)
    except SyntaxError as error:  # a bug here, never the user's input: every value is a repr
        raise RuntimeError(f"export_script produced invalid Python ({error}); please report it") from None
    return script


def dataset_csv(config: RunConfig) -> bytes:
    """Returns the run's dataset as the CSV the exported script reads, split as the run split it.

    Columns `text`, `label` (the class name) and `split` (train, validation,
    test): the script trains on the same texts the run trained on, so a
    built-in dataset (toy, synthetic) can be taken away too.

    Args:
        config: the run's recipe (its data section and seed pick the texts).

    Returns:
        The UTF-8 CSV's bytes.

    Raises:
        ValueError: (`seqlab.data.DatasetError`) when the dataset cannot be loaded.
    """
    from seqlab.data import load_dataset  # here: loading data is the caller's choice, not the import's

    dataset = load_dataset(config.data, config.seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label", "split"])
    for split, (texts, labels) in dataset.splits().items():
        for text, label in zip(texts, labels):
            writer.writerow([text, dataset.class_names[int(label)], split])
    return buffer.getvalue().encode("utf-8")


def _is_file_dataset(dataset: str) -> bool:
    return dataset not in BUILTIN_DATASETS


def _embedding_scale(scale_embeddings: bool, position_embedding: bool) -> float:
    """seqlab.models.transformer.unit_embedding_scale for the run's summed embeddings, or 1.0."""
    if not scale_embeddings:
        return 1.0
    summed = 2 if position_embedding else 1
    return 1.0 / (_EMBEDDING_INIT_LIMIT * math.sqrt(summed / 3.0))


def _literal(value: Any) -> str:
    """Returns a Python literal for a recipe value: repr() of None, a bool, a number or a string."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise TypeError(f"script value: received {type(value).__name__}, expected None, bool, int, float or str")


def _docstring_text(text: str) -> str:
    """Returns `text` as it may stand inside a triple-quoted docstring: its repr, quotes escaped.

    repr() escapes backslashes, line breaks and every unprintable character;
    escaping each double quote as well leaves nothing that could end the
    docstring. The source then reads as the repr and the docstring holds
    the text itself, in quotes.
    """
    return repr(str(text)).replace('"', '\\"')


# Each constant of the script's recipe: name, its comment, the model families that use it.
_ALL = ("recurrent", "transformer", "baseline")
_RECURRENT = ("recurrent",)
_TRANSFORMER = ("transformer",)
_CONSTANTS = (
    ("RUN_ID", "", _ALL),
    ("RUN_LABEL", "", _ALL),
    ("ARCHITECTURE", "", _ALL),
    # data
    ("DEFAULT_DATA", "the data file the run read (None: pass --data)", _ALL),
    ("USES_IMDB", "the run read seqlab's IMDB copy", _ALL),
    ("BUILTIN_DATASET", "a seqlab dataset this script cannot make (None: none)", _ALL),
    ("IMDB_SUBSET", "IMDB reviews drawn, half per label (0: all)", _ALL),
    ("TEXT_COLUMN", "the text column's name or number ('': detect)", _ALL),
    ("LABEL_COLUMN", "the label column's name or number ('': detect)", _ALL),
    ("VALIDATION_FRACTION", "share of each class held out for validation", _ALL),
    ("TEST_FRACTION", "share of each class held out for testing (not for IMDB)", _ALL),
    ("VOCABULARY_SIZE", "the most tokens kept, padding and [UNK] included", _ALL),
    ("SEQUENCE_LENGTH", "T: tokens per text after truncation and padding", _ALL),
    ("TRUNCATION", "'pre' cuts a long text's start (keeps its end), 'post' its end", _ALL),
    ("PADDING", "'post' puts the zeros after the text, 'pre' before it", _ALL),
    # model
    ("EMBEDDING_DIM", "size of each token vector", _ALL),
    ("USE_MASK", "mask padding so it cannot change predictions", _ALL),
    ("DROPOUT_RATE", "", _ALL),
    ("UNITS", "recurrent state size", _RECURRENT),
    ("NUM_LAYERS", "", _RECURRENT + _TRANSFORMER),
    ("RECURRENT_DROPOUT_RATE", "dropout on the recurrent state", _RECURRENT),
    ("MERGE_MODE", "how the two directions are combined", _RECURRENT),
    ("NUM_HEADS", "attention heads per block", _TRANSFORMER),
    ("KEY_DIM", "size of each head's query and key vectors", _TRANSFORMER),
    ("FF_DIM", "width of the position-wise feed-forward network", _TRANSFORMER),
    ("POOLING", "'mean' or 'max' over real tokens, or the 'first' token", _TRANSFORMER),
    ("POSITION_EMBEDDING", "a learned vector per position (word order)", _TRANSFORMER),
    ("EMBEDDING_SCALE", "multiplies token + position vectors (see build_model)", _TRANSFORMER),
    # training
    ("EPOCHS", "--epochs overrides it", _ALL),
    ("BATCH_SIZE", "", _ALL),
    ("OPTIMIZER", "", _ALL),
    ("LEARNING_RATE", "", _ALL),
    ("KEEP_BEST_EPOCH", "end with the weights of the lowest validation loss", _ALL),
    ("SEED", "fixes the split, the initial weights and the shuffling", _ALL),
)

_COMMON_DIFFERENCES = """\
  - seqlab compiles its training step with XLA where that pays, runs several
    steps per call and may train in mixed bfloat16; this script uses Keras's
    plain defaults (float32), so it is slower but learns the same way.
  - The same seed draws different initial weights and dropout masks here, so
    accuracies differ from the run's by about as much as another seed's would.
"""
_DIFFERENCES = {
    "recurrent": _COMMON_DIFFERENCES + """\
  - The model is built from the same stock layers seqlab uses (Embedding,
    LSTM/GRU/SimpleRNN, Bidirectional, Dropout, Dense).
""",
    "transformer": _COMMON_DIFFERENCES + """\
  - seqlab's own layers are replaced by stock ones: its TokenAndPositionEmbedding
    by two Embedding layers, its TransformerEncoderBlock by MultiHeadAttention,
    LayerNormalization and Dense layers (same arithmetic; seqlab's attention
    normalises after the value sum and its dropout masks are hashed, which is
    faster on CPU), its MaskedPooling1D by GlobalAveragePooling1D or a masked max.
""",
    "baseline": _COMMON_DIFFERENCES + """\
  - seqlab's MaskedPooling1D is replaced by GlobalAveragePooling1D, which
    averages the real tokens only when given the padding mask (the same mean).
""",
}

_RECURRENT_MODEL = '''
def build_model(vocabulary_size, num_classes):
    """Embedding -> NUM_LAYERS stacked recurrent layers -> Dropout -> the output layer."""
    token_ids = keras.Input(shape=(SEQUENCE_LENGTH,), dtype="int32", name="token_ids")  # (batch, T)
    # mask_zero: id 0 is padding, so the recurrent layers carry their state
    # unchanged across it and the amount of padding cannot change a prediction.
    x = keras.layers.Embedding(vocabulary_size, EMBEDDING_DIM, mask_zero=USE_MASK,
                               name="embedding")(token_ids)  # (batch, T, EMBEDDING_DIM)
    for index in range(NUM_LAYERS):
        is_last = index == NUM_LAYERS - 1
        # Every layer but the last hands its whole sequence of states to the next one;
        # the last hands on only its final state.
        layer = keras.layers.<<LAYER>>(
            UNITS, dropout=DROPOUT_RATE, recurrent_dropout=RECURRENT_DROPOUT_RATE,
            return_sequences=not is_last, name=f"recurrent_{index + 1}")
<<BIDIRECTIONAL>>        x = layer(x)  # (batch, T, width) between layers, (batch, width) after the last
    return classification_head(token_ids, x, num_classes)
'''

_BIDIRECTIONAL_WRAP = '''\
        # A second copy reads the text from its end; the two are combined by MERGE_MODE.
        layer = keras.layers.Bidirectional(layer, merge_mode=MERGE_MODE, name=f"bidirectional_{index + 1}")
'''

_BASELINE_MODEL = '''
def build_model(vocabulary_size, num_classes):
    """Embedding -> the mean of the token vectors -> Dropout -> the output layer.

    Word order is ignored, so any sequence model should beat it.
    """
    token_ids = keras.Input(shape=(SEQUENCE_LENGTH,), dtype="int32", name="token_ids")  # (batch, T)
    x = keras.layers.Embedding(vocabulary_size, EMBEDDING_DIM, mask_zero=USE_MASK,
                               name="embedding")(token_ids)  # (batch, T, EMBEDDING_DIM)
    # The embedding's padding mask reaches the pooling, which then averages real tokens only.
    x = keras.layers.GlobalAveragePooling1D(name="pooling")(x)  # (batch, EMBEDDING_DIM)
    return classification_head(token_ids, x, num_classes)
'''

_TRANSFORMER_MODEL = '''
def encoder_block(x, attention_mask, name):
    """One post-norm Transformer encoder block on (batch, T, EMBEDDING_DIM) vectors.

    x = norm(x + dropout(self-attention(x))), then
    x = norm(x + dropout(feed-forward(x))), as in "Attention is all you need".
    """
    attended = keras.layers.MultiHeadAttention(
        num_heads=NUM_HEADS, key_dim=KEY_DIM, name=f"{name}_attention",
    )(x, x, attention_mask=attention_mask)  # (batch, T, EMBEDDING_DIM)
    attended = keras.layers.Dropout(DROPOUT_RATE)(attended)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_attention_norm")(x + attended)
    # The same two Dense layers are applied to every position on its own.
    hidden = keras.layers.Dense(FF_DIM, activation="relu", name=f"{name}_feed_forward_hidden")(x)
    transformed = keras.layers.Dense(EMBEDDING_DIM, name=f"{name}_feed_forward_output")(hidden)
    transformed = keras.layers.Dropout(DROPOUT_RATE)(transformed)
    return keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_output_norm")(x + transformed)


def build_model(vocabulary_size, num_classes):
    """Token + position embeddings -> NUM_LAYERS encoder blocks -> pooling -> Dropout -> output."""
    token_ids = keras.Input(shape=(SEQUENCE_LENGTH,), dtype="int32", name="token_ids")  # (batch, T)
    is_token = keras.ops.not_equal(token_ids, 0)  # (batch, T): True at real tokens, False at padding
    x = keras.layers.Embedding(vocabulary_size, EMBEDDING_DIM,
                               name="token_embedding")(token_ids)  # (batch, T, EMBEDDING_DIM)
    if POSITION_EMBEDDING:
        # 0, 1, ..., T-1 in every row: a learned vector per position lets attention use word order.
        positions = keras.ops.zeros_like(token_ids) + keras.ops.arange(SEQUENCE_LENGTH, dtype="int32")
        x = x + keras.layers.Embedding(SEQUENCE_LENGTH, EMBEDDING_DIM,
                                       name="position_embedding")(positions)  # (batch, T, EMBEDDING_DIM)
    # Fresh Embedding vectors are tiny (uniform in [-0.05, 0.05]), so every attention
    # logit would start near 0 and attention would stay uniform; seqlab scales the sum
    # to standard deviation ~1 so attention can learn (1.0: not scaled).
    x = x * EMBEDDING_SCALE
    # (batch, 1, T): no query looks at a padding key.
    attention_mask = keras.ops.expand_dims(is_token, axis=1) if USE_MASK else None
    for index in range(NUM_LAYERS):
        x = encoder_block(x, attention_mask, name=f"encoder_{index + 1}")  # (batch, T, EMBEDDING_DIM)
    if POOLING == "first":
        x = x[:, 0, :]  # the first token's vector (the first real token when padding is at the end)
    elif not USE_MASK:
        x = keras.ops.mean(x, axis=1) if POOLING == "mean" else keras.ops.max(x, axis=1)
    elif POOLING == "mean":
        x = keras.layers.GlobalAveragePooling1D(name="pooling")(x, mask=is_token)  # mean over real tokens
    else:
        # The largest value over real tokens: padding is pushed far below any real value first.
        real = keras.ops.expand_dims(is_token, axis=-1)  # (batch, T, 1)
        x = keras.ops.max(keras.ops.where(real, x, -1e9), axis=1)
        x = keras.ops.where(keras.ops.any(real, axis=1), x, 0.0)  # an all-padding text gives zeros
    return classification_head(token_ids, x, num_classes)  # x: (batch, EMBEDDING_DIM)
'''

_SCRIPT = r'''"""Trains <<DESCRIPTION>> text classifier with stock Keras, <<SOURCE>>.

Run label: <<RUN_LABEL_TEXT>>

Usage:
    python this_script.py --data reviews.csv [--epochs N]

--data is a CSV file (or TSV, or JSON Lines; each may be gzipped) with a
header row, one text column and one label column: columns named text,
review, sentence... and label, sentiment, class... are found by themselves,
--text-column and --label-column name others. A `split` column (train,
validation, test) fixes which text goes where, as in the CSV seqlab exports
of a run's dataset; otherwise the texts are split per class, as seqlab does.

It needs Keras 3 with TensorFlow, and NumPy: nothing from seqlab. The texts
are cleaned, split, turned into ids and padded as seqlab did for the run, the
model is built with the run's sizes and trained with plain `model.fit`, and
the last line printed is the validation accuracy.

Where this differs from training in seqlab:
<<DIFFERENCES>>"""

import argparse
import csv
import gzip
import html
import json
import os
import re
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # TextVectorization needs TensorFlow
import keras  # noqa: E402  (after choosing the backend)

# ------------------------------------------------------------ the run's recipe
<<CONSTANTS>>

TEXT_NAMES = ("text", "review", "sentence", "content", "comment", "document", "body", "message", "tweet")
LABEL_NAMES = ("label", "sentiment", "class", "target", "category", "labels", "y")
SPLIT_NAMES = ("train", "validation", "test")
# Where an IMDB run's reviews are looked for, after $SEQLAB_IMDB: folders holding
# train.csv.gz and test.csv.gz (columns label 0/1 and text).
IMDB_FOLDERS = ("imdb", "../shared/data/imdb")
IMDB_CLASS_NAMES = ("negative", "positive")

# The characters seqlab deletes (those of Keras's "lower_and_strip_punctuation").
PUNCTUATION = re.compile(r"[!\"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~']")
LINE_BREAK_TAGS = re.compile(r"<br\s*/?>", re.IGNORECASE)
WHITESPACE = re.compile(r"\s+")


# ------------------------------------------------------------------- the texts
def standardize(text):
    """Lowercases, turns <br /> into a space, deletes punctuation ("don't" -> "dont")."""
    text = LINE_BREAK_TAGS.sub(" ", text).lower()
    text = PUNCTUATION.sub("", text)
    return WHITESPACE.sub(" ", text).strip()


def read_rows(path):
    """Returns the rows of a CSV, TSV or JSON Lines file (optionally .gz) as dicts."""
    name = path.name.lower()
    opener = gzip.open if name.endswith(".gz") else open
    name = name[:-3] if name.endswith(".gz") else name
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        if name.endswith((".jsonl", ".json")):
            content = handle.read()
            if content.lstrip().startswith("["):
                return json.loads(content)
            return [json.loads(line) for line in content.splitlines() if line.strip()]
        delimiter = "\t" if name.endswith((".tsv", ".txt")) else ","
        return list(csv.DictReader(handle, delimiter=delimiter))


def find_column(columns, wanted, names, exclude, role):
    """Returns the column named (or numbered) `wanted`, else the first of `names` present."""
    if wanted:
        for column in columns:
            if column.strip().lower() == str(wanted).strip().lower():
                return column
        if str(wanted).isdigit() and int(wanted) < len(columns):
            return columns[int(wanted)]
        sys.exit(f"--{role}-column: received {wanted!r}, expected one of the columns {columns}")
    by_name = {column.strip().lower(): column for column in columns if column != exclude}
    for name in names:
        if name in by_name:
            return by_name[name]
    return None


def sorted_classes(names):
    """Class ids follow the sorted class names (numeric order when every label is an integer)."""
    try:
        return tuple(sorted(names, key=int))
    except ValueError:
        return tuple(sorted(names))


def read_labelled_file(path, text_column, label_column):
    """Returns (texts, class name of each text, split of each text or None) from a data file."""
    rows = read_rows(path)
    if not rows:
        sys.exit(f"{path}: no rows of data; expected a header row and one labelled text per row")
    columns = list(rows[0])
    label_name = find_column(columns, label_column, LABEL_NAMES, None, "label")
    text_name = find_column(columns, text_column, TEXT_NAMES, label_name, "text")
    others = [column for column in columns if column not in (label_name, "split")]
    if text_name is None and label_name is not None and len(others) == 1:
        text_name = others[0]
    if text_name is None or label_name is None:
        sys.exit(f"{path}: cannot tell the text and label columns among {columns}; "
                 f"name them with --text-column and --label-column")
    texts = [str(row[text_name] or "") for row in rows]
    labels = [str(row[label_name]).strip() for row in rows]
    splits = [row["split"] for row in rows] if "split" in columns else None
    return texts, labels, splits


def stratified_split(labels, fractions, rng):
    """Shuffles each class and cuts it by `fractions`; the rest is train (seqlab's split)."""
    parts = [[] for _ in range(len(fractions) + 1)]
    for label in np.unique(labels):
        indices = rng.permutation(np.flatnonzero(labels == label))
        count = len(indices)
        sizes = [int(round(count * fraction)) for fraction in fractions]
        if count > len(fractions):
            sizes = [max(1, size) for size in sizes]  # every part gets at least one of each class
        start = 0
        for part, size in enumerate(sizes, start=1):
            size = max(min(size, count - start - 1), 0)  # train keeps at least one
            parts[part].append(indices[start:start + size])
            start += size
        parts[0].append(indices[start:])
    return [rng.permutation(np.concatenate(part)) if part else np.zeros(0, np.int64) for part in parts]


def load_file_splits(path, text_column, label_column, rng):
    """Returns {split: (texts, label ids)} and the class names, for a labelled data file."""
    texts, labels, splits = read_labelled_file(path, text_column, label_column)
    class_names = sorted_classes(set(labels))
    ids = {name: index for index, name in enumerate(class_names)}
    y = np.array([ids[label] for label in labels], dtype=np.int64)
    if splits is not None:
        parts = [np.flatnonzero(np.array(splits) == name) for name in SPLIT_NAMES]
    else:
        parts = stratified_split(y, (VALIDATION_FRACTION, TEST_FRACTION), rng)
    return {name: ([texts[i] for i in part], y[part]) for name, part in zip(SPLIT_NAMES, parts)}, class_names


def find_imdb_folder(data):
    """Returns the folder with IMDB's train.csv.gz and test.csv.gz, or None."""
    candidates = [data] if data else [os.environ.get("SEQLAB_IMDB", ""), *IMDB_FOLDERS]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train.csv.gz").is_file():
            return Path(candidate)
    return None


def balanced(labels, count, rng):
    """Draws `count` indices, half per label, as seqlab draws an IMDB subset."""
    wanted = {0: count // 2, 1: count - count // 2}
    chosen = [rng.choice(np.flatnonzero(labels == label), size=min(size, int(np.sum(labels == label))),
                         replace=False) for label, size in wanted.items()]
    return rng.permutation(np.concatenate(chosen))


def load_imdb_splits(folder, rng):
    """Returns {split: (texts, label ids)} and the class names from IMDB's CSV copy."""
    frames = []
    test_files = sorted(folder.glob("test*.csv.gz"))
    for path in (folder / "train.csv.gz", folder / "test.csv.gz" if (folder / "test.csv.gz").is_file()
                 else (test_files[0] if test_files else None)):
        if path is None:
            sys.exit(f"{folder}: no test.csv.gz beside train.csv.gz")
        rows = read_rows(path)
        frames.append(([html.unescape(row["text"] or "") for row in rows],
                       np.array([int(row["label"]) for row in rows], dtype=np.int64)))
    (train_texts, train_labels), (test_texts, test_labels) = frames
    if IMDB_SUBSET > 0:
        train_rows = balanced(train_labels, IMDB_SUBSET, rng)
        test_rows = balanced(test_labels, min(IMDB_SUBSET, len(test_labels)), rng)
    else:
        train_rows, test_rows = rng.permutation(len(train_labels)), np.arange(len(test_labels))
    train_texts, train_labels = [train_texts[i] for i in train_rows], train_labels[train_rows]
    train, validation = stratified_split(train_labels, (VALIDATION_FRACTION,), rng)
    return {
        "train": ([train_texts[i] for i in train], train_labels[train]),
        "validation": ([train_texts[i] for i in validation], train_labels[validation]),
        "test": ([test_texts[i] for i in test_rows], test_labels[test_rows]),
    }, IMDB_CLASS_NAMES


def load_data(data, text_column, label_column):
    """Returns {split: (texts, label ids)} and the class names, from --data or the run's source."""
    rng = np.random.default_rng(SEED)
    data = data or DEFAULT_DATA
    if USES_IMDB and (not data or Path(data).is_dir()):
        folder = find_imdb_folder(data)
        if folder is None:
            sys.exit("IMDB not found: put train.csv.gz and test.csv.gz (columns label 0/1, text) in "
                     f"one of {list(IMDB_FOLDERS)} or in the folder $SEQLAB_IMDB names, "
                     "or pass --data FILE.csv with text and label columns")
        return load_imdb_splits(folder, rng)
    if not data:
        sys.exit(f"no data: pass --data FILE.csv (columns text and label). This run trained on "
                 f"seqlab's built-in dataset {BUILTIN_DATASET!r}, which this script cannot make; "
                 f"seqlab can save it as a CSV with the run's split (seqlab.export.dataset_csv)")
    if not Path(data).is_file():
        sys.exit(f"--data: received {data!r}, which is not a file; expected a .csv, .tsv or .jsonl file")
    return load_file_splits(Path(data), text_column, label_column, rng)


def make_vectorizer(train_texts):
    """A TextVectorization layer whose vocabulary is adapted on the training texts only.

    Its vocabulary is "" (padding, id 0), "[UNK]" (id 1), then the most frequent tokens.
    """
    vectorizer = keras.layers.TextVectorization(
        max_tokens=VOCABULARY_SIZE, standardize=None, split="whitespace", ragged=True)
    vectorizer.adapt(np.array(train_texts, dtype=object))
    return vectorizer


def encode(vectorizer, texts):
    """Returns (N, SEQUENCE_LENGTH) int32 ids: cut at the TRUNCATION side, zeros at the PADDING side."""
    if not texts:
        return np.zeros((0, SEQUENCE_LENGTH), dtype=np.int32)
    rows = vectorizer(np.array(texts, dtype=object)).to_list()  # one list of ids per text
    return keras.utils.pad_sequences(rows, maxlen=SEQUENCE_LENGTH, dtype="int32",
                                     padding=PADDING, truncating=TRUNCATION, value=0)


# ------------------------------------------------------------------- the model
def classification_head(token_ids, features, num_classes):
    """Dropout, then one sigmoid unit for two classes or a softmax over more."""
    features = keras.layers.Dropout(DROPOUT_RATE, name="dropout")(features)
    if num_classes == 2:
        outputs = keras.layers.Dense(1, activation="sigmoid", name="classifier")(features)  # (batch, 1)
    else:
        outputs = keras.layers.Dense(num_classes, activation="softmax",
                                     name="classifier")(features)  # (batch, num_classes)
    return keras.Model(token_ids, outputs, name=ARCHITECTURE)


<<MODEL_CODE>>


# -------------------------------------------------------------------- training
OPTIMIZERS = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
              "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="a CSV/TSV/JSONL file with text and label columns"
                        + (" (default: the IMDB copy)" if USES_IMDB else ""))
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"passes over the training texts "
                        f"(default {EPOCHS})")
    parser.add_argument("--text-column", default=TEXT_COLUMN, help="the text column's name or number")
    parser.add_argument("--label-column", default=LABEL_COLUMN, help="the label column's name or number")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error(f"--epochs: received {args.epochs}, expected 1 or more")

    splits, class_names = load_data(args.data, args.text_column, args.label_column)
    texts = {name: [standardize(text) for text in split_texts] for name, (split_texts, _) in splits.items()}
    labels = {name: split_labels for name, (_, split_labels) in splits.items()}
    if len(class_names) < 2 or not texts["train"] or not texts["validation"]:
        sys.exit(f"received {len(texts['train'])} training and {len(texts['validation'])} validation "
                 f"texts of {len(class_names)} class(es); expected both splits non-empty and at "
                 f"least 2 classes: give more labelled rows")
    print(f"{len(texts['train'])} train / {len(texts['validation'])} validation / "
          f"{len(texts['test'])} test texts; classes {list(class_names)}")

    keras.utils.set_random_seed(SEED)
    vectorizer = make_vectorizer(texts["train"])
    x = {name: encode(vectorizer, split_texts) for name, split_texts in texts.items()}  # (N, T) each
    vocabulary_size = len(vectorizer.get_vocabulary())

    model = build_model(vocabulary_size, len(class_names))
    model.summary()
    model.compile(
        optimizer=OPTIMIZERS[OPTIMIZER](learning_rate=LEARNING_RATE),
        loss="binary_crossentropy" if len(class_names) == 2 else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # seqlab keeps the weights of the epoch with the lowest validation loss; EarlyStopping
    # does the same when its patience outlasts the training, so it never stops early.
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=args.epochs,
                                               restore_best_weights=True)] if KEEP_BEST_EPOCH else []
    model.fit(x["train"], labels["train"], validation_data=(x["validation"], labels["validation"]),
              epochs=args.epochs, batch_size=BATCH_SIZE, shuffle=True, callbacks=callbacks, verbose=2)

    if len(x["test"]):
        _, test_accuracy = model.evaluate(x["test"], labels["test"], batch_size=BATCH_SIZE, verbose=0)
        print(f"test accuracy: {test_accuracy:.3f}")
    _, validation_accuracy = model.evaluate(x["validation"], labels["validation"],
                                            batch_size=BATCH_SIZE, verbose=0)
    print(f"validation accuracy: {validation_accuracy:.3f}")


if __name__ == "__main__":
    main()
'''

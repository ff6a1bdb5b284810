"""Taking a run away: the model archive and the standalone Keras training script.

The script of every architecture is run once, in a subprocess, on a tiny CSV;
everything else about it (its model, its split, its ids, its safety) is
checked in this process by loading the script as a module (`runpy`), which
runs nothing under `if __name__ == "__main__"`. The archive is checked on one
tiny Transformer run (seqlab's own layers: the case that needs registration),
the session's from `toy_runs` (tests/conftest.py), trained once.
"""

import ast
import csv
import gzip
import io
import json
import os
import re
import runpy
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from seqlab.config import ARCHITECTURES, RunConfig, default_config
from seqlab.export import (
    ARCHIVE_MODEL, ARCHIVE_README, ARCHIVE_RUN, ARCHIVE_VOCABULARY, archive_name, dataset_csv,
    export_model, export_script, model_bytes, script_for_run,
)
from seqlab.store import RunStore

TINY = {
    "model.units": 4, "model.embedding_dim": 8, "data.vocabulary_size": 50,
    "data.sequence_length": 12, "train.epochs": 1, "model.num_heads": 2, "model.key_dim": 4,
    "model.ff_dim": 8, "train.batch_size": 16,
}
VALIDATION_LINE = re.compile(r"^validation accuracy: (\d+\.\d+)$")
HOSTILE_NAME = 'run """ \'\'\' \\ \n__import__("pathlib").Path("INJECTED").touch()  # \x00 é'


def tiny_config(arch: str, **more) -> RunConfig:
    return default_config(**{**TINY, "model.arch": arch, **more})


def write_tiny_csv(path, rows: int = 40) -> None:
    """~40 short reviews, two labels, one cue word each."""
    rng = np.random.default_rng(0)
    good, bad = ["good", "great", "lovely"], ["bad", "awful", "dull"]
    filler = ["the", "film", "was", "a", "plot", "and", "acting", "it"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for index in range(rows):
            label = index % 2
            words = list(rng.choice(filler, size=int(rng.integers(3, 15))))
            words.append(str(rng.choice(good if label else bad)))
            writer.writerow([" ".join(words).capitalize() + "!", "pos" if label else "neg"])


def load_script(tmp_path, script: str, name: str = "exported.py") -> dict:
    """Writes the script and loads it as a module (its main() is not run); returns its globals."""
    path = tmp_path / name
    path.write_text(script, encoding="utf-8")
    return runpy.run_path(str(path), run_name="exported_script")


# --------------------------------------------------------- the script runs
SCRIPT_TEST = "test_exported_script_trains_and_prints_a_validation_accuracy"
# Each script's process keeps about one core busy (TensorFlow's import, then a tiny fit) while
# pytest waits: two at a time keep both of a 2-core machine busy.
SCRIPTS_AT_ONCE = 2


def write_exported_script(arch: str, folder) -> None:
    """Writes the arch's script and a tiny CSV into `folder`.

    Called in the main thread: `export_script` checks its script with `ast.parse`, which
    CPython 3.11 does not make safe to run in two threads at once.
    """
    (folder / "exported.py").write_text(export_script(tiny_config(arch), run_id="r-test"),
                                        encoding="utf-8")
    write_tiny_csv(folder / "tiny.csv")


def run_exported_script(folder) -> subprocess.CompletedProcess:
    """Runs the script `write_exported_script` put in `folder` as a program, as a user would."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SEQLAB")}
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    # Run from a folder outside the repository, with no PYTHONPATH: seqlab is not importable there.
    environment.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "exported.py", "--data", "tiny.csv", "--epochs", "1"],
        cwd=folder, env=environment, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def script_runs(request, tmp_path_factory):
    """{arch: a future of its script's finished process}, for the archs whose test was selected.

    The scripts run SCRIPTS_AT_ONCE at a time, each in a folder of its own;
    a test reads its own arch's result (`.result()` raises what its run raised).
    """
    from concurrent.futures import ThreadPoolExecutor

    selected = [item.callspec.params["arch"] for item in request.session.items
                if item.module is request.module and item.originalname == SCRIPT_TEST]
    folders = {arch: tmp_path_factory.mktemp(f"script_{arch}") for arch in selected}
    for arch, folder in folders.items():
        write_exported_script(arch, folder)
    with ThreadPoolExecutor(max_workers=SCRIPTS_AT_ONCE) as pool:
        runs = {arch: pool.submit(run_exported_script, folder) for arch, folder in folders.items()}
    return runs


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_exported_script_trains_and_prints_a_validation_accuracy(arch, script_runs):
    result = script_runs[arch].result()
    assert result.returncode == 0, result.stderr[-3000:]
    match = VALIDATION_LINE.match(result.stdout.strip().splitlines()[-1])
    assert match, result.stdout[-1000:]
    assert 0.0 <= float(match.group(1)) <= 1.0


# ------------------------------------------------------ the script's text
def test_exported_scripts_import_nothing_from_seqlab():
    imported = set()
    for arch in ARCHITECTURES:
        tree = ast.parse(export_script(tiny_config(arch)))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add((node.module or "").split(".")[0])
    assert "seqlab" not in imported
    assert imported <= {"argparse", "csv", "gzip", "html", "json", "os", "re", "sys",
                        "pathlib", "numpy", "keras"}


def test_a_hostile_run_name_is_only_data_in_the_script(tmp_path, monkeypatch):
    script = export_script(tiny_config("lstm", name=HOSTILE_NAME), run_id="r-hostile")
    monkeypatch.chdir(tmp_path)
    namespace = load_script(tmp_path, script)
    assert namespace["RUN_LABEL"] == HOSTILE_NAME
    assert not (tmp_path / "INJECTED").exists()
    docstring = ast.parse(script).body[0].value.value
    assert f"Run label: '{HOSTILE_NAME}'" in docstring


def test_a_hostile_run_name_adds_no_statement(tmp_path):
    plain = ast.parse(export_script(tiny_config("lstm", name="plain"), run_id="r-hostile"))
    hostile = ast.parse(export_script(tiny_config("lstm", name=HOSTILE_NAME), run_id="r-hostile"))
    assert [type(node).__name__ for node in hostile.body] == [type(node).__name__ for node in plain.body]


def test_a_hostile_data_path_and_column_stay_strings(tmp_path):
    path = 'my "data"\n.csv'
    namespace = load_script(tmp_path, export_script(tiny_config("gru", **{
        "data.dataset": path + "", "data.text_column": "'''"})))
    assert namespace["DEFAULT_DATA"] == path and namespace["TEXT_COLUMN"] == "'''"


def test_export_script_refuses_an_invalid_config():
    config = RunConfig().with_overrides({"model.units": 0})
    with pytest.raises(ValueError, match="model.units: received 0"):
        export_script(config)


def test_script_for_run_names_the_run_and_its_label(store):
    run_id = store.create_run(tiny_config("bigru", name="my bigru"))
    header = ast.get_docstring(ast.parse(script_for_run(store, run_id)))
    assert repr(run_id) in header and "'my bigru'" in header


def test_script_for_an_unknown_run_raises_key_error(store):
    with pytest.raises(KeyError, match="r-missing"):
        script_for_run(store, "r-missing")


# ------------------------------------------- the script mirrors the run
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_script_model_with_the_run_weights_predicts_what_the_run_model_predicts(arch, tmp_path):
    from seqlab.models import build_model

    config = tiny_config(arch)
    namespace = load_script(tmp_path, export_script(config))
    exported = namespace["build_model"](50, 2)
    original = build_model(config.model, vocabulary_size=50, sequence_length=12, num_classes=2, seed=1)
    exported.set_weights(original.get_weights())
    ids = np.random.default_rng(0).integers(2, 50, size=(4, 12)).astype("int32")  # (batch, T)
    ids[0, 5:], ids[1, 9:] = 0, 0  # two texts padded at the end
    np.testing.assert_allclose(np.asarray(exported(ids)), np.asarray(original(ids)), atol=1e-5)


def test_script_splits_and_encodes_a_file_as_seqlab_does(tmp_path):
    from seqlab.data import load_dataset
    from seqlab.data.vectorize import vectorize

    write_tiny_csv(tmp_path / "tiny.csv")
    config = tiny_config("gru", **{"data.dataset": str(tmp_path / "tiny.csv"), "seed": 3})
    namespace = load_script(tmp_path, export_script(config))
    splits, class_names = namespace["load_data"](None, "", "")
    texts = [namespace["standardize"](text) for text in splits["train"][0]]
    ids = namespace["encode"](namespace["make_vectorizer"](texts), texts)  # (N, T)
    data = vectorize(load_dataset(config.data, config.seed), config.data)
    assert class_names == data.class_names
    np.testing.assert_array_equal(splits["train"][1], data.y_train)
    np.testing.assert_array_equal(ids, data.x_train)


def test_script_reads_an_imdb_csv_copy_with_seqlabs_split(tmp_path, monkeypatch):
    from seqlab.data import load_dataset

    folder = tmp_path / "imdb"
    folder.mkdir()
    for split, count in (("train", 30), ("test", 12)):
        with gzip.open(folder / f"{split}.csv.gz", "wt", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["label", "text"])
            for index in range(count):
                writer.writerow([index % 2, f"{split} review {index} &amp; more<br />words"])
    monkeypatch.setenv("SEQLAB_IMDB", str(folder))
    config = tiny_config("lstm", **{"data.dataset": "imdb", "data.subset": 20, "seed": 5})
    namespace = load_script(tmp_path, export_script(config))
    splits, class_names = namespace["load_data"](None, "", "")
    dataset = load_dataset(config.data, config.seed)
    assert tuple(class_names) == dataset.class_names
    standardize = namespace["standardize"]
    for name, (texts, labels) in dataset.splits().items():
        assert [standardize(t) for t in splits[name][0]] == [standardize(t) for t in texts]
        np.testing.assert_array_equal(splits[name][1], labels)


def test_script_of_a_builtin_dataset_run_asks_for_data(tmp_path):
    namespace = load_script(tmp_path, export_script(tiny_config("rnn")))
    with pytest.raises(SystemExit, match="pass --data FILE.csv.*'toy'"):
        namespace["load_data"](None, "", "")


def test_dataset_csv_gives_the_script_the_runs_split(tmp_path):
    from seqlab.data import load_dataset

    config = tiny_config("baseline", **{"seed": 2})
    (tmp_path / "toy.csv").write_bytes(dataset_csv(config))
    namespace = load_script(tmp_path, export_script(config))
    splits, _ = namespace["load_data"](str(tmp_path / "toy.csv"), "", "")
    dataset = load_dataset(config.data, config.seed)
    for name, (texts, _) in dataset.splits().items():
        assert splits[name][0] == texts


# ----------------------------------------------------------- the archive
@pytest.fixture(scope="module")
def trained_home(toy_runs):
    """(home, run_id) of the session's tiny Transformer (read-only)."""
    home, runs = toy_runs
    return home, runs["transformer"]


def test_exported_model_loads_with_safe_mode_and_predicts_as_the_stored_model(trained_home, tmp_path):
    import keras

    from seqlab.data.vectorize import Vectorizer
    from seqlab.inference import load_trained

    home, run_id = trained_home
    store = RunStore(home)
    written = export_model(store, run_id, tmp_path)
    assert written == tmp_path / archive_name(run_id)
    with zipfile.ZipFile(written) as archive:
        archive.extractall(tmp_path / "unpacked")
    model = keras.saving.load_model(tmp_path / "unpacked" / ARCHIVE_MODEL, safe_mode=True)
    run = json.loads((tmp_path / "unpacked" / ARCHIVE_RUN).read_text())
    config = RunConfig.from_dict(run["config"])
    vectorizer = Vectorizer.load(tmp_path / "unpacked" / ARCHIVE_VOCABULARY, config.data)
    texts = ["what a wonderful film", "boring and awful", "not good at all, not good at all"]
    ids = vectorizer.encode(texts)  # (batch, T)
    trained = load_trained(store, run_id)
    np.testing.assert_array_equal(ids, trained.vectorizer.encode(texts))
    np.testing.assert_allclose(np.asarray(model(ids)), np.asarray(trained.model(ids)), atol=1e-6)


def test_archive_holds_the_four_files_and_a_readme_saying_the_input(trained_home):
    home, run_id = trained_home
    with zipfile.ZipFile(io.BytesIO(model_bytes(RunStore(home), run_id))) as archive:
        names = sorted(archive.namelist())
        readme = archive.read(ARCHIVE_README).decode("utf-8")
    assert names == sorted([ARCHIVE_MODEL, ARCHIVE_VOCABULARY, ARCHIVE_RUN, ARCHIVE_README])
    for fact in ("safe_mode=True", "T = 12", 'truncation "pre"', 'padding "post"', "id 0 is padding"):
        assert fact in readme


@pytest.mark.parametrize("arch, needs_seqlab", [("gru", False), ("transformer", True)])
def test_readme_says_whether_loading_needs_seqlabs_layers_as_the_saved_model_does(arch, needs_seqlab, tmp_path):
    from seqlab.export import _readme
    from seqlab.models import build_model

    config = tiny_config(arch)
    build_model(config.model, vocabulary_size=50, sequence_length=12, num_classes=2).save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as saved:
        uses_seqlab = "seqlab>" in saved.read("config.json").decode("utf-8")  # registered names
    readme = _readme("r-test", "a label", config, ["negative", "positive"])
    assert uses_seqlab == needs_seqlab
    assert ("loads without seqlab" in readme) == (not needs_seqlab)


def test_model_bytes_are_the_same_for_the_same_files(trained_home):
    home, run_id = trained_home
    store = RunStore(home)
    assert model_bytes(store, run_id) == model_bytes(store, run_id)


def test_export_model_of_an_unknown_run_raises_key_error(store, tmp_path):
    with pytest.raises(KeyError, match="r-missing"):
        export_model(store, "r-missing", tmp_path / "out.zip")


def test_export_model_of_a_run_without_a_model_says_why(store, tmp_path):
    run_id = store.create_run(tiny_config("lstm"))
    with pytest.raises(ValueError, match="has no saved model to export: its status is queued"):
        export_model(store, run_id, tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()


def test_export_model_into_a_missing_folder_says_so(trained_home, tmp_path):
    home, run_id = trained_home
    with pytest.raises(ValueError, match="does not exist"):
        export_model(RunStore(home), run_id, tmp_path / "absent" / "out.zip")

"""The command line contract: `python -m seqlab train|runs|show|export|delete`."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from seqlab.cli import main
from seqlab.config import ARCHITECTURES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tiny sizes keep each run to a few seconds; XLA is switched off here only
# because compiling costs more than these runs (test_training covers jit).
TINY = ["--set", "data.sequence_length=12", "--set", "model.units=8",
        "--set", "model.embedding_dim=8", "--set", "model.key_dim=4",
        "--set", "model.ff_dim=8", "--set", "train.jit_compile=false",
        "--set", "data.num_examples=120", "--set", "data.synthetic_length=12",
        "--set", "train.batch_size=16"]


def _train_json(capsys, *args):
    code = main(["train", *args, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


# Every architecture on the toy set and on the variable-length task (padding and masks);
# the other synthetic tasks differ only in their texts, so one architecture each reads them.
BUILTIN_CASES = ([(arch, dataset) for dataset in ("toy", "synthetic-variable") for arch in ARCHITECTURES]
                 + [("transformer", "synthetic-presence"), ("lstm", "synthetic-longrange"),
                    ("bigru", "synthetic-negation")])


@pytest.mark.parametrize(("arch", "dataset"), BUILTIN_CASES)
def test_every_architecture_trains_on_builtin_datasets(capsys, arch, dataset):
    code, payload = _train_json(capsys, "--dataset", dataset, "--arch", arch,
                                "--epochs", "1", *TINY)
    assert code == 0, payload["message"]
    assert payload["status"] == "completed"
    assert len(payload["history"]) == 1
    epoch = payload["history"][0]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds"):
        assert isinstance(epoch[key], float)
    assert 0.0 <= payload["test_accuracy"] <= 1.0
    assert payload["num_params"] > 0


HONEST_KEYS = {"best_epoch", "test_accuracy", "test_accuracy_last", "compile_seconds", "seconds_per_epoch"}


def test_json_line_is_the_last_line_of_stdout(capsys):
    main(["train", "--dataset", "toy", "--arch", "baseline", "--epochs", "2", "--json", *TINY])
    lines = capsys.readouterr().out.strip().splitlines()
    payload = json.loads(lines[-1])
    assert {"run_id", "status", "history", "test_accuracy", "num_params"} <= set(payload)
    assert [row["epoch"] for row in payload["history"]] == [1, 2]


def test_train_json_carries_best_epoch_both_test_accuracies_and_honest_seconds(capsys):
    _, payload = _train_json(capsys, "--dataset", "toy", "--arch", "baseline", "--epochs", "3", *TINY)
    assert HONEST_KEYS <= set(payload)
    losses = [row["val_loss"] for row in payload["history"]]
    assert payload["best_epoch"] == losses.index(min(losses)) + 1
    assert 0.0 <= payload["test_accuracy"] <= 1.0 and 0.0 <= payload["test_accuracy_last"] <= 1.0
    seconds = sorted(row["seconds"] for row in payload["history"][1:])
    assert payload["seconds_per_epoch"] == pytest.approx((seconds[0] + seconds[1]) / 2)  # median of 2
    assert payload["compile_seconds"] == pytest.approx(
        payload["history"][0]["seconds"] - payload["seconds_per_epoch"])
    assert 0.0 < payload["majority_fraction"] <= 1.0


def test_set_reaches_config_fields(capsys):
    _, payload = _train_json(capsys, "--dataset", "toy", "--arch", "gru", "--epochs", "1",
                             *TINY, "--set", "model.units=5", "--set", "model.num_layers=2")
    assert payload["config"]["model"]["units"] == 5
    assert payload["config"]["model"]["num_layers"] == 2


def test_bad_set_value_exits_2_with_one_line_naming_the_field(capsys):
    code = main(["train", "--set", "model.units=abc"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert "model.units" in err[0] and "'abc'" in err[0] and "integer" in err[0]


def test_unknown_field_lists_allowed_fields(capsys):
    code = main(["train", "--set", "model.unit=4"])
    err = capsys.readouterr().err
    assert code == 2
    assert "model.unit" in err and "units" in err


def test_bad_architecture_names_allowed_choices(capsys):
    code = main(["train", "--arch", "cnn"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "'cnn'" in err[0] and "transformer" in err[0]


def test_missing_dataset_file_is_refused(capsys, tmp_path):
    code = main(["train", "--dataset", str(tmp_path / "nope.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert "--dataset" in err and "nope.csv" in err


def test_out_of_range_value_says_what_is_allowed(capsys):
    code = main(["train", "--set", "model.dropout_rate=1.5"])
    err = capsys.readouterr().err
    assert code == 2
    assert "model.dropout_rate" in err and "1.5" in err and "0.9" in err


def test_negative_epochs_refused(capsys):
    code = main(["train", "--epochs", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "--epochs" in err


def test_runs_show_export_round_trip(capsys):
    _, payload = _train_json(capsys, "--dataset", "toy", "--arch", "baseline",
                             "--epochs", "2", *TINY)
    run_id = payload["run_id"]

    assert main(["runs", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["run_id"] for row in listed] == [run_id]
    assert {key: listed[0][key] for key in HONEST_KEYS} == {key: payload[key] for key in HONEST_KEYS}

    assert main(["show", run_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["history"] == payload["history"]
    assert {key: shown[key] for key in HONEST_KEYS} == {key: payload[key] for key in HONEST_KEYS}

    assert main(["export", run_id, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert rows[0]["model.arch"] == "baseline"
    assert float(rows[1]["val_loss"]) == pytest.approx(payload["history"][1]["val_loss"])

    assert main(["export", run_id, "--format", "json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["config"]["model"]["arch"] == "baseline"


def test_show_unknown_run_is_one_line_error(capsys):
    code = main(["show", "r-does-not-exist"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "r-does-not-exist" in err[0]


def test_user_csv_file_trains(capsys, tmp_path):
    path = tmp_path / "reviews.csv"
    rows = ["text,label"] + [f"good fine great film {i},pos" for i in range(20)] + \
           [f"bad awful boring film {i},neg" for i in range(20)]
    path.write_text("\n".join(rows) + "\n")
    code, payload = _train_json(capsys, "--dataset", str(path), "--arch", "baseline",
                                "--epochs", "1", *TINY)
    assert code == 0 and payload["status"] == "completed"


def test_bad_user_file_fails_with_message_not_traceback(capsys, tmp_path):
    path = tmp_path / "one_class.csv"
    path.write_text("text,label\n" + "".join(f"text {i},pos\n" for i in range(10)))
    code, payload = _train_json(capsys, "--dataset", str(path), "--arch", "baseline",
                                "--epochs", "1", *TINY)
    assert code == 1
    assert payload["status"] == "failed"
    assert "class" in payload["message"].lower()
    assert "Traceback" not in payload["message"]


def test_seed_group_json_describes_the_group(capsys):
    _, payload = _train_json(capsys, "--dataset", "toy", "--arch", "baseline", "--epochs", "1",
                             "--seeds", "2", *TINY)
    assert payload["group_id"]
    assert len(payload["runs"]) == 2
    assert 0.0 <= payload["val_accuracy_mean"] <= 1.0
    assert payload["val_accuracy_std"] >= 0.0


def test_imdb_subset_trains_from_local_copy(capsys, imdb_dir, monkeypatch):
    monkeypatch.setenv("SEQLAB_IMDB", str(imdb_dir))
    code, payload = _train_json(capsys, "--dataset", "imdb", "--arch", "baseline", "--epochs", "1",
                                "--set", "data.subset=200", "--set", "data.sequence_length=40",
                                "--set", "data.vocabulary_size=2000",
                                "--set", "train.jit_compile=false")
    assert code == 0, payload["message"]
    assert payload["status"] == "completed"


def test_home_flag_opens_that_store_and_leaves_the_environment_alone(capsys, tmp_path, seqlab_home):
    home = tmp_path / "elsewhere"
    assert main(["--home", str(home), "runs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert (home / "runs.db").exists() and not seqlab_home.exists()
    assert os.environ["SEQLAB_HOME"] == str(seqlab_home)


def test_module_entry_point_runs_as_a_subprocess(tmp_path):
    env = {**os.environ, "SEQLAB_HOME": str(tmp_path / "home"), "PYTHONPATH": ROOT}
    result = subprocess.run(
        [sys.executable, "-m", "seqlab", "train", "--dataset", "toy", "--arch", "baseline",
         "--epochs", "1", "--json", *TINY],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["status"] == "completed"
    assert "epoch 1/1" in result.stderr  # the progress report goes to stderr


def test_sweep_json_has_one_row_per_arch_and_value(capsys):
    code = main(["sweep", "--dataset", "synthetic-longrange", "--arch", "lstm,baseline",
                 "--vary", "data.sequence_length=8,12", "--epochs", "2", "--json", *TINY])
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    assert {(row["arch"], row["value"]) for row in payload["rows"]} == {
        ("lstm", 8), ("lstm", 12), ("baseline", 8), ("baseline", 12)}
    for row in payload["rows"]:
        assert row["seconds_per_epoch"] > 0 and row["compile_seconds"] >= 0  # steady, and the one-off apart
        assert 0.0 <= row["val_accuracy"] <= 1.0
        assert len(row["run_ids"]) == 1
    assert len(payload["run_ids"]) == 4


def test_sweep_bad_vary_value_is_one_line_error(capsys):
    code = main(["sweep", "--vary", "model.units=8,lots"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "model.units" in err[0] and "'lots'" in err[0]


def test_attention_prints_tokens_and_weights_per_layer_and_head(capsys, toy_deep_runs, monkeypatch):
    # The session's tiny two-layer Transformer on the toy set (tests/conftest.py), read-only.
    home, runs = toy_deep_runs
    monkeypatch.setenv("SEQLAB_HOME", str(home))
    run = {"run_id": runs["transformer"]}
    text = "a great film but not a good story"
    assert main(["attention", run["run_id"], "--text", text, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    tokens, weights = payload["tokens"], payload["attention"]
    assert len(tokens) == 8  # words out of the toy vocabulary read as [UNK]
    # (layers, heads, T, T), padding left out; each query's row sums to 1.
    assert [len(weights), len(weights[0]), len(weights[0][0]), len(weights[0][0][0])] == [2, 2, 8, 8]
    assert all(abs(sum(row) - 1.0) < 1e-4 for layer in weights for head in layer for row in head)
    assert payload["run_id"] == run["run_id"] and payload["first_kept"] == 0
    assert main(["attention", run["run_id"], "--text", text]) == 0
    printed = capsys.readouterr().out
    assert "layer 2, head mean" in printed and "->" in printed


def test_attention_of_an_unknown_run_or_an_lstm_is_one_line_error(capsys, toy_runs, monkeypatch):
    # The session's tiny LSTM on the toy set (tests/conftest.py), read-only.
    home, runs = toy_runs
    monkeypatch.setenv("SEQLAB_HOME", str(home))
    run = {"run_id": runs["lstm"]}
    assert main(["attention", "r-missing", "--text", "good"]) == 2
    assert "r-missing" in capsys.readouterr().err
    assert main(["attention", run["run_id"], "--text", "good"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "no attention layers" in error


# ------------------------------------------------------------ damaged store
def _damage(home):
    home.mkdir(parents=True, exist_ok=True)
    (home / "runs.db").write_bytes(b"\x89PNG not a database at all " * 300)
    return home / "runs.db"


@pytest.mark.parametrize("command", [
    ["runs"], ["runs", "--json"], ["show", "r1"], ["export", "r1"], ["delete", "r1"],
    ["train", "--dataset", "toy", "--epochs", "1"], ["worker", "--idle-timeout", "0"],
    ["sweep", "--vary", "model.units=4,8"], ["attention", "r1", "--text", "not good"],
])
def test_every_command_reports_a_damaged_store_in_one_line(capsys, seqlab_home, command):
    db_path = _damage(seqlab_home)
    code = main(command)
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert code == 1 and len(err) == 1, captured.err
    assert str(db_path) in err[0] and "damaged" in err[0] and "mv " in err[0]
    assert captured.out == ""


def test_runs_on_a_damaged_store_prints_no_traceback(tmp_path):
    home = tmp_path / "home"
    db_path = _damage(home)
    env = {**os.environ, "SEQLAB_HOME": str(home), "PYTHONPATH": ROOT}
    result = subprocess.run([sys.executable, "-m", "seqlab", "runs"], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "DatabaseError" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"the run store {db_path} is damaged" in result.stderr


def _tiny_presets():
    from seqlab.config import default_config

    tiny = {"data.sequence_length": 12, "model.units": 8, "model.embedding_dim": 8,
            "model.key_dim": 4, "model.ff_dim": 8, "train.jit_compile": False,
            "train.epochs": 2, "train.batch_size": 32}
    return {"Toy sentiment in seconds": {
        "description": "tiny", "lesson": "toy",
        "runs": [default_config(**tiny, **{"model.arch": arch}) for arch in ("lstm", "transformer", "baseline")],
    }}


@pytest.fixture
def tiny_presets(monkeypatch):
    import seqlab.config
    import seqlab.views.home

    monkeypatch.setattr(seqlab.config, "presets", _tiny_presets)
    monkeypatch.setattr(seqlab.views.home, "presets", _tiny_presets)


def test_preset_list_names_every_preset_with_its_short_name(capsys):
    from seqlab.config import presets

    assert main(["preset", "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["presets"]
    assert [(p["name"], p["title"]) for p in listed] == [(p["lesson"], t) for t, p in presets().items()]


def test_an_unknown_preset_exits_2_naming_the_choices(capsys):
    assert main(["preset", "no-such-preset"]) == 2
    error = capsys.readouterr().err
    assert "received 'no-such-preset'" in error and "imdb (LSTM vs GRU" in error


def test_preset_without_wait_queues_its_runs_as_the_home_button_does(capsys, store, no_worker, tiny_presets):
    assert main(["preset", "toy", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [run["status"] for run in payload["runs"]] == ["queued"] * 3
    assert [store.get_run(run["run_id"]).config for run in payload["runs"]] == _tiny_presets()[
        "Toy sentiment in seconds"]["runs"]
    assert store.get_run(payload["runs"][0]["run_id"]).group_id is None


def test_preset_wait_follows_the_worker_to_the_end(capsys, store, tiny_presets):
    try:
        code = main(["--home", str(store.home), "preset", "Toy sentiment in seconds", "--wait", "--json"])
    finally:
        for pid in store.live_workers():
            os.kill(pid, 9)
    captured = capsys.readouterr()
    payload = json.loads(captured.out.strip().splitlines()[-1])
    assert code == 0, captured.err[-2000:]
    assert [run["status"] for run in payload["runs"]] == ["completed"] * 3
    for run in payload["runs"]:
        assert 0.0 <= run["test_accuracy"] <= 1.0 and run["seconds_per_epoch"] > 0
    assert payload["lesson"]["status"] in ("held", "missed")
    assert "completed" in captured.err  # the progress lines on standard error

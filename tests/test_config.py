"""Run recipes: round trips, overrides, validation messages, presets, help, the field table."""

import dataclasses

import pytest

from seqlab.config import (
    ARCHITECTURES, BUILTIN_DATASETS, DATA_FILE_FORMATS, FIELD_HELP, FIELDS, WIDTH_FIELDS, RunConfig, field_bounds,
    presets,
)
from seqlab.experiments import SWEEPABLE


def test_json_round_trip_keeps_every_field():
    config = RunConfig().with_overrides({"model.arch": "transformer", "model.num_heads": 4,
                                         "train.learning_rate": 0.01, "seed": 7, "name": "x"})
    assert RunConfig.from_json(config.to_json()) == config


def test_records_from_an_older_version_with_fewer_fields_still_load():
    payload = RunConfig().to_dict()
    del payload["model"]["use_mask"]
    assert RunConfig.from_dict(payload).model.use_mask is True


def test_unknown_field_in_a_record_is_refused_by_name():
    payload = RunConfig().to_dict()
    payload["model"]["colour"] = "red"
    with pytest.raises(ValueError, match="model.colour: unknown field"):
        RunConfig.from_dict(payload)


@pytest.mark.parametrize("text, expected", [("true", True), ("off", False), ("1", True), ("No", False)])
def test_boolean_overrides_accept_common_spellings(text, expected):
    assert RunConfig().with_overrides([f"model.use_mask={text}"]).model.use_mask is expected


def test_boolean_override_refuses_other_words():
    with pytest.raises(ValueError, match="model.use_mask: received 'maybe', expected true or false"):
        RunConfig().with_overrides(["model.use_mask=maybe"])


def test_validate_names_field_value_and_allowed_range():
    with pytest.raises(ValueError) as error:
        RunConfig().with_overrides({"data.validation_fraction": 0.9}).validate()
    assert "data.validation_fraction" in str(error.value)
    assert "0.9" in str(error.value) and "0.5" in str(error.value)


def test_dataset_must_be_builtin_or_a_data_file_path():
    with pytest.raises(ValueError, match="data.dataset: received 'mnist'"):
        RunConfig().with_overrides({"data.dataset": "mnist"}).validate()


@pytest.mark.parametrize("path", ["reviews.json.gz", "notes.TXT.GZ", "a.csv.gz", "b.tsv.gz",
                                  "c.jsonl.gz", "d.txt", "e.json"])
def test_every_readable_file_suffix_validates_as_a_dataset_path(path):
    assert RunConfig().with_overrides({"data.dataset": f"/data/{path}"}).validate()


def test_dataset_path_refusal_names_what_a_dataset_may_be():
    with pytest.raises(ValueError) as error:
        RunConfig().with_overrides({"data.dataset": "mine.xlsx"}).validate()
    assert str(error.value) == ("data.dataset: received 'mine.xlsx', expected one of toy, "
                                "synthetic-presence, synthetic-longrange, synthetic-negation, "
                                "synthetic-variable, imdb or a path to a .csv/.tsv/.jsonl file")


@pytest.mark.parametrize("overrides, message", [
    ({"data.subset": -1}, "data.subset: received -1, expected 0 for all, or a count of reviews"),
    ({"model.units": 0}, "model.units: received 0, expected an integer from 1 to 4096"),
    ({"model.dropout_rate": 1.0}, "model.dropout_rate: received 1.0, expected a number from 0.0 to 0.9"),
    ({"train.learning_rate": 0.0}, "train.learning_rate: received 0.0, expected a number from 1e-06 to 10.0"),
    ({"model.merge_mode": "max"}, "model.merge_mode: received 'max', expected one of concat, sum, mul, ave"),
    ({"seed": 2**31}, "seed: received 2147483648, expected an integer from 0 to 2147483647"),
    ({"model.units": 0, "data.sequence_length": 1}, "data.sequence_length: received 1"),
])
def test_validate_messages_come_from_the_table_first_field_first(overrides, message):
    with pytest.raises(ValueError) as error:
        RunConfig().with_overrides(overrides).validate()
    assert str(error.value).startswith(message)


def test_the_table_has_one_row_per_field_in_dataclass_order_with_dataclass_defaults():
    flat = RunConfig().flat()
    assert list(FIELDS) == list(flat)
    assert {path: row.default for path, row in FIELDS.items()} == flat
    assert FIELDS["model.units"].kind is int and FIELDS["train.learning_rate"].kind is float
    assert FIELDS["model.use_mask"].kind is bool and FIELDS["seed"].kind is int
    assert FIELD_HELP == {path: row.help for path, row in FIELDS.items()}


def test_flat_round_trips_through_overrides():
    config = RunConfig().with_overrides({"model.arch": "gru", "data.padding": "pre", "seed": 3,
                                         "name": "mine"})
    flat = config.flat()
    assert flat["model.arch"] == "gru" and flat["seed"] == 3 and flat["name"] == "mine"
    assert RunConfig().with_overrides(flat) == config


def test_labels_and_architectures_of_the_form():
    assert FIELDS["model.units"].label == "Units" and FIELDS["model.units"].used_by == ("recurrent",)
    assert FIELDS["model.ff_dim"].label == "Feed-forward width"
    assert FIELDS["train.steps_per_execution"].label == "Steps per execution"
    assert FIELDS["model.merge_mode"].archs == ("bilstm", "bigru")
    assert FIELDS["model.num_layers"].archs == ("lstm", "gru", "rnn", "bilstm", "bigru", "transformer")
    assert FIELDS["model.dropout_rate"].archs == ARCHITECTURES
    assert all(row.float_format and row.step for row in FIELDS.values() if row.kind is float)


def test_bounds_widths_and_sweeps_are_read_from_the_table():
    assert field_bounds("data.sequence_length") == (2, 2000)
    assert field_bounds("data.vocabulary_size") == (10, 200_000)
    assert field_bounds("data.subset") == (0, 50_000)
    with pytest.raises(KeyError, match="model.arch: no numeric range"):
        field_bounds("model.arch")
    assert WIDTH_FIELDS == {**{arch: ("units", 1, 4096) for arch in ("lstm", "gru", "rnn", "bilstm", "bigru")},
                            "transformer": ("ff_dim", 1, 16384), "baseline": ("embedding_dim", 2, 2048)}
    assert list(WIDTH_FIELDS) == list(ARCHITECTURES)
    assert SWEEPABLE == ("data.sequence_length", "model.units", "model.num_heads",
                         "train.learning_rate", "model.dropout_rate", "model.embedding_dim",
                         "model.num_layers", "model.ff_dim", "train.batch_size",
                         "data.vocabulary_size")
    assert set(DATA_FILE_FORMATS) == {".csv", ".tsv", ".txt", ".jsonl", ".json"}


def test_every_field_has_a_one_line_reason():
    names = {"seed", "name"}
    for section in ("data", "model", "train"):
        names |= {f"{section}.{f.name}" for f in dataclasses.fields(getattr(RunConfig(), section))}
    assert names == set(FIELD_HELP)
    assert all(text and "\n" not in text for text in FIELD_HELP.values())


def test_every_preset_is_a_valid_list_of_runs():
    for title, preset in presets().items():
        assert preset["runs"], title
        for config in preset["runs"]:
            config.validate()


def test_every_preset_names_a_lesson_that_can_be_checked():
    from seqlab.analysis.lessons import KINDS, expectation

    for title, preset in presets().items():
        assert preset["lesson"] in KINDS, title
        assert expectation(preset).startswith("Expect: "), title
        # Runs equal but for the seed would be one recipe repeated, not two runs of a lesson.
        keys = [config.flat() for config in preset["runs"]]
        assert all(keys.count(key) == 1 for key in keys), title


def test_every_builtin_dataset_is_a_loadable_task():
    from seqlab.data.synthetic import TASKS

    assert set(TASKS) <= set(BUILTIN_DATASETS)
    assert all(name in FIELD_HELP["data.dataset"] for name in ("presence", "longrange", "negation", "variable"))

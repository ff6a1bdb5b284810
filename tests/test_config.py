"""Run recipes: round trips, overrides, validation messages, presets, help."""

import dataclasses

import pytest

from seqlab.config import FIELD_HELP, RunConfig, presets


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

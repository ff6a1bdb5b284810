"""Seed groups and sweeps as lists of run configs."""

import pytest

from seqlab.config import RunConfig
from seqlab.experiments import parse_archs, parse_vary, plan_sweep, seed_group


def test_seed_group_counts_up_from_the_config_seed():
    configs = seed_group(RunConfig(seed=5), 3)
    assert [c.seed for c in configs] == [5, 6, 7]
    assert len({c.model for c in configs}) == 1


def test_seed_group_refuses_zero_seeds():
    with pytest.raises(ValueError, match="seeds: received 0"):
        seed_group(RunConfig(), 0)


def test_parse_vary_types_values_by_field():
    assert parse_vary("train.learning_rate=0.01,0.001") == ("train.learning_rate", [0.01, 0.001])
    assert parse_vary("data.sequence_length=50, 100") == ("data.sequence_length", [50, 100])


@pytest.mark.parametrize("text, fragment", [
    ("data.sequence_length", "expected FIELD=V1,V2"),
    ("model.arch=lstm,gru", "expected one of"),
    ("model.units=8", "at least two"),
    ("model.units=8,8", "repeated"),
])
def test_parse_vary_refuses_bad_input(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_vary(text)


def test_parse_archs_refuses_unknown_names():
    with pytest.raises(ValueError, match="'lstm,cnn'"):
        parse_archs("lstm,cnn")


def test_plan_sweep_crosses_archs_values_and_seeds():
    base = RunConfig().with_overrides({"data.dataset": "synthetic-longrange"})
    plan = plan_sweep(base, ["lstm", "transformer"], "data.sequence_length", [20, 40], 2)
    assert len(plan) == 8
    assert {(p.arch, p.value, p.seed) for p in plan} == {
        (a, v, s) for a in ("lstm", "transformer") for v in (20, 40) for s in (0, 1)}
    # On synthetic data the task length follows the swept sequence length.
    assert all(p.config.data.synthetic_length == p.value for p in plan)


def test_plan_sweep_names_the_invalid_point():
    with pytest.raises(ValueError, match="lstm model.units=0"):
        plan_sweep(RunConfig(), ["lstm"], "model.units", [8, 0])

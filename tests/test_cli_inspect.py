"""`python -m seqlab inspect` and `export --format keras|script` on tiny trained runs.

The runs (a GRU and a Transformer) are the session's `toy_runs` (tests/conftest.py),
trained once through the one training path the `train` command uses (tests/test_cli.py
tests that command).
"""

from __future__ import annotations

import ast
import json
import zipfile

import numpy as np
import pytest

from seqlab.cli import main

TEXT = "the film was not good"


@pytest.fixture(scope="module")
def runs(toy_runs):
    """(home, {arch: run_id}) of the session's tiny GRU and Transformer on the toy set (read-only)."""
    home, found = toy_runs
    return home, {arch: found[arch] for arch in ("gru", "transformer")}


def inspect_json(capsys, home, run_id, text=TEXT):
    code = main(["--home", str(home), "inspect", run_id, "--text", text, "--json"])
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_inspect_json_of_a_recurrent_run_has_one_attribution_state_and_probability_per_token(runs, capsys):
    home, found = runs
    code, payload = inspect_json(capsys, home, found["gru"])
    assert code == 0
    tokens = payload["tokens"]
    assert tokens == TEXT.split()
    assert len(payload["attribution"]) == len(payload["occlusion"]) == len(tokens)
    assert len(payload["running_probability"]) == len(tokens)
    assert set(payload["gates"]) == {"update_gate", "reset_gate"}
    assert np.shape(payload["gates"]["update_gate"]) == (len(tokens), 8)
    assert np.shape(payload["states"][0]["hidden"]) == (len(tokens), 8)


def test_inspect_attributions_add_up_to_the_output_minus_the_baseline(runs, capsys):
    home, found = runs
    _, payload = inspect_json(capsys, home, found["transformer"])
    whole = payload["output"] - payload["baseline_output"]
    assert sum(payload["attribution"]) == pytest.approx(whole, abs=0.05 * abs(whole) + 1e-6)


def test_inspect_json_of_a_transformer_has_its_attention(runs, capsys):
    home, found = runs
    _, payload = inspect_json(capsys, home, found["transformer"])
    tokens = len(payload["tokens"])
    assert np.shape(payload["attention"]) == (1, 2, tokens, tokens)
    assert np.allclose(np.sum(payload["attention"], axis=-1), 1.0, atol=1e-4)
    assert "running_probability" not in payload


def test_inspect_table_lists_each_token(runs, capsys):
    home, found = runs
    assert main(["--home", str(home), "inspect", found["gru"], "--text", TEXT]) == 0
    out = capsys.readouterr().out
    assert "running probability" in out and all(token in out for token in TEXT.split())


def test_inspect_an_empty_text_exits_2_with_one_line(runs, capsys):
    home, found = runs
    assert main(["--home", str(home), "inspect", found["gru"], "--text", "  "]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "text" in err[0]


def test_export_keras_writes_a_zip_with_the_model_and_vocabulary(runs, capsys, tmp_path):
    home, found = runs
    target = tmp_path / "model.zip"
    assert main(["--home", str(home), "export", found["gru"], "--format", "keras", "-o", str(target)]) == 0
    assert {"model.keras", "vocabulary.json"} <= set(zipfile.ZipFile(target).namelist())


def test_export_keras_without_a_file_says_how(runs, capsys):
    home, found = runs
    assert main(["--home", str(home), "export", found["gru"], "--format", "keras"]) == 2
    assert "-o model.zip" in capsys.readouterr().err


def test_export_script_prints_python_that_imports_no_seqlab(runs, capsys):
    home, found = runs
    assert main(["--home", str(home), "export", found["transformer"], "--format", "script"]) == 0
    tree = ast.parse(capsys.readouterr().out)
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert "keras" in imported and "seqlab" not in imported

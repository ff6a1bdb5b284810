"""XLA's persistent compile cache: a recipe compiled once is loaded, not compiled, the next time.

Each run here is a fresh `python -m seqlab train` process with the cache on
(the rest of the suite turns it off: TensorFlow reads its folder once per
process).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from seqlab.training import COMPILE_CACHE_PREFIX, _trim_folder, machine_fingerprint

ROOT = Path(__file__).resolve().parent.parent
TINY_XLA = ["--dataset", "toy", "--arch", "gru", "--epochs", "2", "--json",
            "--set", "data.sequence_length=12", "--set", "model.units=8",
            "--set", "model.embedding_dim=8", "--set", "train.jit_compile=true"]


def _train(home: Path) -> dict:
    env = dict(os.environ, SEQLAB_COMPILE_CACHE="1", SEQLAB_HOME=str(home), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "seqlab", "train", *TINY_XLA], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cached(home: Path) -> set[str]:
    folder = home / "cache" / (COMPILE_CACHE_PREFIX + machine_fingerprint())
    return {path.name for path in folder.iterdir()} if folder.is_dir() else set()


def test_a_second_process_training_the_same_recipe_compiles_nothing_new(seqlab_home):
    first = _train(seqlab_home)
    compiled = _cached(seqlab_home)
    second = _train(seqlab_home)
    assert compiled, "the first run wrote no compiled step"
    assert _cached(seqlab_home) == compiled
    assert second["test_accuracy"] == first["test_accuracy"]  # same recipe, same result


def test_the_cache_folder_is_named_by_this_machine():
    assert machine_fingerprint() == machine_fingerprint()
    assert len(machine_fingerprint()) == 16


def test_trimming_deletes_the_oldest_files_first(tmp_path):
    for age, name in enumerate(("old", "middle", "new")):
        path = tmp_path / name
        path.write_bytes(b"x" * 100)
        os.utime(path, (1_000_000 + age, 1_000_000 + age))
    _trim_folder(tmp_path, 250)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["middle", "new"]

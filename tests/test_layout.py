"""The layout of the package: no import circle in seqlab/ (scripts/import_graph.py).

The checker counts every import, inside functions too; these tests run it on
the real tree and on small packages built to have (or not have) a cycle.
"""

import ast
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "import_graph.py"


def _checker():
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


import_graph = _checker()


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    """Writes a package `pkg` of {relative path: source} under tmp_path."""
    package = tmp_path / "pkg"
    for relative, source in {"__init__.py": "", **files}.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return package


def _cycles(package: Path) -> list[list[str]]:
    modules, edges = import_graph.import_edges(package)
    return [[edge.source for edge in cycle] for cycle in import_graph.find_cycles(modules, edges)]


def test_seqlab_has_no_import_cycle():
    result = subprocess.run([sys.executable, str(SCRIPT)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no import cycle" in result.stdout


def test_an_import_inside_a_function_closes_a_cycle(tmp_path):
    package = _package(tmp_path, {
        "jobs.py": "from pkg.training import train_run\n",
        "training.py": "def train_config():\n    from pkg.jobs import keep_alive\n",
    })
    assert _cycles(package) == [["pkg.jobs", "pkg.training"]]
    result = subprocess.run([sys.executable, str(SCRIPT), str(package)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert "pkg.jobs -> pkg.training -> pkg.jobs" in result.stdout
    assert "training.py:2" in result.stdout  # where the closing import is written


def test_a_submodule_importing_its_package_is_an_edge_to_its_init(tmp_path):
    package = _package(tmp_path, {
        "data/__init__.py": "from pkg.data.files import read\nSPLITS = ()\n",
        "data/files.py": "from pkg.data import SPLITS\n",
    })
    assert _cycles(package) == [["pkg.data", "pkg.data.files"]]


@pytest.mark.parametrize("files", [
    {"a.py": "from . import b\n", "b.py": "from .a import name\n"},
    {"sub/__init__.py": "from .inner import x\n", "sub/inner.py": "from .. import sub\n"},
    {"a.py": "import pkg.b as b\n", "b.py": "if True:\n    import pkg.a\n"},
])
def test_relative_and_aliased_imports_count(tmp_path, files):
    assert _cycles(_package(tmp_path, files))


def test_a_layered_package_passes(tmp_path):
    package = _package(tmp_path, {
        "config.py": "import json\n",
        "data/__init__.py": "from pkg.data.core import Dataset\nfrom pkg.data import files\n",
        "data/core.py": "from pkg.config import json\n",
        "data/files.py": "from pkg.data.core import Dataset\n",
        "jobs.py": "from pkg import training\n",
        "training.py": "def run():\n    from pkg.data import files\n",
    })
    assert _cycles(package) == []
    result = subprocess.run([sys.executable, str(SCRIPT), str(package)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_only_the_store_helper_for_entry_points_names_seqlab_home():
    """The store's home is passed down; `store.default_home` is the one reader of $SEQLAB_HOME."""
    readers = []
    for path in sorted((ROOT / "seqlab").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value == "SEQLAB_HOME":
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert [reader.rpartition(":")[0] for reader in readers] == ["seqlab/store.py"], readers

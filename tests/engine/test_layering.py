"""What import-linter's contracts (pyproject.toml, run by .ci/run) cannot see.

- The contracts check kvt's own import statements; these tests import every
  engine module for real and look at ``sys.modules``: no textual or plotext
  arrives by way of another library either (Keras 3 itself imports ``rich``
  for ``model.summary``, so rich is compared against importing Keras alone).
- The light modules stay light: the app and ``kvt-train --help`` start
  before TensorFlow could have been imported.
- No import cycle at all, between any two modules, a package and its own
  submodules included (import-linter's acyclic_siblings contract only
  compares siblings), counting imports inside functions and leaving out
  ``if TYPE_CHECKING:`` ones.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import grimp
import pytest

import kvt_models
import kvt_tui

UI_MODULES = ("textual", "rich", "plotext")


def _all_engine_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(kvt_models.__path__, "kvt_models.")
                  if not m.name.endswith("__main__"))


def _ui_modules_after(imports: list[str]) -> set[str]:
    script = (
        "import importlib, json, sys\n"
        f"for name in {imports!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {UI_MODULES!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.long
def test_engine_modules_import_no_ui_library_beyond_what_keras_brings():
    modules = _all_engine_modules()
    # Every subpackage is walked, its modules with it.
    assert {"kvt_models.train.training", "kvt_models.cli.main", "kvt_models.data.loader",
            "kvt_models.cluster.driver", "kvt_models.compare.queue"} <= set(modules)
    baseline = _ui_modules_after(["tensorflow", "keras"])
    engine = _ui_modules_after(modules)
    assert not any(m.split(".")[0] in ("textual", "plotext") for m in engine)
    assert engine - baseline == set()


def test_importing_the_package_and_cli_does_not_import_tensorflow():
    # The app and `kvt-train --help` must start fast: TF is imported only when training.
    script = (
        "import sys, json\n"
        "import kvt_models, kvt_models.settings.config, kvt_models.events, kvt_models.store.runs, kvt_models.cli.main\n"
        "import kvt_models.data.loader, kvt_models.compare.placement, kvt_models.variants\n"
        "print(json.dumps(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def _cycles(package: str) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan), imports inside functions included."""
    graph = grimp.build_graph(package, exclude_type_checking_imports=True)
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for m in modules:
        if m not in index:
            visit(m)
    return found


@pytest.mark.parametrize("package", [kvt_models.__name__, kvt_tui.__name__])
def test_no_import_cycles(package):
    assert _cycles(package) == []


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path, monkeypatch):
    pkg = tmp_path / "cyclic"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclic import b\n")
    (pkg / "b.py").write_text("def f():\n    from cyclic import a\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cyclic import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles("cyclic") == [["cyclic.a", "cyclic.b"]]

"""The engine must stay usable with no UI installed: no textual, rich or plotext in kvt_models.

Keras 3 itself imports ``rich`` (for ``model.summary``), so the runtime check
compares against a baseline of importing Keras and TensorFlow alone; a static
check of every source file makes sure kvt_models never names them itself.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import kvt_models

UI_MODULES = ("textual", "rich", "plotext")


def _all_engine_modules() -> list[str]:
    return sorted(f"kvt_models.{m.name}" for m in pkgutil.iter_modules(kvt_models.__path__))


def _ui_modules_after(imports: list[str]) -> set[str]:
    script = (
        "import importlib, json, sys\n"
        f"for name in {imports!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {UI_MODULES!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_engine_modules_import_no_ui_library_beyond_what_keras_brings():
    modules = _all_engine_modules()
    assert {"kvt_models.training", "kvt_models.cli", "kvt_models.data"} <= set(modules)
    baseline = _ui_modules_after(["tensorflow", "keras"])
    engine = _ui_modules_after(modules)
    assert not any(m.split(".")[0] in ("textual", "plotext") for m in engine)
    assert engine - baseline == set()


def test_engine_sources_never_name_ui_libraries():
    offenders = []
    for path in Path(kvt_models.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in UI_MODULES]
    assert offenders == []


def test_importing_the_package_and_cli_does_not_import_tensorflow():
    # The app and `kvt-train --help` must start fast: TF is imported only when training.
    script = (
        "import sys, json\n"
        "import kvt_models, kvt_models.config, kvt_models.events, kvt_models.runs, kvt_models.cli, kvt_models.data\n"
        "print(json.dumps(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []

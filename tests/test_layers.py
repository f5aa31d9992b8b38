"""The package keeps its layers, and no two of its modules import each other, even indirectly.

The contracts are pyproject.toml's ``[tool.importlinter]``: a ``layers`` contract (each part of
the package imports only the parts below it) and an ``acyclic_siblings`` one (no cycle among
the modules or subpackages of any package), checked by import-linter's ``lint-imports``, with
no exceptions listed. A failure prints its report: move the import's target down a layer (or
the importer up) rather than listing an exception. import-linter builds its graph from every
import statement, the ones inside functions and under ``TYPE_CHECKING`` included, so a
function-local import does not hide a dependency from it.

:func:`test_no_module_imports_itself_through_others` states issue 21's criterion ("no module
cycle remains") directly on grimp's graph of modules: it sees a cycle through a package's
``__init__`` too, which the sibling contract, comparing a package's children, does not.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "diffusion_classifier"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("importlinter") is None,
                                reason="import-linter is not installed (it is in the test extra and "
                                       "requirements/lock.txt)")


def _graph():
    """grimp's import graph of this checkout's ``src/`` (not of another installed copy)."""
    import grimp

    import diffusion_classifier

    assert Path(diffusion_classifier.__file__).resolve().is_relative_to(ROOT / "src"), diffusion_classifier.__file__
    return grimp.build_graph(PACKAGE, cache_dir=None)


def test_import_contracts_hold() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                               "sys.exit(lint_imports_command())",
         "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    report = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0, f"lint-imports found broken contracts (exit {proc.returncode}):\n{report}"
    assert "Contracts: 2 kept, 0 broken." in report, report


def test_no_module_imports_itself_through_others() -> None:
    graph = _graph()
    loops = [" -> ".join((importer, *graph.find_shortest_chain(importer=imported, imported=importer)))
             for importer in sorted(graph.modules)
             for imported in sorted(graph.find_modules_directly_imported_by(importer))
             if graph.chain_exists(importer=imported, imported=importer)]
    assert not loops, ("modules that import each other (move what they share to a module both import):\n"
                       + "\n".join(loops))


def test_architecture_page_lists_the_contract_layers() -> None:
    """docs/architecture.md's layer list is the contract's, top to bottom (a newcomer reads the page)."""
    import re
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    page = (ROOT / "docs/architecture.md").read_text()
    block = page.split("<!-- layers:", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    listed = [re.split(r"\s{2,}", line.strip())[0] for line in block.splitlines() if line.strip()]
    assert listed == contract["layers"], f"docs/architecture.md lists {listed}; pyproject.toml {contract['layers']}"
